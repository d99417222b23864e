"""Recover from runs whose process died (kill -9, out of memory, a reboot): mark them failed, free their slots.

    python -m orchestration.defs.automation.recovery [--run-id ID ...] [--dry-run]     (or `make recover-runs`)

Why: every step that opens the warehouse holds the one slot of pool `duckdb_writer`. A run whose
process is killed never releases it, and Dagster's default run launcher cannot check a run
worker's health, so run monitoring leaves the run STARTED and its slot claimed: every later
warehouse step waits forever. Marking the run failed (or terminating it in the UI) does not free
the slot by itself; the daemon's run monitoring does, `free_slots_after_run_end_seconds` after the
run ended (`deploy/*.yaml` enable it), and this command does at once.

What it does, on the instance of DAGSTER_HOME:
1. Every run in progress (STARTING, STARTED, CANCELING) whose run worker is gone is marked failed.
   The worker is the process id the run recorded (Dagster's "Executing steps in process (pid: N)"
   engine event); it is gone when no process has that id on this machine, or the one that has it
   is a zombie or started after the run recorded it (the id was reused). Runs launched from a code
   server on another machine (tag `.dagster/grpc_info`) are left alone: run it there, or name the
   run with `--run-id`. Run it on the machine that runs the runs (with the default run launcher,
   the one running the daemon; `make demo` and `dagster asset materialize` run in process).
2. `--run-id ID` marks that run failed whatever its process looks like (an operator's decision,
   like the UI's "terminate").
3. Every finished run (failed, canceled, succeeded) that still holds or waits for pool slots has
   them freed, so the next waiting step gets its slot.

It uses the instance's public run queries (`get_run_records`, `all_logs`), `report_run_failed`,
and the event-log storage's `get_concurrency_run_ids` / `free_concurrency_slots_for_run`: the
calls Dagster's own monitoring daemon and the UI's "Free concurrency slots" make.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from dataclasses import dataclass, field

import dagster as dg

IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


@dataclass
class Recovery:
    """What a recovery found and did (or, in a dry run, would do)."""

    marked_failed: dict[str, str] = field(default_factory=dict)  # run id -> why
    slots_freed: list[str] = field(default_factory=list)  # run ids
    left_alone: dict[str, str] = field(default_factory=dict)  # run id -> why

    def lines(self) -> list[str]:
        out = [f"marked failed: {run_id} ({why})" for run_id, why in self.marked_failed.items()]
        out += [f"freed pool slots of run {run_id}" for run_id in self.slots_freed]
        out += [f"left alone: {run_id} ({why})" for run_id, why in self.left_alone.items()]
        return out or ["nothing to recover: no dead run, no finished run holding pool slots"]


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, when it was recorded) of the run's latest engine event that names its process, if any."""
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    for entry in reversed(events):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None and str(pid.value).isdigit():
            return int(pid.value), entry.timestamp
    return None


def process_gone(pid: int, recorded_at: float) -> str | None:
    """Why the process `pid` recorded at `recorded_at` no longer runs on this machine; None if it may."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"no process {pid} on this machine"
    except PermissionError:
        pass  # someone else's process has the id: look at it below
    stat = _proc_stat(pid)
    if stat is None:
        return None  # no /proc (not Linux): a live process with that id is taken to be the worker
    state, started_at = stat
    if state == "Z":
        return f"process {pid} has exited (zombie)"
    if started_at > recorded_at + 1:  # the clock tick of /proc is 10 ms; the id was reused since
        return f"process {pid} is another process, started after the run recorded it"
    return None


def _proc_stat(pid: int) -> tuple[str, float] | None:
    """(state, start time in epoch seconds) from /proc, or None where there is no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/stat") as f:
            boot = next(float(line.split()[1]) for line in f if line.startswith("btime "))
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return fields[0], boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _launched_elsewhere(run: dg.DagsterRun) -> str | None:
    """The host of the code server that launched the run, when it is not this machine."""
    info = run.tags.get(".dagster/grpc_info")
    if not info:
        return None
    try:
        host = json.loads(info).get("host") or ""
    except ValueError:
        return None
    if not host or host in _LOCAL_HOSTS or host in {socket.gethostname(), socket.getfqdn()}:
        return None
    return host


def recover(instance: dg.DagsterInstance, run_ids: list[str] | None = None, dry_run: bool = False) -> Recovery:
    """Mark dead (or the named) runs failed and free the pool slots of every finished run."""
    done = Recovery()
    named = set(run_ids or [])
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS))
    for record in records:
        run = record.dagster_run
        if named and run.run_id not in named:
            continue
        if run.run_id in named:
            why = "named with --run-id"
        elif host := _launched_elsewhere(run):
            done.left_alone[run.run_id] = f"launched from a code server on {host}; run this there"
            continue
        elif (recorded := worker_pid(instance, run.run_id)) is None:
            done.left_alone[run.run_id] = f"{run.status.value} and no process recorded yet"
            continue
        elif (why := process_gone(*recorded)) is None:
            continue  # alive
        done.marked_failed[run.run_id] = why
        if not dry_run:
            instance.report_run_failed(run, f"Marked failed by orchestration.defs.automation.recovery: {why}.")
    missing = named - {r.dagster_run.run_id for r in records}
    for run_id in sorted(missing):
        done.left_alone[run_id] = "not in progress (or not found)"
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return done
    holders = storage.get_concurrency_run_ids()
    if not holders:
        return done
    finished = {
        r.dagster_run.run_id for r in instance.get_run_records(dg.RunsFilter(run_ids=list(holders), statuses=FINISHED))
    }
    to_free = sorted(finished | (set(done.marked_failed) & holders))
    for run_id in to_free:
        if not dry_run:
            storage.free_concurrency_slots_for_run(run_id)
        done.slots_freed.append(run_id)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.defs.automation.recovery", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--run-id", action="append", default=[], help="mark this run failed (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    args = parser.parse_args(argv)
    with dg.DagsterInstance.get() as instance:
        done = recover(instance, args.run_id, args.dry_run)
    prefix = "dry run, would have " if args.dry_run else ""
    for line in done.lines():
        print(prefix + line if not line.startswith(("left alone", "nothing")) else line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
