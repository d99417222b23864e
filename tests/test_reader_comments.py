"""The reader database describes itself: table and column comments from the dbt docs (issue 13, item 6).

Kind: unit (fast; `make test-fast`), but the PostgreSQL test: integration (a server of its own database).
"""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration.defs.publish.snapshot import comments_from_manifest, publish_snapshot
from orchestration.defs.transform.assets import dbt_project


@pytest.mark.unit
def test_the_published_tables_and_columns_carry_the_dbt_docs(tmp_path) -> None:
    warehouse, reader = tmp_path / "warehouse.duckdb", tmp_path / "reader.duckdb"
    comments = {"fct_hours": ("Hours per project and month.", {"hours": "Approved hours; it's in hours, not days."})}
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.fct_hours (project_id varchar, hours decimal(9, 2))")
        publish_snapshot(con, reader, "run-1", comments)
    with duckdb.connect(str(reader), read_only=True) as con:
        tables = con.execute("select table_name, comment from duckdb_tables() where schema_name = 'marts'").fetchall()
        columns = con.execute(
            "select column_name, comment from duckdb_columns() where schema_name = 'marts' order by column_index"
        ).fetchall()
    assert tables == [("fct_hours", "Hours per project and month.")]
    assert columns == [("project_id", None), ("hours", "Approved hours; it's in hours, not days.")]


@pytest.mark.unit
def test_the_comments_come_from_the_models_docs_with_their_units() -> None:
    comments = comments_from_manifest(json.loads(dbt_project.manifest_path.read_text()))
    described, columns = comments["fct_utilization"]
    assert described.startswith("Billable utilization per resource and month")
    assert "(0.7321 = 73.21 %)" in columns["billable_utilization"]  # a 0-1 ratio, said so
    assert "stg_psa__projects" not in comments and "int_worker_cost_rates" not in comments  # marts only


@pytest.mark.integration
def test_the_reader_schema_on_postgresql_carries_the_same_comments(postgres_database) -> None:
    from orchestration.defs.publish.snapshot import publish_schema
    from orchestration.lib.postgres import PgConnection, connect_raw

    con = PgConnection(connect_raw(**postgres_database("reader_comments")))
    try:
        con.execute("create schema marts")
        con.execute("create table marts.fct_hours (project_id varchar, hours numeric(9, 2))")
        publish_schema(con, "run-1", {"fct_hours": ("Hours per project.", {"hours": "Approved hours; it's hours."})})
        table = con.execute("select obj_description('reader.fct_hours'::regclass, 'pg_class')").fetchall()
        column = con.execute("select col_description('reader.fct_hours'::regclass, 2)").fetchall()
    finally:
        con.raw.close()
    assert (table, column) == ([("Hours per project.",)], [("Approved hours; it's hours.",)])
