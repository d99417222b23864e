"""Printed at the end of `make demo`: where the warehouse is, what is in it, how to look at it."""

from __future__ import annotations

from pathlib import Path

from demo.servers.anaplan.module import read_cells
from orchestration.lib import settings
from orchestration.lib.dialect import table_exists
from orchestration.lib.warehouse import Warehouse, warehouse_resource

SCHEMAS = (
    "table_schema like 'raw_%'"
    " or table_schema in ('staging', 'intermediate', 'marts', 'restricted', 'sync', 'reverse_sync')"
)


def _print_sync(con) -> None:
    """The last reverse sync and what the local planning server holds."""
    run = []
    if table_exists(con, "reverse_sync", "sync_runs"):
        run = con.execute(
            "select status, rows_created, rows_updated, rows_deleted, rows_rejected, failing_checks"
            " from reverse_sync.sync_runs order by finished_at desc limit 1"
        ).fetchall()
    if run:
        status, created, updated, deleted, rejected, failing = run[0]
        print(
            f"Last sync to the planning tool: {status} ({created} created, {updated} updated, "
            f"{deleted} deleted, {rejected} rejected){' - failing: ' + failing if failing else ''}"
        )
    cells = Path(settings.duckdb_database()).parent / "anaplan.sqlite"  # the Makefile's planning server
    if cells.exists():
        print(f"Local planning server holds {len(read_cells(cells))} forecast cells ({cells})")


def _how_to_query(warehouse: Warehouse) -> str:
    if warehouse.dialect == "postgres":
        config = settings.postgres_config()
        return (
            f"Query it with any PostgreSQL client: psql -h {config['host']} -p {config['port']} -U {config['user']}"
            f" {config['database']} -c 'select * from marts.fct_project_margin limit 5'"
        )
    query = f"import duckdb; duckdb.connect('{warehouse.describe()}').sql('show all tables').show()"
    return f'Query it from Python: .venv/bin/python -c "{query}"'


def main() -> None:
    warehouse = warehouse_resource()
    with warehouse.connect(read_only=True) as con:
        tables = con.execute(
            f"select table_schema, count(*) from information_schema.tables where {SCHEMAS} group by 1 order by 1"
        ).fetchall()
        print()
        print(f"Warehouse: {warehouse.describe()}")
        for schema, count in tables:
            print(f"  {schema:<14} {count:>3} tables/views")
        print(f"Landing files: {settings.landing_dir()}")
        _print_sync(con)
    print("Open the Dagster UI with `make ui`, then http://127.0.0.1:3000")
    print(_how_to_query(warehouse))


if __name__ == "__main__":
    main()
