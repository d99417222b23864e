"""SQL the pipeline's Python sends to the warehouse, where DuckDB and PostgreSQL spell it differently.

Connections carry their dialect: PostgreSQL connections (orchestration.lib.postgres.PgConnection)
say `postgres`, DuckDB's own connections have no such attribute and are `duckdb`. Everything not
here is written in SQL both accept (information_schema, `is distinct from`, `concat_ws`, ...).
"""

from __future__ import annotations

import hashlib
import json

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


def rows_fingerprint(con, table: str, without: tuple[str, ...] = ()) -> str:
    """A digest of the table's rows as a multiset: every column of every row, in any order.

    Two 64-bit hashes of each whole row, summed over the rows, and the row count: one scan, no sort
    (in DuckDB 0.13-0.25 s for the large demo's 1.7 M timecards, 0.35-0.73 s for its 7 M time entries).
    Any row added, removed or edited changes it, but for a chance of about 2^-128. Values are hashed
    as the database holds them: the same rows in another database or DuckDB version may differ.
    `without`: columns left out of every row (a build's time stamp): rows that differ only there are the same.
    """
    postgres = dialect_of(con) == POSTGRES
    row = "t::text"
    source = table
    if without and postgres:  # a row as JSON, less those keys
        row = "(to_jsonb(t) - array[" + ", ".join("'" + c.replace("'", "''") + "'" for c in without) + "])::text"
    elif without:
        left_out = ", ".join('"' + c.replace('"', '""') + '"' for c in without)
        source = f"(select * exclude ({left_out}) from {table})"
    if postgres:
        halves = [f"('x' || substr(md5({row}), {start}, 16))::bit(64)::bigint::numeric" for start in (1, 17)]
        sums = ", ".join(f"coalesce(sum({half}), 0)" for half in halves)
    else:
        sums = "coalesce(sum(hash(t)), 0), coalesce(sum(hash(t, 'rows')), 0)"
    count, first, second = con.execute(f"select count(*), {sums} from {source} as t").fetchall()[0]
    digest = hashlib.sha256(json.dumps([int(count), str(first), str(second)]).encode()).hexdigest()
    return digest[:16]
