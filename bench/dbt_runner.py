"""dbt's in-process runner (`dbtRunner`) against the subprocess the pipeline's dbt step starts.

Run after `python -m bench` on the same work folder: `python -m bench.dbt_runner --scale medium`.
On a copy of the benchmark's warehouse, the same `dbt build` runs several times each way, in turn:
- subprocess: `dbt build ...`, as dagster-dbt starts it (a new Python process imports dbt, reads the
  partial parse and runs);
- in-process: `dbtRunner().invoke([...])` in this process, dbt imported once before the first.

Two commands: one view (`int_calendar_first_timecard_week`), where all there is to a build is its
fixed cost, and the intraday build (what reads timecards, unit tests left out, as the dbt step runs
it after a timecard change). Both share one target folder, so each reuses the partial parse.
Prints the wall seconds of each run and the medians; writes nothing but the warehouse copy.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.pipeline import BIN, REPO_ROOT, TELEMETRY_OFF

PROJECT = REPO_ROOT / "dbt_project"
COMMANDS = {
    "one view": ["--select", "int_calendar_first_timecard_week"],
    "intraday": ["--select", "stg_psa__timecard_headers+", "--exclude", "resource_type:unit_test"],
}


def _args(selection: list[str], as_of: str, target: Path) -> list[str]:
    return [
        "build",
        *selection,
        "--vars",
        json.dumps({"as_of_date": as_of}),
        "--project-dir",
        str(PROJECT),
        "--profiles-dir",
        str(PROJECT),
        "--target-path",
        str(target),
        "--quiet",
    ]


def _subprocess(args: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "dbt"), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - started


def _in_process(args: list[str]) -> float:
    """One in-process build, and closing the warehouse after it (inside the timing).

    dbt-duckdb keeps the DuckDB file open, and its write lock held, until the process exits: a
    pipeline running dbt in-process would have to close it, or every other process (the next run,
    the UI's readers of the warehouse) would wait.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.cli.main import dbtRunner

    started = time.perf_counter()
    result = dbtRunner().invoke(args)
    DuckDBConnectionManager.close_all_connections()
    gc.collect()  # the environment's last reference: DuckDB closes the file
    if not result.success:
        raise SystemExit(f"dbtRunner {' '.join(args)} failed: {result.exception}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dbt_runner", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "medium", "large"], default="medium")
    parser.add_argument("--work-dir", type=Path, help="the benchmark's work folder (default data/bench/<scale>)")
    parser.add_argument("--as-of", default="2026-06-30")
    parser.add_argument("--runs", type=int, default=5, help="runs of each command each way")
    args = parser.parse_args(argv)
    work = (args.work_dir or REPO_ROOT / "data" / "bench" / args.scale).resolve()
    if not (work / "warehouse.duckdb").exists():
        raise SystemExit(f"no benchmark warehouse in {work}: run python -m bench --scale {args.scale} first")
    with tempfile.TemporaryDirectory(prefix="dbt_runner_") as scratch:
        warehouse = Path(shutil.copy(work / "warehouse.duckdb", Path(scratch) / "warehouse.duckdb"))
        target = Path(scratch) / "target"
        os.environ.update({**TELEMETRY_OFF, "DUCKDB_DATABASE": str(warehouse), "AS_OF_DATE": args.as_of})
        os.environ.update({"DUCKDB_THREADS": "2", "DUCKDB_MEMORY_LIMIT": "4GB", "DBT_THREADS": "2"})
        started = time.perf_counter()
        import dbt.cli.main  # noqa: F401  (the in-process runner's one import, outside its timings)

        print(f"import dbt.cli.main in this process: {time.perf_counter() - started:.2f} s")
        for name, selection in COMMANDS.items():
            command = _args(selection, args.as_of, target)
            _subprocess(command)  # a first build writes the partial parse both ways reuse
            timings: dict[str, list[float]] = {"subprocess": [], "in-process": []}
            for _ in range(args.runs):
                timings["subprocess"].append(_subprocess(command))
                timings["in-process"].append(_in_process(command))
            for way, seconds in timings.items():
                runs = ", ".join(f"{s:.2f}" for s in seconds)
                print(f"{name:9} {way:10} median {statistics.median(seconds):6.2f} s  ({runs})")


if __name__ == "__main__":
    main()
