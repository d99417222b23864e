"""A killed run never stalls later runs, on an instance configured by deploy/dagster.local.yaml.

The instance has the pool limit (`duckdb_writer`: one slot) and the run monitoring of the deploy
files. A run holding the slot is killed with SIGKILL: the slot stays claimed, and marking the run
failed does not free it. The recovery command (`python -m orchestration.defs.automation.recovery`,
what `make recover-runs` runs) and the daemon's run monitoring each free it; both are driven
explicitly here (the command's `main`, and once the command itself; the daemon's iteration called
with its clock injected), never by waiting for a timeout. The reverse sync's own kill test
(tests/test_reverse_sync.py) does the same on the demo build.

Kind: integration (runs in child processes, killed with SIGKILL).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.automation import recovery
from orchestration.lib.warehouse import WRITER_POOL
from tests.helpers import local_dagster_home
from tests.waiting import wait_until

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[1]


@dg.asset(pool=WRITER_POOL)
def next_warehouse_step() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"ran": True})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return local_dagster_home(tmp_path)


def hold_slot(home: Path, tmp_path: Path) -> tuple[subprocess.Popen, int]:
    """A run in its own process whose warehouse step holds the slot; (process, its pid) once it does."""
    marker = tmp_path / "holding"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.sync_process", "--hold-slot", str(marker)],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_until(marker.exists, "the run holds the slot", process)
    return process, int(marker.read_text())


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def slot_holders(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    info = instance.event_log_storage.get_concurrency_info(WRITER_POOL)
    assert info.slot_count == 1  # the deploy file's limit
    return [(slot.run_id, slot.step_key) for slot in info.claimed_slots]


def only_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    runs = instance.get_runs()
    assert len(runs) == 1
    return runs[0]


def recover(home: Path, *args: str) -> str:
    """What `make recover-runs` prints: the command's main, in this process (the command itself is run once)."""
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(printed):
        mp.setenv("DAGSTER_HOME", str(home))
        assert recovery.main(list(args)) == 0
    return printed.getvalue()


def recover_command(home: Path, *args: str) -> str:
    """`python -m orchestration.defs.automation.recovery` in a process of its own, as `make recover-runs` runs it."""
    completed = subprocess.run(
        [sys.executable, "-m", "orchestration.defs.automation.recovery", *args],
        cwd=REPO,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_the_recovery_command_frees_the_slot_of_a_killed_run_and_the_next_run_completes(home, tmp_path) -> None:
    process, pid = hold_slot(home, tmp_path)
    try:
        instance = dg.DagsterInstance.from_config(str(home))
        run = only_run(instance)
        assert slot_holders(instance) == [(run.run_id, "slot_holder")]
        assert recover(home).strip() == "nothing to recover: no dead run, no finished run holding pool slots"
        assert slot_holders(instance) == [(run.run_id, "slot_holder")]  # a live run is left alone
    finally:
        kill(process)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # as the kill left it
    assert slot_holders(instance) == [(run.run_id, "slot_holder")]  # and the slot with it

    dry = recover(home, "--dry-run")
    assert f"dry run, would have marked failed: {run.run_id} (no process {pid} on this machine)" in dry
    assert slot_holders(instance) == [(run.run_id, "slot_holder")]
    done = recover_command(home)
    assert done.splitlines() == [
        f"marked failed: {run.run_id} (no process {pid} on this machine)",
        f"freed pool slots of run {run.run_id}",
    ]
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert slot_holders(instance) == []
    following = dg.materialize([next_warehouse_step], instance=instance)  # its step gets the slot
    assert following.success
    assert following.get_asset_materialization_events()[0].asset_key == dg.AssetKey("next_warehouse_step")


def test_run_monitoring_frees_the_slot_of_a_run_marked_failed(home, tmp_path, monkeypatch) -> None:
    """What `make ui`'s daemon does after a run is terminated or marked failed in the UI."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import EmptyWorkspaceTarget
    from dagster._daemon.monitoring import concurrency

    process, _pid = hold_slot(home, tmp_path)
    kill(process)
    instance = dg.DagsterInstance.from_config(str(home))
    run = only_run(instance)
    instance.report_run_failed(run, "marked failed by an operator")
    assert slot_holders(instance) == [(run.run_id, "slot_holder")]  # marking it failed frees nothing
    assert instance.run_monitoring_enabled
    wait = instance.run_monitoring_settings["free_slots_after_run_end_seconds"]
    ended = instance.get_run_record_by_id(run.run_id).end_time
    context = WorkspaceProcessContext(instance, EmptyWorkspaceTarget())

    def iteration_at(seconds_after_end: float) -> None:
        now = datetime.datetime.fromtimestamp(ended + seconds_after_end, tz=datetime.UTC)
        monkeypatch.setattr(concurrency, "get_current_datetime", lambda: now)  # the daemon's clock
        list(concurrency.execute_concurrency_slots_iteration(context, logging.getLogger("monitoring")))

    iteration_at(wait - 1)
    assert slot_holders(instance) == [(run.run_id, "slot_holder")]  # not yet
    iteration_at(wait + 1)
    assert slot_holders(instance) == []
    assert dg.materialize([next_warehouse_step], instance=instance).success


def test_a_run_named_by_the_operator_is_marked_failed_even_if_its_process_is_unknown(home, tmp_path) -> None:
    process, _pid = hold_slot(home, tmp_path)
    kill(process)
    instance = dg.DagsterInstance.from_config(str(home))
    run = only_run(instance)
    assert recover(home, "--run-id", run.run_id).splitlines() == [
        f"marked failed: {run.run_id} (named with --run-id)",
        f"freed pool slots of run {run.run_id}",
    ]
    assert (
        recover(home, "--run-id", "no-such-run").strip() == "left alone: no-such-run (not in progress (or not found))"
    )
