"""PostgreSQL as the warehouse: connections shaped like DuckDB's, and the database helper for demo and tests.

The pipeline's warehouse code calls `execute(sql, params).fetchall()`, `.description` and
`executemany` with `?` placeholders, as DuckDB's Python API does; `PgConnection` offers the same on
psycopg2, in autocommit mode (explicit `begin transaction` / `commit` statements work as in DuckDB).
The password is passed to libpq only: it never appears in a DSN string, a log line or an error here.

`python -m orchestration.lib.postgres create-database [--fresh]` creates POSTGRES_DB when missing
(`--fresh`: drops it first), for `make demo WAREHOUSE=postgres` and CI.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions

MAINTENANCE_DB = "postgres"
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?")  # a `?` outside string literals


def connect_raw(
    host: str, port: int, user: str, password: str, database: str, *, read_only: bool = False, autocommit: bool = False
) -> psycopg2.extensions.connection:
    """A psycopg2 connection; read-only sessions refuse writes, so a reader can never change the warehouse."""
    options = "-c default_transaction_read_only=on" if read_only else None
    con = psycopg2.connect(
        host=host,
        port=port,
        user=user,
        password=password or None,
        dbname=database,
        application_name="psa-pipeline",
        connect_timeout=10,
        options=options,
    )
    con.autocommit = autocommit
    return con


def _paramstyle(sql: str) -> str:
    """DuckDB's `?` placeholders as psycopg2's `%s`, with literal `%` escaped."""
    parts, last = [], 0
    for match in _PLACEHOLDER.finditer(sql):
        parts.append(sql[last : match.start()].replace("%", "%%"))
        token = match.group(0)
        parts.append("%s" if token == "?" else token.replace("%", "%%"))
        last = match.end()
    parts.append(sql[last:].replace("%", "%%"))
    return "".join(parts)


class PgConnection:
    """The subset of DuckDB's connection API the pipeline uses, on a psycopg2 connection in autocommit mode."""

    dialect = "postgres"

    def __init__(self, raw: psycopg2.extensions.connection):
        raw.autocommit = True
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg2.extensions.cursor:
        cursor = self.raw.cursor()
        if params:
            cursor.execute(_paramstyle(sql), list(params))
        else:
            cursor.execute(sql)
        return cursor

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(_paramstyle(sql), [list(r) for r in rows])

    def table_exists(self, relation: str) -> bool:
        return self.execute("select to_regclass(?) is not null", [relation]).fetchone()[0]

    def close(self) -> None:
        self.raw.close()


# --- databases for the demo, CI and tests -----------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_database(host: str, port: int, user: str, password: str, database: str, *, fresh: bool = False) -> bool:
    """Create `database` unless it exists (or, `fresh`, drop and create it); True when it was created."""
    admin = connect_raw(host, port, user, password, MAINTENANCE_DB, autocommit=True)
    try:
        with admin.cursor() as cur:
            if fresh:
                cur.execute(f"drop database if exists {_quote(database)} with (force)")
            cur.execute("select 1 from pg_database where datname = %s", [database])
            if cur.fetchone():
                return False
            try:
                cur.execute(f"create database {_quote(database)}")
            except psycopg2.errors.DuplicateDatabase:  # created meanwhile by a concurrent caller
                return False
            return True
    finally:
        admin.close()


def drop_database(host: str, port: int, user: str, password: str, database: str) -> None:
    """Drop `database`, disconnecting whoever is still on it (tests clean up after themselves)."""
    admin = connect_raw(host, port, user, password, MAINTENANCE_DB, autocommit=True)
    try:
        with admin.cursor() as cur:
            cur.execute(f"drop database if exists {_quote(database)} with (force)")
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> int:
    from orchestration.lib import settings

    parser = argparse.ArgumentParser(prog="python -m orchestration.lib.postgres")
    parser.add_argument("command", choices=["create-database"])
    parser.add_argument("--fresh", action="store_true", help="drop the database first")
    args = parser.parse_args(argv)
    config = settings.postgres_config()
    created = create_database(**config, password=settings.postgres_password(), fresh=args.fresh)
    where = f"{config['user']}@{config['host']}:{config['port']}/{config['database']}"
    print(f"PostgreSQL database {where}: {'created' if created else 'exists'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
