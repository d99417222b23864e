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

Only what changed is copied. The snapshot records, per table (RECORD_TABLE), which Dagster
materialization of its mart it holds; the caller passes each mart's latest one (`latest`), and a
table is copied from the warehouse only when its latest materialization is not the one readers
hold (`plan_publish` says why for each). A mart rebuilt with the very rows readers hold (the
nightly rebuilds every mart, and most come out as the day's runs left them) is carried over too:
the record keeps each table's rows' fingerprint (`orchestration.lib.dialect.rows_fingerprint`, one
scan of the mart in the warehouse), and `carry_same_rows` compares it with the rebuilt mart's. A column
the dbt docs mark `meta: {build_stamp: true}` (fct_time_entries.refreshed_at: when the dbt run that built
the row started) is left out of that comparison (`stamps_from_manifest`): a rebuild that changed nothing
but the stamp is carried over, and readers keep the stamp of the build whose values they hold. A mart
whose dbt docs also name a `meta: {patch_key: ...}` (fct_time_entries: timecard_id) is patched in the
new file instead of copied whole when readers hold an earlier materialization of it (`_patch`): the
rows of every key the warehouse stamped since are replaced, then those of keys it no longer has when
needed, and the patched table must have the warehouse's fingerprint, else it is copied whole. Once the
rows patches replaced since its last whole copy would pass PATCH_SHARE of its rows, it is copied whole
again, so the deleted rows do not pile up in the file. The
new file starts as a byte copy of the previous snapshot, the changed tables are replaced in it, and
it is swapped in whole as before; the tables that did not change are carried over without being
read or rewritten. When no mart was materialized since, nothing is written and readers keep the
snapshot they have.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from orchestration.lib.dialect import rows_fingerprint

PUBLISHED_SCHEMAS = ("marts",)
SNAPSHOT_ALIAS = "reader_snapshot"
PREVIOUS_ALIAS = "reader_previous"
# One row per published table: the materialization it holds, its rows and their fingerprint, who copied it.
RECORD_TABLE = "published_tables"

# Table and column comments for the reader database, from the dbt docs: table name -> (the model's
# description, {column: its description}). Empty when the manifest lacks a model.
Comments = dict[str, tuple[str, dict[str, str]]]
# Per table name, its build-stamp columns: when the run that built a row started, not what the row holds.
Stamps = dict[str, tuple[str, ...]]
# Per table name, the key its rows are patched by (`meta: {patch_key: ...}`; the table has one build stamp).
PatchKeys = dict[str, str]
# A table is patched while the rows its patches replaced since its last whole copy stay within this share of
# its rows; past it, it is copied whole (the file keeps deleted rows' space until then).
PATCH_SHARE = 0.10


def comments_from_manifest(manifest: dict, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> Comments:
    """Every published model's description and its columns' descriptions, as dbt's docs hold them."""
    found: Comments = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("schema") in schemas:
            columns = {name: " ".join(c.get("description", "").split()) for name, c in node.get("columns", {}).items()}
            found[node["name"]] = (" ".join(node.get("description", "").split()), columns)
    return found


def stamps_from_manifest(manifest: dict, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> Stamps:
    """Every published model's columns the dbt docs mark `meta: {build_stamp: true}`."""
    found: Stamps = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("schema") in schemas:
            marked = tuple(n for n, c in node.get("columns", {}).items() if (c.get("meta") or {}).get("build_stamp"))
            if marked:
                found[node["name"]] = marked
    return found


def patch_keys_from_manifest(manifest: dict, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS) -> PatchKeys:
    """Every published model's `meta: {patch_key: <column>}`, when it has exactly one build stamp to find changes by."""
    stamps = stamps_from_manifest(manifest, schemas)
    found: PatchKeys = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") == "model" and node.get("schema") in schemas:
            key = (node.get("meta") or {}).get("patch_key")
            if key and key in node.get("columns", {}) and len(stamps.get(node["name"], ())) == 1:
                found[node["name"]] = key
    return found


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_statements(
    target: str, table: str, columns: list[str], comments: Comments, present: Mapping[str | None, str] | None = None
) -> list[str]:
    """`comment on table/column` statements (DuckDB and PostgreSQL spell them alike) for one published table.

    `present`: the comments it has already (None: the table's, column: its), which are not written again.
    """
    described, by_column = comments.get(table, ("", {}))
    present = present or {}
    statements = (
        [f"comment on table {target} is {_literal(described)}"] if described and present.get(None) != described else []
    )
    statements += [
        f"comment on column {target}.{_q(column)} is {_literal(by_column[column])}"
        for column in columns
        if by_column.get(column) and present.get(column) != by_column[column]
    ]
    return statements


def _column_types(con, schema: str, table: str, catalog: str | None = None) -> list[tuple[str, str]]:
    """The table's columns and their types, in order; in attached database `catalog`, else the current one."""
    where = "table_catalog = ?" if catalog else "table_catalog = current_database()"
    return con.execute(
        f"select column_name, data_type from information_schema.columns where {where}"
        " and table_schema = ? and table_name = ? order by ordinal_position",
        [*([catalog] if catalog else []), schema, table],
    ).fetchall()


def _columns(con, schema: str, table: str) -> list[str]:
    return [column for column, _ in _column_types(con, schema, table)]


def _described(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[tuple[str, str], dict[str | None, str]]:
    """Every column of every table in attached DuckDB database `catalog`, in order, with its comment (None if
    none); the table's own comment under key None, when it has one. By (schema, table)."""
    found: dict[tuple[str, str], dict[str | None, str]] = {}
    for schema, table, column, comment in con.execute(
        "select schema_name, table_name, column_name, comment from duckdb_columns()"
        " where database_name = ? order by schema_name, table_name, column_index",
        [catalog],
    ).fetchall():
        found.setdefault((schema, table), {})[column] = comment
    for schema, table, comment in con.execute(
        "select schema_name, table_name, comment from duckdb_tables() where database_name = ? and comment is not null",
        [catalog],
    ).fetchall():
        found.setdefault((schema, table), {})[None] = comment
    return found


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


# --- what readers hold, and what to copy ------------------------------------------------------------


@dataclass(frozen=True)
class Materialization:
    """One materialization of a mart in the Dagster instance: its event's storage id and run, and when.

    Two are the same when storage id and run id are (the run id tells instances apart, whose storage
    ids may repeat); the time is for people.
    """

    storage_id: int
    run_id: str
    materialized_at: dt.datetime = field(compare=False)  # UTC, naive

    def describe(self) -> str:
        run = f"run {self.run_id[:8]}" if self.run_id else "reported without a run"
        return f"materialization {self.storage_id} ({run}, {self.materialized_at:%Y-%m-%d %H:%M:%S} UTC)"


@dataclass(frozen=True)
class HeldTable:
    """A table of the readers' snapshot, as RECORD_TABLE describes it (all None in a snapshot without one)."""

    rows: int | None = None
    materialization: Materialization | None = None
    copied_by_run_id: str | None = None
    copied_at: str | None = None
    copied_because: str | None = None
    fingerprint: str | None = None  # of its rows (rows_fingerprint); None in a snapshot that did not record it
    patched_rows: int = 0  # rows patches replaced since its last whole copy (`_patch`)


@dataclass
class Snapshot:
    """What readers have now: the run that published it, when, and its tables (`schema.table`)."""

    run_id: str | None
    published_at: str | None
    tables: dict[str, HeldTable]
    unreadable: str | None = None  # why what readers have could not be read: every table is copied


@dataclass
class PublishPlan:
    """Per table, whether it is copied from the warehouse or carried over from the readers' snapshot, and why."""

    copy: dict[str, str] = field(default_factory=dict)
    carry: dict[str, str] = field(default_factory=dict)
    drop: dict[str, str] = field(default_factory=dict)  # in the snapshot, not published any more
    left_out: dict[str, str] = field(default_factory=dict)  # in the published schemas, but no mart builds it
    same_rows: set[str] = field(default_factory=set)  # carried: rebuilt since, with the very rows readers hold
    patched: dict[str, int] = field(default_factory=dict)  # of `copy`: patched, not copied whole; rows replaced

    @property
    def changes(self) -> bool:
        """Whether a new snapshot is written: a table to copy or drop, or a record to bring up to date."""
        return bool(self.copy or self.drop or self.same_rows)

    @property
    def published(self) -> list[str]:
        return sorted([*self.copy, *self.carry])


def plan_publish(
    tables: Iterable[str],
    latest: Mapping[str, Materialization | None] | None,
    snapshot: Snapshot | None,
) -> PublishPlan:
    """Which of the warehouse's `tables` to copy and which to carry over.

    `latest`: each mart's table and its latest materialization (None: none on record); a table not in
    it is no mart's and is left out. Without `latest` every table is copied. `snapshot`: what readers
    have (None: no snapshot yet). A table is carried over only when readers hold its latest materialization.
    """
    plan = PublishPlan()
    held = snapshot.tables if snapshot else {}
    for table in sorted(tables):
        if latest is not None and table not in latest:
            plan.left_out[table] = "no mart of the pipeline builds it (a table dbt left behind?)"
            continue
        now, before = (latest or {}).get(table), held.get(table)
        if latest is None:
            plan.copy[table] = "every table is copied (no materializations given)"
        elif snapshot is None:
            plan.copy[table] = "readers have no snapshot yet"
        elif snapshot.unreadable:
            plan.copy[table] = f"the readers' snapshot could not be read ({snapshot.unreadable})"
        elif before is None:
            plan.copy[table] = "not in the readers' snapshot"
        elif now is None:
            plan.copy[table] = "no materialization of it on record in the Dagster instance"
        elif before.materialization is None:
            plan.copy[table] = "the readers' snapshot does not record which materialization it holds"
        elif before.materialization != now:
            plan.copy[table] = f"the latest is {now.describe()}; readers hold {before.materialization.describe()}"
        else:
            plan.carry[table] = f"unchanged: readers hold its latest, {now.describe()}"
    for table in sorted(set(held) - set(plan.published)):
        plan.drop[table] = plan.left_out.get(table, "no longer in the warehouse")
    return plan


def carry_same_rows(
    plan: PublishPlan,
    latest: Mapping[str, Materialization | None],
    snapshot: Snapshot,
    fingerprints: Mapping[str, str],
    stamps: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    """Carry over, instead of copying, each table readers hold an earlier materialization of with the very rows
    its latest has (`fingerprints`: of the tables to copy, in the warehouse now; `stamps`: by table, the
    build-stamp columns its fingerprint leaves out)."""
    for table in list(plan.copy):
        held, now = snapshot.tables.get(table), latest.get(table)
        if snapshot.unreadable or held is None or held.materialization is None or now is None:
            continue
        if held.fingerprint is not None and fingerprints.get(table) == held.fingerprint:
            del plan.copy[table]
            aside = (stamps or {}).get(table)
            plan.carry[table] = (
                f"rebuilt ({now.describe()}) with the very rows readers hold (their fingerprint"
                + (f"; build stamp {', '.join(aside)} aside" if aside else "")
                + f"), copied by run {(held.copied_by_run_id or '?')[:8]}"
            )
            plan.same_rows.add(table)


def _records(
    plan: PublishPlan,
    rows: Mapping[str, int],
    latest: Mapping[str, Materialization | None] | None,
    snapshot: Snapshot | None,
    run_id: str,
    published_at: str,
    fingerprints: Mapping[str, str],
) -> list[tuple]:
    """RECORD_TABLE's rows: a copied table's from this publish, a carried one's as the snapshot had it (a table
    rebuilt with the same rows: with its latest materialization, which readers now hold the rows of)."""
    records = []
    for table in plan.published:
        if table in plan.copy:
            made = (latest or {}).get(table)
            before = snapshot.tables.get(table) if snapshot is not None and table in plan.patched else None
            patched = (before.patched_rows if before else 0) + plan.patched.get(table, 0)
            held = HeldTable(
                rows[table], made, run_id, published_at, plan.copy[table], fingerprints.get(table), patched
            )
        else:
            held = snapshot.tables[table]  # a carried table is in the snapshot
            if table in plan.same_rows:
                held = replace(held, materialization=(latest or {}).get(table))
        made = held.materialization
        records.append(
            (
                table,
                rows[table],
                made.storage_id if made else None,
                made.run_id if made else None,
                made.materialized_at.strftime("%Y-%m-%d %H:%M:%S.%f") if made else None,
                held.copied_by_run_id,
                held.copied_at,
                held.copied_because,
                held.fingerprint,
                held.patched_rows,
            )
        )
    return records


def _write_records(
    con, schema: str, run_id: str, published_at: str, rows: Mapping[str, int], records: list, json_type: str = "json"
) -> None:
    """Tables `published` (this publish, the rows of every table) and RECORD_TABLE in `schema` of the new snapshot."""
    con.execute(f"drop table if exists {schema}.published")
    con.execute(
        f"create table {schema}.published as select cast(? as varchar) as run_id,"
        f" cast(? as timestamp) as published_at, cast(? as {json_type}) as table_rows",
        [run_id, published_at, json.dumps(dict(rows))],
    )
    con.execute(f"drop table if exists {schema}.{RECORD_TABLE}")
    con.execute(
        f"create table {schema}.{RECORD_TABLE} (table_name varchar, rows bigint, materialization_storage_id bigint,"
        " materialization_run_id varchar, materialized_at timestamp, copied_by_run_id varchar, copied_at timestamp,"
        " copied_because varchar, rows_fingerprint varchar, patched_rows bigint)"
    )
    if records:
        con.executemany(f"insert into {schema}.{RECORD_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", records)


def _read_snapshot(con, schema: str, present: Iterable[str], catalog: str | None = None) -> Snapshot:
    """The snapshot whose records are in `schema` (of `catalog`: an attached reader file), holding tables `present`."""
    tables = {t: HeldTable() for t in present}
    in_catalog = " and table_catalog = ?" if catalog else ""
    found = {
        name
        for (name,) in con.execute(
            f"select table_name from information_schema.tables where table_schema = ?{in_catalog}",
            [schema, *([catalog] if catalog else [])],
        ).fetchall()
    }
    where = f"{catalog}.{schema}" if catalog else schema
    run_id = published_at = None
    if "published" in found:
        run_id, published_at = con.execute(
            f"select run_id, cast(published_at as varchar) from {where}.published"
        ).fetchall()[0]
    if RECORD_TABLE in found:
        recorded = {
            name
            for (name,) in con.execute(
                "select column_name from information_schema.columns"
                f" where table_schema = ? and table_name = ?{in_catalog}",
                [schema, RECORD_TABLE, *([catalog] if catalog else [])],
            ).fetchall()
        }
        # columns older records lack
        fingerprint = "rows_fingerprint" if "rows_fingerprint" in recorded else "cast(null as varchar)"
        patched = "coalesce(patched_rows, 0)" if "patched_rows" in recorded else "0"
        for table, rows, storage_id, made_in, made_at, copied_by, copied_at, because, rows_digest, since in con.execute(
            "select table_name, rows, materialization_storage_id, materialization_run_id,"
            " cast(materialized_at as varchar), copied_by_run_id, cast(copied_at as varchar), copied_because,"
            f" {fingerprint}, {patched} from {where}.{RECORD_TABLE}"
        ).fetchall():
            if table in tables:
                made = (
                    Materialization(storage_id, made_in, dt.datetime.fromisoformat(made_at))
                    if storage_id is not None
                    else None
                )
                tables[table] = HeldTable(rows, made, copied_by, copied_at, because, rows_digest, int(since))
    return Snapshot(run_id, published_at, tables)


@dataclass
class PublishResult:
    path: str
    tables: dict[str, int]  # schema.table -> rows, of every table readers have now
    published_at: str | None  # None: nothing changed, nothing was published
    plan: PublishPlan = field(default_factory=PublishPlan)
    previous: Snapshot | None = None  # what readers had before

    @property
    def published(self) -> bool:
        return self.published_at is not None


def _plan(
    con,
    tables: Mapping[str, tuple[str, str]],
    latest: Mapping[str, Materialization | None] | None,
    snapshot: Snapshot | None,
    stamps: Stamps | None = None,
) -> tuple[PublishPlan, dict[str, str]]:
    """`plan_publish`, then the rows' fingerprint of each table to copy (less its build stamps, `stamps`): one
    rebuilt with the rows readers hold is carried over instead (`carry_same_rows`); the others' are recorded
    with their copy."""
    plan = plan_publish(tables, latest, snapshot)
    aside: dict[str, tuple[str, ...]] = {}
    for table in plan.copy:
        schema, name = tables[table]
        if (stamps or {}).get(name):  # those the table has (a warehouse older than the docs may lack one)
            present = set(_columns(con, schema, name))
            aside[table] = tuple(c for c in stamps[name] if c in present)
    fingerprints = {t: rows_fingerprint(con, ".".join(map(_q, tables[t])), without=aside.get(t, ())) for t in plan.copy}
    if snapshot is not None and latest is not None:
        carry_same_rows(plan, latest, snapshot, fingerprints, aside)
    return plan, fingerprints


def _unchanged(path: str, plan: PublishPlan, snapshot: Snapshot) -> PublishResult:
    rows = {t: snapshot.tables[t].rows for t in plan.published}
    return PublishResult(path=path, tables=rows, published_at=None, plan=plan, previous=snapshot)


def _warehouse_tables(con, catalog_filter: str = "") -> list[tuple[str, str]]:
    schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
    return con.execute(
        "select table_schema, table_name from information_schema.tables"
        f" where {catalog_filter}table_schema in ({schemas}) and table_type = 'BASE TABLE' order by 1, 2"
    ).fetchall()


# --- DuckDB: a file swapped in by one rename -----------------------------------------------------------


def _snapshot_in_file(con: duckdb.DuckDBPyConnection, reader_path: Path) -> Snapshot | None:
    """What the reader file holds (None when there is none), read through a read-only attach."""
    if not reader_path.exists():
        return None
    try:
        con.execute(f"attach '{reader_path}' as {PREVIOUS_ALIAS} (read_only)")
    except duckdb.Error as err:  # e.g. a BI tool holds it open read-write: copy everything, as if there were none
        return Snapshot(None, None, {}, unreadable=" ".join(str(err).split())[:300])
    try:
        schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
        present = [
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables"
                f" where table_catalog = '{PREVIOUS_ALIAS}' and table_schema in ({schemas})"
            ).fetchall()
        ]
        return _read_snapshot(con, "main", present, PREVIOUS_ALIAS)
    finally:
        con.execute(f"detach {PREVIOUS_ALIAS}")


def _fill_snapshot(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, tuple[str, str]],
    plan: PublishPlan,
    snapshot: Snapshot | None,
    comments: Comments,
    rows: dict[str, int],
    patching: Mapping[str, tuple[str, str]] | None = None,
    fingerprints: Mapping[str, str] | None = None,
) -> None:
    """In the attached new snapshot: drop what is replaced or gone, patch the tables in `patching` (key and build
    stamp) or copy them whole when that fails, copy the other changed tables, comment every published table as
    the dbt docs say now (a carried one only where they changed), count the rows."""
    patching = patching or {}
    for schema in PUBLISHED_SCHEMAS:
        con.execute(f"create schema if not exists {SNAPSHOT_ALIAS}.{_q(schema)}")
    for table in [t for t in plan.copy if t in patching]:
        held = snapshot.tables[table] if snapshot is not None else HeldTable()
        outcome = _patch(con, *tables[table], patching[table], held, (fingerprints or {}).get(table))
        if isinstance(outcome, int):
            plan.patched[table] = outcome
            plan.copy[table] += f"; patched: {outcome} row(s) replaced, by {patching[table][0]}"
        else:
            plan.copy[table] += f"; copied whole: {outcome}"
    for table in [*plan.drop, *(t for t in plan.copy if t not in plan.patched)]:
        schema, name = table.split(".", 1)
        con.execute(f"drop table if exists {SNAPSHOT_ALIAS}.{_q(schema)}.{_q(name)}")
    for table in (t for t in plan.copy if t not in plan.patched):
        schema, name = tables[table]
        con.execute(f"create table {SNAPSHOT_ALIAS}.{_q(schema)}.{_q(name)} as select * from {_q(schema)}.{_q(name)}")
    described = _described(con, SNAPSHOT_ALIAS)
    for table in plan.published:
        schema, name = tables[table]
        target, present = f"{SNAPSHOT_ALIAS}.{_q(schema)}.{_q(name)}", described[(schema, name)]
        columns = [c for c in present if c is not None]
        for statement in comment_statements(target, name, columns, comments, present):
            con.execute(statement)
        held = snapshot.tables[table].rows if table in plan.carry else None
        rows[table] = held if held is not None else con.execute(f"select count(*) from {target}").fetchall()[0][0]


def _patch(con, schema: str, name: str, by: tuple[str, str], held: HeldTable, expected: str | None) -> int | str:
    """Bring the new snapshot's copy of the readers' table `schema.name` to the warehouse's rows by replacing the
    rows of every key (`by`: key and build stamp) the warehouse stamped since the materialization readers hold,
    then, if the rows still differ, those of keys the warehouse no longer has (a deleted timecard). The rows
    replaced, or why the table is to be copied whole instead (then it may be half patched: the caller drops it).
    `expected`: the warehouse table's rows_fingerprint, its build stamp left out."""
    target, source = f"{SNAPSHOT_ALIAS}.{_q(schema)}.{_q(name)}", f"{_q(schema)}.{_q(name)}"
    if held.materialization is None or held.fingerprint is None or not held.rows or expected is None:
        return "the readers' record of it does not say which rows they hold"
    columns = _column_types(con, schema, name)
    if _column_types(con, schema, name, SNAPSHOT_ALIAS) != columns:
        return "its columns changed"
    if by[1] not in {column for column, _ in columns}:
        return f"it has no column {by[1]} to find the changed rows by"
    key, stamp = map(_q, by)
    # dbt stamps a row with its run's start, to the second; whatever was stamped since that second is taken
    since = held.materialization.materialized_at.replace(microsecond=0)
    con.execute(
        f"create or replace temporary table publish_patch_keys as select distinct {key} as k from {source}"
        f" where {stamp} >= ?",
        [since],
    )
    replaced = con.execute(
        f"select count(*) from {target} where {key} in (select k from publish_patch_keys)"
    ).fetchall()[0][0]
    allowed = int(PATCH_SHARE * held.rows)
    if held.patched_rows + replaced > allowed:
        return (
            f"patches would have replaced {held.patched_rows + replaced} of its {held.rows} rows since its last"
            f" whole copy (at most {PATCH_SHARE:.0%}, {allowed})"
        )
    con.execute(f"delete from {target} where {key} in (select k from publish_patch_keys)")
    con.execute(f"insert into {target} select * from {source} where {key} in (select k from publish_patch_keys)")
    if rows_fingerprint(con, target, without=(by[1],)) == expected:
        return replaced
    gone = con.execute(
        f"delete from {target} where {key} in (select {key} from {target} except select {key} from {source})"
    ).fetchall()[0][0]
    if gone and rows_fingerprint(con, target, without=(by[1],)) == expected:
        return replaced + gone
    return "the patched rows did not match the warehouse's (their fingerprint)"


def publish_snapshot(
    con: duckdb.DuckDBPyConnection,
    reader_path: Path,
    run_id: str,
    comments: Comments | None = None,
    latest: Mapping[str, Materialization | None] | None = None,
    stamps: Stamps | None = None,
    patch_keys: PatchKeys | None = None,
) -> PublishResult:
    """Copy the tables whose mart changed (all without `latest`) into a new snapshot that carries the others
    over from the current one, with the dbt docs as comments, then atomically replace `reader_path` with it.
    A table with a patch key (`patch_keys`, by table name, with its one build stamp in `stamps`) that readers
    hold an earlier materialization of is patched instead of copied whole (`_patch`).

    Nothing is written when nothing changed (`PublishResult.published` is False).
    """
    reader_path.parent.mkdir(parents=True, exist_ok=True)
    tables = {f"{s}.{t}": (s, t) for s, t in _warehouse_tables(con, "table_catalog = current_database() and ")}
    snapshot = _snapshot_in_file(con, reader_path)
    plan, fingerprints = _plan(con, tables, latest, snapshot, stamps)
    if not plan.changes and snapshot is not None:
        return _unchanged(str(reader_path), plan, snapshot)
    tmp = reader_path.with_name(f".{reader_path.name}.{run_id[:8]}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)  # from a run killed mid-publish
    patching = {
        table: (patch_keys[tables[table][1]], (stamps or {})[tables[table][1]][0])
        for table in plan.copy
        if snapshot is not None
        and not snapshot.unreadable
        and table in snapshot.tables
        and tables[table][1] in (patch_keys or {})
    }
    if plan.carry or patching:  # start from the readers' snapshot: the carried tables are not read or rewritten
        shutil.copyfile(reader_path, tmp)
    published_at = _now()
    rows: dict[str, int] = {}
    con.execute(f"attach '{tmp}' as {SNAPSHOT_ALIAS}")
    try:
        con.execute("begin transaction")  # one commit for all of it (hundreds of comments)
        try:
            _fill_snapshot(con, tables, plan, snapshot, comments or {}, rows, patching, fingerprints)
            records = _records(plan, rows, latest, snapshot, run_id, published_at, fingerprints)
            _write_records(con, f"{SNAPSHOT_ALIAS}.main", run_id, published_at, rows, records)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        con.execute(f"checkpoint {SNAPSHOT_ALIAS}")
    finally:
        con.execute(f"detach {SNAPSHOT_ALIAS}")
    os.replace(tmp, reader_path)
    return PublishResult(str(reader_path), rows, published_at, plan, snapshot)


# --- PostgreSQL (WAREHOUSE=postgres) --------------------------------------------------------------
# There is no file to swap: BI tools read schema `reader` of the warehouse database. In one
# transaction, the publish step copies the changed tables into a new schema, moves the unchanged
# ones into it from `reader` (`alter table ... set schema`, no data is read or written), renames
# the current `reader` aside and the new one to `reader`. A new query sees the old snapshot or the
# new one, never a mix; a query already running keeps reading the tables it opened (renaming a
# schema waits for no reader). Moving a table waits for the queries reading it: at most
# LOCK_TIMEOUT, then the table is copied instead, so a long query never holds a publish up. The
# renamed-aside snapshot is dropped only if no reader still uses it (a short lock timeout);
# otherwise the next publish drops it.

READER_SCHEMA = "reader"
STALE_PREFIX = "reader_previous_"
LOCK_TIMEOUT = "2s"
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock timeout


def _snapshot_in_schema(con) -> Snapshot | None:
    if not con.execute("select to_regnamespace(?) is not null", [READER_SCHEMA]).fetchall()[0][0]:
        return None
    names = [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? and table_type = 'BASE TABLE'",
            [READER_SCHEMA],
        ).fetchall()
        if name not in ("published", RECORD_TABLE)
    ]
    # the reader schema holds every published schema's tables by name alone
    return _read_snapshot(con, READER_SCHEMA, [f"{schema}.{name}" for schema in PUBLISHED_SCHEMAS for name in names])


def publish_schema(
    con,
    run_id: str,
    comments: Comments | None = None,
    latest: Mapping[str, Materialization | None] | None = None,
    lock_timeout: str = LOCK_TIMEOUT,
    stamps: Stamps | None = None,
) -> PublishResult:
    """Copy the tables whose mart changed (all without `latest`) into a fresh schema, move the others into it
    from `reader`, with the dbt docs as comments, then make it `reader`, all in one transaction.

    Nothing is written when nothing changed (`PublishResult.published` is False).
    """
    token = "".join(c for c in run_id if c.isalnum())[:12]
    fresh, previous = f"reader_next_{token}", f"{STALE_PREFIX}{token}"
    tables = {f"{s}.{t}": (s, t) for s, t in _warehouse_tables(con)}
    snapshot = _snapshot_in_schema(con)
    plan, fingerprints = _plan(con, tables, latest, snapshot, stamps)
    if not plan.changes and snapshot is not None:
        return _unchanged(READER_SCHEMA, plan, snapshot)
    published_at = _now()
    rows: dict[str, int] = {}
    con.execute("begin transaction")
    try:
        con.execute(f"drop schema if exists {fresh} cascade")  # from a run killed mid-publish
        con.execute(f"create schema {fresh}")
        for table in plan.copy:
            schema, name = tables[table]
            con.execute(f"create table {fresh}.{_q(name)} as select * from {_q(schema)}.{_q(name)}")
        con.execute(f"set local lock_timeout = '{lock_timeout}'")  # only the moves wait on readers
        for table in plan.carry:
            _carry_over(con, tables[table][1], fresh)
        for table in plan.published:
            schema, name = tables[table]
            target = f"{fresh}.{_q(name)}"
            for statement in comment_statements(target, name, _columns(con, fresh, name), comments or {}):
                con.execute(statement)
            held = snapshot.tables[table].rows if table in plan.carry else None
            rows[table] = held if held is not None else con.execute(f"select count(*) from {target}").fetchall()[0][0]
        records = _records(plan, rows, latest, snapshot, run_id, published_at, fingerprints)
        _write_records(con, fresh, run_id, published_at, rows, records, json_type="jsonb")
        if snapshot is not None:
            con.execute(f"alter schema {READER_SCHEMA} rename to {previous}")
        con.execute(f"alter schema {fresh} rename to {READER_SCHEMA}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    _drop_stale_snapshots(con)
    return PublishResult(READER_SCHEMA, rows, published_at, plan, snapshot)


def _carry_over(con, name: str, fresh: str) -> None:
    """Move `reader.<name>` into `fresh`; copy it instead when a reader's query holds it past the lock timeout."""
    con.execute("savepoint carry_over")
    try:
        con.execute(f"alter table {READER_SCHEMA}.{_q(name)} set schema {fresh}")
    except Exception as err:
        if getattr(err, "pgcode", None) != LOCK_NOT_AVAILABLE:
            raise
        con.execute("rollback to savepoint carry_over")
        con.execute(f"create table {fresh}.{_q(name)} as table {READER_SCHEMA}.{_q(name)}")
    con.execute("release savepoint carry_over")


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
