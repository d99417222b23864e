"""Runs (a), (d) and (e): the Dagster pipeline exactly as `make demo` runs it, and what it did.

The command and environment are the Makefile's (`dagster asset materialize -m orchestration.definitions
--select '*'`, the local planning server started beside it); the no-op and the intraday run are the
intraday_refresh schedule's tick and the run it requests (bench/tick.py). After each run the Dagster
instance's event log and dbt's run_results.json say where the time went: per step, and per dbt node.
"""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb

from orchestration.contract import get
from orchestration.defs.ingest.loader import q, sql_str

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FULL_COMMAND = [str(BIN / "dagster"), "asset", "materialize", "-m", "orchestration.definitions", "--select", "*"]
INTRADAY_JOB = "intraday_refresh"
NIGHTLY_JOB = "nightly_full"  # its schedule has the job's name
PLANNING_PORTS = range(8790, 8800)
TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
}


def local_planning_settings() -> dict[str, str]:
    """ANAPLAN_* ids and demo credentials: the local server's own defaults, which it is started with."""
    from demo.servers.anaplan.server import start_server

    defaults = inspect.signature(start_server).parameters
    names = ("workspace_id", "model_id", "file_id", "import_id", "username", "password")
    return {f"ANAPLAN_{name.upper()}": str(defaults[name].default) for name in names}


def pipeline_env(work: Path, as_of: str, settings: Mapping[str, str], port: int) -> dict[str, str]:
    """The Makefile's environment, pointed at the bench's own warehouse, landing folder and instance."""
    url = f"http://127.0.0.1:{port}"
    return {
        **os.environ,
        **TELEMETRY_OFF,
        **settings,
        **local_planning_settings(),
        "DUCKDB_DATABASE": str(work / "warehouse.duckdb"),
        "LANDING_DIR": str(work / "landing"),
        "LANDING_SETTLE_SECONDS": "0",  # as `make demo`: the bench wrote the files itself, before the run
        "DAGSTER_HOME": str(work / "dagster_home"),
        "AS_OF_DATE": as_of,
        "ANAPLAN_API_URL": url,
        "ANAPLAN_AUTH_URL": url,
    }


def prepare_instance(dagster_home: Path) -> None:
    """A fresh Dagster home configured as the Makefile configures it (deploy/dagster.local.yaml)."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    local = REPO_ROOT / "deploy" / "dagster.local.yaml"
    config = local.read_text() if local.exists() else "telemetry:\n  enabled: false\n"
    (dagster_home / "dagster.yaml").write_text(config)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_planning_port() -> int:
    """A port of the bench's range that nobody listens on: never sync into another session's server."""
    for port in PLANNING_PORTS:
        if not _listening(port):
            return port
    raise SystemExit(f"no free port for the local planning server in {PLANNING_PORTS.start}-{PLANNING_PORTS.stop - 1}")


@contextmanager
def planning_server(work: Path, port: int) -> Iterator[None]:
    """The local Anaplan-protocol server, started and stopped as `make demo` does."""
    files = ["--db", work / "anaplan.sqlite", "--pidfile", work / "anaplan.pid", "--log", work / "anaplan.log"]
    args = ["anaplan", "--port", str(port), *map(str, files)]
    control = [sys.executable, "-m", "demo.servers.control"]
    subprocess.run([*control, "start", *args], check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        subprocess.run([*control, "stop", *args], check=False, cwd=REPO_ROOT)


# --- the 1% timecard change ----------------------------------------------------------------------


def write_timecard_change(landing: Path, as_of: str, share: float = 0.01) -> dict:
    """A later timecard export: `share` of the timecards, a quarter hour more on Monday, modified after as_of.

    Rows with Monday hours are chosen (so the extra time is on a worked day), spread over the whole
    history by a hash of the Id; the week total keeps equal to the sum of the days.
    """
    obj = get("psa", "timecard_header")
    base = landing / obj.system / obj.file_patterns[0]
    batch = base.with_name(f"{obj.file_stem}.{as_of}-intraday.{obj.extension}")
    monday, total = q("pse__Monday_Hours__c"), q("pse__Total_Hours__c")
    stamp = f"{as_of}T08:00:00.000Z"  # after every demo modification (all are on or before as_of)
    with duckdb.connect() as con:
        rows = con.execute(f"select count(*) from read_csv({sql_str(str(base))}, all_varchar = true)").fetchall()[0][0]
        changed = round(rows * share)
        con.execute(
            f"""copy (
                select * replace (
                    printf('%.2f', cast({monday} as decimal(9,2)) + 0.25) as {monday},
                    printf('%.2f', cast({total} as decimal(9,2)) + 0.25) as {total},
                    {sql_str(stamp)} as SystemModstamp)
                from read_csv({sql_str(str(base))}, all_varchar = true)
                where cast({monday} as decimal(9,2)) > 0
                order by hash(Id) limit {changed}
            ) to {sql_str(str(batch))} (header true)"""
        )
    return {"file": f"{obj.system}/{batch.name}", "rows_changed": changed, "timecards": rows, "share": share}


# --- what a run did -------------------------------------------------------------------------------


def _run_events() -> dict[str, str]:
    import dagster as dg

    kinds = dg.DagsterEventType
    return {kinds.RUN_START.value: "start", kinds.RUN_SUCCESS.value: "end", kinds.RUN_FAILURE.value: "end"}


def _step_group(step_key: str) -> str:
    if step_key.endswith("__quality"):
        return "raw_checks"
    if step_key.startswith("raw_"):
        return "ingest"
    if step_key == "dbt_models":
        return "dbt"
    if step_key.startswith("anaplan__"):
        return "sync"
    return "other"


def latest_run_id(dagster_home: Path) -> str | None:
    """The instance's latest run, if any."""
    import dagster as dg

    if not (dagster_home / "dagster.yaml").exists():
        return None
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        runs = instance.get_runs(limit=1)
        return runs[0].run_id if runs else None
    finally:
        instance.dispose()


def run_summary(dagster_home: Path, after: str | None = None) -> dict:
    """The latest run of the instance: status, seconds per step group, ingest rows, dbt node timings.

    `after`: the latest run before the measured command; when it still is, the command created none.
    """
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        runs = instance.get_runs(limit=1)
        if not runs or (after is not None and runs[0].run_id == after):
            return {"status": "no run created"}
        run, events = runs[0], instance.all_logs(runs[0].run_id)
    finally:
        instance.dispose()
    starts, seconds, run_times, rows_read = {}, {}, {}, 0
    run_events = _run_events()  # Dagster keeps legacy values: RUN_START is "PIPELINE_START"
    for entry in events:
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        if kind in run_events:
            run_times[run_events[kind]] = entry.timestamp
        elif kind == "STEP_START":
            starts[entry.step_key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and entry.step_key in starts:
            seconds[entry.step_key] = entry.timestamp - starts[entry.step_key]
        elif kind == "ASSET_MATERIALIZATION":
            value = event.step_materialization_data.materialization.metadata.get("rows_read")
            rows_read += int(value.value) if value is not None else 0
    by_group: dict[str, float] = {}
    for step, took in seconds.items():
        by_group[_step_group(step)] = by_group.get(_step_group(step), 0.0) + took
    end = run_times.get("end")
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "status": str(run.status.value),
        "run_seconds": round(end - run_times["start"], 3) if end and "start" in run_times else None,
        "step_seconds": {k: round(v, 3) for k, v in sorted(by_group.items())},
        "steps": len(seconds),
        "ingest_rows_read": rows_read,
        "dbt": dbt_timings(run.run_id),
    }


def dbt_timings(run_id: str) -> dict | None:
    """dbt's own account of the run's `dbt build`: its command time, parse, and node time by resource type."""
    found = sorted((REPO_ROOT / "dbt_project" / "target").glob(f"dbt_models-{run_id[:7]}-*/run_results.json"))
    if not found:
        return None
    results = json.loads(found[-1].read_text())
    by_type: dict[str, list[float]] = {}
    for result in results["results"]:
        by_type.setdefault(result["unique_id"].split(".")[0], []).append(result["execution_time"])
    slowest = sorted(results["results"], key=lambda r: -r["execution_time"])[:8]
    return {
        "elapsed_seconds": round(results["elapsed_time"], 3),
        **dbt_log_marks(found[-1].parent),
        "node_seconds": {k: round(sum(v), 3) for k, v in sorted(by_type.items())},
        "nodes": {k: len(v) for k, v in sorted(by_type.items())},
        "slowest": {r["unique_id"].split(".")[-1]: round(r["execution_time"], 3) for r in slowest},
    }


DBT_MARKS = ("MainReportVersion", "UnableToPartialParse", "FoundStats", "CommandCompleted")


def dbt_log_marks(target: Path) -> dict:
    """From dbt's JSON log: the whole command's seconds, start-up and parse seconds, whether it re-parsed."""
    marks: dict[str, dict] = {}
    last = ""  # the log's last event, dbt.log being read last
    for log in sorted(target.glob("dbt.log*"), reverse=True):  # dbt.log.1 (older) before dbt.log
        with log.open(encoding="utf-8") as lines:
            for line in lines:
                last = line if line.strip() else last
                name = next((m for m in DBT_MARKS if f'"name": "{m}"' in line and m not in marks), None)
                if name:
                    marks[name] = json.loads(line)["info"]
    if last and "CommandCompleted" not in marks:
        # A debug event: at the pipeline's file log level (DBT_LOG_LEVEL_FILE=info) the last event written,
        # dbt's closing summary, ends the command instead.
        marks["CommandCompleted"] = json.loads(last)["info"]
    stamp = {name: datetime.fromisoformat(info["ts"].replace("Z", "+00:00")) for name, info in marks.items()}
    started, parsed, done = (stamp.get(m) for m in ("MainReportVersion", "FoundStats", "CommandCompleted"))
    return {
        "command_seconds": round((done - started).total_seconds(), 3) if started and done else None,
        "startup_and_parse_seconds": round((parsed - started).total_seconds(), 3) if started and parsed else None,
        "full_reparse": marks.get("UnableToPartialParse", {}).get("msg"),
    }
