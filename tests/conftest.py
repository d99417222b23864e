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
    from ingest.demo import generate

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
    from local_servers.anaplan.server import start_server

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


@pytest.fixture(scope="session")
def demo_build(small_landing, tmp_path_factory, planning_server, demo_instance):
    """The small demo materialized end to end, then its ingest run a second time.

    Tests using it carry `pytest.mark.xdist_group("demo_build")`, so one worker builds it once.
    """
    from tests.helpers import RAW_ASSETS, materialize

    landing, counts = small_landing
    warehouse = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    mp = pytest.MonkeyPatch()
    mp.setenv("DUCKDB_DATABASE", str(warehouse))  # dbt's profiles.yml reads the same variable
    mp.setenv("AS_OF_DATE", AS_OF.isoformat())  # the marts are built as of the demo's date
    first = materialize(warehouse, landing, instance=demo_instance)
    second = materialize(warehouse, landing, selection=RAW_ASSETS, instance=demo_instance)  # ingest only
    yield warehouse, counts, first, second
    mp.undo()
