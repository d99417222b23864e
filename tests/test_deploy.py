"""The production dagster.yaml (deploy/): runs, event logs and schedules in PostgreSQL, the writer pool.

DAGSTER_HOME points at a folder holding that exact file, the DAGSTER_POSTGRES_* variables at a fresh
database; a materialization goes through `DagsterInstance.get()` and is read back by a second instance,
as the webserver reads what a run process wrote.

Kind: integration (a Dagster instance on PostgreSQL), except the YAML comparison: unit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from orchestration.lib.postgres import connect_raw
from orchestration.lib.warehouse import WRITER_POOL

DEPLOY_YAML = Path(__file__).parents[1] / "deploy" / "dagster.yaml"
LOCAL_YAML = DEPLOY_YAML.with_name("dagster.local.yaml")


@dg.asset(pool=WRITER_POOL)
def heartbeat() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"beats": 1})


@pytest.fixture
def production_home(postgres_database, tmp_path, monkeypatch) -> dict:
    database = postgres_database("dagster")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, key in (("HOST", "host"), ("PORT", "port"), ("USER", "user"), ("DB", "database")):
        monkeypatch.setenv(f"DAGSTER_POSTGRES_{name}", str(database[key]))
    monkeypatch.setenv("DAGSTER_POSTGRES_PASSWORD", database["password"])
    return database


def test_production_instance_keeps_runs_events_and_schedules_in_postgres(production_home) -> None:
    instance = dg.DagsterInstance.get()
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1  # duckdb_writer: one writer
        assert instance.run_monitoring_enabled  # the daemon frees the slots of runs that ended
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 60
        result = dg.materialize([heartbeat], instance=instance)
        assert result.success
    finally:
        instance.dispose()
    reader = dg.DagsterInstance.get()  # another process's view: everything came back from PostgreSQL
    try:
        run = reader.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        events = {e.dagster_event.event_type for e in reader.all_logs(result.run_id) if e.dagster_event}
        kinds = dg.DagsterEventType
        assert {kinds.RUN_SUCCESS, kinds.ASSET_MATERIALIZATION, kinds.STEP_SUCCESS} <= events
        latest = reader.get_latest_materialization_event(dg.AssetKey("heartbeat"))
        assert latest is not None and latest.run_id == result.run_id
        assert reader.all_instigator_state() == []  # schedule/sensor state is readable (none started)
    finally:
        reader.dispose()
    con = connect_raw(**production_home, autocommit=True)
    try:
        with con.cursor() as cur:
            cur.execute("select count(*) from runs where run_id = %s", [result.run_id])
            assert cur.fetchone()[0] == 1
            cur.execute("select count(*) from event_logs where run_id = %s", [result.run_id])
            assert cur.fetchone()[0] >= 5
    finally:
        con.close()


@pytest.mark.unit
def test_local_and_production_instances_share_pools_and_run_monitoring() -> None:
    """tests/test_sync_recovery.py proves the recovery on the local file; production must behave the same."""
    local, production = (yaml.safe_load(path.read_text()) for path in (LOCAL_YAML, DEPLOY_YAML))
    assert local["concurrency"] == production["concurrency"]
    assert local["run_monitoring"] == production["run_monitoring"]
    monitoring = production["run_monitoring"]
    assert monitoring["enabled"] and monitoring["free_slots_after_run_end_seconds"] > 0
    assert monitoring.get("max_resume_run_attempts", 0) == 0  # the default run launcher cannot resume runs
