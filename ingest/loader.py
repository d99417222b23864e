"""Bulk-load landing files into `raw_<system>.<object>` tables, set-based in DuckDB.

Every file is staged as text, checked against the landing contract and merged by primary key in
one transaction per object.

- A file that cannot be read as its format (truncated CSV, malformed JSON, a contract column
  missing from the header) fails the object with an error naming the file, line, field and
  reason, and leaves the raw table untouched.
- A row that breaks a row-level rule (a value that does not convert to its contract type, an
  empty required field) goes to `ingest_meta.quarantine` with the rule, field, value, reason and
  the whole record; the rest of the file loads. Per batch, rows in = rows loaded + rows
  quarantined.
- A file where too many rows break the rules is a broken export or a schema change, not row
  defects: more than `max_quarantine_share` of its rows (and at least QUARANTINE_REFUSE_MIN_ROWS)
  fails the object as above, naming the first bad row.

API connectors land through the same checks with `load_relation`.

DuckDB always reads, checks and dedupes. Where the raw tables live is the `target`: by default the
same DuckDB connection; `ingest.postgres.PostgresTarget` moves each typed batch and the quarantine
rows to PostgreSQL in bulk and merges them there, in one PostgreSQL transaction per object.
"""

from __future__ import annotations

import csv
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb

from ingest.contract import ANAPLAN_CSV, CSV, JSONL, WORKDAY_JSON, SourceObject

META_SCHEMA = "ingest_meta"
LOADED_FILES = f"{META_SCHEMA}.loaded_files"
QUARANTINE = f"{META_SCHEMA}.quarantine"
DEFAULT_MAX_QUARANTINE_SHARE = 0.1
QUARANTINE_REFUSE_MIN_ROWS = 10  # a handful of bad rows is quarantined, however small the file
UTC_NOW = "(current_timestamp at time zone 'UTC')::timestamp"  # dbt source freshness compares in UTC


class LandingFileError(Exception):
    """A landing file that breaks the contract; the message names file, line, field and reason."""

    def __init__(
        self, path: Path | str, reason: str, line: int | None = None, field: str | None = None, unit: str = "line"
    ):
        self.path, self.reason, self.line, self.field = str(path), reason, line, field
        where = [self.path]
        if line is not None:
            where.append(f"{unit} {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join([', '.join(where), reason])}")


@dataclass
class LoadResult:
    """What one load of one source object did, for asset metadata."""

    table: str
    files_loaded: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    duplicate_keys: int = 0
    rows_quarantined: int = 0
    quarantine_rules: dict[str, int] = field(default_factory=dict)  # "rule: field" -> rows
    extra_fields: list[str] = field(default_factory=list)
    row_count: int = 0

    @property
    def rows_loaded(self) -> int:
        """Rows accepted into the raw table's merge: inserted, updated, unchanged or superseded in the batch."""
        return self.rows_inserted + self.rows_updated + self.rows_unchanged + self.duplicate_keys

    @property
    def batch_rows_accounted(self) -> bool:
        """Rows in = rows loaded + rows quarantined."""
        return self.rows_read == self.rows_loaded + self.rows_quarantined


def q(identifier: str) -> str:
    """Quote an identifier: contract names carry capitals and spaces (`Version Code`)."""
    return '"' + identifier.replace('"', '""') + '"'


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """First value of a query, fetched whole: DuckDB 2 refuses new work while a result is open."""
    return con.execute(sql, params or []).fetchall()[0][0]


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def landing_files(obj: SourceObject, landing_dir: Path) -> list[Path]:
    """The object's files, base export first, then dated batches in name order."""
    folder = landing_dir / obj.system
    found: list[Path] = []
    for pattern in obj.file_patterns:
        found.extend(sorted(folder.glob(pattern)))
    return found


def ensure_tables(con: duckdb.DuckDBPyConnection, obj: SourceObject) -> None:
    columns = [f"{q(f.name)} {f.type}" for f in obj.fields]
    columns += ["_loaded_at TIMESTAMP", "_source_file VARCHAR", "_batch_id VARCHAR"]
    con.execute(f"create schema if not exists {obj.schema}")
    con.execute(f"create table if not exists {obj.schema}.{obj.name} ({', '.join(columns)})")
    con.execute(f"create schema if not exists {META_SCHEMA}")
    con.execute(
        f"""create table if not exists {LOADED_FILES} (
            table_name varchar, source_file varchar, file_size bigint, file_mtime double,
            batch_id varchar, rows_read bigint, rows_inserted bigint, rows_updated bigint,
            loaded_at timestamp)"""
    )
    con.execute(f"alter table {LOADED_FILES} add column if not exists rows_quarantined bigint default 0")
    con.execute(
        f"""create table if not exists {QUARANTINE} (
            table_name varchar, source_file varchar, source_row bigint, record_key varchar,
            rule varchar, field varchar, value varchar, reason varchar, failures json, record json,
            batch_id varchar, quarantined_at timestamp)"""
    )


def _already_loaded(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> bool:
    stat = path.stat()
    row = con.execute(
        f"select count(*) from {LOADED_FILES} where table_name = ? and source_file = ?"
        " and file_size = ? and file_mtime = ?",
        [table, str(path), stat.st_size, stat.st_mtime],
    ).fetchall()
    return bool(row and row[0][0])


# --- staging a file as text -------------------------------------------------------------


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LandingFileError(path, f"unreadable: {exc}", line=1) from exc
    if not header:
        raise LandingFileError(path, "empty file: no header row", line=1)
    return header


_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def _csv_error(path: Path, exc: duckdb.Error) -> LandingFileError:
    text = str(exc)
    match = _CSV_LINE.search(text)
    head = text.split("Possible fixes:")[0].strip().splitlines()
    reason = head[-1].strip() if head else text
    return LandingFileError(path, reason, line=int(match.group(1)) if match else None)


def _stage_csv(con: duckdb.DuckDBPyConnection, obj: SourceObject, path: Path) -> list[str]:
    header = _csv_header(path)
    missing = [f for f in obj.field_names if f not in header]
    if missing:
        raise LandingFileError(path, "missing column(s) in header: " + ", ".join(missing), 1, missing[0])
    columns = "{" + ", ".join(f"{sql_str(h)}: 'VARCHAR'" for h in header) + "}"
    try:
        con.execute(
            f"""create or replace temp table _batch as select * from read_csv({sql_str(str(path))},
                header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
                strict_mode = true, columns = {columns})"""
        )
    except duckdb.Error as exc:
        raise _csv_error(path, exc) from exc
    return [h for h in header if h not in obj.field_names]


_JSON_LINE = re.compile(r"(?:line|record/value) (\d+)")


def _json_error(path: Path, exc: duckdb.Error) -> LandingFileError:
    text = str(exc).replace("Invalid Input Error: ", "")
    match = _JSON_LINE.search(text)
    reason = text.split(": ", 1)[-1].strip() if ": " in text else text
    return LandingFileError(path, f"malformed JSON: {reason}", line=int(match.group(1)) if match else None)


def _stage_json(con: duckdb.DuckDBPyConnection, obj: SourceObject, path: Path) -> list[str]:
    if obj.format == JSONL:
        scan = f"select json as j from read_ndjson_objects({sql_str(str(path))})"
    else:  # Workday RaaS: one document, rows under Report_Entry
        size = _whole_document_size(path)
        scan = (
            "select unnest(from_json(json -> 'Report_Entry', '[\"json\"]')) as j "
            f"from read_json_objects({sql_str(str(path))}, format = 'unstructured', maximum_object_size = {size})"
        )
    try:
        con.execute(f"create or replace temp table _json as {scan}")
    except duckdb.Error as exc:
        raise _json_error(path, exc) from exc
    if obj.format == WORKDAY_JSON and scalar(con, "select count(*) from _json") == 0:
        _require_report_entry(con, path)
    keys = [r[0] for r in con.execute("select distinct unnest(json_keys(j)) from _json").fetchall()]
    missing = [f.name for f in obj.fields if f.required and f.name not in keys]
    if missing and keys:
        raise LandingFileError(path, "missing field(s) in every record: " + ", ".join(missing), None, missing[0])
    select = ", ".join(f"j ->> {sql_str(f.name)} as {q(f.name)}" for f in obj.fields)
    con.execute(f"create or replace temp table _batch as select {select} from _json")
    return sorted(k for k in keys if k not in obj.field_names)


def _whole_document_size(path: Path) -> int:
    """A Workday report is one JSON document: let DuckDB read it whole however large it is."""
    return max(path.stat().st_size + 1024, 16 * 1024 * 1024)


def _require_report_entry(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    doc = con.execute(
        f"select json_type(json -> 'Report_Entry') from read_json_objects({sql_str(str(path))},"
        f" format = 'unstructured', maximum_object_size = {_whole_document_size(path)})"
    ).fetchall()
    if not doc or doc[0][0] != "ARRAY":
        raise LandingFileError(path, "not a Workday RaaS report: no Report_Entry array", line=1)


def stage_file(con: duckdb.DuckDBPyConnection, obj: SourceObject, path: Path) -> list[str]:
    """Stage one landing file as text in temp table `_batch`; return fields not in the contract."""
    if obj.format in (CSV, ANAPLAN_CSV):
        return _stage_csv(con, obj, path)
    return _stage_json(con, obj, path)


# --- checking, quarantining and typing ----------------------------------------------------


def _location(obj: SourceObject | None, row: int) -> dict:
    """Where a staged row sits in its source: a CSV line after the header, a JSONL line, a Workday entry."""
    if obj is None:  # a relation handed over by a connector
        return {"line": row + 1, "unit": "record"}
    if obj.format in (CSV, ANAPLAN_CSV):
        return {"line": row + 2}
    if obj.format == WORKDAY_JSON:
        return {"line": row + 1, "unit": "Report_Entry record"}
    return {"line": row + 1}


def _bad_value_filter(f) -> str:
    col = q(f.name)
    return f"({col} is not null and try_cast({col} as {f.type}) is null)"


def _violations_sql(obj: SourceObject) -> str:
    """One row per broken rule per staged row: rule, field, value and reason, set-based."""
    parts = [
        f"select rowid as _row, {i} as _pos, 'type' as rule, {sql_str(f.name)} as field, {q(f.name)} as value, "
        f"'cannot convert ' || chr(39) || {q(f.name)} || chr(39) || ' to {f.type}' as reason "
        f"from _batch where {_bad_value_filter(f)}"
        for i, f in enumerate(obj.fields)
    ]
    parts += [
        f"select rowid, {i}, 'required', {sql_str(f.name)}, null, 'required value is empty' "
        f"from _batch where {q(f.name)} is null"
        for i, f in enumerate(obj.fields)
        if f.required
    ]
    return " union all ".join(parts)


def _any_violation(con: duckdb.DuckDBPyConnection, obj: SourceObject) -> bool:
    """The fast path: one scan that tells whether any row breaks a rule at all."""
    checks = [f"count(*) filter (where {_bad_value_filter(f)})" for f in obj.fields]
    checks += [f"count(*) filter (where {q(f.name)} is null)" for f in obj.fields if f.required]
    return any(con.execute(f"select {', '.join(checks)} from _batch").fetchall()[0])


def quarantine_batch(
    con: duckdb.DuckDBPyConnection,
    obj: SourceObject,
    source: str,
    batch_id: str,
    max_share: float,
    file_format: SourceObject | None,
) -> tuple[int, dict[str, int]]:
    """Move the staged rows that break a row-level rule to the quarantine table.

    Returns (rows quarantined, rows per "rule: field"). Raises LandingFileError, naming the first
    bad row, when more than `max_share` of the rows are bad: that is a broken file, not bad rows.
    """
    if not _any_violation(con, obj):
        return 0, {}
    con.execute(f"create or replace temp table _violations as {_violations_sql(obj)}")
    rows, bad = con.execute("select (select count(*) from _batch), count(distinct _row) from _violations").fetchall()[0]
    offset = scalar(con, "select min(rowid) from _batch")
    if bad >= QUARANTINE_REFUSE_MIN_ROWS and bad > max_share * rows:
        row, field_name, reason, same = con.execute(
            "select _row, field, reason, count(*) over (partition by rule, field) from _violations "
            "order by _row, _pos, rule desc limit 1"
        ).fetchall()[0]
        raise LandingFileError(
            source,
            f"{reason} ({same} row(s) break this rule; {bad} of {rows} rows break the contract, more than "
            f"{max_share:.0%}: a broken export or a changed schema, so nothing is loaded)",
            field=field_name,
            **_location(file_format, row - offset),
        )
    first_line = _location(file_format, 0)["line"]
    key = " || '|' || ".join(f"coalesce({q(k)}, '')" for k in obj.primary_key)
    con.execute(
        f"""insert into {QUARANTINE}
            select {sql_str(f"{obj.schema}.{obj.name}")}, {sql_str(source)}, v._row - {offset} + {first_line},
                   {key}, v.failures[1].rule, v.failures[1].field, v.failures[1].value, v.failures[1].reason,
                   to_json(v.failures), to_json(b), {sql_str(batch_id)}, {UTC_NOW}
            from (select _row, list({{'rule': rule, 'field': field, 'value': value, 'reason': reason}}
                                     order by _pos, rule desc) as failures
                  from _violations group by _row) v
            join _batch b on b.rowid = v._row
            where not exists (  -- the same bad record read again (a re-exported file) is kept once
                select 1 from {QUARANTINE} seen
                where seen.table_name = {sql_str(f"{obj.schema}.{obj.name}")}
                  and seen.record::varchar = to_json(b)::varchar)"""
    )
    by_rule = dict(
        con.execute(
            "select rule || ': ' || field, count(distinct _row) from _violations group by all order by 1"
        ).fetchall()
    )
    con.execute("delete from _batch where rowid in (select _row from _violations)")
    return bad, by_rule


def _typed_batch(con: duckdb.DuckDBPyConnection, obj: SourceObject, source: str, batch_id: str) -> tuple[int, int]:
    """Cast the staged text and keep the newest version of each key; return (rows, duplicates)."""
    casts = ", ".join(f"cast({q(f.name)} as {f.type}) as {q(f.name)}" for f in obj.fields)
    order = f"{q(obj.cursor)} desc nulls last, rowid desc" if obj.cursor else "rowid desc"
    keys = ", ".join(q(k) for k in obj.primary_key)
    con.execute(
        f"""create or replace temp table _typed as
            select {casts}, {UTC_NOW} as _loaded_at,
                   {sql_str(source)} as _source_file, {sql_str(batch_id)} as _batch_id
            from _batch
            qualify row_number() over (partition by {keys} order by {order}) = 1"""
    )
    rows = scalar(con, "select count(*) from _batch")
    kept = scalar(con, "select count(*) from _typed")
    return rows, rows - kept


# --- merging ---------------------------------------------------------------------------------


def _key_join(obj: SourceObject, left: str, right: str) -> str:
    return " and ".join(f"{left}.{q(k)} = {right}.{q(k)}" for k in obj.primary_key)


def merge_batch(con: duckdb.DuckDBPyConnection, obj: SourceObject) -> tuple[int, int]:
    """Upsert `_typed` into the raw table by key; the newest version wins. Returns (inserted, updated)."""
    target = f"{obj.schema}.{obj.name}"
    cols = ", ".join(q(f.name) for f in obj.fields)
    first_key = q(obj.primary_key[0])
    if obj.cursor:
        newer = f"t.{first_key} is null or b.{q(obj.cursor)} > t.{q(obj.cursor)}"
        changed = f"select b.* from _typed b left join {target} t on {_key_join(obj, 'b', 't')} where {newer}"
    else:  # no modified timestamp: the newest file wins wherever a value differs
        changed = (
            f"select b.* from _typed b semi join "
            f"(select {cols} from _typed except select {cols} from {target}) d on {_key_join(obj, 'b', 'd')}"
        )
    con.execute(f"create or replace temp table _changed as {changed}")
    updated = scalar(con, f"select count(*) from _changed c semi join {target} t on {_key_join(obj, 'c', 't')}")
    if updated:
        con.execute(f"delete from {target} t where exists (select 1 from _changed c where {_key_join(obj, 'c', 't')})")
    con.execute(f"insert into {target} select * from _changed")
    total = scalar(con, "select count(*) from _changed")
    return total - updated, updated


def _log_file(
    con: duckdb.DuckDBPyConnection, table: str, source: str, path: Path | None, batch_id: str, counts: tuple
) -> None:
    stat = path.stat() if path else None
    con.execute(
        f"insert into {LOADED_FILES} (table_name, source_file, file_size, file_mtime, batch_id, rows_read,"
        f" rows_inserted, rows_updated, rows_quarantined, loaded_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, {UTC_NOW})",
        [table, source, stat.st_size if stat else None, stat.st_mtime if stat else None, batch_id, *counts],
    )


class Target(Protocol):
    """Where the raw tables, the quarantine and the load log live; DuckDB stages and checks either way."""

    def prepare(self, con: duckdb.DuckDBPyConnection, obj: SourceObject) -> None: ...
    def begin(self) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def already_loaded(self, table: str, path: Path) -> bool: ...
    def merge(self, con: duckdb.DuckDBPyConnection, obj: SourceObject) -> tuple[int, int]: ...
    def store_quarantine(self, con: duckdb.DuckDBPyConnection) -> None: ...
    def log_file(self, table: str, source: str, path: Path | None, batch_id: str, counts: tuple) -> None: ...
    def row_count(self, table: str) -> int: ...


class DuckDBTarget:
    """The raw tables in the DuckDB database that stages the files: one connection, one transaction."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def prepare(self, con: duckdb.DuckDBPyConnection, obj: SourceObject) -> None:
        pass  # ensure_tables already made them in this database

    def begin(self) -> None:
        pass  # the staging connection's transaction covers the raw tables too

    commit = rollback = begin

    def already_loaded(self, table: str, path: Path) -> bool:
        return _already_loaded(self.con, table, path)

    def merge(self, con: duckdb.DuckDBPyConnection, obj: SourceObject) -> tuple[int, int]:
        return merge_batch(con, obj)

    def store_quarantine(self, con: duckdb.DuckDBPyConnection) -> None:
        pass  # quarantine_batch wrote them to this database's ingest_meta.quarantine

    def log_file(self, table: str, source: str, path: Path | None, batch_id: str, counts: tuple) -> None:
        _log_file(self.con, table, source, path, batch_id, counts)

    def row_count(self, table: str) -> int:
        return scalar(self.con, f"select count(*) from {table}")


def _in_transaction(
    con: duckdb.DuckDBPyConnection, obj: SourceObject, result: LoadResult, work, target: Target
) -> LoadResult:
    """Run `work` in one transaction: raw table, quarantine and load log change together or not at all."""
    ensure_tables(con, obj)
    target.prepare(con, obj)
    con.execute("begin transaction")
    target.begin()
    try:
        work()
        target.store_quarantine(con)
        target.commit()
        con.execute("commit")
    except BaseException:
        target.rollback()
        con.execute("rollback")
        raise
    result.row_count = target.row_count(result.table)
    return result


def load_object(
    con: duckdb.DuckDBPyConnection,
    obj: SourceObject,
    landing_dir: Path,
    batch_id: str | None = None,
    max_quarantine_share: float = DEFAULT_MAX_QUARANTINE_SHARE,
    target: Target | None = None,
) -> LoadResult:
    """Load every new landing file of one object, all or nothing (into `target`, default: `con` itself)."""
    batch_id = batch_id or uuid.uuid4().hex
    result = LoadResult(table=f"{obj.schema}.{obj.name}")
    target = target or DuckDBTarget(con)

    def work() -> None:
        for path in landing_files(obj, landing_dir):
            if target.already_loaded(result.table, path):
                result.files_skipped.append(str(path))
                continue
            extra = stage_file(con, obj, path)
            _load_staged(con, obj, str(path), path, batch_id, max_quarantine_share, obj, result, target)
            result.files_loaded.append(str(path))
            result.extra_fields = sorted(set(result.extra_fields) | set(extra))

    return _in_transaction(con, obj, result, work, target)


def load_relation(
    con: duckdb.DuckDBPyConnection,
    obj: SourceObject,
    relation: str,
    batch_id: str | None = None,
    source_label: str | None = None,
    max_quarantine_share: float = DEFAULT_MAX_QUARANTINE_SHARE,
    target: Target | None = None,
    on_commit: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> LoadResult:
    """Load rows a connector has already landed in `relation` (a table or view), with the file path's checks.

    The relation must carry every contract field under its contract name, as text or typed; its
    rows are checked, quarantined, deduplicated and merged exactly like a landing file's rows,
    and errors and quarantine rows name `source_label` and the record's position in the relation.
    `relation` is read through `con` (DuckDB); `target` is where it lands (default: `con` itself).
    `on_commit(con)` runs inside the load's transaction after the merge, so what it writes to `con`
    (a connector's bookkeeping of merged landing loads) commits or rolls back with the load.
    """
    batch_id = batch_id or uuid.uuid4().hex
    target = target or DuckDBTarget(con)
    source = source_label or relation
    result = LoadResult(table=f"{obj.schema}.{obj.name}")
    columns = [r[0] for r in con.execute(f"select * from {relation} limit 0").description]
    missing = [f for f in obj.field_names if f not in columns]
    if missing:
        raise LandingFileError(source, "missing field(s): " + ", ".join(missing), field=missing[0])

    def work() -> None:
        select = ", ".join(f"cast({q(f.name)} as varchar) as {q(f.name)}" for f in obj.fields)
        con.execute(f"create or replace temp table _batch as select {select} from {relation}")
        _load_staged(con, obj, source, None, batch_id, max_quarantine_share, None, result, target)
        if on_commit is not None:
            on_commit(con)
        result.files_loaded.append(source)
        result.extra_fields = sorted(c for c in columns if c not in obj.field_names and not c.startswith("_"))

    return _in_transaction(con, obj, result, work, target)


def _load_staged(
    con: duckdb.DuckDBPyConnection,
    obj: SourceObject,
    source: str,
    path: Path | None,
    batch_id: str,
    max_share: float,
    file_format: SourceObject | None,
    result: LoadResult,
    target: Target,
) -> None:
    """Quarantine, type, dedupe and merge what is staged in `_batch`, and account for every row."""
    rows_in = scalar(con, "select count(*) from _batch")
    quarantined, by_rule = quarantine_batch(con, obj, source, batch_id, max_share, file_format)
    rows, duplicates = _typed_batch(con, obj, source, batch_id)
    inserted, updated = target.merge(con, obj)
    target.log_file(result.table, source, path, batch_id, (rows_in, inserted, updated, quarantined))
    result.rows_read += rows_in
    result.rows_quarantined += quarantined
    for rule, count in by_rule.items():
        result.quarantine_rules[rule] = result.quarantine_rules.get(rule, 0) + count
    result.rows_inserted += inserted
    result.rows_updated += updated
    result.duplicate_keys += duplicates
    result.rows_unchanged += rows - duplicates - inserted - updated
