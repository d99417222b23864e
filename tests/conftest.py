"""Shared fixtures: a small demo firm generated once per session, and an isolated warehouse."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

# Telemetry off even when pytest is run outside the Makefile.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

AS_OF = date(2026, 11, 16)
SEED = 7


@pytest.fixture(scope="session")
def small_landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The small demo firm with its default defects, and the rows written per landing file."""
    from demo.firm import generate

    out = tmp_path_factory.mktemp("landing")
    counts = generate(out, scale="small", seed=SEED, as_of=AS_OF)
    return out, counts


ANAPLAN_ENV = {
    "ANAPLAN_WORKSPACE_ID": "demo-ws",
    "ANAPLAN_MODEL_ID": "demo-model",
    "ANAPLAN_FILE_ID": "forecast_inputs",
    "ANAPLAN_IMPORT_ID": "forecast_inputs",
    "ANAPLAN_USERNAME": "demo",
    "ANAPLAN_PASSWORD": "demo-password",
}


@pytest.fixture(scope="session")
def planning_server(tmp_path_factory):
    """The local Anaplan-protocol server on a free port, with the pipeline's env pointed at it."""
    from demo.servers.anaplan.server import start_server

    db = tmp_path_factory.mktemp("anaplan") / "cells.sqlite"
    with (
        start_server(db, port=0, username="demo", password="demo-password") as server,
        pytest.MonkeyPatch.context() as mp,
    ):
        for name, value in {**ANAPLAN_ENV, "ANAPLAN_API_URL": server.url, "ANAPLAN_AUTH_URL": server.url}.items():
            mp.setenv(name, value)
        yield server, db


@pytest.fixture(scope="session")
def demo_instance(tmp_path_factory):
    """One Dagster instance for the demo build and the tests that run after it (the gate reads it).

    Kept on disk, so a sync launched in another process (tests.sync_process) reads the same history.
    """
    with dg.DagsterInstance.local_temp(tempdir=str(tmp_path_factory.mktemp("dagster_home"))) as instance:
        yield instance


class DemoBuild(tuple):
    """(warehouse, counts, first, second), plus what a BI reader saw while the second run went on."""

    reader_seen: dict[str, object]


@pytest.fixture(scope="session")
def demo_build(small_landing, tmp_path_factory, planning_server, demo_instance):
    """The small demo materialized end to end, then everything a second time with a BI reader connected.

    Tests using it carry `pytest.mark.xdist_group("demo_build")`, so one worker builds it once.
    """
    import duckdb

    from tests.helpers import materialize

    landing, counts = small_landing
    warehouse = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    mp = pytest.MonkeyPatch()
    mp.setenv("DUCKDB_DATABASE", str(warehouse))  # dbt's profiles.yml reads the same variable
    mp.setenv("AS_OF_DATE", AS_OF.isoformat())  # the marts are built as of the demo's date
    first = materialize(warehouse, landing, instance=demo_instance)
    # A BI tool connected to the published reader file for the whole second run (as analysts are).
    reader = duckdb.connect(str(warehouse.with_name("reader.duckdb")), read_only=True)
    try:
        seen_before = reader.execute("select run_id from published").fetchall()[0][0]
        second = materialize(warehouse, landing, instance=demo_instance)
        seen_during = reader.execute("select run_id from published").fetchall()[0][0]
    finally:
        reader.close()
    build = DemoBuild((warehouse, counts, first, second))
    build.reader_seen = {"before": seen_before, "same_connection_after": seen_during}
    yield build
    mp.undo()


# --- PostgreSQL (the WAREHOUSE=postgres tests) ------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> dict:
    """Connection settings (POSTGRES_*; CI's server on 127.0.0.1:5432), without a database; skip if none answers."""
    import psycopg2

    from orchestration.lib import settings
    from orchestration.lib.postgres import MAINTENANCE_DB, connect_raw

    config = {**settings.postgres_config(), "password": settings.postgres_password()}
    config.pop("database")
    try:
        connect_raw(**config, database=MAINTENANCE_DB).close()
    except psycopg2.OperationalError as err:
        reason = str(err).strip().splitlines()[0]
        pytest.skip(f"no PostgreSQL server at {config['host']}:{config['port']} ({reason}); CI starts one")
    return config


@pytest.fixture(scope="session")
def postgres_database(postgres_server):
    """Factory: a fresh database `psa_test_<random>_<name>` for this session (and xdist worker), dropped after."""
    import uuid

    from orchestration.lib.postgres import create_database, drop_database

    token = uuid.uuid4().hex[:8]
    created: list[str] = []

    def make(name: str) -> dict:
        database = f"psa_test_{token}_{name}"
        create_database(**postgres_server, database=database, fresh=True)
        created.append(database)
        return {**postgres_server, "database": database}

    yield make
    for database in created:
        drop_database(**postgres_server, database=database)
