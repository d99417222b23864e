"""Reverse sync of the forecast inputs to the planning tool (Anaplan Integration API v2).

One asset per sync, downstream of its dedicated dbt model `sync_planning__forecast_inputs`
(the dagster-open-platform pattern). The asset checks its own gate before it sends anything.
The aggregate checks below have ERROR severity, which the gate treats as blocking; they are not
Dagster-blocking, so a failing one lets the sync step run, record `blocked` and say why.
"""

import time

import dagster as dg

from orchestration.lib import settings
from orchestration.lib.anaplan.client import AnaplanClient, AnaplanSettings
from orchestration.lib.dialect import json_field, month_label, table_exists
from orchestration.lib.reverse_sync import (
    Diff,
    RunRecord,
    SyncSpec,
    commit_success,
    compute_diff,
    import_csv,
    log_changes,
    record_run,
    rejected_keys,
)
from orchestration.lib.sync_gate import evaluate_gate
from orchestration.lib.warehouse import WRITER_POOL, Warehouse

SYNC_INPUT = dg.AssetKey(["sync", "sync_planning__forecast_inputs"])
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
)


class AnaplanResource(dg.ConfigurableResource):
    """Anaplan Integration API v2 target; credentials and ids come from the environment."""

    api_url: str
    auth_url: str
    workspace_id: str
    model_id: str
    file_id: str
    import_id: str
    username: str
    password: str
    max_retries: int = 5
    timeout_seconds: float = 30.0
    task_timeout_seconds: float = 600.0  # how long to wait for the import task before giving up

    def client(self) -> AnaplanClient:
        return AnaplanClient(
            AnaplanSettings(
                api_url=self.api_url,
                auth_url=self.auth_url,
                workspace_id=self.workspace_id,
                model_id=self.model_id,
                username=self.username,
                password=self.password,
                max_retries=self.max_retries,
                timeout_seconds=self.timeout_seconds,
                task_timeout_seconds=self.task_timeout_seconds,
            )
        )


class ForecastSyncConfig(dg.Config):
    """Run config of the sync."""

    dry_run: bool = False  # report creates/updates/deletes/invalid rows; send and advance nothing
    max_change_share: float = 0.5  # refuse to send when changed rows exceed this share of synced rows
    allow_large_change: bool = False  # override the guard for an intended large change


def _full_asset_graph():
    """The whole graph, not the running job's subset: the gate must see every upstream check."""
    from orchestration.definitions import defs  # at run time: definitions import this module

    return defs.resolve_asset_graph()


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def _metadata(diff: Diff, **extra: object) -> dict:
    return {
        "rows_created": len(diff.creates),
        "rows_updated": len(diff.updates),
        "rows_deleted": len(diff.deletes),
        "rows_invalid": len(diff.invalid),
        "forecast_total_sent": round(diff.desired_total, 2),
        **extra,
    }


def _guard_message(diff: Diff, config: ForecastSyncConfig, synced_rows: int) -> str | None:
    if config.allow_large_change or synced_rows == 0:
        return None
    share = len(diff.changes) / synced_rows
    if share <= config.max_change_share:
        return None
    return (
        f"Refused: {len(diff.changes)} changed rows are {share:.0%} of the {synced_rows} synced rows, above "
        f"max_change_share {config.max_change_share:.0%}. Re-run with allow_large_change: true if intended."
    )


@dg.asset(
    key=dg.AssetKey(["anaplan", "forecast_inputs"]),
    deps=[SYNC_INPUT],
    group_name="reverse_sync",
    kinds={"anaplan"},
    pool=WRITER_POOL,
    op_tags={"dagster/priority": "10"},  # the end of the revenue-critical path: before publish and analytics
    description="Writes the forecast inputs to the planning tool: only new, changed and removed rows since "
    "the last successful sync, after checking that every blocking check upstream passed.",
)
def anaplan_forecast_inputs(
    context: dg.AssetExecutionContext,
    config: ForecastSyncConfig,
    warehouse: Warehouse,
    anaplan: AnaplanResource,
) -> dg.MaterializeResult:
    run = RunRecord(run_id=context.run.run_id, sync_name=SPEC.name, started_at=_now(), status="blocked")
    live = {dg.AssetCheckKey(SYNC_INPUT, name): check(warehouse) for name, check in AGGREGATE_CHECKS.items()}
    gate = evaluate_gate(context.instance, _full_asset_graph(), SYNC_INPUT, live)
    for warning in gate.warnings:
        context.log.warning(f"non-blocking check failed: {warning}")
    if not gate.passed:
        run.failing_checks, run.message = gate.failing, "blocking checks failed; nothing sent"
        with warehouse.connect() as con:
            record_run(con, run)
        raise dg.Failure(
            description="Blocked: nothing sent. Failing blocking checks: " + "; ".join(gate.failing),
            metadata={"failing_checks": dg.MetadataValue.json(gate.failing)},
        )
    with warehouse.connect() as con:
        diff = compute_diff(con, SPEC)
        synced_rows = con.execute(
            "select count(*) from reverse_sync.sync_state where sync_name = ?", [SPEC.name]
        ).fetchall()[0][0]
        run.created, run.updated, run.deleted, run.invalid = (
            len(diff.creates),
            len(diff.updates),
            len(diff.deletes),
            len(diff.invalid),
        )
        refusal = _guard_message(diff, config, synced_rows)
        if config.dry_run or refusal:
            run.status, run.message = ("dry_run", "dry run: nothing sent") if config.dry_run else ("blocked", refusal)
            log_changes(con, SPEC, diff, run.run_id, dry_run=True)
            record_run(con, run)
    if refusal and not config.dry_run:
        raise dg.Failure(description=refusal, metadata=_metadata(diff))
    if config.dry_run:
        context.log.info(
            f"dry run: {len(diff.creates)} creates, {len(diff.updates)} updates, "
            f"{len(diff.deletes)} deletes, {len(diff.invalid)} invalid rows"
        )
        return dg.MaterializeResult(metadata=_metadata(diff, dry_run=True))
    return _send(context, anaplan, warehouse, diff, run)


def _send(
    context: dg.AssetExecutionContext, anaplan: AnaplanResource, warehouse: Warehouse, diff: Diff, run: RunRecord
) -> dg.MaterializeResult:
    client = anaplan.client()
    rejected: dict[str, str] = {}
    if diff.changes:
        try:
            result = client.import_csv(anaplan.file_id, anaplan.import_id, import_csv(SPEC, diff, run.run_id))
        except Exception as err:
            run.status, run.message = "failed", str(err)
            with warehouse.connect() as con:
                record_run(con, run)
            raise
        rejected = rejected_keys(SPEC, result.rows_rejected)
    run.status, run.rejected = "success", len(rejected)
    run.message = f"{len(diff.changes) - len(rejected)} rows accepted, {len(rejected)} rejected"
    with warehouse.connect() as con:
        commit_success(con, SPEC, diff, run, rejected)
    context.log.info(f"{SPEC.name}: {run.message}")
    return dg.MaterializeResult(
        metadata=_metadata(diff, rows_rejected=len(rejected), api_calls=client.calls, api_retries=client.retries)
    )


def anaplan_resource(**overrides: object) -> AnaplanResource:
    """The target from the ANAPLAN_* environment; `overrides` for tuning (tests shorten timeouts)."""
    return AnaplanResource(
        api_url=dg.EnvVar("ANAPLAN_API_URL"),
        auth_url=dg.EnvVar("ANAPLAN_AUTH_URL"),
        workspace_id=dg.EnvVar("ANAPLAN_WORKSPACE_ID"),
        model_id=dg.EnvVar("ANAPLAN_MODEL_ID"),
        file_id=dg.EnvVar("ANAPLAN_FILE_ID"),
        import_id=dg.EnvVar("ANAPLAN_IMPORT_ID"),
        username=dg.EnvVar("ANAPLAN_USERNAME"),
        password=dg.EnvVar("ANAPLAN_PASSWORD"),
        **overrides,
    )


def _scalar(warehouse: Warehouse, sql: str) -> object:
    with warehouse.connect(read_only=True) as con:
        return con.execute(sql).fetchall()[0][0]


def check_no_unconverted_currency(warehouse: Warehouse) -> dg.AssetCheckResult:
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


def check_exception_share(warehouse: Warehouse) -> dg.AssetCheckResult:
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


def _last_synced_total(warehouse: Warehouse, line_item_sql: str) -> tuple[int, object]:
    """(rows, total) of one line item as last synced; (0, None) before the first sync."""
    with warehouse.connect(read_only=True) as con:
        if not table_exists(con, "reverse_sync", "sync_state"):
            return (0, None)
        return con.execute(
            "select count(*), sum(value) from reverse_sync.sync_state"
            f" where sync_name = ? and {json_field('payload', 'Line Item')} = {line_item_sql}",
            [SPEC.name],
        ).fetchall()[0]


def check_forecast_change(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Total forecast against the last synced version, within SYNC_MAX_TOTAL_CHANGE."""
    threshold = float(settings.setting("SYNC_MAX_TOTAL_CHANGE"))
    line = "'Forecast Revenue'"
    new_total = float(_scalar(warehouse, f"select coalesce(sum(value), 0) from {SPEC.model} where line_item = {line}"))
    old = _last_synced_total(warehouse, line)
    if not old[0]:
        return dg.AssetCheckResult(passed=True, metadata={"new_total": new_total, "note": "no previous sync"})
    old_total = float(old[1])
    change = abs(new_total - old_total) / abs(old_total) if old_total else float(new_total != 0)
    return dg.AssetCheckResult(
        passed=change <= threshold,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"new_total": new_total, "last_synced_total": old_total, "change": change, "threshold": threshold},
    )


# Each aggregate check is an asset check on the sync model (visible in the UI, ERROR severity)
# and is evaluated again, live, by the sync's gate: in one run the sync step may run before them.
AGGREGATE_CHECKS = {
    "no_unconverted_currency": check_no_unconverted_currency,
    "exception_share_under_threshold": check_exception_share,
    "forecast_change_within_threshold": check_forecast_change,
}


def _as_asset_check(name: str, check) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=SYNC_INPUT, name=name, description=check.__doc__, pool=WRITER_POOL)
    def _check(warehouse: Warehouse) -> dg.AssetCheckResult:
        return check(warehouse)

    return _check


defs = dg.Definitions(
    assets=[anaplan_forecast_inputs],
    asset_checks=[_as_asset_check(name, check) for name, check in AGGREGATE_CHECKS.items()],
    resources={"anaplan": anaplan_resource()},
)
