"""Create every raw_<system>.<object> table of the landing contract, empty.

The loader creates the same tables when it lands files; this helper lets `dbt build` run
against a fresh local warehouse, and the dbt tests build one under tmp_path.
Usage: python dbt_project/scripts/create_empty_raw.py [path.duckdb]  (default $DUCKDB_DATABASE)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere, not only as a package
    sys.path.insert(0, str(REPO_ROOT))

from orchestration.contract import LOAD_COLUMNS, SOURCE_OBJECTS, SourceObject  # noqa: E402


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def raw_columns(obj: SourceObject) -> list[tuple[str, str]]:
    """Column names and DuckDB types of the raw table, in loader order."""
    return [(f.name, f.type) for f in obj.fields] + [(name, type_) for name, type_, _ in LOAD_COLUMNS]


def create_table_sql(obj: SourceObject) -> str:
    columns = ",\n    ".join(f"{quote_identifier(n)} {t}" for n, t in raw_columns(obj))
    table = f"{quote_identifier(obj.schema)}.{quote_identifier(obj.name)}"
    return f"create table if not exists {table} (\n    {columns}\n)"


def create_empty_raw_tables(database: str | os.PathLike[str]) -> int:
    """Create missing raw schemas and tables (existing ones are left as they are)."""
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(database)) as con:
        for schema in sorted({o.schema for o in SOURCE_OBJECTS}):
            con.execute(f"create schema if not exists {quote_identifier(schema)}")
        for obj in SOURCE_OBJECTS:
            con.execute(create_table_sql(obj))
    return len(SOURCE_OBJECTS)


def main(argv: list[str]) -> int:
    database = argv[1] if len(argv) > 1 else os.environ.get("DUCKDB_DATABASE")
    if not database:
        print("usage: create_empty_raw.py PATH (or set DUCKDB_DATABASE)", file=sys.stderr)
        return 2
    count = create_empty_raw_tables(database)
    print(f"{count} raw tables present in {database}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
