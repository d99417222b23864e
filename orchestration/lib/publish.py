"""Publish the marts for readers: a separate DuckDB file, rebuilt and swapped into place in one rename.

DuckDB lets one process write a file, and a reader holding the warehouse open would block the
pipeline's writer (and could see marts half-built during a run). BI tools therefore read
READER_DATABASE, never the warehouse. After the gate passed, the publish step copies the
analyst-facing schema `marts` (not `restricted`, never the raw or staging layers) into a new
file next to it and renames that file over the old one:

- the rename is atomic, so a new connection sees either the previous snapshot or the new one,
  never a mix;
- a reader connected during the swap keeps the snapshot it opened (its file handle stays valid)
  and holds no lock the pipeline needs, so a reader never blocks a run.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts",)
SNAPSHOT_ALIAS = "reader_snapshot"


@dataclass
class PublishResult:
    path: str
    tables: dict[str, int]  # schema.table -> rows
    published_at: str


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def publish_snapshot(con: duckdb.DuckDBPyConnection, reader_path: Path, run_id: str) -> PublishResult:
    """Copy the published schemas into a fresh file, then atomically replace `reader_path` with it."""
    reader_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = reader_path.with_name(f".{reader_path.name}.{run_id[:8]}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)  # from a run killed mid-publish
    schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables"
        f" where table_catalog = current_database() and table_schema in ({schemas}) and table_type = 'BASE TABLE'"
        " order by 1, 2"
    ).fetchall()
    published_at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    counts: dict[str, int] = {}
    con.execute(f"attach '{tmp}' as {SNAPSHOT_ALIAS}")
    try:
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"create schema {SNAPSHOT_ALIAS}.{_q(schema)}")
        for schema, table in tables:
            target = f"{SNAPSHOT_ALIAS}.{_q(schema)}.{_q(table)}"
            con.execute(f"create table {target} as select * from {_q(schema)}.{_q(table)}")
            counts[f"{schema}.{table}"] = con.execute(f"select count(*) from {target}").fetchall()[0][0]
        con.execute(
            f"create table {SNAPSHOT_ALIAS}.main.published as"
            " select ?::varchar as run_id, ?::timestamp as published_at, ?::json as table_rows",
            [run_id, published_at, json.dumps(counts)],
        )
        con.execute(f"checkpoint {SNAPSHOT_ALIAS}")
    finally:
        con.execute(f"detach {SNAPSHOT_ALIAS}")
    os.replace(tmp, reader_path)
    return PublishResult(path=str(reader_path), tables=counts, published_at=published_at)
