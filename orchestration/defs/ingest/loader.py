"""Bulk-load landing files into `raw_<system>.<object>` tables, set-based in DuckDB.

Every file is staged as text (`orchestration.defs.ingest.staging`), checked against the landing contract and merged
by primary key in one transaction per object.

- A file that cannot be read as its format (truncated CSV, malformed JSON, not UTF-8, a duplicate
  column, a contract field missing from the header or document) fails the object with an error
  naming the file, physical line, field and reason, and leaves the raw table untouched.
- A row that breaks a row-level rule goes to `ingest_meta.quarantine` with the rule, field, value,
  reason, its physical line and the whole record; the rest of the file loads. The rules:
  `required` (empty or blank after trimming), `type` (not a value of the contract type),
  `lossless` (would be rounded or truncated: a fraction in an integer, more decimals than the
  contract's scale, a time of day in a date, sub-microsecond digits), `range` (too large for the
  type). Per batch, rows in = rows loaded + rows quarantined.
- Timestamps with a UTC offset (`...-07:00`, `Z`, `+0000`) are converted to UTC; raw timestamps
  are UTC.
- A file where too many rows break the rules is a broken export or a schema change, not row
  defects: more than `max_quarantine_share` of its rows (and at least QUARANTINE_REFUSE_MIN_ROWS)
  fails the object as above, naming the first bad row.
- Optional fields a file leaves out keep their stored values (`Field.optional`).
- A record whose values changed while its modified timestamp stayed the same is loaded (the later
  export wins) and counted in `rows_changed_same_stamp`.
- Every file is accounted for: files younger than the settle time wait (with the later batches of
  their object) for the next run; a file that changed while it was read is not marked loaded and
  is read whole next time; files in a system folder that match no contract object are reported.

API connectors land through the same checks with `load_relation`.

DuckDB always reads, checks and dedupes. Where the raw tables live is the `target`: by default the
same DuckDB connection; `postgres_target.PostgresTarget` moves each typed batch and the quarantine
rows to PostgreSQL in bulk and merges them there, in one PostgreSQL transaction per object.
"""

from __future__ import annotations

import difflib
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb

from orchestration.contract import SOURCE_OBJECTS, Field, SourceObject, objects_for
from orchestration.defs.ingest.staging import LandingFileError, Positions, Staged, q, scalar, sql_str, stage_file
from orchestration.lib.dialect import table_exists

__all__ = [
    "LOADED_FILES",
    "META_SCHEMA",
    "QUARANTINE",
    "UTC_NOW",
    "FileStamp",
    "LandingFileError",
    "LoadResult",
    "Target",
    "ensure_tables",
    "landing_files",
    "load_log_version",
    "load_object",
    "load_relation",
    "q",
    "ready_files",
    "scalar",
    "sql_str",
    "stage_file",
    "table_versions",
    "unmatched_files",
]

META_SCHEMA = "ingest_meta"
LOADED_FILES = f"{META_SCHEMA}.loaded_files"
QUARANTINE = f"{META_SCHEMA}.quarantine"
DEFAULT_MAX_QUARANTINE_SHARE = 0.1
QUARANTINE_REFUSE_MIN_ROWS = 10  # a handful of bad rows is quarantined, however small the file
UTC_NOW = "(current_timestamp at time zone 'UTC')::timestamp"  # dbt source freshness compares in UTC


@dataclass
class LoadResult:
    """What one load of one source object did, for asset metadata."""

    table: str
    files_loaded: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)  # loaded before, unchanged since
    files_waiting: list[str] = field(default_factory=list)  # younger than the settle time (or after one)
    files_changed_while_read: list[str] = field(default_factory=list)  # not marked loaded: read again next run
    files_unmatched: list[str] = field(default_factory=list)  # in the system folder, named like no object
    rows_read: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    duplicate_keys: int = 0
    rows_quarantined: int = 0
    rows_changed_same_stamp: int = 0
    quarantine_rules: dict[str, int] = field(default_factory=dict)  # "rule: field" -> rows
    extra_fields: list[str] = field(default_factory=list)
    absent_fields: dict[str, list[str]] = field(default_factory=dict)  # file -> optional fields it left out
    row_count: int = 0

    @property
    def rows_loaded(self) -> int:
        """Rows accepted into the raw table's merge: inserted, updated, unchanged or superseded in the batch."""
        return self.rows_inserted + self.rows_updated + self.rows_unchanged + self.duplicate_keys

    @property
    def batch_rows_accounted(self) -> bool:
        """Rows in = rows loaded + rows quarantined."""
        return self.rows_read == self.rows_loaded + self.rows_quarantined

    @property
    def files_accounted(self) -> bool:
        """No file was left unread for a reason other than its settle time."""
        return not self.files_unmatched and not self.files_changed_while_read


def table_versions(con, tables: list[str]) -> dict[str, str]:
    """Each raw table's data version: `<loads that changed it>:<rows>:<when the last one did>`.

    A load that inserted or updated no row leaves the version as it was, so Dagster sees the table
    unchanged (the ingest asset's data version) and the dbt step and the raw checks leave alone what
    reads only unchanged tables. The row count is in it too, so rows inserted or deleted outside the
    loader change it; an edit in place outside the loader does not (nightly_full rebuilds everything).
    `con` is the warehouse (DuckDB or PgConnection); a table never loaded has version `0:0:`.
    """
    if not tables:
        return {}
    exists = {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables where table_catalog = current_database()"
        ).fetchall()
    }
    loads: dict[str, tuple[int, str]] = {}
    if LOADED_FILES in exists:
        rows = con.execute(
            f"select table_name, count(*), max(loaded_at) from {LOADED_FILES}"
            " where coalesce(rows_inserted, 0) + coalesce(rows_updated, 0) > 0 group by table_name"
        ).fetchall()
        loads = {table: (changes, str(last)) for table, changes, last in rows}
    present = [t for t in tables if t in exists]
    counts = dict(
        con.execute(" union all ".join(f"select {sql_str(t)}, count(*) from {t}" for t in present)).fetchall()
        if present
        else []
    )
    versions = {}
    for table in tables:
        changes, last = loads.get(table, (0, ""))
        versions[table] = f"{changes}:{counts.get(table, 0)}:{last}"
    return versions


def load_log_version(con) -> str:
    """The load log's own version, `<files logged>:<the last one's time>`: it moves with every file loaded."""
    if not table_exists(con, *LOADED_FILES.split(".")):
        return "0:"
    files, last = con.execute(f"select count(*), max(loaded_at) from {LOADED_FILES}").fetchall()[0]
    return f"{files}:{last or ''}"


# --- which files ---------------------------------------------------------------------------------


def landing_files(obj: SourceObject, landing_dir: Path) -> list[Path]:
    """The object's files, base export first, then dated batches in name order."""
    folder = landing_dir / obj.system
    found: list[Path] = []
    for pattern in obj.file_patterns:
        found.extend(sorted(folder.glob(pattern)))
    return found


def ready_files(
    obj: SourceObject, landing_dir: Path, settle_seconds: float = 0.0, now: float | None = None
) -> tuple[list[Path], list[Path]]:
    """(files to read now, files that wait): a file modified less than `settle_seconds` ago may still be
    being written; it waits, and so do the object's later batches, which must not load before it."""
    now = time.time() if now is None else now
    files = landing_files(obj, landing_dir)
    for index, path in enumerate(files):
        if now - path.stat().st_mtime < settle_seconds:
            return files[:index], files[index:]
    return files, []


def _matches_object(path: Path, objects: tuple[SourceObject, ...]) -> SourceObject | None:
    return next((o for o in objects if any(path.match(p) for p in o.file_patterns)), None)


def unmatched_files(landing_dir: Path, system: str) -> dict[str | None, list[str]]:
    """Files in the system's folder that no contract object reads, by the object they most resemble.

    Key None: resembles none of the system's objects. Each entry says why it is not read. Hidden
    files (a leading dot: editors' and upload tools' temporary files) are ignored.
    """
    objects = objects_for(system)
    folders = (
        [p for p in landing_dir.iterdir() if p.is_dir() and p.name.lower() == system] if landing_dir.is_dir() else []
    )
    found: dict[str | None, list[str]] = {}
    for folder in sorted(folders):
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or (
                path.is_file() and folder.name == system and _matches_object(path, objects)
            ):
                continue
            target, note = _resemblance(path, folder.name, system, objects)
            found.setdefault(target, []).append(f"{path}: {note}")
    return found


def _resemblance(path: Path, folder: str, system: str, objects: tuple[SourceObject, ...]) -> tuple[str | None, str]:
    if path.is_dir():
        return None, "a folder inside a system folder is not read"
    if folder != system:
        return None, f"folder {folder!r} is not read: system folders are lower case ({system!r})"
    elsewhere = _matches_object(path, tuple(o for o in SOURCE_OBJECTS if o.system != system))
    if elsewhere is not None:
        return None, f"named like {elsewhere.system}'s {elsewhere.file_stem}: move it to {elsewhere.system}/"
    stem = path.name.split(".")[0].lower()
    ratios = {o.name: difflib.SequenceMatcher(None, stem, o.file_stem.lower()).ratio() for o in objects}
    best = max(ratios, key=ratios.__getitem__)
    obj = next(o for o in objects if o.name == best)
    if ratios[best] >= 0.6:
        expected = " or ".join(obj.file_patterns)
        return best, f"not a contract file name (names are case-sensitive): did you mean {expected}?"
    return None, "matches no contract object of this system"


# --- bookkeeping -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileStamp:
    """A file as it was when it was read: a file whose stamp moved meanwhile was being written."""

    size: int
    mtime: float
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        stat = os.stat(path)
        return cls(stat.st_size, stat.st_mtime, stat.st_mtime_ns, stat.st_ino)


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


def _already_loaded(con: duckdb.DuckDBPyConnection, table: str, source: str, stamp: FileStamp) -> bool:
    row = con.execute(
        f"select count(*) from {LOADED_FILES} where table_name = ? and source_file = ?"
        " and file_size = ? and file_mtime = ?",
        [table, source, stamp.size, stamp.mtime],
    ).fetchall()
    return bool(row and row[0][0])


# --- the rules a value must meet -------------------------------------------------------------------

_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)", re.IGNORECASE)
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT")


def _value(f: Field) -> str:
    """The field's text with blanks as no value: what every rule but `required` judges."""
    return f"nullif(trim({q(f.name)}), '')"


def _quoted(sql: str) -> str:
    return f"chr(39) || {sql} || chr(39)"


def _rules(f: Field) -> list[tuple[str, str, str]]:
    """(rule, condition on a staged row that breaks it, reason) for one field, as SQL, in order."""
    col, v, kind = q(f.name), _value(f), f.type.upper()
    value = _quoted(v)
    rules: list[tuple[str, str, str]] = []
    if f.required:
        empty = f"case when coalesce({col}, '') = '' then 'required value is empty' "
        rules.append(("required", f"{v} is null", empty + "else 'required value is blank (only spaces)' end"))
    not_a = f"'cannot convert ' || {value} || ' to {f.type}'"
    out_of_range = f"{value} || ' is out of range for {f.type}'"
    if kind in _INTEGERS:
        whole = f"regexp_full_match({v}, '[+-]?[0-9]+(\\.0*)?')"
        fraction = f"regexp_full_match({v}, '[+-]?[0-9]*\\.[0-9]+')"
        rounds = f"{value} || ' is not a whole number: {f.type} would round it'"
        rules += [
            ("type", f"{v} is not null and not {whole} and not {fraction}", not_a),
            ("lossless", f"not {whole} and {fraction}", rounds),
            ("range", f"{whole} and try_cast({v} as {f.type}) is null", out_of_range),
        ]
    elif match := _DECIMAL.fullmatch(kind):
        scale = int(match.group(2))
        number = f"regexp_full_match({v}, '[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?')"
        places = (
            f"length(rtrim(regexp_extract({v}, '\\.([0-9]*)', 1), '0'))"
            f" - coalesce(try_cast(regexp_extract({v}, '[eE]([+-]?[0-9]+)', 1) as integer), 0)"
        )
        rounds = f"{value} || ' has more than {scale} decimal places: {f.type} would round it'"
        rules += [
            ("type", f"{v} is not null and not {number}", not_a),
            ("lossless", f"{number} and {places} > {scale}", rounds),
            ("range", f"{number} and {places} <= {scale} and try_cast({v} as {f.type}) is null", out_of_range),
        ]
    elif kind == "DATE":
        time_of_day = f"try_cast({v} as TIMESTAMP) is distinct from try_cast({v} as DATE)::TIMESTAMP"
        drops = f"{value} || ' has a time of day: DATE would drop it'"
        rules += [
            ("type", f"{v} is not null and try_cast({v} as DATE) is null", not_a),
            ("lossless", f"try_cast({v} as DATE) is not null and {time_of_day}", drops),
        ]
    elif kind == "TIMESTAMP":
        below_micro = f"{value} || ' has digits below a microsecond: TIMESTAMP would drop them'"
        rules += [
            ("type", f"{v} is not null and {_timestamp(v)} is null", not_a),
            ("lossless", f"regexp_matches({v}, '\\.[0-9]{{6}}[0-9]*[1-9]')", below_micro),
        ]
    elif kind != "VARCHAR":
        rules.append(("type", f"{v} is not null and try_cast({v} as {f.type}) is null", not_a))
    return rules


def _timestamp(v: str) -> str:
    """Text to TIMESTAMP in UTC: a zone or offset (`Z`, `+0000`, `-07:00`, `PST`) is applied, never dropped;
    text without one is UTC already (the load runs with the session time zone set to UTC)."""
    return f"try_cast({v} as TIMESTAMPTZ) at time zone 'UTC'"


def _typed_value(f: Field) -> str:
    """The typed value. Rows breaking a rule are gone by now, so try_cast is null exactly for a blank."""
    kind = f.type.upper()
    if kind == "VARCHAR":
        return q(f.name)  # text is kept as sent
    if kind == "TIMESTAMP":
        return _timestamp(q(f.name))
    return f"try_cast({q(f.name)} as {f.type})"


def _violations_sql(obj: SourceObject) -> str:
    """One row per broken rule per staged row: rule, field, value and reason, set-based."""
    parts = [
        f"select rowid as _row, {position} as _pos, {rank} as _rank, '{rule}' as rule, {sql_str(f.name)} as field, "
        f"{q(f.name)} as value, {reason} as reason from _batch where {condition}"
        for position, f in enumerate(obj.fields)
        for rank, (rule, condition, reason) in enumerate(_rules(f))
    ]
    return " union all ".join(parts)


def _screen(f: Field) -> str | None:
    """A cheap condition true for every row that may break one of the field's rules (and a few more).

    A character check, string positions and one try_cast instead of the rules' regular expressions:
    on a clean file (nearly every file) this is the only pass over the values. A row it lets
    through is checked by the exact rules, which decide.
    """
    col, kind = q(f.name), f.type.upper()
    required = f"nullif(trim({col}), '') is null" if f.required else None
    dot = f"strpos({col}, '.')"
    # DuckDB's casts also read `0x10`, `0b101`, `1_000` and `1e3`: such text goes to the exact rules.
    odd = "regexp_matches({col}, '[^0-9+{more} -]')"
    if kind in _INTEGERS:
        check = f"{col} is not null and (try_cast({col} as {f.type}) is null or {odd.format(col=col, more='')})"
    elif match := _DECIMAL.fullmatch(kind):
        scale = int(match.group(2))
        check = (
            f"{col} is not null and (try_cast({col} as {f.type}) is null or {odd.format(col=col, more='.')} "
            f"or ({dot} > 0 and length({col}) - {dot} > {scale}))"
        )
    elif kind == "DATE":
        check = f"{col} is not null and (try_cast({col} as DATE) is null or length(trim({col})) > 10)"
    elif kind == "TIMESTAMP":
        seventh = f"substr({col}, {dot} + 7, 1)"
        check = (
            f"{col} is not null and ({_timestamp(col)} is null or "
            f"({dot} > 0 and {seventh} >= '0' and {seventh} <= '9'))"
        )
    elif kind != "VARCHAR":
        check = f"{col} is not null and try_cast({col} as {f.type}) is null"
    else:
        check = None
    parts = [c for c in (required, check) if c]
    return " or ".join(f"({c})" for c in parts) or None


def _any_violation(con: duckdb.DuckDBPyConnection, obj: SourceObject) -> bool:
    """The fast path: one cheap scan that tells whether any row may break a rule at all."""
    screens = [screen for f in obj.fields if (screen := _screen(f))]
    if not screens:
        return False
    return bool(scalar(con, f"select count(*) filter (where {' or '.join(screens)}) from _batch"))


def quarantine_batch(
    con: duckdb.DuckDBPyConnection,
    obj: SourceObject,
    source: str,
    batch_id: str,
    max_share: float,
    positions: Positions,
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
            "order by _row, _pos, _rank limit 1"
        ).fetchall()[0]
        raise LandingFileError(
            source,
            f"{reason} ({same} row(s) break this rule; {bad} of {rows} rows break the contract, more than "
            f"{max_share:.0%}: a broken export or a changed schema, so nothing is loaded)",
            line=positions.line(row - offset),
            field=field_name,
            unit=positions.unit,
        )
    bad_rows = [r[0] for r in con.execute("select distinct _row from _violations order by 1").fetchall()]
    lines = positions.lines([r - offset for r in bad_rows])
    con.execute(
        "create or replace temp table _lines as select unnest(?::bigint[]) as _row, unnest(?::bigint[]) as line",
        [bad_rows, [lines[r - offset] for r in bad_rows]],
    )
    key = " || '|' || ".join(f"coalesce({q(k)}, '')" for k in obj.primary_key)
    table = sql_str(f"{obj.schema}.{obj.name}")
    con.execute(
        f"""insert into {QUARANTINE}
            select {table}, {sql_str(source)}, l.line, {key}, v.failures[1].rule, v.failures[1].field,
                   v.failures[1].value, v.failures[1].reason, to_json(v.failures), to_json(b),
                   {sql_str(batch_id)}, {UTC_NOW}
            from (select _row, list({{'rule': rule, 'field': field, 'value': value, 'reason': reason}}
                                     order by _pos, _rank) as failures
                  from _violations group by _row) v
            join _batch b on b.rowid = v._row
            join _lines l on l._row = v._row
            where not exists (  -- the same bad record read again (a re-exported file) is kept once
                select 1 from {QUARANTINE} seen
                where seen.table_name = {table} and seen.record::varchar = to_json(b)::varchar)"""
    )
    by_rule = dict(
        con.execute(
            "select rule || ': ' || field, count(distinct _row) from _violations group by all order by 1"
        ).fetchall()
    )
    con.execute("delete from _batch where rowid in (select _row from _violations)")
    return bad, by_rule


def _typed_batch(con: duckdb.DuckDBPyConnection, obj: SourceObject, source: str, batch_id: str) -> tuple[int, int]:
    """Cast the staged text exactly and keep the newest version of each key; return (rows, duplicates)."""
    casts = ", ".join(f"{_typed_value(f)} as {q(f.name)}" for f in obj.fields)
    keys = ", ".join(q(k) for k in obj.primary_key)
    order = f"{q(obj.cursor)} desc nulls last, _seq desc" if obj.cursor else "_seq desc"
    con.execute(
        f"""create or replace temp table _typed as
            select * exclude (_seq) from (
                select {casts}, {UTC_NOW} as _loaded_at,
                       {sql_str(source)} as _source_file, {sql_str(batch_id)} as _batch_id, rowid as _seq
                from _batch)
            qualify row_number() over (partition by {keys} order by {order}) = 1"""
    )
    rows = scalar(con, "select count(*) from _batch")
    kept = scalar(con, "select count(*) from _typed")
    return rows, rows - kept


# --- merging ---------------------------------------------------------------------------------


def _key_join(obj: SourceObject, left: str, right: str) -> str:
    return " and ".join(f"{left}.{q(k)} = {right}.{q(k)}" for k in obj.primary_key)


def changed_rows_sql(obj: SourceObject, target: str, absent: list[str]) -> str:
    """The batch rows (`_typed` b) that change the raw table, with `_existing` and `_same_stamp` flags.

    A new key is inserted. An existing key is replaced by a newer modified timestamp, or by the same
    timestamp with different values (reported: the source changed a record without stamping it);
    without a cursor, by any different value. Absent optional fields keep the stored values. The
    SQL is the same on DuckDB and PostgreSQL.
    """
    key = q(obj.primary_key[0])
    present = [f.name for f in obj.fields if f.name not in absent]
    differs = " or ".join(f"b.{q(n)} is distinct from t.{q(n)}" for n in present) or "false"
    values = ", ".join(f"t.{q(f.name)}" if f.name in absent else f"b.{q(f.name)}" for f in obj.fields)
    if obj.cursor:
        cursor = q(obj.cursor)
        same = f"t.{key} is not null and b.{cursor} = t.{cursor}"
        where = f"t.{key} is null or b.{cursor} > t.{cursor} or ({same} and ({differs}))"
    else:
        same, where = "false", f"t.{key} is null or ({differs})"
    return (
        f"select {values}, b._loaded_at, b._source_file, b._batch_id, t.{key} is not null as _existing, "
        f"({same}) as _same_stamp from _typed b left join {target} t on {_key_join(obj, 'b', 't')} where {where}"
    )


def raw_columns(obj: SourceObject) -> str:
    return ", ".join([*(q(f.name) for f in obj.fields), "_loaded_at", "_source_file", "_batch_id"])


@dataclass(frozen=True)
class MergeCounts:
    inserted: int
    updated: int
    same_stamp: int  # of the updated, records changed under an unchanged modified timestamp


def merge_batch(con: duckdb.DuckDBPyConnection, obj: SourceObject, absent: list[str] | None = None) -> MergeCounts:
    """Upsert `_typed` into the raw table by key; the newest version wins."""
    target = f"{obj.schema}.{obj.name}"
    con.execute(f"create or replace temp table _changed as {changed_rows_sql(obj, target, absent or [])}")
    updated, same, total = con.execute(
        "select count(*) filter (where _existing), count(*) filter (where _same_stamp), count(*) from _changed"
    ).fetchall()[0]
    if updated:
        con.execute(
            f"delete from {target} t where exists (select 1 from _changed c where c._existing and "
            f"{_key_join(obj, 'c', 't')})"
        )
    con.execute(f"insert into {target} select {raw_columns(obj)} from _changed")
    return MergeCounts(total - updated, updated, same)


def _log_file(
    con: duckdb.DuckDBPyConnection, table: str, source: str, stamp: FileStamp | None, batch_id: str, counts: tuple
) -> None:
    con.execute(
        f"insert into {LOADED_FILES} (table_name, source_file, file_size, file_mtime, batch_id, rows_read,"
        f" rows_inserted, rows_updated, rows_quarantined, loaded_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, {UTC_NOW})",
        [table, source, stamp.size if stamp else None, stamp.mtime if stamp else None, batch_id, *counts],
    )


class Target(Protocol):
    """Where the raw tables, the quarantine and the load log live; DuckDB stages and checks either way."""

    def prepare(self, con: duckdb.DuckDBPyConnection, obj: SourceObject) -> None: ...
    def begin(self) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def already_loaded(self, table: str, source: str, stamp: FileStamp) -> bool: ...
    def merge(self, con: duckdb.DuckDBPyConnection, obj: SourceObject, absent: list[str]) -> MergeCounts: ...
    def store_quarantine(self, con: duckdb.DuckDBPyConnection) -> None: ...
    def log_file(self, table: str, source: str, stamp: FileStamp | None, batch_id: str, counts: tuple) -> None: ...
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

    def already_loaded(self, table: str, source: str, stamp: FileStamp) -> bool:
        return _already_loaded(self.con, table, source, stamp)

    def merge(self, con: duckdb.DuckDBPyConnection, obj: SourceObject, absent: list[str]) -> MergeCounts:
        return merge_batch(con, obj, absent)

    def store_quarantine(self, con: duckdb.DuckDBPyConnection) -> None:
        pass  # quarantine_batch wrote them to this database's ingest_meta.quarantine

    def log_file(self, table: str, source: str, stamp: FileStamp | None, batch_id: str, counts: tuple) -> None:
        _log_file(self.con, table, source, stamp, batch_id, counts)

    def row_count(self, table: str) -> int:
        return scalar(self.con, f"select count(*) from {table}")


def _in_transaction(
    con: duckdb.DuckDBPyConnection, obj: SourceObject, result: LoadResult, work, target: Target
) -> LoadResult:
    """Run `work` in one transaction: raw table, quarantine and load log change together or not at all.

    The connection's time zone is UTC meanwhile (raw timestamps are UTC), and restored after.
    """
    ensure_tables(con, obj)
    target.prepare(con, obj)
    zone = scalar(con, "select current_setting('TimeZone')")
    con.execute("set TimeZone = 'UTC'")
    try:
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
    finally:
        con.execute(f"set TimeZone = {sql_str(zone)}")
    result.row_count = target.row_count(result.table)
    return result


def load_object(
    con: duckdb.DuckDBPyConnection,
    obj: SourceObject,
    landing_dir: Path,
    batch_id: str | None = None,
    max_quarantine_share: float = DEFAULT_MAX_QUARANTINE_SHARE,
    target: Target | None = None,
    settle_seconds: float = 0.0,
    now: float | None = None,
) -> LoadResult:
    """Load every new, settled landing file of one object, all or nothing (into `target`, default `con`).

    `settle_seconds`/`now`: files modified less than that long before `now` wait (see ready_files).
    """
    batch_id = batch_id or uuid.uuid4().hex
    result = LoadResult(table=f"{obj.schema}.{obj.name}")
    target = target or DuckDBTarget(con)
    files, waiting = ready_files(obj, landing_dir, settle_seconds, now)
    result.files_waiting = [str(p) for p in waiting]
    unmatched = unmatched_files(landing_dir, obj.system)
    result.files_unmatched = unmatched.get(obj.name, []) + unmatched.get(None, [])

    def work() -> None:
        for index, path in enumerate(files):
            stamp = FileStamp.of(path)
            if target.already_loaded(result.table, str(path), stamp):
                result.files_skipped.append(str(path))
                continue
            staged = stage_file(con, obj, path)
            if FileStamp.of(path) != stamp:  # written to while read: what was read may be partial
                result.files_changed_while_read = [str(p) for p in files[index:]]
                return
            _load_staged(con, obj, str(path), stamp, batch_id, max_quarantine_share, staged, result, target)
            result.files_loaded.append(str(path))
            result.extra_fields = sorted(set(result.extra_fields) | set(staged.extra_fields))
            if staged.absent:
                result.absent_fields[str(path)] = staged.absent

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
        staged = Staged([], [], Positions(None, None, scalar(con, "select count(*) from _batch")))
        _load_staged(con, obj, source, None, batch_id, max_quarantine_share, staged, result, target)
        if on_commit is not None:
            on_commit(con)
        result.files_loaded.append(source)
        result.extra_fields = sorted(c for c in columns if c not in obj.field_names and not c.startswith("_"))

    return _in_transaction(con, obj, result, work, target)


def _load_staged(
    con: duckdb.DuckDBPyConnection,
    obj: SourceObject,
    source: str,
    stamp: FileStamp | None,
    batch_id: str,
    max_share: float,
    staged: Staged,
    result: LoadResult,
    target: Target,
) -> None:
    """Quarantine, type, dedupe and merge what is staged in `_batch`, and account for every row."""
    rows_in = scalar(con, "select count(*) from _batch")
    quarantined, by_rule = quarantine_batch(con, obj, source, batch_id, max_share, staged.positions)
    rows, duplicates = _typed_batch(con, obj, source, batch_id)
    merged = target.merge(con, obj, staged.absent)
    target.log_file(result.table, source, stamp, batch_id, (rows_in, merged.inserted, merged.updated, quarantined))
    result.rows_read += rows_in
    result.rows_quarantined += quarantined
    for rule, count in by_rule.items():
        result.quarantine_rules[rule] = result.quarantine_rules.get(rule, 0) + count
    result.rows_inserted += merged.inserted
    result.rows_updated += merged.updated
    result.rows_changed_same_stamp += merged.same_stamp
    result.duplicate_keys += duplicates
    result.rows_unchanged += rows - duplicates - merged.inserted - merged.updated
