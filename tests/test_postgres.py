"""The small demo on PostgreSQL (WAREHOUSE=postgres) through the real definitions, against the DuckDB build.

One run: ingest (DuckDB checks, COPY into PostgreSQL), the raw checks (Great Expectations on
PostgreSQL), `dbt build` with every test on the postgres target, the gate, the sync to a local
Anaplan-protocol server, the publish. The finance and utilization marts and the sync model must
equal the DuckDB build's (`demo_build`) row by row, to the cent, and every check must reach the same
verdict. The run connects as a role of its own with a password, which must appear in no log line,
metadata value or warehouse table.

Kind: demo (compared with the shared demo build); the module's PostgreSQL run is built once, on
one worker (xdist group `postgres_demo`).

The sync goes to its own local server, started like the `planning_server` fixture: the DuckDB
build's sync tests assert that server's cells carry the DuckDB run's audit ids.
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest

from demo.servers.anaplan.module import read_cells
from orchestration.contract import SOURCE_OBJECTS
from orchestration.lib.postgres import connect_raw
from orchestration.lib.warehouse import PostgresWarehouse
from tests.conftest import ANAPLAN_ENV, AS_OF
from tests.helpers import failures, materialization_metadata, materialize, pg_env, pg_query, query

pytestmark = [pytest.mark.demo, pytest.mark.xdist_group("postgres_demo")]

PASSWORD = "pw-CANARY-5e1d0c"  # the test role's; must never be logged
COMPARED = {  # relation -> its grain, the first columns of the row order
    "marts.fct_project_margin": "project_id, month_start_date",
    "marts.fct_backlog": "project_id, month_start_date",
    "marts.fct_revenue_forecast": "legal_entity_code, practice, month_start_date",
    "marts.fct_valuation_exceptions": "valuation_exception_id",
    "marts.fct_utilization": "resource_id, month_start_date",
    "sync.sync_planning__forecast_inputs": "legal_entity_code, practice, month_start_date, line_item",
}


@pytest.fixture(scope="module")
def postgres_run(demo_build, small_landing, postgres_server, postgres_database, tmp_path_factory):
    """The small demo materialized on a fresh PostgreSQL database, as a role with a password."""
    database = postgres_database("demo")
    role = f"psa_role_{database['database'].split('_')[2]}"
    _admin(database, f"drop role if exists {role}", (f"create role {role} login password %s", [PASSWORD]))
    try:
        _admin(database, f"alter database {database['database']} owner to {role}")
        config = {**database, "user": role, "password": PASSWORD}
        yield from _run_demo(config, small_landing[0], tmp_path_factory.mktemp("postgres_run"))
    finally:  # the role is the server's, not the database's: drop it even when the run failed
        owner = postgres_server["user"]
        statements = [f"alter database {database['database']} owner to {owner}", f"reassign owned by {role} to {owner}"]
        _admin(database, *statements, f"drop owned by {role}")
        _admin({**database, "database": "postgres"}, f"drop role if exists {role}")


def _run_demo(config: dict, landing, folder):
    from demo.servers.anaplan.server import start_server

    (folder / "dagster_home").mkdir()
    with (
        start_server(folder / "cells.sqlite", port=0, username="demo", password="demo-password") as server,
        dg.DagsterInstance.local_temp(tempdir=str(folder / "dagster_home")) as instance,
        pytest.MonkeyPatch.context() as mp,
    ):
        env = {**ANAPLAN_ENV, "ANAPLAN_API_URL": server.url, "ANAPLAN_AUTH_URL": server.url}
        env |= pg_env(config)  # the role's password among them
        env |= {"AS_OF_DATE": AS_OF.isoformat()}
        for name, value in env.items():
            mp.setenv(name, value)  # dbt's profile reads the same variables
        warehouse = PostgresWarehouse(
            host=config["host"],
            port=config["port"],
            user=config["user"],
            password=dg.EnvVar("POSTGRES_PASSWORD"),
            database=config["database"],
            memory_limit="2GB",
        )
        result = materialize(folder, landing, instance=instance, resources={"warehouse": warehouse})
        logs = "\n".join(str(entry) for entry in instance.all_logs(result.run_id))
        yield result, config, folder / "cells.sqlite", logs


def _admin(config: dict, *statements: str | tuple[str, list]) -> None:
    con = connect_raw(**config, autocommit=True)
    try:
        with con.cursor() as cur:
            for statement in statements:
                cur.execute(*statement) if isinstance(statement, tuple) else cur.execute(statement)
    finally:
        con.close()


def test_the_whole_demo_runs_on_postgres(postgres_run) -> None:
    result, config, _, _ = postgres_run
    assert result.success, failures(result)
    schemas = "('raw_crm', 'marts', 'sync')"
    owners = pg_query(config, f"select distinct tableowner from pg_tables where schemaname in {schemas}")
    assert owners == [(config["user"],)]  # the pipeline and dbt connected as the configured role
    published = pg_query(config, "select run_id from reader.published")
    assert published == [(result.run_id,)]  # the marts were published for BI tools after the gate


@pytest.mark.parametrize("relation", sorted(COMPARED))
def test_marts_equal_the_duckdb_build_to_the_cent(postgres_run, demo_build, relation) -> None:
    _, config, _, _ = postgres_run
    columns = [r[0] for r in query(demo_build[0], f"describe {relation}")]
    order = ", ".join([COMPARED[relation], *columns])
    sql = f"select {', '.join(columns)} from {relation} order by {order}"
    on_duckdb, on_postgres = query(demo_build[0], sql), pg_query(config, sql)
    assert len(on_postgres) == len(on_duckdb) > 0
    for duck_row, pg_row in zip(on_duckdb, on_postgres, strict=True):
        assert pg_row == duck_row  # Decimal == Decimal: every amount to the cent, every hour and rate exactly
    money = [v for row in on_postgres for v in row if isinstance(v, Decimal)]
    assert money, f"{relation} has no exact decimals"  # psycopg2 returned numeric as Decimal, never float


def test_every_check_reaches_the_duckdb_verdict(postgres_run, demo_build) -> None:
    result, _, _, _ = postgres_run

    def verdicts(run: dg.ExecuteInProcessResult) -> dict[str, bool]:
        return {e.asset_check_key.to_user_string(): e.passed for e in run.get_asset_check_evaluations()}

    on_postgres, on_duckdb = verdicts(result), verdicts(demo_build[2])
    assert len(on_postgres) > 400  # raw-table GX checks, dbt tests, the sync model's aggregate checks
    assert on_postgres == on_duckdb
    assert not on_postgres["raw_psa/timecard_header:daily_hours_not_negative"]  # the injected defects warn


def test_every_landed_row_is_loaded_or_quarantined(postgres_run, demo_build) -> None:
    result, config, _, _ = postgres_run
    on_postgres, on_duckdb = materialization_metadata(result), materialization_metadata(demo_build[2])
    counted = ("rows_read", "rows_loaded", "rows_quarantined", "rows_inserted", "dagster/row_count")
    for obj in SOURCE_OBJECTS:
        meta = on_postgres[f"{obj.schema}/{obj.name}"]
        assert meta["rows_read"] == meta["rows_loaded"] + meta["rows_quarantined"] and meta["rows_accounted"]
        assert {k: meta[k] for k in counted} == {k: on_duckdb[f"{obj.schema}/{obj.name}"][k] for k in counted}
    quarantined = pg_query(config, "select table_name, record_key, field, value, reason from ingest_meta.quarantine")
    assert quarantined == [
        query(demo_build[0], "select table_name, record_key, field, value, reason from ingest_meta.quarantine")[0]
    ]


def test_the_sync_sends_the_same_forecast(postgres_run, demo_build) -> None:
    result, config, cells_db, _ = postgres_run
    (status, created, failing) = pg_query(
        config, "select status, rows_created, failing_checks from reverse_sync.sync_runs order by finished_at"
    )[-1]
    rows = pg_query(config, "select count(*) from sync.sync_planning__forecast_inputs")[0][0]
    assert (status, created, failing) == ("success", rows, "")
    cells = {
        (c["Legal Entity"], c["Practice"], c["Month"], c["Line Item"], c["Version"]): Decimal(str(c["Value"]))
        for c in read_cells(cells_db)
    }
    desired = query(
        demo_build[0],
        "select legal_entity_code, practice, strftime(month_start_date, '%b %y'), line_item, plan_version_code,"
        " value from sync.sync_planning__forecast_inputs",
    )
    assert cells == {tuple(r[:5]): r[5] for r in desired}
    assert {c["Audit Run Id"] for c in read_cells(cells_db)} == {result.run_id}


def test_the_password_is_never_logged_or_stored(postgres_run) -> None:
    result, config, _, logs = postgres_run
    assert "rows accepted" in logs and "dbt" in logs  # the logs are there to be searched
    assert PASSWORD not in logs and "CANARY" not in logs
    metadata = repr(materialization_metadata(result))  # every value spelled out, table previews' rows too
    assert PASSWORD not in metadata
    stored = pg_query(
        config,
        "select count(*) from reverse_sync.sync_runs where message like '%CANARY%' or failing_checks like '%CANARY%'",
    )
    assert stored == [(0,)]
