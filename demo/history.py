"""The demo's forecast history, made the way production makes it: one nightly run per past day.

`python -m demo.history --weeks 8 --months 4 [--as-of YYYY-MM-DD] [--scale small --seed 42]`

For each past day, oldest first, the demo firm's exports are written into LANDING_DIR as they
stood at the start of that day (`python -m demo.firm --known-on`: the same firm, knowing only
what was known then), and the pipeline runs as of that day (AS_OF_DATE) into the warehouse, so
the raw layer accumulates as it would in production and each run appends its forecast version.
`make demo` then writes the exports of its own as-of date and runs the whole graph.

The past days are the `--weeks` weekly days before the as-of date and, further back, the same day
of each of the `--months` months before it that falls before the weekly ones, in a month they do
not already cover: enough versions
made 1-3 months before the closed months for the forecast-accuracy mart. A past run loads every
raw table (with its checks) and builds the forecast's part of the graph only (the forecast version
marts and every model upstream of them, with their dbt tests and the models those tests read),
from the data known that day; the other marts, the reverse sync and the reader copy wait for the demo's own
run.

History is made into a new warehouse only: a warehouse that already holds loads knows later data,
and a past version computed from it would not be history. `--weeks 0` makes none.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from orchestration.contract import SOURCE_OBJECTS
from orchestration.lib import settings
from orchestration.lib.dialect import table_exists
from orchestration.lib.warehouse import warehouse_resource

# The marts each run appends its forecast version to.
VERSION_MARTS = (
    "fct_revenue_forecast_versions",
    "fct_revenue_forecast_version_lines",
    "fct_revenue_forecast_version_assignments",
)


def _month_back(day: date, months: int) -> date:
    """The same day of the month `months` before (the month's last day when it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for dom in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, min(dom, day.day))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def history_days(as_of: date, weeks: int, months: int) -> list[date]:
    """Past as-of days, oldest first: `weeks` weekly ones, then monthly ones before them."""
    if weeks <= 0:
        return []
    weekly = [as_of - timedelta(weeks=k) for k in range(1, weeks + 1)]
    covered = {(d.year, d.month) for d in weekly}
    monthly = [_month_back(as_of, k) for k in range(1, months + 1)]
    return sorted({*weekly, *(d for d in monthly if d < min(weekly) and (d.year, d.month) not in covered)})


def warehouse_is_new() -> bool:
    """True when the warehouse holds no load yet (a missing DuckDB file, or no loaded files recorded)."""
    warehouse = warehouse_resource()
    if warehouse.dialect == "duckdb" and not Path(settings.duckdb_database()).exists():
        return True
    with warehouse.connect(read_only=True) as con:
        if not table_exists(con, "ingest_meta", "loaded_files"):
            return True
        return con.execute("select count(*) from ingest_meta.loaded_files").fetchone()[0] == 0


def _models_with_their_tests(marts: list[str], manifest: Path) -> list[str]:
    """The dbt models the marts are built from, and those the data tests on any of them compare
    with (a relationships test on dim_project reads dim_legal_entity), as `schema/name` asset keys."""
    graph = json.loads(manifest.read_text())
    nodes, parents, children = graph["nodes"], graph["parent_map"], graph["child_map"]
    todo = [f"model.psa_pipeline.{m}" for m in marts]
    models: set[str] = set()
    while todo:
        node = todo.pop()
        if node in models or not node.startswith("model."):
            continue
        models.add(node)
        todo += parents.get(node, [])
        todo += [p for test in children.get(node, []) if test.startswith("test.") for p in parents.get(test, [])]
    return sorted(f"{nodes[m]['schema']}/{nodes[m]['name']}" for m in models)


def selection() -> str:
    """What a past run materializes: every raw table (the day's exports are all loaded, so the raw
    layer and its checks are as a nightly run leaves them) and the dbt models of the version marts,
    with every model their tests read."""
    manifest = Path(__file__).parents[1] / "dbt_project" / "target" / "manifest.json"
    raw = [f"{obj.schema}/{obj.name}" for obj in SOURCE_OBJECTS]
    return ",".join([*raw, *_models_with_their_tests(list(VERSION_MARTS), manifest)])


def _run(command: list[str], env: dict[str, str]) -> float:
    """Run a command to the end, its output shown only if it fails; its seconds."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.stderr.write(done.stdout[-5000:] + done.stderr[-20000:])
        raise SystemExit(f"history: {' '.join(command[:4])} ... failed (exit {done.returncode})")
    return time.perf_counter() - started


def make_history(
    as_of: date, weeks: int, months: int, scale: str, seed: int, landing: Path, select: str | None = None
) -> list[date]:
    """Write each past day's exports and run the forecast's part of the pipeline as of it; the days run."""
    days = history_days(as_of, weeks, months)
    if not days:
        print("history: none (weeks 0)")
        return []
    if not warehouse_is_new():
        print("history: the warehouse already holds loads; its past versions stay, none is made again")
        return []
    if settings.ingest_source() != "files":
        print("history: made on the landing-files path only (INGEST_SOURCE=files); none made")
        return []
    if settings.warehouse() == "postgres":
        subprocess.run([sys.executable, "-m", "orchestration.lib.postgres", "create-database"], check=True)
    dagster = str(Path(sys.executable).with_name("dagster"))
    select = select or selection()
    print(f"history: {len(days)} past runs ({days[0]} .. {days[-1]})", flush=True)
    for day in days:
        generate = [sys.executable, "-m", "demo.firm", "--scale", scale, "--seed", str(seed), "--out", str(landing)]
        generate += ["--as-of", as_of.isoformat(), "--known-on", day.isoformat(), "--no-progress"]
        env = {**os.environ, "AS_OF_DATE": day.isoformat(), "LANDING_SETTLE_SECONDS": "0"}
        seconds = _run(generate, env)
        seconds += _run([dagster, "asset", "materialize", "-m", "orchestration.definitions", "--select", select], env)
        print(f"history: {day} done in {seconds:.0f}s", flush=True)
    return days


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.history", description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=8, help="weekly past runs (0: no history)")
    parser.add_argument("--months", type=int, default=4, help="monthly past runs before the weekly ones")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="the demo's as-of date (default today)")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--landing", type=Path, default=None, help="landing folder (default LANDING_DIR)")
    parser.add_argument("--select", default=None, help="what a past run materializes (default: see the docstring)")
    args = parser.parse_args(argv)
    landing = args.landing or settings.landing_dir()
    make_history(args.as_of or date.today(), args.weeks, args.months, args.scale, args.seed, landing, args.select)
    return 0


if __name__ == "__main__":
    sys.exit(main())
