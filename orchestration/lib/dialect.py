"""SQL the pipeline's Python sends to the warehouse, where DuckDB and PostgreSQL spell it differently.

Connections carry their dialect: PostgreSQL connections (orchestration.lib.postgres.PgConnection)
say `postgres`, DuckDB's own connections have no such attribute and are `duckdb`. Everything not
here is written in SQL both accept (information_schema, `is distinct from`, `concat_ws`, ...).
"""

from __future__ import annotations

DUCKDB, POSTGRES = "duckdb", "postgres"


def dialect_of(con: object) -> str:
    return getattr(con, "dialect", DUCKDB)


def month_label(date_sql: str, dialect: str) -> str:
    """A date as an Anaplan month label, `Jan 26` (English month abbreviations on both)."""
    if dialect == POSTGRES:
        return f"to_char({date_sql}, 'Mon YY')"
    return f"strftime({date_sql}, '%b %y')"


def json_object(pairs: dict[str, str], dialect: str) -> str:
    """A JSON object of SQL expressions, keyed by the dict's keys, as text."""
    function = "json_build_object" if dialect == POSTGRES else "json_object"
    return f"{function}(" + ", ".join(f"'{key}', {sql}" for key, sql in pairs.items()) + ")::varchar"


def json_field(text_sql: str, key: str) -> str:
    """One field of JSON held as text, as text (`->>` on both, once the text is cast to json)."""
    return f"cast({text_sql} as json) ->> '{key}'"


def matches(text_sql: str, pattern: str, dialect: str) -> str:
    """The whole of text_sql matches the regular expression (true, false or null)."""
    if dialect == POSTGRES:
        return f"({text_sql} ~ '^(?:{pattern})$')"
    return f"regexp_full_match({text_sql}, '{pattern}')"


def table_exists(con, schema: str, table: str) -> bool:
    """Through information_schema, which both databases have (a missing table is not an error then)."""
    rows = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
    ).fetchall()
    return bool(rows[0][0])
