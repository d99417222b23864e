"""Reverse sync of the forecast inputs to the planning tool (Anaplan Integration API v2).

One asset per sync, downstream of its dedicated dbt model `sync_planning__forecast_inputs`
(the dagster-open-platform pattern). The asset checks its own gate before it sends anything.
The aggregate checks below have ERROR severity, which the gate treats as blocking; they are not
Dagster-blocking, so a failing one lets the sync step run, record `blocked` and say why. Three of
them refuse a hollow forecast: an empty sync model, no current plan version, and a model that
drops a legal entity, practice or line item the last sync to this target sent.
"""

import time

import dagster as dg

from orchestration.defs.reverse_sync.anaplan import AnaplanResource
from orchestration.defs.reverse_sync.gate import PipelineGraph, evaluate_gate
from orchestration.defs.reverse_sync.state import (
    Diff,
    Rejection,
    RunRecord,
    SyncSpec,
    SyncTarget,
    compute_diff,
    current_plan_versions,
    dropped_members,
    last_synced,
    log_changes,
    record_run,
    send,
)
from orchestration.lib import settings
from orchestration.lib.dialect import json_field, month_label
from orchestration.lib.warehouse import WRITER_POOL, Warehouse

SYNC_INPUT = dg.AssetKey(["sync", "sync_planning__forecast_inputs"])
SYNC_KEY = dg.AssetKey(["anaplan", "forecast_inputs"])
SPEC = SyncSpec(
    name="planning__forecast_inputs",
    model="sync.sync_planning__forecast_inputs",
    key_columns={
        "Legal Entity": "legal_entity_code",
        "Practice": "practice",
        "Month": lambda dialect: month_label("month_start_date", dialect),
        "Line Item": "line_item",
        "Version": "plan_version_code",
    },
    value_column=("Value", "value"),
    audit_column="Audit Run Id",
    required_members=("Legal Entity", "Practice", "Line Item"),
)
REJECTIONS_CHECK = "no_rows_rejected"
MEMBERS_CHECK = "no_members_dropped"
REJECTIONS_SHOWN = 50  # rejected rows named in the check's metadata (all are in sync_rejections)


class AnaplanImport(dg.ConfigurableResource):
    """The sync's import in the `anaplan` model: its data source file and import action (ANAPLAN_FILE_ID,
    ANAPLAN_IMPORT_ID)."""

    file_id: str
    import_id: str

    def target(self, anaplan: AnaplanResource) -> SyncTarget:
        """What the sync state is keyed by: API URL, workspace, model and import (no credentials)."""
        return SyncTarget(anaplan.api_url, anaplan.workspace_id, anaplan.model_id, self.import_id)


class ForecastSyncConfig(dg.Config):
    """Run config of the sync."""

    dry_run: bool = False  # report creates/updates/deletes/invalid rows; send and advance nothing
    max_change_share: float = 0.5  # refuse to send when changed rows exceed this share of synced rows
    allow_large_change: bool = False  # override the guard for an intended large change
    allow_dropped_members: bool = False  # send although an entity, practice or line item was dropped (intended)


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def _metadata(diff: Diff, target: SyncTarget, **extra: object) -> dict:
    return {
        "rows_created": len(diff.creates),
        "rows_updated": len(diff.updates),
        "rows_deleted": len(diff.deletes),
        "rows_invalid": len(diff.invalid),
        "forecast_total_sent": round(diff.desired_total, 2),
        "sync_target": target.key,
        **({"legacy_state_adopted": diff.legacy_adopted} if diff.legacy_adopted else {}),
        **extra,
    }


def _guard_message(diff: Diff, config: ForecastSyncConfig) -> str | None:
    synced_rows = diff.synced_rows
    if config.allow_large_change or synced_rows == 0:
        return None
    share = len(diff.changes) / synced_rows
    if share <= config.max_change_share:
        return None
    return (
        f"Refused: {len(diff.changes)} changed rows are {share:.0%} of the {synced_rows} synced rows, above "
        f"max_change_share {config.max_change_share:.0%}. Re-run with allow_large_change: true if intended."
    )


def _live_checks(warehouse: Warehouse, target: SyncTarget, config: ForecastSyncConfig, log) -> dict:
    live = {dg.AssetCheckKey(SYNC_INPUT, name): check(warehouse, target) for name, check in AGGREGATE_CHECKS.items()}
    members = dg.AssetCheckKey(SYNC_INPUT, MEMBERS_CHECK)
    if config.allow_dropped_members and not live[members].passed:
        log.warning(f"allow_dropped_members: sending although {live[members].description}")
        result = live[members]
        live[members] = dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN, description=result.description, metadata=result.metadata
        )
    return live


@dg.asset(
    key=SYNC_KEY,
    deps=[SYNC_INPUT],
    group_name="reverse_sync",
    kinds={"anaplan"},
    pool=WRITER_POOL,
    op_tags={"dagster/priority": "10"},  # the end of the revenue-critical path: before publish and analytics
    check_specs=[
        dg.AssetCheckSpec(
            REJECTIONS_CHECK,
            asset=SYNC_KEY,
            description="The planning tool accepted every row sent (WARN): rejected rows are named with "
            "their reasons from Anaplan's failure dump, kept in reverse_sync.sync_rejections and sent again next run.",
        )
    ],
    description="Writes the forecast inputs to the planning tool: only new, changed and removed rows since "
    "the last successful sync to this target, after checking that every blocking check upstream passed.",
)
def anaplan_forecast_inputs(
    context: dg.AssetExecutionContext,
    config: ForecastSyncConfig,
    warehouse: Warehouse,
    anaplan: AnaplanResource,
    anaplan_import: AnaplanImport,
    pipeline_graph: dg.ResourceParam[PipelineGraph],
) -> dg.MaterializeResult:
    target = anaplan_import.target(anaplan)
    run = RunRecord(
        run_id=context.run.run_id, sync_name=SPEC.name, started_at=_now(), status="blocked", target=target.key
    )
    live = _live_checks(warehouse, target, config, context.log)
    gate = evaluate_gate(context.instance, pipeline_graph.graph, SYNC_INPUT, live)
    for warning in gate.warnings:
        context.log.warning(f"non-blocking check failed: {warning}")
    if not gate.passed:
        run.failing_checks, run.message = gate.failing, "blocking checks failed; nothing sent"
        with warehouse.connect() as con:
            record_run(con, run)
        raise dg.Failure(
            description="Blocked: nothing sent. Failing blocking checks: " + "; ".join(gate.failing),
            metadata={"failing_checks": dg.MetadataValue.json(gate.failing), "sync_target": target.key},
        )
    with warehouse.connect() as con:
        diff = compute_diff(con, SPEC, target)
        run.created, run.updated, run.deleted = len(diff.creates), len(diff.updates), len(diff.deletes)
        run.invalid = len(diff.invalid)
        refusal = _guard_message(diff, config)
        if config.dry_run or refusal:
            run.status, run.message = ("dry_run", "dry run: nothing sent") if config.dry_run else ("blocked", refusal)
            log_changes(con, SPEC, target, diff, run.run_id, dry_run=True)
            record_run(con, run)
    if refusal and not config.dry_run:
        raise dg.Failure(description=refusal, metadata=_metadata(diff, target))
    if config.dry_run:
        context.log.info(
            f"dry run: {len(diff.creates)} creates, {len(diff.updates)} updates, "
            f"{len(diff.deletes)} deletes, {len(diff.invalid)} invalid rows"
        )
        nothing_sent = dg.AssetCheckResult(
            check_name=REJECTIONS_CHECK, passed=True, severity=dg.AssetCheckSeverity.WARN, metadata={"dry_run": True}
        )
        return dg.MaterializeResult(metadata=_metadata(diff, target, dry_run=True), check_results=[nothing_sent])
    return _send(context, anaplan, anaplan_import, warehouse, target, diff, run)


def _send(
    context: dg.AssetExecutionContext,
    anaplan: AnaplanResource,
    anaplan_import: AnaplanImport,
    warehouse: Warehouse,
    target: SyncTarget,
    diff: Diff,
    run: RunRecord,
) -> dg.MaterializeResult:
    client = anaplan.client()
    rejected = send(
        warehouse.connect,
        SPEC,
        target,
        diff,
        run,
        lambda content: client.import_csv(anaplan_import.file_id, anaplan_import.import_id, content),
    )
    context.log.info(f"{SPEC.name} to {target.key}: {run.message}")
    if diff.legacy_adopted:
        context.log.warning(
            f"adopted {diff.legacy_adopted} sync state rows recorded before the state was keyed by target as the "
            f"state of {target.key}: every row was sent again and rows no longer in the model were cleared"
        )
    metadata = _metadata(diff, target, **client.stats.metadata())
    metadata |= {"rows_created": run.created, "rows_updated": run.updated, "rows_deleted": run.deleted}
    return dg.MaterializeResult(
        metadata={**metadata, "rows_rejected": len(rejected)}, check_results=[_rejections_check(rejected)]
    )


def _rejections_check(rejected: dict[str, Rejection]) -> dg.AssetCheckResult:
    """WARN: the rows the target rejected, by key, with their line in the import file and every reason."""
    shown = sorted(rejected.values(), key=lambda r: (r.line is None, r.line or 0, r.record_key))[:REJECTIONS_SHOWN]
    rows = "\n".join(f"| {r.record_key} | {r.line if r.line is not None else ''} | {r.reason} |" for r in shown)
    metadata: dict = {"rows_rejected": len(rejected)}
    if rejected:
        more = (
            f"\n\n{len(rejected) - len(shown)} more in reverse_sync.sync_rejections"
            if len(rejected) > len(shown)
            else ""
        )
        metadata["rejected"] = dg.MetadataValue.md(f"| key | import line | reason |\n| --- | --- | --- |\n{rows}{more}")
        metadata["rejected_keys"] = dg.MetadataValue.json({r.record_key: r.reason for r in shown})
    first = "; ".join(f"{r.record_key}: {r.reason}" for r in shown[:3])
    return dg.AssetCheckResult(
        check_name=REJECTIONS_CHECK,
        passed=not rejected,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(rejected)} rows rejected by the planning tool, e.g. {first}" if rejected else None,
        metadata=metadata,
    )


def _scalar(warehouse: Warehouse, sql: str, params: list | None = None) -> object:
    with warehouse.connect(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()[0][0]


def _result(passed: bool, description: str, **metadata: object) -> dg.AssetCheckResult:
    """An ERROR result that says what is wrong when it fails."""
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if passed else description,
        metadata=metadata,
    )


def check_no_unconverted_currency(warehouse: Warehouse, target: SyncTarget) -> dg.AssetCheckResult:
    """No forecast amount is left unconverted (missing FX)."""
    forecast_nulls = _scalar(
        warehouse,
        "select count(*) from marts.fct_revenue_forecast where is_forecast and total_forecast_revenue is null",
    )
    sync_nulls = _scalar(warehouse, f"select count(*) from {SPEC.model} where value is null")
    return dg.AssetCheckResult(
        passed=forecast_nulls == 0 and sync_nulls == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"forecast_rows_unconverted": forecast_nulls, "sync_rows_without_value": sync_nulls},
    )


def check_exception_share(warehouse: Warehouse, target: SyncTarget) -> dg.AssetCheckResult:
    """Share of approved time entries that could not be valued, under SYNC_MAX_EXCEPTION_SHARE."""
    threshold = float(settings.setting("SYNC_MAX_EXCEPTION_SHARE"))
    exceptions = _scalar(
        warehouse,
        "select count(distinct record_id) from marts.fct_valuation_exceptions where record_type = 'time_entry'",
    )
    entries = _scalar(warehouse, "select count(*) from marts.fct_time_entries where is_approved")
    share = exceptions / entries if entries else 0.0
    return dg.AssetCheckResult(
        passed=share <= threshold,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "exception_rows": exceptions,
            "approved_time_entries": entries,
            "share": share,
            "threshold": threshold,
        },
    )


def check_forecast_change(warehouse: Warehouse, target: SyncTarget) -> dg.AssetCheckResult:
    """Total forecast against the last version synced to this target, within SYNC_MAX_TOTAL_CHANGE."""
    threshold = float(settings.setting("SYNC_MAX_TOTAL_CHANGE"))
    line = "'Forecast Revenue'"
    new_total = float(_scalar(warehouse, f"select coalesce(sum(value), 0) from {SPEC.model} where line_item = {line}"))
    with warehouse.connect(read_only=True) as con:
        state, params = last_synced(con, SPEC, target)
        old = con.execute(
            f"select count(*), sum(value) from {state} s where {json_field('payload', 'Line Item')} = {line}", params
        ).fetchall()[0]
    if not old[0]:
        return dg.AssetCheckResult(passed=True, metadata={"new_total": new_total, "note": "no previous sync"})
    old_total = float(old[1])
    change = abs(new_total - old_total) / abs(old_total) if old_total else float(new_total != 0)
    return _result(
        change <= threshold,
        f"the forecast total changed by {change:.0%} since the last sync ({old_total:,.2f} to {new_total:,.2f}), "
        f"above SYNC_MAX_TOTAL_CHANGE {threshold:.0%}",
        new_total=new_total,
        last_synced_total=old_total,
        change=change,
        threshold=threshold,
    )


def check_sync_input_not_empty(warehouse: Warehouse, target: SyncTarget) -> dg.AssetCheckResult:
    """The sync model has rows: an empty forecast is never sent (it would clear every cell synced before)."""
    rows = _scalar(warehouse, f"select count(*) from {SPEC.model}")
    return _result(rows > 0, f"{SPEC.model} is empty: there is no forecast to send", rows=rows)


def check_current_plan_version(warehouse: Warehouse, target: SyncTarget) -> dg.AssetCheckResult:
    """There is a current plan version (raw_planning.plan_version, `Is Current`): the version the sync sends."""
    with warehouse.connect(read_only=True) as con:
        current = current_plan_versions(con)
    found = "does not exist" if current is None else 'has no row with "Is Current" true'
    return _result(
        bool(current),
        f"no current plan version: raw_planning.plan_version {found} "
        "(the planning landing file planning/Plan_Versions.csv, or the planning API's Plan_Versions export)",
        current_plan_versions=current or 0,
    )


def check_no_members_dropped(warehouse: Warehouse, target: SyncTarget) -> dg.AssetCheckResult:
    """Every legal entity, practice and line item the last sync to this target sent is still in the sync model."""
    with warehouse.connect(read_only=True) as con:
        dropped = dropped_members(con, SPEC, target)
    listed = "; ".join(f"{column} {', '.join(members)}" for column, members in dropped.items())
    return _result(
        not dropped,
        f"{SPEC.model} drops what the last sync to this target sent: {listed} "
        "(re-run the sync with allow_dropped_members: true if intended)",
        dropped=dg.MetadataValue.json(dropped),
    )


# Each aggregate check is an asset check on the sync model (visible in the UI, ERROR severity)
# and is evaluated again, live, by the sync's gate: in one run the sync step may run before them.
AGGREGATE_CHECKS = {
    "no_unconverted_currency": check_no_unconverted_currency,
    "exception_share_under_threshold": check_exception_share,
    "forecast_change_within_threshold": check_forecast_change,
    "sync_input_not_empty": check_sync_input_not_empty,
    "current_plan_version_exists": check_current_plan_version,
    MEMBERS_CHECK: check_no_members_dropped,
}


def _as_asset_check(name: str, check) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=SYNC_INPUT, name=name, description=check.__doc__, pool=WRITER_POOL)
    def _check(warehouse: Warehouse, anaplan: AnaplanResource, anaplan_import: AnaplanImport) -> dg.AssetCheckResult:
        return check(warehouse, anaplan_import.target(anaplan))

    return _check
