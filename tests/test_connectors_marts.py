"""`make demo SOURCE=api`'s promise: for the same seed, the API path builds the same marts as the file path.

The small demo firm is served by the local Salesforce, NetSuite, Workday and Anaplan servers,
read by the API connectors into a second warehouse, and dbt builds on it; every mart must then
hold exactly the rows of the file path's build (`demo_build`), compared with EXCEPT ALL both ways.
Left out: marts about the pipeline's own runs (they read `models/intermediate/pipeline/`: load
times, sync runs), which differ between any two builds, and the load and build time columns.

Kind: demo (compared with the shared demo build).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo.servers.netsuite import demo_key_pair
from orchestration.contract import SYSTEMS
from orchestration.defs.ingest.api.assets import build_api_assets
from orchestration.lib.warehouse import DuckDBWarehouse
from tests.api_servers import api_servers
from tests.conftest import AS_OF

pytestmark = pytest.mark.demo
DBT_MODELS = Path(__file__).parents[1] / "dbt_project" / "models"


def about_pipeline_runs(mart: str) -> bool:
    """Does the mart read the pipeline's own run logs (a model of `intermediate/pipeline/`)?"""
    logs = [p.stem for p in (DBT_MODELS / "intermediate" / "pipeline").glob("*.sql")]
    sql = " ".join(p.read_text() for p in DBT_MODELS.glob(f"marts/*/{mart}.sql"))
    return any(f"ref('{name}')" in sql for name in logs)


def test_the_api_path_builds_the_same_marts_as_the_file_path(
    demo_build, small_landing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.definitions import defs
    from orchestration.defs import transform

    file_warehouse = demo_build[0]
    landing, _ = small_landing
    api_warehouse = tmp_path / "api.duckdb"
    monkeypatch.setenv("DUCKDB_DATABASE", str(api_warehouse))  # dbt's profile reads it
    monkeypatch.setenv("AS_OF_DATE", AS_OF.isoformat())
    key = demo_key_pair(tmp_path).read_text()
    with api_servers(landing, tmp_path, key, "demo-secret", small_pages=False) as servers:
        resources = {
            **defs.resources,
            **servers.resources,
            "warehouse": DuckDBWarehouse(database=str(api_warehouse), memory_limit="2GB"),
        }
        result = dg.materialize(
            [*(build_api_assets(system) for system in SYSTEMS), *transform.defs.assets],
            resources=resources,
            raise_on_error=False,
        )
    failed = [e.step_key for e in result.all_events if e.is_step_failure]
    assert failed == [], f"steps failed: {failed}"
    with duckdb.connect(str(api_warehouse)) as con:
        con.execute(f"attach '{file_warehouse}' as files (read_only)")
        marts = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_catalog = 'files' "
                "and table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        assert len(marts) >= 10
        marts = [m for m in marts if not about_pipeline_runs(m)]
        differing = {}
        for mart in marts:
            columns = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns where table_catalog = 'files' "
                    "and table_schema = 'marts' and table_name = ?"
                    " and column_name not in ('loaded_at', 'batch_id', 'refreshed_at')",
                    [mart],
                ).fetchall()
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            a, b = f"marts.{mart}", f"files.marts.{mart}"
            only_api, only_files = (
                con.execute(
                    f"select count(*) from (select {select} from {x} except all select {select} from {y})"
                ).fetchall()[0][0]
                for x, y in ((a, b), (b, a))
            )
            rows = con.execute(f"select count(*) from {b}").fetchall()[0][0]
            if only_api or only_files:
                differing[mart] = (only_api, only_files, rows)
        assert differing == {}, "marts differ (rows only in the API build, only in the file build, file rows)"
