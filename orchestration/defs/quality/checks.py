"""Check factory: one Dagster multi-asset check per raw table, running that table's suite through GX.

Every check of the suite is its own `AssetCheckSpec` on the raw asset, so the UI lists them per asset;
ERROR checks are blocking, so a broken raw table stops what reads it in the same run.
A run validates only what changed since each check's last evaluation (changes.py): a check on data
it already judged yields that verdict again, said to be kept, so the gate still finds it evaluated
on the latest data, and a failed ERROR verdict still fails and blocks.
"""

from collections.abc import Iterator
from dataclasses import replace

import dagster as dg

from orchestration.contract import SOURCE_OBJECTS, SourceObject
from orchestration.defs.quality import changes
from orchestration.defs.quality.changes import CHANGED_ROWS, KEPT, WHOLE, Decision, Plan
from orchestration.defs.quality.gx_runner import CheckOutcome, run_sql, run_suite
from orchestration.defs.quality.suites import DEFAULT_FRESHNESS_HOURS, KEYS, SuiteSpec, suite_for
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


def _result(
    key: dg.AssetKey, outcome: CheckOutcome, decision: Decision, plan: Plan, run_id: str
) -> dg.AssetCheckResult:
    metadata: dict[str, dg.MetadataValue | str | int | bool] = {
        "observed": outcome.observed,
        "unexpected_count": outcome.unexpected_count,
        "failing_sample": dg.MetadataValue.json(list(outcome.sample)),
    }
    if outcome.error:
        metadata["error"] = outcome.error
    validated = plan.changed_rows if decision.action == CHANGED_ROWS else decision.action
    if decision.action == CHANGED_ROWS and decision.check.scope == KEYS:
        validated += f" and the rows sharing their {', '.join(decision.check.keys)}"
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity(outcome.severity.value),
        metadata={**metadata, **_provenance(decision, plan.relation, run_id, validated=validated)},
        description=outcome.description,
    )


def _provenance(decision: Decision, relation: str, run_id: str, **extra: str) -> dict:
    """What the verdict was evaluated on, and by which run: what the next run compares (changes.py)."""
    return {
        "evaluated_on": dg.MetadataValue.json(decision.key),
        "data_version": decision.key["tables"][relation]["version"],
        "verdict_from_run": run_id,
        "kept": False,
        **extra,
    }


def _kept(key: dg.AssetKey, decision: Decision) -> dg.AssetCheckResult:
    """The last verdict again, as this run's evaluation (the gate judges the latest), said to be kept."""
    last = decision.last
    assert last is not None  # KEPT needs a last evaluation
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=decision.check.name,
        passed=last.passed,
        severity=last.severity,
        metadata={**last.metadata, "kept": True, "verdict_from_run": last.run_id},
        description=f"unchanged since run {last.run_id}: {decision.check.description}",
    )


def _log_failures(context: dg.AssetCheckExecutionContext, plan: Plan, outcomes: list[CheckOutcome]) -> None:
    for o in outcomes:
        if not o.passed:
            sample = list(o.sample[:3])
            context.log.warning(f"{plan.relation} {o.name} [{o.severity.value}]: {o.observed}; sample {sample}")
    for d in plan.decisions:
        if d.action == KEPT and d.last is not None and not d.last.passed:
            observed = d.last.metadata.get("observed")
            context.log.warning(
                f"{plan.relation} {d.check.name} [{d.last.severity.value}]: still failing, unchanged since run "
                f"{d.last.run_id}: {observed.value if observed is not None else ''}"
            )


def _plan(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse, suite: SuiteSpec, key: dg.AssetKey
) -> tuple[Plan, list[CheckOutcome]]:
    """What this run validates of `suite` and what it keeps (changes.py); the every-run checks' outcomes."""
    lasts = changes.last_evaluations(context.instance, [dg.AssetCheckKey(key, c.name) for c in suite.checks])
    everything = changes.revalidate_reason(context.run.tags)
    keep_whole = changes.keeps_whole_verdicts(context.run.tags)
    tables = sorted({t for c in suite.checks for t in changes.tables_read(suite, c)})
    with warehouse.connect(read_only=True) as con:
        # A run that validates everything reads the rows' fingerprint of every table: the nightly keeps
        # what was validated whole on these very rows. A whole-table validation records it.
        state = changes.table_state(con, tables, content=everything is not None)
        plan = Plan(suite.relation, changes.decide(suite, state, lasts, warehouse.dialect, everything, keep_whole))
        changes.resolve_rows(con, plan)
        changes.fingerprint_whole(con, plan)
        every_run = plan.checks(changes.EVERY_RUN)
        return plan, run_sql(con, replace(suite, checks=every_run)) if every_run else []


def build_raw_quality_check(obj: SourceObject) -> dg.AssetChecksDefinition:
    """The checks on `raw_<system>.<object>`: its suite, run in one GX validation, on what changed."""
    key = dg.AssetKey([obj.schema, obj.name])
    template = suite_for(obj)

    @dg.multi_asset_check(
        name=f"{obj.schema}__{obj.name}__quality",
        specs=_specs(template, key),
        can_subset=True,
        pool=WRITER_POOL,  # reads the DuckDB file, which another process's writer would have locked
        op_tags={"dagster/priority": "25"},  # the gate needs them: on the revenue-critical path
        description=f"Great Expectations suite on {template.relation}, validated on what changed since its last run.",
    )
    def _quality(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse, raw_quality: RawQualityConfig
    ) -> Iterator[dg.AssetCheckResult]:
        selected = {k.name for k in context.selected_asset_check_keys}
        suite = suite_for(obj, raw_quality.freshness_hours, dialect=warehouse.dialect).only(selected)
        plan, outcomes = _plan(context, warehouse, suite, key)
        context.log.info(plan.summary())
        to_validate = replace(suite, checks=plan.checks(WHOLE, CHANGED_ROWS), rows_where=plan.rows_where)
        if to_validate.checks:  # GX is imported only here
            outcomes += _validate(warehouse, to_validate)
        _log_failures(context, plan, outcomes)
        by_name = {o.name: o for o in outcomes}
        for decision in plan.decisions:
            if decision.action == KEPT:
                yield _kept(key, decision)
            else:
                yield _result(key, by_name[decision.check.name], decision, plan, context.run.run_id)

    return _quality


def _validate(warehouse: Warehouse, suite: SuiteSpec) -> list[CheckOutcome]:
    if warehouse.dialect == "postgres":
        return run_suite("", suite, postgres_connect=lambda: warehouse.raw_connection(read_only=True))
    config = {"threads": warehouse.threads, "memory_limit": warehouse.memory_limit}
    return run_suite(warehouse.database, suite, duckdb_config=config)


def build_raw_quality_checks() -> list[dg.AssetChecksDefinition]:
    """One multi-asset check per landing-contract object."""
    return [build_raw_quality_check(obj) for obj in SOURCE_OBJECTS]
