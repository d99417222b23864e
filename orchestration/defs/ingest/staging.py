"""Read one landing file into the temp table `_batch`: every contract field as text, exactly as sent.

What reading promises (docs/landing-contract.md states it for users):
- the CSV header, or the JSON document, carries every contract field the contract requires in the
  file; a missing one fails the file, naming it (and a close unknown name, if the file has one).
  Optional fields the file leaves out are returned in `Staged.absent`: the merge keeps the values
  already stored for them;
- fields beyond the contract are reported, never an error;
- a JSON number is kept as the text the file has (DuckDB parses non-integers as doubles, which
  would turn `99999999999999.99` into `...98`), so the typed cast can refuse what it cannot keep;
- every error names the file, the physical line (CSV records may span lines; blank lines count),
  the field where there is one, and the underlying reason (not UTF-8, duplicate column, malformed
  JSON at its own line), found by re-reading the file line by line only once it has failed.

`Positions` maps a record's index to the physical line it starts on, for quarantine rows; it reads
the file again only when lines and records do not line up one to one and a position is asked for.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.contract import ANAPLAN_CSV, CSV, JSONL, WORKDAY_JSON, SourceObject


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


def q(identifier: str) -> str:
    """Quote an identifier: contract names carry capitals and spaces (`Version Code`)."""
    return '"' + identifier.replace('"', '""') + '"'


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """First value of a query, fetched whole: DuckDB 2 refuses new work while a result is open."""
    return con.execute(sql, params or []).fetchall()[0][0]


# --- positions --------------------------------------------------------------------------------


def _count_lines(path: Path) -> int:
    """Physical lines in a file (a last line without a newline counts), in 1 MiB binary chunks."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


class Positions:
    """Where record i (0-based, in file order) starts: its physical line, or its record number."""

    def __init__(self, path: Path | None, file_format: str | None, records: int):
        self.path, self.format, self.records = path, file_format, records
        self.unit = "line"
        if file_format is None:
            self.unit = "record"  # a relation handed over by a connector
        elif file_format == WORKDAY_JSON:
            self.unit = "Report_Entry record"
        self._starts: list[int] | None = None

    @property
    def _header_lines(self) -> int:
        return 1 if self.format in (CSV, ANAPLAN_CSV) else 0

    def _one_to_one(self) -> bool:
        return self.path is not None and _count_lines(self.path) == self.records + self._header_lines

    def lines(self, records: list[int]) -> dict[int, int]:
        """Physical line (or record number) of each record index asked for."""
        if self.path is None or self.format == WORKDAY_JSON or self._one_to_one():
            first = 1 + self._header_lines
            return {r: r + first for r in records}
        if self._starts is None:
            self._starts = _csv_record_starts(self.path) if self._header_lines else _jsonl_record_starts(self.path)
        return {r: self._starts[r] if r < len(self._starts) else r + 1 + self._header_lines for r in records}

    def line(self, record: int) -> int:
        return self.lines([record])[record]


def _csv_record_starts(path: Path) -> list[int]:
    """The line each data record starts on; blank lines are not records (DuckDB skips them too)."""
    starts: list[int] = []
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        previous = reader.line_num
        for row in reader:
            if row:
                starts.append(previous + 1)
            previous = reader.line_num
    return starts


def _jsonl_record_starts(path: Path) -> list[int]:
    with path.open("rb") as handle:
        return [number for number, raw in enumerate(handle, 1) if raw.strip()]


# --- finding the exact problem in a file that failed ------------------------------------------


def _decoded_lines(path: Path, handle) -> Iterator[str]:
    """The file's lines as text; a byte that is not UTF-8 fails with its line, column and value."""
    for number, raw in enumerate(handle, 1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise LandingFileError(
                path,
                f"not UTF-8: byte 0x{raw[err.start]:02X} at column {err.start + 1} "
                f"(export the file as UTF-8; Latin-1/Windows-1252 is not accepted)",
                line=number,
            ) from None


def _csv_problem(path: Path, header: list[str]) -> LandingFileError | None:
    """The first structural problem of a CSV file, at its physical line, or None."""
    with path.open("rb") as handle:
        reader = csv.reader(_decoded_lines(path, handle), strict=True)
        try:
            next(reader, None)
            previous = reader.line_num
            for row in reader:
                start = previous + 1
                previous = reader.line_num
                if row and len(row) != len(header):
                    return LandingFileError(
                        path, f"expected {len(header)} fields (the header's), found {len(row)}", line=start
                    )
        except csv.Error as err:
            text = str(err)
            if "unexpected end of data" in text:
                text = "a quoted field is never closed (unterminated quote) before the end of the file"
            return LandingFileError(path, f"malformed CSV: {text}", line=previous + 1)
    return None


def _clean_duckdb_reason(text: str) -> str:
    """The sentence that says what is wrong in a DuckDB reader error, without its settings dump."""
    known = re.search(
        r"(Expected Number of Columns: \d+ Found: \d+|Value with unterminated quote found\.?|Invalid unicode[^\n]*"
        r"|Malformed JSON[^\n]*|unexpected [^\n]*)",
        text,
    )
    if known:
        return known.group(1).strip()
    first = text.replace("Invalid Input Error: ", "").strip().splitlines()
    return first[0] if first else text


def _json_document_problem(path: Path) -> LandingFileError | None:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        return LandingFileError(
            path, f"not UTF-8: byte 0x{raw[err.start]:02X} at column {column} (export the file as UTF-8)", line=line
        )
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        return LandingFileError(path, f"malformed JSON: {err.msg} at column {err.colno}", line=err.lineno)
    return None


def _jsonl_problem(path: Path) -> LandingFileError | None:
    with path.open("rb") as handle:
        for number, text in enumerate(_decoded_lines(path, handle), 1):
            record = text.rstrip("\r\n")
            if not record.strip():
                continue
            try:
                json.loads(record)
            except json.JSONDecodeError as err:
                if err.pos >= len(record.rstrip()):
                    reason = "the record ends before its JSON is complete (one JSON object per line)"
                else:
                    reason = f"{err.msg} at column {err.colno}"
                return LandingFileError(path, f"malformed JSON: {reason}", line=number)
    return None


# --- staging ------------------------------------------------------------------------------------


@dataclass
class Staged:
    """What reading one file found besides its rows."""

    extra_fields: list[str]  # fields the file has beyond the contract
    absent: list[str]  # optional contract fields the file does not carry: stored values are kept
    positions: Positions


def _missing_message(missing: list[str], found: list[str], where: str) -> str:
    hints = []
    for name in missing:
        close = difflib.get_close_matches(name, found, n=1, cutoff=0.75) or [
            f for f in found if f.strip().lower() == name.lower()
        ]
        if close:
            hints.append(f"{name!r} (the file has {close[0]!r}: names are exact)")
    message = f"missing {where} " + ", ".join(missing)
    return message + (f"; did you mean: {'; '.join(hints)}" if hints else "")


def _read_header(path: Path) -> list[str]:
    """The header record, read as bytes and decoded alone (a bad byte further down is not its problem)."""
    with path.open("rb") as handle:
        raw = handle.readline()
        while raw.count(b'"') % 2 and (more := handle.readline()):
            raw += more  # a quoted header name with a line break in it
    if not raw.strip():
        raise LandingFileError(path, "empty file: no header row", line=1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise LandingFileError(
            path, f"not UTF-8: byte 0x{raw[err.start]:02X} at column {err.start + 1} (export the file as UTF-8)", 1
        ) from None
    try:
        return next(csv.reader([text], strict=True))
    except csv.Error as err:
        raise LandingFileError(path, f"malformed CSV header: {err}", line=1) from None


def _check_header(path: Path, obj: SourceObject, header: list[str]) -> list[str]:
    """The optional fields the header lacks; raise on a duplicate, blank or missing required column."""
    seen: dict[str, int] = {}
    for position, name in enumerate(header, 1):
        if not name.strip():
            raise LandingFileError(path, f"header column {position} has no name", line=1)
        if name in seen:
            raise LandingFileError(
                path, f"duplicate column {name!r} in the header (columns {seen[name]} and {position})", 1, name
            )
        seen[name] = position
    missing = [f.name for f in obj.fields if f.name not in seen and not f.optional]
    if missing:
        extra = [h for h in header if h not in obj.field_names]
        raise LandingFileError(path, _missing_message(missing, extra, "column(s) in header:"), 1, missing[0])
    return [f.name for f in obj.fields if f.name not in seen]


def _stage_csv(con: duckdb.DuckDBPyConnection, obj: SourceObject, path: Path) -> Staged:
    header = _read_header(path)
    absent = _check_header(path, obj, header)
    columns = "{" + ", ".join(f"{sql_str(h)}: 'VARCHAR'" for h in header) + "}"
    nulls = "".join(f", null::varchar as {q(name)}" for name in absent)
    try:
        con.execute(
            f"""create or replace temp table _batch as select *{nulls} from read_csv({sql_str(str(path))},
                header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
                strict_mode = true, columns = {columns})"""
        )
    except duckdb.Error as exc:
        raise (_csv_problem(path, header) or LandingFileError(path, _clean_duckdb_reason(str(exc)))) from exc
    records = scalar(con, "select count(*) from _batch")
    return Staged([h for h in header if h not in obj.field_names], absent, Positions(path, obj.format, records))


def _whole_document_size(path: Path) -> int:
    """A Workday report is one JSON document: let DuckDB read it whole however large it is."""
    return max(path.stat().st_size + 1024, 16 * 1024 * 1024)


def _json_text(name: str) -> str:
    """A field's value as the file wrote it, from the record `j` parsed once into `s` (a struct of JSON values).

    DuckDB reads a non-integer JSON number as a double and prints it back in its shortest form,
    which equals the file's number whenever that has fewer than 15 significant digits. Longer
    numbers (where a double can drift: `99999999999999.99` prints as `...98`) are taken from the
    record's own text instead; that regular expression costs, so it runs only for them.
    """
    raw_number = r'[{,]\s*"' + re.escape(name) + r'"\s*:\s*(-?[0-9][0-9.eE+-]*)'
    value = f"s.{q(name)} ->> '$'"  # what `j ->> name` gives; a struct of text would print 0.000001 as 1e-06
    return (
        f"case when length({value}) >= 15 and json_type(j -> {sql_str(name)}) = 'DOUBLE' "
        f"then regexp_extract(j::varchar, {sql_str(raw_number)}, 1) else {value} end"
    )


def _stage_json(con: duckdb.DuckDBPyConnection, obj: SourceObject, path: Path) -> Staged:
    if obj.format == JSONL:
        scans = [
            f"create or replace temp table _json as select json as j from read_ndjson_objects({sql_str(str(path))})"
        ]
    else:  # Workday RaaS: one document, rows under Report_Entry
        # The list is kept first and unnested after: unnesting it in the statement that parses the
        # document took 10.5 s for the large demo's Time_Off.json (334 k entries), against 1.0 s.
        size = _whole_document_size(path)
        scans = [
            "create or replace temp table _report as select from_json(json -> 'Report_Entry', '[\"json\"]') as entries "
            f"from read_json_objects({sql_str(str(path))}, format = 'unstructured', maximum_object_size = {size})",
            "create or replace temp table _json as select unnest(entries) as j from _report",
            "drop table _report",
        ]
    try:
        for scan in scans:
            con.execute(scan)
    except duckdb.Error as exc:
        found = _jsonl_problem(path) if obj.format == JSONL else _json_document_problem(path)
        raise (found or LandingFileError(path, _clean_duckdb_reason(str(exc)))) from exc
    records = scalar(con, "select count(*) from _json")
    positions = Positions(path, obj.format, records)
    if obj.format == WORKDAY_JSON and records == 0:
        _require_report_entry(con, path)
    _check_records(con, path, positions)
    keys = [r[0] for r in con.execute("select distinct unnest(json_keys(j)) from _json").fetchall()]
    missing = [f.name for f in obj.fields if not f.optional and f.name not in keys]
    if missing and records:
        extra = sorted(k for k in keys if k not in obj.field_names)
        raise LandingFileError(
            path, _missing_message(missing, extra, "field(s): no record of the file has"), None, missing[0]
        )
    absent = [f.name for f in obj.fields if f.name not in keys]
    select = ", ".join(
        f"null::varchar as {q(f.name)}" if f.name in absent else f"{_json_text(f.name)} as {q(f.name)}"
        for f in obj.fields
    )
    # Each record is parsed once into its present fields' JSON values: half the time of one `->>`
    # per field on the large demo's transaction lines.
    present = {f.name: "JSON" for f in obj.fields if f.name not in absent}
    parsed = f"from_json(j, {sql_str(json.dumps(present))})" if present else "null"  # no record, no field
    con.execute(f"create or replace temp table _batch as select {select} from (select j, {parsed} as s from _json)")
    return Staged(sorted(k for k in keys if k not in obj.field_names), absent, positions)


def _check_records(con: duckdb.DuckDBPyConnection, path: Path, positions: Positions) -> None:
    """Each record is one JSON object whose field names are unique; else the file is malformed."""
    malformed = "json_type(j) <> 'OBJECT' or len(json_keys(j)) <> list_unique(json_keys(j))"
    if not scalar(con, f"select count(*) filter (where {malformed}) from _json"):
        return
    offset = scalar(con, "select coalesce(min(rowid), 0) from _json")
    bad = con.execute(
        f"""select rowid, json_type(j), case when json_type(j) = 'OBJECT' then json_keys(j) end from _json
            where {malformed} order by rowid limit 1"""
    ).fetchall()
    row, kind, keys = bad[0]
    line = positions.line(row - offset)
    if kind != "OBJECT":
        raise LandingFileError(path, f"a record must be a JSON object, found {kind}", line=line, unit=positions.unit)
    twice = next(k for k in keys if keys.count(k) > 1)
    raise LandingFileError(path, f"field {twice!r} appears more than once in the record", line, twice, positions.unit)


def _require_report_entry(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    doc = con.execute(
        f"select json_type(json -> 'Report_Entry') from read_json_objects({sql_str(str(path))},"
        f" format = 'unstructured', maximum_object_size = {_whole_document_size(path)})"
    ).fetchall()
    if not doc or doc[0][0] != "ARRAY":
        raise LandingFileError(path, "not a Workday RaaS report: no Report_Entry array", line=1)


def stage_file(con: duckdb.DuckDBPyConnection, obj: SourceObject, path: Path) -> Staged:
    """Stage one landing file as text in temp table `_batch`."""
    if obj.format in (CSV, ANAPLAN_CSV):
        return _stage_csv(con, obj, path)
    return _stage_json(con, obj, path)
