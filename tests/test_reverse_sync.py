"""The reverse sync on the small demo: round trip, nothing twice, dry run, gate, rejections, failures.

Kind: demo (on the shared demo build). All tests share the worker's demo build, its Dagster
instance (the gate reads check history from it) and one local Anaplan-protocol server, and run in
file order on one worker (xdist group `demo_sequence`), each leaving the build as it found it. The
kill tests run on a copy of that instance configured by deploy/dagster.local.yaml, with its
`duckdb_writer` pool limit. A request the test kills the client in is held by the server's `hang`
fault (no answer until the client is gone) and an import runs until the test releases it
(`tasks/release`), so no step races the wall clock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import requests

from demo.servers.anaplan.module import read_cells
from demo.servers.anaplan.server import start_server
from orchestration.defs.reverse_sync.anaplan import anaplan_resource
from orchestration.defs.reverse_sync.state import SyncTarget
from orchestration.lib.warehouse import WRITER_POOL
from tests.helpers import REBUILD, materialization_metadata, materialize, query
from tests.test_sync_recovery import recover
from tests.waiting import release_stalled_tasks, wait_until, wait_until_idle

pytestmark = [pytest.mark.demo, pytest.mark.xdist_group("demo_sequence")]

SYNC = dg.AssetKey(["anaplan", "forecast_inputs"])
SYNC_MODEL = dg.AssetKey(["sync", "sync_planning__forecast_inputs"])
MODEL = "sync.sync_planning__forecast_inputs"
LOCAL_YAML = Path(__file__).parents[1] / "deploy" / "dagster.local.yaml"
# The model of the ANAPLAN_* variables, polling its import every 50 ms (not 0.5 s) and retrying a
# failed call after at most 0.1 s (not 30 s): what is sent and when a run gives up stay the same.
BRISK = {"anaplan": anaplan_resource(poll_interval_seconds=0.05, max_retry_delay_seconds=0.1)}


def _sync(warehouse, demo_instance, **config) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {"anaplan__forecast_inputs": {"config": config}}} if config else None
    selection = dg.AssetSelection.assets(SYNC)
    return materialize(warehouse, warehouse.parent, selection, demo_instance, run_config, resources=BRISK)


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


@contextlib.contextmanager
def _shifted_under_faults(warehouse, demo_instance, url: str, practice: str, amount: str) -> Iterator[int]:
    """A practice's values shifted by `amount` (yields how many rows) for a test that injects faults at `url`.

    Afterwards, passed or failed: the faults cleared, the shift undone and synced, so the planning tool
    holds the model again for the next test.
    """
    changed = _shift(warehouse, practice, amount)
    try:
        yield changed
    finally:
        requests.delete(f"{url}/_admin/faults", timeout=5)
        _shift(warehouse, practice, f"-{amount}")
        assert _sync(warehouse, demo_instance).success


def _run_counts(warehouse, run_id: str) -> tuple:
    return query(
        warehouse,
        "select status, rows_created, rows_updated, rows_deleted, rows_rejected from reverse_sync.sync_runs"
        " where run_id = ?",
        [run_id],
    )[0]


def test_demo_run_puts_the_forecast_inputs_in_the_planning_tool(demo_build, demo_rerun, planning_server) -> None:
    warehouse, _, first = demo_build
    assert first.success
    desired = _desired(warehouse)
    assert len(desired) > 100 and _run_counts(warehouse, first.run_id) == ("success", len(desired), 0, 0, 0)
    assert _cells(planning_server[1]) == desired
    audit = {c["Audit Run Id"] for c in read_cells(planning_server[1])}
    assert audit == {first.run_id}
    # The demo's second full run (make demo again, unchanged data) rebuilt no model, so the sync did not run.
    assert demo_rerun.second.success and SYNC not in {
        e.asset_key for e in demo_rerun.second.get_asset_materialization_events()
    }
    assert query(
        warehouse, "select count(*) from reverse_sync.sync_runs where run_id = ?", [demo_rerun.second.run_id]
    ) == [(0,)]


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
        logged = (
            "select count(*), min(change_type), max(change_type), min(new_value - old_value),"
            " max(new_value - old_value) from reverse_sync.sync_changelog where run_id = ? and is_dry_run"
        )  # what a real run would have sent: the shifted rows, one dollar up each
        assert query(warehouse, logged, [result.run_id]) == [(changed, "update", "update", 1, 1)]
    finally:
        _shift(warehouse, "Strategy", "-1.00")


def test_rejected_rows_are_kept_with_their_reasons_and_retried_next_run(
    demo_build, demo_instance, planning_server
) -> None:
    warehouse, db = demo_build[0], planning_server[1]
    url = planning_server[0].url
    with _shifted_under_faults(warehouse, demo_instance, url, "Change", "2.50") as changed:
        reject = {"column": "Practice", "equals": "Change"}
        fault = [{"match": "POST .*/imports/.*/tasks$", "times": 1, "reject": reject}]
        requests.post(f"{url}/_admin/faults", json=fault, timeout=5).raise_for_status()
        result = _sync(demo_build[0], demo_instance)
        assert result.success
        assert _last_run(warehouse)[:5] == ("success", 0, 0, 0, changed)  # rejected rows are not counted as updated
        meta = materialization_metadata(result)["anaplan/forecast_inputs"]
        assert (meta["rows_updated"], meta["rows_rejected"]) == (0, changed)
        rejections = query(
            warehouse,
            "select record_key, reason, import_line from reverse_sync.sync_rejections where run_id = ?",
            [result.run_id],
        )
        reason = "rejected by injected fault: Practice = Change"  # the dump's _Error_1_, as the server wrote it
        assert len(rejections) == changed and {r[1] for r in rejections} == {reason}
        assert sorted(r[2] for r in rejections) == list(range(2, changed + 2))  # their lines in the import file
        [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_rows_rejected"]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        named = check.metadata["rejected_keys"].value  # the first 50 by import line; the rest in the table
        assert named == {key: reason for key, _, line in rejections if line < 52} and changed > 50
        assert f"{changed - 50} more in reverse_sync.sync_rejections" in check.metadata["rejected"].value
        assert check.description.startswith(f"{changed} rows rejected by the planning tool, e.g. PSF-")
        assert _cells(db) != _desired(warehouse)  # the rejected rows kept their old value
        requests.delete(f"{url}/_admin/faults", timeout=5)
        retried = _sync(demo_build[0], demo_instance)
        assert retried.success  # retried: the state never took them
        assert _last_run(warehouse)[:5] == ("success", 0, changed, 0, 0)
        [check] = [e for e in retried.get_asset_check_evaluations() if e.check_name == "no_rows_rejected"]
        assert check.passed
        assert _cells(db) == _desired(warehouse)
    assert _cells(db) == _desired(warehouse)


def test_removed_rows_clear_their_cells_in_the_planning_tool(demo_build, demo_instance, planning_server) -> None:
    """A diff of deletes only is sent, and the cells are cleared, before the state forgets the rows."""
    warehouse, db = demo_build[0], planning_server[1]
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create or replace table sync._backup as from {MODEL}")
        last = con.execute(f"select max(month_start_date) from {MODEL}").fetchall()[0][0]
        removed = con.execute(f"delete from {MODEL} where month_start_date = ?", [last]).fetchall()[0][0]
    try:
        gone = set(_cells(db)) - set(_desired(warehouse))
        assert removed > 0 and len(gone) == removed
        assert _sync(warehouse, demo_instance).success
        assert _last_run(warehouse)[:5] == ("success", 0, 0, removed, 0)
        assert _cells(db) == _desired(warehouse)  # exactly the model's rows: the removed rows' cells are cleared
        assert not gone & set(_cells(db))
        target = SyncTarget(planning_server[0].url, "demo-ws", "demo-model", "forecast_inputs").key
        state = query(warehouse, "select record_key from reverse_sync.sync_state where target = ?", [target])
        assert sorted(key for (key,) in state) == sorted("|".join(key) for key in _desired(warehouse))  # forgotten
    finally:
        _restore_backup(warehouse)
        assert _sync(warehouse, demo_instance).success  # the rows come back
    assert _last_run(warehouse)[:2] == ("success", removed)
    assert _cells(db) == _desired(warehouse)


def _restore_backup(warehouse) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"delete from {MODEL}")
        con.execute(f"insert into {MODEL} from sync._backup")
        con.execute("drop table sync._backup")


def test_switching_the_target_sends_the_whole_model(demo_build, demo_instance, planning_server, tmp_path, monkeypatch):
    """Another tenant, workspace and model by the ANAPLAN_* variables: it gets everything, the first keeps its state."""
    warehouse = demo_build[0]
    desired = _desired(warehouse)
    with start_server(tmp_path / "tenant2.sqlite", workspace_id="ws-tenant2", model_id="model-tenant2") as other:
        for name, value in (("API_URL", other.url), ("AUTH_URL", other.url)):
            monkeypatch.setenv(f"ANAPLAN_{name}", value)
        monkeypatch.setenv("ANAPLAN_WORKSPACE_ID", "ws-tenant2")
        monkeypatch.setenv("ANAPLAN_MODEL_ID", "model-tenant2")
        result = _sync(warehouse, demo_instance)
        assert result.success
        assert _last_run(warehouse)[:5] == ("success", len(desired), 0, 0, 0)
        assert _cells(other.db_path) == desired
        target = materialization_metadata(result)["anaplan/forecast_inputs"]["sync_target"]
        assert target == f"{other.url}/workspaces/ws-tenant2/models/model-tenant2/imports/forecast_inputs"
    monkeypatch.undo()  # back to the first target: its state is intact, nothing to send
    assert _sync(warehouse, demo_instance).success
    assert _last_run(warehouse)[:5] == ("success", 0, 0, 0, 0)
    assert _cells(planning_server[1]) == desired


def _blocked_by(result: dg.ExecuteInProcessResult) -> str:
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failures, [(e.event_type_value, e.message) for e in result.all_events][-8:]
    return failures[0].step_failure_data.user_failure_data.description


def test_an_empty_sync_model_is_never_sent(demo_build, demo_instance, planning_server) -> None:
    warehouse, db = demo_build[0], planning_server[1]
    before = _cells(db)
    state = query(warehouse, "select count(*) from reverse_sync.sync_state")
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create or replace table sync._backup as from {MODEL}")
        con.execute(f"delete from {MODEL}")
    try:
        blocked = _blocked_by(_sync(warehouse, demo_instance))
        assert blocked.startswith("Blocked: nothing sent.")
        assert (
            "anaplan/forecast_inputs:sync_input_not_empty (failed): "
            "sync.sync_planning__forecast_inputs is empty: there is no forecast to send"
        ) in blocked
        assert _last_run(warehouse)[0] == "blocked" and "sync_input_not_empty" in _last_run(warehouse)[5]
        assert _cells(db) == before  # nothing cleared
        assert query(warehouse, "select count(*) from reverse_sync.sync_state") == state
    finally:
        _restore_backup(warehouse)
    assert _sync(warehouse, demo_instance).success
    assert _last_run(warehouse)[:5] == ("success", 0, 0, 0, 0)


def test_a_model_that_drops_a_practice_is_blocked_unless_intended(demo_build, demo_instance, planning_server) -> None:
    warehouse, db = demo_build[0], planning_server[1]
    before = _cells(db)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create or replace table sync._backup as from {MODEL}")
        dropped = con.execute(f"delete from {MODEL} where practice = 'Strategy'").fetchall()[0][0]
    try:
        blocked = _blocked_by(_sync(warehouse, demo_instance))
        assert (
            "anaplan/forecast_inputs:no_members_dropped (failed): sync.sync_planning__forecast_inputs "
            "drops what the last sync to this target sent: Practice Strategy"
        ) in blocked
        assert _cells(db) == before
        assert _sync(warehouse, demo_instance, allow_dropped_members=True).success  # an intended removal
        assert _last_run(warehouse)[:5] == ("success", 0, 0, dropped, 0)
        assert not any(key[1] == "Strategy" for key in _cells(db)) and _cells(db) == _desired(warehouse)
    finally:
        _restore_backup(warehouse)
    assert _sync(warehouse, demo_instance).success  # a practice that comes back is created again
    assert _last_run(warehouse)[:5] == ("success", dropped, 0, 0, 0)
    assert _cells(db) == before


def test_no_current_plan_version_blocks_even_a_first_sync(
    demo_build, demo_instance, planning_server, tmp_path, monkeypatch
) -> None:
    """The planning files missing: no current version, an empty sync model; a new target is sent nothing."""
    warehouse = demo_build[0]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create or replace table raw_planning._plan_version_backup as from raw_planning.plan_version")
        con.execute("delete from raw_planning.plan_version")
    try:
        with start_server(tmp_path / "fresh.sqlite") as fresh:
            monkeypatch.setenv("ANAPLAN_API_URL", fresh.url)
            monkeypatch.setenv("ANAPLAN_AUTH_URL", fresh.url)
            rebuilt = materialize(
                warehouse, warehouse.parent, dg.AssetSelection.assets(SYNC_MODEL, SYNC), demo_instance
            )
            blocked = _blocked_by(rebuilt)
            assert (
                "anaplan/forecast_inputs:current_plan_version_exists (failed): no current plan version: "
                'raw_planning.plan_version has no row with "Is Current" true'
            ) in blocked
            assert "anaplan/forecast_inputs:sync_input_not_empty (failed)" in blocked
            assert _last_run(warehouse)[0] == "blocked"
            assert read_cells(fresh.db_path) == [] and fresh.request_counts() == {}  # not even a login
    finally:
        monkeypatch.undo()
        with duckdb.connect(str(warehouse)) as con:
            con.execute("insert into raw_planning.plan_version from raw_planning._plan_version_backup")
            con.execute("drop table raw_planning._plan_version_backup")
        _restore_sync_model(warehouse, demo_instance)
    assert _last_run(warehouse)[:5] == ("success", 0, 0, 0, 0)


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
    with _shifted_under_faults(warehouse, demo_instance, url, "Technology", "3.00") as changed:
        requests.post(f"{url}/_admin/faults", json=[fault], timeout=5).raise_for_status()
        failed = _sync(demo_build[0], demo_instance)
        assert not failed.success
        assert _last_run(warehouse)[0] == "failed"
        requests.delete(f"{url}/_admin/faults", timeout=5)
        assert _sync(demo_build[0], demo_instance).success
        assert _last_run(warehouse)[:3] == ("success", 0, changed)
        assert _cells(db) == _desired(warehouse)
    assert _cells(db) == _desired(warehouse)


def test_abandoned_import_that_completes_later_converges(demo_build, demo_instance, planning_server) -> None:
    """The worst moment to die: the target applies the import, the state never hears of it."""
    warehouse, db = demo_build[0], planning_server[1]
    server = planning_server[0]
    impatient = anaplan_resource(poll_interval_seconds=0.05, task_timeout_seconds=0.5)
    with _shifted_under_faults(warehouse, demo_instance, server.url, "Data & Analytics", "4.00") as changed:
        stall = [{"match": "tasks$", "stall_task": 600}]  # the import runs until the test releases it
        requests.post(f"{server.url}/_admin/faults", json=stall, timeout=5).raise_for_status()
        gave_up = materialize(
            warehouse, warehouse.parent, dg.AssetSelection.assets(SYNC), demo_instance, resources={"anaplan": impatient}
        )
        assert not gave_up.success and _last_run(warehouse)[0] == "failed"
        assert _cells(db) != _desired(warehouse)  # given up on while the import still runs
        assert release_stalled_tasks(server.url) == 1  # the import completes without the sync
        wait_until_idle(server.url)
        assert _cells(db) == _desired(warehouse)
        assert _sync(warehouse, demo_instance).success  # state was not advanced: the same upserts again
        assert _last_run(warehouse)[:3] == ("success", 0, changed)
        assert _cells(db) == _desired(warehouse)
    assert _cells(db) == _desired(warehouse)


@pytest.fixture(scope="module")
def pool_home(demo_build, demo_instance, tmp_path_factory) -> Path:
    """A copy of the demo's instance (its check history) configured as `make demo` configures one:
    deploy/dagster.local.yaml, with the duckdb_writer pool limited to one slot and run monitoring."""
    home = tmp_path_factory.mktemp("pool") / "dagster_home"
    shutil.copytree(demo_instance.root_directory, home)
    shutil.copy(LOCAL_YAML, home / "dagster.yaml")
    return home


def _sync_process(warehouse, home: Path) -> subprocess.Popen:
    """The sync alone in its own process, with the given instance (check history) and environment."""
    env = {**os.environ, "DAGSTER_HOME": str(home), "DUCKDB_DATABASE": str(warehouse)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sync_process", str(warehouse)],
        cwd=Path(__file__).parents[1],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _fault_taken(url: str) -> bool:
    faults = requests.get(f"{url}/_admin/faults", timeout=30).json()["faults"]
    return bool(faults) and all(f["remaining"] == 0 for f in faults)


def _slot_holders(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    info = instance.event_log_storage.get_concurrency_info(WRITER_POOL)
    assert info.slot_count == 1  # the deploy file's limit
    return [(slot.run_id, slot.step_key) for slot in info.claimed_slots]


@pytest.mark.parametrize(
    "fault",
    [
        {"match": "POST .*/files/[^/]+$", "hang": 600},  # killed while starting the upload (held until then)
        {"match": "PUT .*/chunks/0$", "hang": 600},  # killed mid-upload: a chunk in flight
        {"match": "tasks$", "stall_task": 600},  # killed while the import runs: it completes without us
    ],
    ids=["starting-upload", "mid-upload", "import-running"],
)
def test_sigkill_mid_sync_then_recovery_and_the_next_run_converges(
    demo_build, demo_instance, pool_home, planning_server, fault
) -> None:
    """A real kill -9 of the process running the sync, at three points, on an instance with the pool limit.

    The killed run keeps its duckdb_writer slot; the recovery command (`make recover-runs`) marks it
    failed and frees the slot; the next run gets the slot, completes and converges.
    """
    warehouse, db = demo_build[0], planning_server[1]
    url = planning_server[0].url
    pool = dg.DagsterInstance.from_config(str(pool_home))
    try:
        # undone by a sync on the demo instance, never the pool instance: a failed test must not hang
        with _shifted_under_faults(warehouse, demo_instance, url, "Strategy", "5.00") as changed:
            runs_before = query(warehouse, "select count(*) from reverse_sync.sync_runs")[0][0]
            requests.post(f"{url}/_admin/faults", json=[fault], timeout=5).raise_for_status()
            process = _sync_process(warehouse, pool_home)
            wait_until(lambda: _fault_taken(url), "the sync process reaches the faulted request", process)
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=60) == -signal.SIGKILL
            if "stall_task" in fault:
                assert release_stalled_tasks(url) == 1  # the import the killed run started completes without it
            wait_until_idle(url)  # the server finishes what it was doing when the client died
            assert query(warehouse, "select count(*) from reverse_sync.sync_runs")[0][0] == runs_before  # no record
            killed = pool.get_runs(limit=1)[0]
            assert killed.status == dg.DagsterRunStatus.STARTED  # as the kill left it: no process will end it
            assert _slot_holders(pool) == [(killed.run_id, "anaplan__forecast_inputs")]  # every warehouse step waits
            requests.delete(f"{url}/_admin/faults", timeout=5)
            recovery = recover(pool_home)  # `make recover-runs` (tests/test_sync_recovery.py runs the command itself)
            assert f"marked failed: {killed.run_id} (no process" in recovery
            assert f"freed pool slots of run {killed.run_id}" in recovery
            assert pool.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
            assert _slot_holders(pool) == []
            following = _sync(warehouse, pool)  # its sync step gets the slot
            assert following.success
            assert _last_run(warehouse)[:3] == ("success", 0, changed)  # the state was not advanced: the change again
            assert _cells(db) == _desired(warehouse)
            assert len(read_cells(db)) == len(_desired(warehouse))  # nothing duplicated, nothing lost
    finally:
        pool.dispose()
    assert _cells(db) == _desired(warehouse)


def test_failing_blocking_check_blocks_the_sync(demo_build, demo_instance, planning_server) -> None:
    """Amounts that could not be converted, among the rows about to be sent: blocked before anything is sent."""
    warehouse, db = demo_build[0], planning_server[1]
    before = _cells(db)
    with duckdb.connect(str(warehouse)) as con:
        nulled = con.execute(f"update {MODEL} set value = null where practice = 'Strategy'").fetchall()[0][0]
    try:
        result = _sync(demo_build[0], demo_instance)
        status, *_, failing = _last_run(warehouse)
        assert status == "blocked"
        assert (
            f"anaplan/forecast_inputs:no_unconverted_currency (failed): {nulled} rows to send have no value"
        ) in failing
        assert _cells(db) == before
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert failures, [(e.event_type_value, e.message) for e in result.all_events][-8:]
        assert "Blocked: nothing sent" in failures[0].step_failure_data.error.message
        [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_unconverted_currency"]
        assert not check.passed and check.asset_key == SYNC
        assert check.metadata["sync_rows_without_value"].value == nulled
    finally:
        _restore_sync_model(warehouse, demo_instance)


def _restore_sync_model(warehouse, demo_instance) -> None:
    """Rebuild the sync model and re-run its checks, so later tests start from a passing gate."""
    result = materialize(warehouse, warehouse.parent, dg.AssetSelection.assets(SYNC_MODEL), demo_instance, tags=REBUILD)
    assert result.success
    assert _sync(warehouse, demo_instance).success


def test_secrets_never_reach_logs_or_metadata(demo_build, demo_instance, tmp_path, monkeypatch) -> None:
    canary = "CANARY-7f3a9c1e"
    warehouse = demo_build[0]
    with start_server(tmp_path / "canary.sqlite", port=0, password=canary, token_prefix=canary) as server:
        monkeypatch.setenv("ANAPLAN_API_URL", server.url)  # a new target: everything is sent to it
        monkeypatch.setenv("ANAPLAN_AUTH_URL", server.url)
        monkeypatch.setenv("ANAPLAN_PASSWORD", canary)
        try:
            ok = _sync(warehouse, demo_instance)
            monkeypatch.setenv("ANAPLAN_PASSWORD", canary + "-wrong")
            with duckdb.connect(str(warehouse)) as con:
                con.execute(f"update {MODEL} set value = value + 1 where practice = 'Strategy'")
            failed = _sync(warehouse, demo_instance)
        finally:
            with duckdb.connect(str(warehouse)) as con:
                con.execute(f"update {MODEL} set value = value - 1 where practice = 'Strategy'")
    assert ok.success and not failed.success
    assert "rows accepted" in "\n".join(str(entry) for entry in demo_instance.all_logs(ok.run_id))
    for run in (ok, failed):
        logged = "\n".join(str(entry) for entry in demo_instance.all_logs(run.run_id))
        assert canary not in logged
        assert "CANARY" not in logged
    for table, column in (("sync_runs", "message"), ("sync_runs", "target"), ("sync_state", "target")):
        leaked = f"select count(*) from reverse_sync.{table} where {column} like '%{canary}%'"
        assert query(warehouse, leaked) == [(0,)]
