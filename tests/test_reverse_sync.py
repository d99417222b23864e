"""The reverse sync on the small demo: round trip, nothing twice, dry run, gate, rejections, failures.

All tests share the demo build, its Dagster instance (the gate reads check history from it) and
one local Anaplan-protocol server, and run in file order on one worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from local_servers.anaplan.module import read_cells
from tests.helpers import materialization_metadata, materialize, query

pytestmark = pytest.mark.xdist_group("demo_build")

SYNC = dg.AssetKey(["anaplan", "forecast_inputs"])
SYNC_MODEL = dg.AssetKey(["sync", "sync_planning__forecast_inputs"])
MODEL = "sync.sync_planning__forecast_inputs"


def _sync(warehouse, demo_instance, **config) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {"anaplan__forecast_inputs": {"config": config}}} if config else None
    return materialize(warehouse, warehouse.parent, dg.AssetSelection.assets(SYNC), demo_instance, run_config)


def _last_run(warehouse) -> tuple:
    return query(
        warehouse,
        "select status, rows_created, rows_updated, rows_deleted, rows_rejected, failing_checks"
        " from reverse_sync.sync_runs order by finished_at desc limit 1",
    )[0]


def _cells(db) -> dict[tuple, Decimal]:
    return {
        (c["Legal Entity"], c["Practice"], c["Month"], c["Line Item"], c["Version"]): Decimal(str(c["Value"])).quantize(
            Decimal("0.01")
        )
        for c in read_cells(db)
    }


def _desired(warehouse) -> dict[tuple, Decimal]:
    rows = query(
        warehouse,
        f"select legal_entity_code, practice, strftime(month_start_date, '%b %y'), line_item, plan_version_code, value"
        f" from {MODEL}",
    )
    return {tuple(r[:5]): r[5] for r in rows}


def _shift(warehouse, practice: str, amount: str) -> int:
    with duckdb.connect(str(warehouse)) as con:
        changed = con.execute(f"update {MODEL} set value = value + {amount} where practice = ?", [practice])
        return changed.fetchall()[0][0]


def test_demo_run_puts_the_forecast_inputs_in_the_planning_tool(demo_build, planning_server) -> None:
    warehouse, _, first, second = demo_build
    assert first.success
    status, created, updated, deleted, rejected, _failing = query(
        warehouse,
        "select status, rows_created, rows_updated, rows_deleted, rows_rejected, failing_checks"
        " from reverse_sync.sync_runs where run_id = ?",
        [first.run_id],
    )[0]
    desired = _desired(warehouse)
    assert (status, created, updated, deleted, rejected) == ("success", len(desired), 0, 0, 0)
    assert _cells(planning_server[1]) == desired
    audit = {c["Audit Run Id"] for c in read_cells(planning_server[1])}
    assert audit == {first.run_id}
    # The demo's second full run (make demo again, unchanged data) sent nothing.
    assert _last_run(warehouse)[:5] == ("success", 0, 0, 0, 0) and second.success


def test_second_sync_sends_nothing(demo_build, demo_instance, planning_server) -> None:
    imports_before = requests.get(f"{planning_server[0].url}/_admin/requests", timeout=5).json()
    result = _sync(demo_build[0], demo_instance)
    assert result.success
    meta = materialization_metadata(result)["anaplan/forecast_inputs"]
    assert (meta["rows_created"], meta["rows_updated"], meta["rows_deleted"]) == (0, 0, 0)
    assert _last_run(demo_build[0])[:5] == ("success", 0, 0, 0, 0)
    imports_after = requests.get(f"{planning_server[0].url}/_admin/requests", timeout=5).json()
    assert imports_after == imports_before  # not even a login


def test_dry_run_reports_and_sends_nothing(demo_build, demo_instance, planning_server) -> None:
    warehouse = demo_build[0]
    before = _cells(planning_server[1])
    changed = _shift(warehouse, "Strategy", "1.00")
    try:
        result = _sync(demo_build[0], demo_instance, dry_run=True)
        assert result.success
        assert _last_run(warehouse)[:4] == ("dry_run", 0, changed, 0)
        assert _cells(planning_server[1]) == before
        state = query(warehouse, "select count(*) from reverse_sync.sync_changelog where is_dry_run")
        assert state[0][0] >= changed
    finally:
        _shift(warehouse, "Strategy", "-1.00")


def test_rejected_rows_are_kept_and_retried_next_run(demo_build, demo_instance, planning_server) -> None:
    warehouse, db = demo_build[0], planning_server[1]
    url = planning_server[0].url
    changed = _shift(warehouse, "Change", "2.50")
    try:
        reject = {"column": "Practice", "equals": "Change"}
        fault = [{"match": "POST .*/imports/.*/tasks$", "times": 1, "reject": reject}]
        requests.post(f"{url}/_admin/faults", json=fault, timeout=5).raise_for_status()
        assert _sync(demo_build[0], demo_instance).success
        assert _last_run(warehouse)[:5] == ("success", 0, changed, 0, changed)
        rejections = query(warehouse, "select count(*), min(reason) from reverse_sync.sync_rejections")
        assert rejections[0][0] == changed and rejections[0][1]
        assert _cells(db) != _desired(warehouse)  # the rejected rows kept their old value
        requests.delete(f"{url}/_admin/faults", timeout=5)
        assert _sync(demo_build[0], demo_instance).success  # retried: the state never took them
        assert _last_run(warehouse)[:5] == ("success", 0, changed, 0, 0)
        assert _cells(db) == _desired(warehouse)
    finally:
        requests.delete(f"{url}/_admin/faults", timeout=5)
        _shift(warehouse, "Change", "-2.50")
        assert _sync(demo_build[0], demo_instance).success
    assert _cells(db) == _desired(warehouse)


@pytest.mark.parametrize(
    "fault",
    [
        {"match": "PUT .*/chunks/", "times": 99, "status": 500},  # dies mid-upload
        {"match": "POST .*/imports/.*/tasks$", "times": 99, "status": 500},  # dies before the import
    ],
    ids=["mid-upload", "before-import"],
)
def test_failure_mid_sync_then_rerun_converges(demo_build, demo_instance, planning_server, fault) -> None:
    warehouse, db = demo_build[0], planning_server[1]
    url = planning_server[0].url
    changed = _shift(warehouse, "Technology", "3.00")
    try:
        requests.post(f"{url}/_admin/faults", json=[fault], timeout=5).raise_for_status()
        failed = _sync(demo_build[0], demo_instance)
        assert not failed.success
        assert _last_run(warehouse)[0] == "failed"
        requests.delete(f"{url}/_admin/faults", timeout=5)
        assert _sync(demo_build[0], demo_instance).success
        assert _last_run(warehouse)[:3] == ("success", 0, changed)
        assert _cells(db) == _desired(warehouse)
    finally:
        requests.delete(f"{url}/_admin/faults", timeout=5)
        _shift(warehouse, "Technology", "-3.00")
        assert _sync(demo_build[0], demo_instance).success
    assert _cells(db) == _desired(warehouse)


def test_abandoned_import_that_completes_later_converges(demo_build, demo_instance, planning_server) -> None:
    """The worst moment to die: the target applies the import, the state never hears of it."""
    from orchestration.defs.reverse_sync import anaplan_resource

    warehouse, db = demo_build[0], planning_server[1]
    server = planning_server[0]
    impatient = anaplan_resource(task_timeout_seconds=0.5)
    changed = _shift(warehouse, "Data & Analytics", "4.00")
    try:
        stall = [{"match": "tasks$", "stall_task": 2}]
        requests.post(f"{server.url}/_admin/faults", json=stall, timeout=5).raise_for_status()
        gave_up = materialize(
            warehouse, warehouse.parent, dg.AssetSelection.assets(SYNC), demo_instance, resources={"anaplan": impatient}
        )
        assert not gave_up.success and _last_run(warehouse)[0] == "failed"
        deadline = time.monotonic() + 10
        while _cells(db) != _desired(warehouse) and time.monotonic() < deadline:
            time.sleep(0.2)  # the server finishes the stalled import on its own
        assert _cells(db) == _desired(warehouse)
        assert _sync(warehouse, demo_instance).success  # state was not advanced: the same upserts again
        assert _last_run(warehouse)[:3] == ("success", 0, changed)
        assert _cells(db) == _desired(warehouse)
    finally:
        requests.delete(f"{server.url}/_admin/faults", timeout=5)
        _shift(warehouse, "Data & Analytics", "-4.00")
        assert _sync(warehouse, demo_instance).success
    assert _cells(db) == _desired(warehouse)


def _sync_process(warehouse, demo_instance) -> subprocess.Popen:
    """The sync alone in its own process, with the demo's instance (check history) and environment."""
    env = {**os.environ, "DAGSTER_HOME": demo_instance.root_directory, "DUCKDB_DATABASE": str(warehouse)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sync_process", str(warehouse)],
        cwd=Path(__file__).parents[1],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_until_consumed(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    """Until the process has reached the faulted request (the server took the fault)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        faults = requests.get(f"{url}/_admin/faults", timeout=5).json()["faults"]
        if faults and all(f["remaining"] == 0 for f in faults):
            return
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        time.sleep(0.1)
    raise AssertionError("the sync process never reached the faulted request")


@pytest.mark.parametrize(
    "fault",
    [
        {"match": "POST .*/files/[^/]+$", "delay": 2},  # killed while starting the upload
        {"match": "PUT .*/chunks/0$", "delay": 2},  # killed mid-upload: a chunk in flight
        {"match": "tasks$", "stall_task": 2},  # killed while the import runs: it completes without us
    ],
    ids=["starting-upload", "mid-upload", "import-running"],
)
def test_sigkill_mid_sync_then_rerun_converges(demo_build, demo_instance, planning_server, fault) -> None:
    """A real kill -9 of the process running the sync, at three points; the next run converges."""
    warehouse, db = demo_build[0], planning_server[1]
    url = planning_server[0].url
    changed = _shift(warehouse, "Strategy", "5.00")
    runs_before = query(warehouse, "select count(*) from reverse_sync.sync_runs")[0][0]
    try:
        requests.post(f"{url}/_admin/faults", json=[fault], timeout=5).raise_for_status()
        process = _sync_process(warehouse, demo_instance)
        _wait_until_consumed(url, process)
        time.sleep(0.3)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
        time.sleep(2.5)  # the server finishes what it was doing when the client died
        assert query(warehouse, "select count(*) from reverse_sync.sync_runs")[0][0] == runs_before  # no record
        requests.delete(f"{url}/_admin/faults", timeout=5)
        assert _sync(warehouse, demo_instance).success  # the state was not advanced: the change goes again
        assert _last_run(warehouse)[:3] == ("success", 0, changed)
        assert _cells(db) == _desired(warehouse)
        assert len(read_cells(db)) == len(_desired(warehouse))  # nothing duplicated, nothing lost
    finally:
        requests.delete(f"{url}/_admin/faults", timeout=5)
        _shift(warehouse, "Strategy", "-5.00")
        assert _sync(warehouse, demo_instance).success
    assert _cells(db) == _desired(warehouse)


def test_failing_blocking_check_blocks_the_sync(demo_build, demo_instance, planning_server) -> None:
    warehouse, db = demo_build[0], planning_server[1]
    before = _cells(db)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"update {MODEL} set value = null where practice = 'Strategy'")
    try:
        checks = dg.AssetSelection.checks(dg.AssetCheckKey(SYNC_MODEL, "no_unconverted_currency"))
        materialize(warehouse, warehouse.parent, checks | dg.AssetSelection.assets(SYNC), demo_instance)
        status, *_, failing = _last_run(warehouse)
        assert status == "blocked"
        assert "sync/sync_planning__forecast_inputs:no_unconverted_currency (failed)" in failing
        assert _cells(db) == before
        result = _sync(demo_build[0], demo_instance)  # launched alone later: still blocked
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert failures, [(e.event_type_value, e.message) for e in result.all_events][-8:]
        failure = failures[0]
        assert "Blocked: nothing sent" in failure.step_failure_data.error.message
        assert "no_unconverted_currency" in failure.step_failure_data.error.message
    finally:
        _restore_sync_model(warehouse, demo_instance)


def _restore_sync_model(warehouse, demo_instance) -> None:
    """Rebuild the sync model and re-run its checks, so later tests start from a passing gate."""
    result = materialize(warehouse, warehouse.parent, dg.AssetSelection.assets(SYNC_MODEL), demo_instance)
    assert result.success
    assert _sync(warehouse, demo_instance).success


def test_secrets_never_reach_logs_or_metadata(demo_build, demo_instance, tmp_path, monkeypatch) -> None:
    from local_servers.anaplan.server import start_server

    canary = "CANARY-7f3a9c1e"
    warehouse = demo_build[0]
    with start_server(tmp_path / "canary.sqlite", port=0, password=canary, token_prefix=canary) as server:
        monkeypatch.setenv("ANAPLAN_API_URL", server.url)
        monkeypatch.setenv("ANAPLAN_AUTH_URL", server.url)
        monkeypatch.setenv("ANAPLAN_PASSWORD", canary)
        with duckdb.connect(str(warehouse)) as con:  # a fresh target: everything is sent again
            con.execute("create or replace table reverse_sync.sync_state_backup as from reverse_sync.sync_state")
            con.execute("delete from reverse_sync.sync_state")
        try:
            ok = _sync(warehouse, demo_instance, allow_large_change=True)
            monkeypatch.setenv("ANAPLAN_PASSWORD", canary + "-wrong")
            with duckdb.connect(str(warehouse)) as con:
                con.execute(f"update {MODEL} set value = value + 1 where practice = 'Strategy'")
            failed = _sync(warehouse, demo_instance)
        finally:
            with duckdb.connect(str(warehouse)) as con:
                con.execute(f"update {MODEL} set value = value - 1 where practice = 'Strategy'")
                con.execute("delete from reverse_sync.sync_state")
                con.execute("insert into reverse_sync.sync_state from reverse_sync.sync_state_backup")
                con.execute("drop table reverse_sync.sync_state_backup")
    assert ok.success and not failed.success
    assert "rows accepted" in "\n".join(str(entry) for entry in demo_instance.all_logs(ok.run_id))
    for run in (ok, failed):
        logged = "\n".join(str(entry) for entry in demo_instance.all_logs(run.run_id))
        assert canary not in logged
        assert "CANARY" not in logged
    assert query(warehouse, f"select count(*) from reverse_sync.sync_runs where message like '%{canary}%'") == [(0,)]
