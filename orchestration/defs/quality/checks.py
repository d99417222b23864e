"""Check factory: one Dagster multi-asset check per raw table, running that table's suite through GX.

Every check of the suite is its own `AssetCheckSpec` on the raw asset, so the UI lists them per asset;
ERROR checks are blocking, so a broken raw table stops what reads it in the same run.
"""

from collections.abc import Iterator

import dagster as dg

from orchestration.contract import SOURCE_OBJECTS, SourceObject
from orchestration.defs.quality.gx_runner import CheckOutcome, run_suite
from orchestration.defs.quality.suites import DEFAULT_FRESHNESS_HOURS, SuiteSpec, suite_for
from orchestration.lib.warehouse import WRITER_POOL, Warehouse


class RawQualityConfig(dg.ConfigurableResource):
    """Thresholds of the raw-layer checks."""

    freshness_hours: float = DEFAULT_FRESHNESS_HOURS


def _specs(suite: SuiteSpec, key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            check.name,
            asset=key,
            description=f"[{check.severity.value}] {check.description}",
            blocking=check.blocking,
            # Checks that read other raw tables run after those tables load in the same run.
            additional_deps=[dg.AssetKey(r.split(".")) for r in check.reads if r != suite.relation],
            metadata={"severity": check.severity.value, "category": check.category},
        )
        for check in suite.checks
    ]


def _result(key: dg.AssetKey, outcome: CheckOutcome) -> dg.AssetCheckResult:
    metadata: dict[str, dg.MetadataValue | str | int] = {
        "observed": outcome.observed,
        "unexpected_count": outcome.unexpected_count,
        "failing_sample": dg.MetadataValue.json(list(outcome.sample)),
    }
    if outcome.error:
        metadata["error"] = outcome.error
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity(outcome.severity.value),
        metadata=metadata,
        description=outcome.description,
    )


def _log_failures(context: dg.AssetCheckExecutionContext, relation: str, outcomes: list[CheckOutcome]) -> None:
    for o in outcomes:
        if not o.passed:
            context.log.warning(f"{relation} {o.name} [{o.severity.value}]: {o.observed}; sample {list(o.sample[:3])}")


def build_raw_quality_check(obj: SourceObject) -> dg.AssetChecksDefinition:
    """The checks on `raw_<system>.<object>`: its suite, run in one GX validation."""
    key = dg.AssetKey([obj.schema, obj.name])
    template = suite_for(obj)

    @dg.multi_asset_check(
        name=f"{obj.schema}__{obj.name}__quality",
        specs=_specs(template, key),
        can_subset=True,
        pool=WRITER_POOL,  # reads the DuckDB file, which another process's writer would have locked
        op_tags={"dagster/priority": "25"},  # the gate needs them: on the revenue-critical path
        description=f"Great Expectations suite on {template.relation}.",
    )
    def _quality(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse, raw_quality: RawQualityConfig
    ) -> Iterator[dg.AssetCheckResult]:
        selected = {k.name for k in context.selected_asset_check_keys}
        suite = suite_for(obj, raw_quality.freshness_hours, dialect=warehouse.dialect).only(selected)
        if warehouse.dialect == "postgres":
            outcomes = run_suite("", suite, postgres_connect=lambda: warehouse.raw_connection(read_only=True))
        else:
            config = {"threads": warehouse.threads, "memory_limit": warehouse.memory_limit}
            outcomes = run_suite(warehouse.database, suite, duckdb_config=config)
        _log_failures(context, suite.relation, outcomes)
        for outcome in outcomes:
            yield _result(key, outcome)

    return _quality


def build_raw_quality_checks() -> list[dg.AssetChecksDefinition]:
    """One multi-asset check per landing-contract object."""
    return [build_raw_quality_check(obj) for obj in SOURCE_OBJECTS]
