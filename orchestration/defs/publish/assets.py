"""Publishing the marts to readers (BI tools), after the gate passed; see orchestration/defs/publish/snapshot.py.

Only the marts materialized since the readers' snapshot are copied, unless rebuilt with the very rows
readers hold; the others are carried over from it, and when none was materialized nothing is
published. A run that rebuilds only some marts does not run this step (Dagster skips a step when an
input of it in the run was not produced, dagster issue #22242), so the automation condition below
requests it after such a run.
"""

import datetime as dt
import json
from collections.abc import Iterator

import dagster as dg

from orchestration.defs.publish.snapshot import (
    READER_SCHEMA,
    Materialization,
    PublishResult,
    comments_from_manifest,
    patch_keys_from_manifest,
    publish_schema,
    publish_snapshot,
    stamps_from_manifest,
)
from orchestration.defs.reverse_sync.gate import PipelineGraph, evaluate_gate
from orchestration.defs.transform.assets import dbt_models, dbt_project
from orchestration.lib import settings
from orchestration.lib.warehouse import WRITER_POOL, Warehouse

READER_MARTS = dg.AssetKey(["reader", "marts"])
MART_KEYS = sorted((key for key in dbt_models.keys if key.path[0] == "marts"), key=lambda k: k.to_user_string())

# When a mart changed and the publish did not follow in the same run: its step was skipped (the dbt
# step yielded only the marts it rebuilt) or not selected. Not AutomationCondition.eager(): its
# any_deps_updated ignores an update made by a run that planned reader/marts, when the run records its
# asset selection (launched from the UI, `dagster asset materialize` or a sensor;
# executed_with_root_target, dagster PR #25253), which is exactly the run that skipped it.
# - a mart was materialized since reader/marts last materialized or was requested (a publish in the
#   same run resets it: it materializes after the marts it copies);
# - no mart and not reader/marts itself is in a run still going: the run's own publish, or its last
#   marts, may still come, and the request waits for its end.
PUBLISH_CHANGED_MARTS = (
    dg.AutomationCondition.any_deps_match(dg.AutomationCondition.newly_updated())
    .with_label("a mart materialized")
    .since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("a mart changed since the last publish, no run of them in progress")

# Evaluates PUBLISH_CHANGED_MARTS (every 30 s, in the daemon); off by default as every sensor here.
publish_changed_marts = dg.AutomationConditionSensorDefinition(
    "publish_changed_marts",
    target=dg.AssetSelection.assets(READER_MARTS),
    run_tags={"dagster/priority": "-10"},
    description="Publishes to readers the marts a run rebuilt without publishing them (its reader/marts step "
    "was skipped or not selected), once no run of them is in progress.",
)


@dg.asset(
    key=READER_MARTS,
    deps=MART_KEYS,
    group_name="publish",
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    pool=WRITER_POOL,
    op_tags={"dagster/priority": "-10"},  # after the revenue path (ingest, marts, gate, sync)
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS),
    automation_condition=PUBLISH_CHANGED_MARTS,
    output_required=False,  # nothing changed: nothing published, no materialization
    description="The analyst-facing marts, published to READER_DATABASE for BI tools once every blocking check "
    "upstream passed. Only the marts materialized since the readers' snapshot are copied, the others carried "
    "over; swapped in by one atomic rename: readers never see half-built marts and never block a run.",
)
def reader_marts(
    context: dg.AssetExecutionContext, warehouse: Warehouse, pipeline_graph: dg.ResourceParam[PipelineGraph]
) -> Iterator[dg.MaterializeResult]:
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
    manifest = json.loads(dbt_project.manifest_path.read_text())
    comments = comments_from_manifest(manifest)  # the dbt docs
    stamps = stamps_from_manifest(manifest)  # columns a rebuild may change with nothing else (refreshed_at)
    patch_keys = patch_keys_from_manifest(manifest)  # marts patched by key instead of copied whole
    # Read before copying: a mart rebuilt meanwhile is copied newer than recorded, and copied again next time.
    latest = latest_materializations(context.instance, mart_tables(manifest))
    with warehouse.connect() as con:
        result = (
            publish_schema(con, context.run.run_id, comments, latest, stamps=stamps)
            if on_postgres
            else publish_snapshot(con, reader, context.run.run_id, comments, latest, stamps, patch_keys)
        )
    context.log.info(summary(result))
    if not result.published:
        return  # no output: Dagster records no materialization, readers' snapshot stands
    plan = result.plan
    yield dg.MaterializeResult(
        metadata={
            "reader_database": dg.MetadataValue.path(
                result.path if not on_postgres else f"{warehouse.describe()}/{READER_SCHEMA}"
            ),
            "tables": len(result.tables),
            "dagster/row_count": sum(result.tables.values()),
            "rows_by_table": dg.MetadataValue.json(result.tables),
            "copied": dg.MetadataValue.json(plan.copy),
            "carried_over": dg.MetadataValue.json(plan.carry),
            **({"patched": dg.MetadataValue.json(plan.patched)} if plan.patched else {}),
            **({"dropped": dg.MetadataValue.json(plan.drop)} if plan.drop else {}),
            **({"left_out": dg.MetadataValue.json(plan.left_out)} if plan.left_out else {}),
            "published_at_utc": result.published_at,
            "checks_passed": gate.checks_evaluated,
        }
    )


def mart_tables(manifest: dict) -> dict[str, dg.AssetKey]:
    """Each mart's table in the warehouse (`<schema>.<alias>`, as dbt builds it) and its asset."""
    unique_ids = {spec.key: spec.metadata["dagster_dbt/unique_id"] for spec in dbt_models.specs}
    nodes = {key: manifest["nodes"][unique_ids[key]] for key in MART_KEYS}
    return {f"{node['schema']}.{node['alias']}": key for key, node in nodes.items()}


def latest_materializations(
    instance: dg.DagsterInstance, tables: dict[str, dg.AssetKey]
) -> dict[str, Materialization | None]:
    """Each table's latest materialization of its mart in the instance (None: none on record)."""
    latest: dict[str, Materialization | None] = {}
    for table, key in tables.items():
        records = instance.fetch_materializations(key, limit=1).records
        latest[table] = (
            Materialization(
                records[0].storage_id,
                records[0].run_id,
                dt.datetime.fromtimestamp(records[0].timestamp, dt.UTC).replace(tzinfo=None),
            )
            if records
            else None
        )
    return latest


def summary(result: PublishResult) -> str:
    """What the publish copied, carried over, dropped and left out, and why, for the run's log."""
    plan = result.plan
    if not result.published:
        before = result.previous
        return (
            f"nothing published: no mart was materialized since the readers' snapshot in {result.path} "
            f"(published by run {before.run_id} at {before.published_at} UTC), which readers keep: "
            f"it holds the latest materialization of all {len(plan.carry)} marts"
        )
    lines = [
        f"published {len(result.tables)} tables to {result.path}: {len(plan.copy)} copied from the warehouse"
        + (f" ({len(plan.patched)} patched: only the rows of changed keys)" if plan.patched else "")
        + ", "
        f"{len(plan.carry)} carried over from the readers' snapshot (they hold the rows of their mart's latest"
        " materialization)"
    ]
    for title, tables in (("copied", plan.copy), ("dropped", plan.drop), ("left out", plan.left_out)):
        by_reason: dict[str, list[str]] = {}
        for table, why in tables.items():
            by_reason.setdefault(why, []).append(table)
        lines += [f"  {title} {', '.join(names)}: {why}" for why, names in by_reason.items()]
    same = sorted(plan.same_rows)
    if same:
        lines.append(f"  carried over {', '.join(same)}: rebuilt with the very rows readers hold (their fingerprint)")
    unchanged = [table for table in plan.carry if table not in plan.same_rows]
    if unchanged:
        lines.append(f"  carried over {', '.join(unchanged)}")
    return "\n".join(lines)
