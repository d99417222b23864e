"""Publishing the marts to readers (BI tools), after the gate passed; see orchestration/defs/publish/snapshot.py."""

import json

import dagster as dg

from orchestration.defs.publish.snapshot import READER_SCHEMA, comments_from_manifest, publish_schema, publish_snapshot
from orchestration.defs.reverse_sync.gate import PipelineGraph, evaluate_gate
from orchestration.defs.transform.assets import dbt_models, dbt_project
from orchestration.lib import settings
from orchestration.lib.warehouse import WRITER_POOL, Warehouse

READER_MARTS = dg.AssetKey(["reader", "marts"])
MART_KEYS = sorted((key for key in dbt_models.keys if key.path[0] == "marts"), key=lambda k: k.to_user_string())


@dg.asset(
    key=READER_MARTS,
    deps=MART_KEYS,
    group_name="publish",
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    pool=WRITER_POOL,
    op_tags={"dagster/priority": "-10"},  # after the revenue path (ingest, marts, gate, sync)
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS),
    description="The analyst-facing marts, published to READER_DATABASE for BI tools once every blocking check "
    "upstream passed. Swapped in by one atomic rename: readers never see half-built marts and never block a run.",
)
def reader_marts(
    context: dg.AssetExecutionContext, warehouse: Warehouse, pipeline_graph: dg.ResourceParam[PipelineGraph]
) -> dg.MaterializeResult:
    gate = evaluate_gate(context.instance, pipeline_graph.graph, READER_MARTS)
    on_postgres = warehouse.dialect == "postgres"  # readers use schema `reader` of the database there
    reader = f"schema {READER_SCHEMA}" if on_postgres else settings.reader_database(warehouse.database)
    if not gate.passed:
        raise dg.Failure(
            description=f"Not published: readers keep the previous snapshot in {reader}. "
            "Failing blocking checks: " + "; ".join(gate.failing),
            metadata={"failing_checks": dg.MetadataValue.json(gate.failing)},
            allow_retries=False,
        )
    comments = comments_from_manifest(json.loads(dbt_project.manifest_path.read_text()))  # the dbt docs
    with warehouse.connect() as con:
        result = (
            publish_schema(con, context.run.run_id, comments)
            if on_postgres
            else publish_snapshot(con, reader, context.run.run_id, comments)
        )
    context.log.info(f"published {len(result.tables)} tables to {result.path}")
    return dg.MaterializeResult(
        metadata={
            "reader_database": dg.MetadataValue.path(
                result.path if not on_postgres else f"{warehouse.describe()}/{READER_SCHEMA}"
            ),
            "tables": len(result.tables),
            "dagster/row_count": sum(result.tables.values()),
            "rows_by_table": dg.MetadataValue.json(result.tables),
            "published_at_utc": result.published_at,
            "checks_passed": gate.checks_evaluated,
        }
    )
