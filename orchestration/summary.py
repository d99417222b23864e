"""Printed at the end of `make demo`: where the warehouse is, what is in it, how to look at it."""

from __future__ import annotations

import duckdb

from orchestration.lib import settings


def main() -> None:
    path = settings.duckdb_database()
    with duckdb.connect(path, read_only=True) as con:
        tables = con.execute(
            "select table_schema, count(*) from information_schema.tables"
            " where table_schema like 'raw_%' or table_schema in ('staging', 'intermediate', 'marts', 'restricted', 'sync')"
            " group by 1 order by 1"
        ).fetchall()
    print()
    print(f"Warehouse: {path}")
    for schema, count in tables:
        print(f"  {schema:<14} {count:>3} tables/views")
    print(f"Landing files: {settings.landing_dir()}")
    print("Open the Dagster UI with `make ui`, then http://127.0.0.1:3000")
    query = f"import duckdb; duckdb.connect('{path}').sql('show all tables').show()"
    print(f'Query it from Python: .venv/bin/python -c "{query}"')


if __name__ == "__main__":
    main()
