"""Records as JSON text in each vendor's style, rendered by DuckDB a page at a time (no row loops).

- `salesforce`: numbers as JSON numbers, booleans as JSON booleans, datetimes as
  `2025-01-31T09:00:00.000+0000`, every selected field present (null when empty);
- `netsuite`: SuiteQL items: numbers as JSON numbers, booleans `T`/`F`, empty fields left out;
- `workday`: RaaS entries: every value a string, empty fields left out.

A value the source type cannot hold (the demo's deliberate defects) is sent as a JSON string, as
the export had it, so the connector and its contract checks see the same defect the file path sees.
"""

from __future__ import annotations

from demo.servers.common.store import q

_NUMBER = r"'^-?[0-9]+(\.[0-9]+)?$'"
_NUMERIC = ("INTEGER", "BIGINT", "DECIMAL", "DOUBLE")


def _value(col: str, type_: str, style: str) -> str:
    """SQL for one field's JSON value (never NULL: the caller decides whether to omit empties)."""
    as_string = f"to_json({col})"
    if style == "workday":
        return as_string
    if type_.startswith(_NUMERIC):
        return f"case when regexp_matches({col}, {_NUMBER}) then {col} else {as_string} end"
    if style == "salesforce" and type_ == "BOOLEAN":
        return f"case lower({col}) when 'true' then 'true' when 'false' then 'false' else {as_string} end"
    if style == "salesforce" and type_ == "TIMESTAMP":
        stamp = f"strftime(try_cast({col} as timestamp), '%Y-%m-%dT%H:%M:%S.000+0000')"
        return f"coalesce(to_json({stamp}), {as_string})"
    return as_string


def member(name: str, type_: str, style: str) -> str:
    """SQL for `"name":value`; NULL (left out by concat_ws) for an empty value except in Salesforce style."""
    col = q(name)
    key = "'" + name.replace("'", "''").replace('"', '\\"') + "'"
    rendered = f"'\"' || {key} || '\":' || {_value(col, type_, style)}"
    if style == "salesforce":
        return f"case when {col} is null then '\"' || {key} || '\":null' else {rendered} end"
    return f"case when {col} is not null then {rendered} end"


def object_sql(fields: dict[str, str], style: str, prefix: str = "") -> str:
    """SQL for one record as a JSON object text; `prefix` is SQL for leading members (or '')."""
    members = [member(name, type_, style) for name, type_ in fields.items()]
    if prefix:
        members.insert(0, prefix)
    return "'{' || concat_ws(',', " + ", ".join(members) + ") || '}'"
