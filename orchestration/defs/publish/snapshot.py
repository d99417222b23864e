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

# Table and column comments for the reader database, from the dbt docs: table name -> (the model's
# description, {column: its description}). Empty when the manifest lacks a model.
Comments = dict[str, tuple[str, dict[str, str]]]


def comments_from_manifest(manifest: dict, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> Comments:
    """Every published model's description and its columns' descriptions, as dbt's docs hold them."""
    found: Comments = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("schema") in schemas:
            columns = {name: " ".join(c.get("description", "").split()) for name, c in node.get("columns", {}).items()}
            found[node["name"]] = (" ".join(node.get("description", "").split()), columns)
    return found


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_statements(target: str, table: str, columns: list[str], comments: Comments) -> list[str]:
    """`comment on table/column` statements (DuckDB and PostgreSQL spell them alike) for one copied table."""
    described, by_column = comments.get(table, ("", {}))
    statements = [f"comment on table {target} is {_literal(described)}"] if described else []
    statements += [
        f"comment on column {target}.{_q(column)} is {_literal(by_column[column])}"
        for column in columns
        if by_column.get(column)
    ]
    return statements


def _columns(con, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_catalog = current_database()"
            " and table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


@dataclass
class PublishResult:
    path: str
    tables: dict[str, int]  # schema.table -> rows
    published_at: str


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def publish_snapshot(
    con: duckdb.DuckDBPyConnection, reader_path: Path, run_id: str, comments: Comments | None = None
) -> PublishResult:
    """Copy the published schemas into a fresh file with the dbt docs as comments, then atomically replace
    `reader_path` with it."""
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
            for statement in comment_statements(target, table, _columns(con, schema, table), comments or {}):
                con.execute(statement)
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


# --- PostgreSQL (WAREHOUSE=postgres) --------------------------------------------------------------
# There is no file to swap: BI tools read schema `reader` of the warehouse database. The publish
# step copies the published schemas' tables into a new schema and, in the same transaction, renames
# the current `reader` aside and the new one to `reader`. A new query sees the old snapshot or the
# new one, never a mix; a query already running keeps reading the tables it opened (renaming a
# schema waits for no reader). The renamed-aside snapshot is dropped only if no reader still uses
# it (a short lock timeout); otherwise the next publish drops it.

READER_SCHEMA = "reader"
STALE_PREFIX = "reader_previous_"


def publish_schema(con, run_id: str, comments: Comments | None = None) -> PublishResult:
    """Copy the published schemas into a fresh schema with the dbt docs as comments, then make it `reader`
    in one transaction."""
    token = "".join(c for c in run_id if c.isalnum())[:12]
    fresh, previous = f"reader_next_{token}", f"{STALE_PREFIX}{token}"
    schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables"
        f" where table_schema in ({schemas}) and table_type = 'BASE TABLE' order by 1, 2"
    ).fetchall()
    published_at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    counts: dict[str, int] = {}
    con.execute("begin transaction")
    try:
        con.execute(f"drop schema if exists {fresh} cascade")  # from a run killed mid-publish
        con.execute(f"create schema {fresh}")
        for schema, table in tables:
            con.execute(f"create table {fresh}.{_q(table)} as select * from {_q(schema)}.{_q(table)}")
            target = f"{fresh}.{_q(table)}"
            for statement in comment_statements(target, table, _columns(con, schema, table), comments or {}):
                con.execute(statement)
            counts[f"{schema}.{table}"] = con.execute(f"select count(*) from {fresh}.{_q(table)}").fetchall()[0][0]
        con.execute(
            f"create table {fresh}.published as select cast(? as varchar) as run_id,"
            " cast(? as timestamp) as published_at, cast(? as jsonb) as table_rows",
            [run_id, published_at, json.dumps(counts)],
        )
        if con.execute("select to_regnamespace(?) is not null", [READER_SCHEMA]).fetchall()[0][0]:
            con.execute(f"alter schema {READER_SCHEMA} rename to {previous}")
        con.execute(f"alter schema {fresh} rename to {READER_SCHEMA}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    _drop_stale_snapshots(con)
    return PublishResult(path=READER_SCHEMA, tables=counts, published_at=published_at)


def _drop_stale_snapshots(con) -> None:
    """Drop earlier snapshots nobody reads any more; one still in use waits for the next publish."""
    stale = con.execute(
        "select nspname from pg_namespace where nspname like ?", [STALE_PREFIX.replace("_", "\\_") + "%"]
    ).fetchall()
    con.execute("set lock_timeout = '2s'")
    try:
        for (schema,) in stale:
            try:
                con.execute(f"drop schema {schema} cascade")
            except Exception:  # psycopg2 LockNotAvailable: a reader still has it open
                continue
    finally:
        con.execute("reset lock_timeout")
