"""Where a no-op run's time goes: import times, and the Dagster process under cProfile.

Run after `python -m bench` on the same work folder (its warehouse, landing files and Dagster
instance are reused, so the profiled run has nothing new to load):
`python -m bench.profile --scale medium` prints the slowest imports and the functions with the
most cumulative time, and keeps `<work>/noop.prof` for `python -m pstats`.
dbt runs in its own process, which cProfile does not see: its time is the dbt step in the
Dagster profile, and dbt's own split is in run_results.json (the results file's `dbt` details).
"""

from __future__ import annotations

import argparse
import io
import pstats
import re
import subprocess
import sys
import time
from pathlib import Path

from bench import pipeline

IMPORTS = {
    "orchestration.definitions": "the Dagster definitions (what every run loads first)",
    "great_expectations": "Great Expectations (imported when the raw checks run)",
    "dbt.cli.main": "dbt (imported by the dbt subprocess)",
}


def import_seconds(module: str, env: dict[str, str], top: int = 6) -> tuple[float, list[tuple[str, float]]]:
    """Import time of `module` in a fresh interpreter, and the heaviest packages it pulls in (two levels down)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=env,
        cwd=pipeline.REPO_ROOT,
        capture_output=True,
        text=True,
    )
    total, below = 0.0, []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( +)(\S+)", line)
        if not match:
            continue
        seconds, depth, name = int(match.group(1)) / 1e6, (len(match.group(2)) - 1) // 2, match.group(3)
        if depth == 0:
            total += seconds
        elif depth <= 2:
            below.append((name, seconds))
    return total, sorted(below, key=lambda r: -r[1])[:top]


def profiled_noop(work: Path, env: dict[str, str], top: int) -> str:
    """One pipeline run under cProfile (nothing new to load), with its top functions by cumulative time."""
    out = work / "noop.prof"
    command = [sys.executable, "-m", "cProfile", "-o", str(out), *pipeline.FULL_COMMAND]
    started = time.perf_counter()
    with (work / "logs" / "noop-profiled.log").open("wb") as log:
        code = subprocess.run(command, env=env, cwd=pipeline.REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text)
    stats.sort_stats("cumulative").print_stats(top)
    wall = time.perf_counter() - started
    return f"profiled no-op run: {wall:.1f} s wall (exit {code.returncode}), profile in {out}\n{text.getvalue()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "medium", "large"], default="medium")
    parser.add_argument("--work-dir", type=Path, help="the benchmark's work folder (default data/bench/<scale>)")
    parser.add_argument("--as-of", default="2026-06-30")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args(argv)
    work = (args.work_dir or pipeline.REPO_ROOT / "data" / "bench" / args.scale).resolve()
    if not (work / "warehouse.duckdb").exists():
        raise SystemExit(f"no benchmark warehouse in {work}: run python -m bench --scale {args.scale} first")
    settings = {"DUCKDB_THREADS": "2", "DUCKDB_MEMORY_LIMIT": "4GB", "DBT_THREADS": "2"}
    port = pipeline.free_planning_port()
    env = pipeline.pipeline_env(work, args.as_of, settings, port)
    for module, what in IMPORTS.items():
        total, heaviest = import_seconds(module, env)
        print(f"import {module}: {total:.2f} s ({what}); heaviest: " + ", ".join(f"{n} {s:.2f}" for n, s in heaviest))
    with pipeline.planning_server(work, port):
        print(profiled_noop(work, env, args.top))


if __name__ == "__main__":
    main()
