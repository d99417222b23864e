"""Printed at the end of `make demo`: where the warehouse is, what is in it, how to look at it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from local_servers.anaplan.module import read_cells
from orchestration.lib import settings


def _print_sync(path: str) -> None:
    """The last reverse sync and what the local planning server holds."""
    with duckdb.connect(path, read_only=True) as con:
        try:
            run = con.execute(
                "select status, rows_created, rows_updated, rows_deleted, rows_rejected, failing_checks"
                " from reverse_sync.sync_runs order by finished_at desc limit 1"
            ).fetchall()
        except duckdb.CatalogException:
            run = []
    if run:
        status, created, updated, deleted, rejected, failing = run[0]
        print(
            f"Last sync to the planning tool: {status} ({created} created, {updated} updated, "
            f"{deleted} deleted, {rejected} rejected){' - failing: ' + failing if failing else ''}"
        )
    cells = Path(path).parent / "anaplan.sqlite"
    if cells.exists():
        print(f"Local planning server holds {len(read_cells(cells))} forecast cells ({cells})")


def main() -> None:
    path = settings.duckdb_database()
    with duckdb.connect(path, read_only=True) as con:
        tables = con.execute(
            "select table_schema, count(*) from information_schema.tables"
            " where table_schema like 'raw_%'"
            " or table_schema in ('staging', 'intermediate', 'marts', 'restricted', 'sync', 'reverse_sync')"
            " group by 1 order by 1"
        ).fetchall()
    print()
    print(f"Warehouse: {path}")
    for schema, count in tables:
        print(f"  {schema:<14} {count:>3} tables/views")
    print(f"Landing files: {settings.landing_dir()}")
    _print_sync(path)
    print("Open the Dagster UI with `make ui`, then http://127.0.0.1:3000")
    query = f"import duckdb; duckdb.connect('{path}').sql('show all tables').show()"
    print(f'Query it from Python: .venv/bin/python -c "{query}"')


if __name__ == "__main__":
    main()
