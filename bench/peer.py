"""Run (c), the common peer: the landing files through pandas and `DataFrame.to_sql`, ingest only.

What a typical hand-rolled loader does: `pandas.read_csv` / `read_json`, then `to_sql` through
SQLAlchemy (duckdb-engine) into a fresh DuckDB file, appending every file as it comes. It does not
check, type by contract or merge by key, so it does less than the pipeline's loader. This is the
one place in the project where `to_sql` is allowed: it is what the loader is compared against.

`python -m bench.peer --landing DIR --database FILE --report OUT`
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import sqlalchemy

from orchestration.contract import JSONL, SOURCE_OBJECTS, SYSTEMS, WORKDAY_JSON, SourceObject
from orchestration.defs.ingest.loader import landing_files


def read_frame(obj: SourceObject, path: Path) -> pd.DataFrame:
    """Values as the file has them: CSV as text, JSON as JSON types (Workday sends only strings).

    Letting pandas infer CSV types breaks on the first malformed value (the demo has one in a later
    timecard batch) when appending to a table typed by the first file, so the peer lands text.
    """
    if obj.format == JSONL:
        return pd.read_json(path, lines=True, dtype=False)
    if obj.format == WORKDAY_JSON:
        with path.open(encoding="utf-8") as handle:
            return pd.DataFrame(json.load(handle)["Report_Entry"])
    return pd.read_csv(path, dtype=str)


def run(landing: Path, database: Path, config: dict) -> dict:
    engine = sqlalchemy.create_engine(f"duckdb:///{database}", connect_args={"config": config})
    with engine.begin() as connection:
        for system in SYSTEMS:
            connection.exec_driver_sql(f"create schema if not exists raw_{system}")
    report: dict = {"rows_by_table": {}, "seconds_by_table": {}}
    started = time.perf_counter()
    for obj in SOURCE_OBJECTS:
        table_started, rows = time.perf_counter(), 0
        for path in landing_files(obj, landing):
            frame = read_frame(obj, path)
            frame.to_sql(obj.name, engine, schema=obj.schema, if_exists="append", index=False)
            rows += len(frame)
        key = f"{obj.schema}.{obj.name}"
        report["rows_by_table"][key] = rows
        report["seconds_by_table"][key] = round(time.perf_counter() - table_started, 3)
    report["load_seconds"] = round(time.perf_counter() - started, 3)
    report["rows_loaded"] = sum(report["rows_by_table"].values())
    engine.dispose()
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--memory-limit", required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report = run(args.landing, args.database, {"threads": args.threads, "memory_limit": args.memory_limit})
    report["total_seconds"] = round(time.perf_counter() - started, 3)
    args.report.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
