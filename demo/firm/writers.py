"""Landing-file writers: one per contract format, driven by the contract's field types.

DuckDB does the formatting and the writing (COPY from a registered DataFrame), which is both
fast and exact: decimals are cast to the contract's DECIMAL type, so money never prints with
float noise, and CSV quoting follows RFC 4180.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.contract import ANAPLAN_CSV, CSV, JSONL, WORKDAY_JSON, Field, SourceObject

_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")
_TIMESTAMP_FORMATS = {
    CSV: "%Y-%m-%dT%H:%M:%S.000Z",  # Salesforce
    ANAPLAN_CSV: "%Y-%m-%dT%H:%M:%S",
    JSONL: "%Y-%m-%d %H:%M:%S",  # NetSuite SuiteQL
    WORKDAY_JSON: "%Y-%m-%dT%H:%M:%S",  # Workday RaaS
}


def _quote(name: str) -> str:
    """A SQL identifier, quoted (contract names contain spaces and mixed case)."""
    return '"' + name.replace('"', '""') + '"'


def _boolean(column: str, fmt: str) -> str:
    """Booleans as each system prints them: true/false, T/F (NetSuite) or 1/0 (Workday)."""
    if fmt == JSONL:
        return f"CASE WHEN {column} THEN 'T' WHEN NOT {column} THEN 'F' END"
    if fmt == WORKDAY_JSON:
        return f"CASE WHEN {column} THEN '1' WHEN NOT {column} THEN '0' END"
    return f"CAST({column} AS BOOLEAN)"


def _expression(field: Field, fmt: str) -> str:
    """SQL that renders one contract field from the registered frame in the format's style."""
    column = _quote(field.name)
    decimal = _DECIMAL.fullmatch(field.type)
    if field.type == "BOOLEAN":
        return _boolean(column, fmt)
    if field.type == "DATE":
        return (
            f"strftime(CAST({column} AS DATE), '%Y-%m-%d')"
            if fmt in (JSONL, WORKDAY_JSON)
            else f"CAST({column} AS DATE)"
        )
    if field.type == "TIMESTAMP":
        return f"strftime(CAST({column} AS TIMESTAMP), '{_TIMESTAMP_FORMATS[fmt]}')"
    if field.type == "INTEGER":
        return f"CAST({column} AS BIGINT)"
    if decimal:
        cast = f"CAST({column} AS DECIMAL({decimal[1]},{decimal[2]}))"
        if fmt == WORKDAY_JSON and int(decimal[2]) > 0:  # Workday prints "40", "37.5"
            return f"rtrim(rtrim(CAST({cast} AS VARCHAR), '0'), '.')"
        return cast
    return f"CAST({column} AS VARCHAR)"


def _select(obj: SourceObject, frame_name: str) -> str:
    """SELECT of every contract field, in contract order, under its contract name."""
    columns = ", ".join(f"{_expression(f, obj.format)} AS {_quote(f.name)}" for f in obj.fields)
    return f"SELECT {columns} FROM {frame_name}"


def _workday_json(con: duckdb.DuckDBPyConnection, obj: SourceObject, frame_name: str, path: Path) -> None:
    """`{"Report_Entry": [...]}` with every value a string and empty fields left out."""
    members = ", ".join(
        f"CASE WHEN {_quote(f.name)} IS NOT NULL THEN '\"{f.name}\":' || "
        f"to_json(CAST({_expression(f, WORKDAY_JSON)} AS VARCHAR)) END"
        for f in obj.fields
    )
    lines = con.execute(f"SELECT '{{' || concat_ws(',', {members}) || '}}' FROM {frame_name}").fetchall()
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write('{"Report_Entry": [\n')
        out.write(",\n".join(line for (line,) in lines))
        out.write("\n]}\n" if lines else "]}\n")


def write_object(
    con: duckdb.DuckDBPyConnection,
    obj: SourceObject,
    frame: pd.DataFrame,
    out_dir: Path,
) -> Path:
    """Write one source object's landing file; the frame must carry exactly the contract fields."""
    missing = set(obj.field_names) - set(frame.columns)
    extra = set(frame.columns) - set(obj.field_names)
    if missing or extra:
        raise ValueError(f"{obj.system}.{obj.name}: missing {sorted(missing)}, unexpected {sorted(extra)}")
    path = out_dir / obj.system / f"{obj.file_stem}.{obj.extension}"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame_name = f"frame_{obj.system}_{obj.name}"
    con.register(frame_name, frame)
    try:
        if obj.format == WORKDAY_JSON:
            _workday_json(con, obj, frame_name, path)
        else:
            options = "FORMAT JSON" if obj.format == JSONL else "FORMAT CSV, HEADER true"
            con.execute(f"COPY ({_select(obj, frame_name)}) TO '{path}' ({options})")
    finally:
        con.unregister(frame_name)
    return path
