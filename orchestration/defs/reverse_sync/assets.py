"""Reverse sync of the forecast inputs to the planning tool (Anaplan Integration API v2).

One asset per sync, downstream of its dedicated dbt model `sync_planning__forecast_inputs`
(the dagster-open-platform pattern). The asset judges the rows it is about to send before it
sends anything, and says so through its own checks, which the UI lists on the asset:

- `gate`: the verdict. Every blocking check upstream passed (dbt tests at ERROR severity, the raw
  tables' blocking checks) and so did the aggregate checks below. When it fails, nothing is sent;
  its description and metadata say `blocked`, the failing checks' keys and since when.
- the aggregate checks (ERROR, blocking), evaluated on the diff about to be sent: an empty model,
  no current plan version, a dropped entity, practice or line item, unconverted amounts, too many
  unvalued time entries, a forecast total that moved too far since the last sync to this target.
- `change_within_guard` (ERROR, blocking): a change larger than `max_change_share` of the synced
  rows stops the run and leaves a preview (`reverse_sync.sync_previews`) an operator approves by
  launching the sync with `approve_preview: <id>`; only that exact diff is then sent.
- `no_rows_rejected` (WARN): the planning tool accepted every row sent.
"""

import time
from collections.abc import Iterator
from decimal import Decimal

import dagster as dg

from orchestration.defs.reverse_sync.anaplan import AnaplanResource
from orchestration.defs.reverse_sync.gate import GateResult, PipelineGraph, evaluate_gate
from orchestration.defs.reverse_sync.state import (
    Diff,
    Preview,
    Rejection,
    RunRecord,
    SyncSpec,
    SyncTarget,
    blocked_since,
    change_rows,
    compute_diff,
    current_plan_versions,
    decide,
    diff_hash,
    dropped_members,
    find_preview,
    log_changes,
    record_run,
    send,
    store_preview,
)
from orchestration.lib import display, settings
from orchestration.lib.dialect import month_label
from orchestration.lib.warehouse import WAREHOUSE_ERRORS, WRITER_POOL, Warehouse

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
    total_by="Line Item",
)
FORECAST_LINE = "Forecast Revenue"  # the total of the other two line items
GATE_CHECK = "gate"
GUARD_CHECK = "change_within_guard"
REJECTIONS_CHECK = "no_rows_rejected"
MEMBERS_CHECK = "no_members_dropped"
REJECTIONS_SHOWN = 50  # rejected rows named in the check's metadata (all are in sync_rejections)
CHANGES_SHOWN = 20  # rows of the largest-changes and preview tables in the UI (all are in the tables)


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
    max_change_share: float = 0.5  # a change above this share of synced rows stops the run with a preview
    approve_preview: str = ""  # send the preview of this id, if the diff is still exactly that preview
    reject_preview: str = ""  # record that this preview must not be sent; send nothing
    allow_dropped_members: bool = False  # send although an entity, practice or line item was dropped (intended)


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def _reporting_currency(con) -> str:
    """The reporting currency the forecast is converted into (fct_revenue_forecast.reporting_currency_code)."""
    try:
        rows = con.execute("select min(reporting_currency_code) from marts.fct_revenue_forecast").fetchall()
    except WAREHOUSE_ERRORS:
        return "reporting currency"
    return rows[0][0] or "reporting currency"


def _line_totals(diff: Diff, currency: str) -> dg.TableMetadataValue:
    lines = sorted(set(diff.totals) | set(diff.synced_totals))
    return display.table(
        [
            ("line_item", "text", "Anaplan line item"),
            ("sent", "money", f"total held by the target after this sync, {currency}"),
            ("last_sync", "money", f"total after the last sync to this target, {currency}"),
            ("change", "text", f"against the last sync, {currency} and %"),
        ],
        [
            (
                line,
                diff.totals.get(line, Decimal(0)),
                diff.synced_totals.get(line),
                display.change(diff.totals.get(line, Decimal(0)), diff.synced_totals.get(line)),
            )
            for line in lines
        ],
    )


def _changes_table(rows: list[tuple], currency: str) -> dg.TableMetadataValue:
    """Changed rows, largest change first: the key's parts, old and new value."""
    import json

    def size(row: tuple) -> Decimal:
        return abs((row[4] or Decimal(0)) - (row[3] or Decimal(0)))

    shown = sorted(rows, key=lambda row: (-size(row), row[1]))[:CHANGES_SHOWN]
    key_columns = list(SPEC.key_columns)
    return display.table(
        [
            ("change", "text", "create, update or delete (an empty cell in Anaplan)"),
            *[(column, "text", None) for column in key_columns],
            ("old", "money", currency),
            ("new", "money", currency),
            ("difference", "money", currency),
        ],
        [
            (kind, *json.loads(payload).values(), old, new, (new or Decimal(0)) - (old or Decimal(0)))
            for kind, _key, payload, old, new in shown
        ],
    )


def _metadata(diff: Diff, target: SyncTarget, anaplan_import: "AnaplanImport", currency: str, **extra) -> dict:
    forecast = diff.totals.get(FORECAST_LINE, Decimal(0))
    return {
        "reporting_currency": currency,
        "forecast_total_sent": dg.MetadataValue.text(f"{display.money(forecast)} {currency}"),
        "forecast_change_since_last_sync": dg.MetadataValue.text(
            display.change(forecast, diff.synced_totals.get(FORECAST_LINE))
        ),
        "totals_by_line_item": _line_totals(diff, currency),
        "rows_created": len(diff.creates),
        "rows_updated": len(diff.updates),
        "rows_deleted": len(diff.deletes),
        "rows_invalid": len(diff.invalid),
        "largest_changes": _changes_table(change_rows(diff), currency),
        "anaplan_workspace_id": target.workspace_id,
        "anaplan_model_id": target.model_id,
        "anaplan_import_id": target.import_id,
        "anaplan_file_id": anaplan_import.file_id,
        "sync_target": target.key,
        **({"legacy_state_adopted": diff.legacy_adopted} if diff.legacy_adopted else {}),
        **extra,
    }


def _guard_exceeded(diff: Diff, config: ForecastSyncConfig) -> str | None:
    """Why the diff is too large to send unapproved; None when it is within the guard."""
    synced_rows = diff.synced_rows
    if synced_rows == 0:
        return None
    share = len(diff.changes) / synced_rows
    if share <= config.max_change_share:
        return None
    return (
        f"{len(diff.changes)} changed rows are {share:.0%} of the {synced_rows} synced rows, above "
        f"max_change_share {config.max_change_share:.0%}"
    )


def _how_to_approve(preview_id: str) -> str:
    op = SYNC_KEY.to_python_identifier()
    return (
        f"Launch the sync with run config ops: {{{op}: {{config: {{approve_preview: {preview_id}}}}}}} to send "
        f"exactly these rows, or reject_preview: {preview_id} to record that they must not be sent."
    )


def _preview_check(
    preview: Preview, diff: Diff, reason: str, currency: str, severity=dg.AssetCheckSeverity.ERROR
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=GUARD_CHECK,
        passed=False,
        severity=severity,
        description=f"Awaiting approval: {reason}. Nothing sent; preview {preview.preview_id} holds the "
        f"{preview.rows} rows it would send. {_how_to_approve(preview.preview_id)}",
        metadata={
            "status": "awaiting approval",
            "preview_id": preview.preview_id,
            "preview_rows": preview.rows,
            "preview": _changes_table(change_rows(diff), currency),
            "preview_table": "reverse_sync.sync_previews",
        },
    )


def _live_checks(con, diff: Diff, target: SyncTarget, config: ForecastSyncConfig, log) -> dict:
    """The aggregate checks on the rows about to be sent, by check key."""
    live = {dg.AssetCheckKey(SYNC_KEY, name): check(con, diff, target) for name, check in AGGREGATE_CHECKS.items()}
    members = dg.AssetCheckKey(SYNC_KEY, MEMBERS_CHECK)
    if config.allow_dropped_members and not live[members].passed:
        log.warning(f"allow_dropped_members: sending although {live[members].description}")
        result = live[members]
        live[members] = dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN, description=result.description, metadata=result.metadata
        )
    return live


def _verdict(gate: GateResult, since: object) -> dg.AssetCheckResult:
    """The gate's verdict as a check on the sync asset: what the asset's page shows first."""
    metadata: dict = {
        "status": "passed" if gate.passed else "blocked",
        "checks_evaluated": gate.checks_evaluated,
        "failing_checks": dg.MetadataValue.json(gate.failing_keys),
        "warnings": dg.MetadataValue.json(gate.warnings),
    }
    if gate.passed:
        description = f"Passed: every blocking check upstream and on the rows to send passed ({gate.checks_evaluated})."
    else:
        metadata["blocked_since_utc"] = str(since)
        metadata["findings"] = dg.MetadataValue.md("\n".join(f"- {reason}" for reason in gate.failing))
        description = f"Blocked since {since} UTC: nothing sent. Failing blocking checks: " + ", ".join(
            gate.failing_keys
        )
    return dg.AssetCheckResult(
        check_name=GATE_CHECK,
        passed=gate.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )


def _status(status: str, meaning: str, **metadata: str) -> dg.AssetObservation:
    """What the asset's page shows when a run stops without a materialization: blocked, awaiting approval."""
    return dg.AssetObservation(asset_key=SYNC_KEY, metadata={"sync_status": status, "meaning": meaning, **metadata})


def _not_reached(why: str) -> list[dg.AssetCheckResult]:
    """The checks a stopped run never got to, said so (else Dagster shows them failed with the step)."""
    text = f"Not reached: {why}; nothing was sent."
    return [
        dg.AssetCheckResult(check_name=GUARD_CHECK, passed=True, severity=dg.AssetCheckSeverity.WARN, description=text),
        dg.AssetCheckResult(
            check_name=REJECTIONS_CHECK, passed=True, severity=dg.AssetCheckSeverity.WARN, description=text
        ),
    ]


def _named(results: dict[dg.AssetCheckKey, dg.AssetCheckResult]) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            check_name=key.name,
            passed=r.passed,
            severity=r.severity,
            description=r.description,
            metadata=r.metadata,
        )
        for key, r in results.items()
    ]


def _check_specs() -> list[dg.AssetCheckSpec]:
    blocking = "Blocks the sync (ERROR): nothing is sent while it fails. "
    return [
        dg.AssetCheckSpec(
            GATE_CHECK,
            asset=SYNC_KEY,
            blocking=True,
            description="The gate's verdict: passed when every blocking check upstream (dbt tests at ERROR "
            "severity, the raw tables' blocking checks) and every aggregate check on the rows to send passed. "
            "Blocked: nothing is sent, and the result names the failing checks and since when.",
        ),
        *[
            dg.AssetCheckSpec(name, asset=SYNC_KEY, blocking=True, description=blocking + (check.__doc__ or ""))
            for name, check in AGGREGATE_CHECKS.items()
        ],
        dg.AssetCheckSpec(
            GUARD_CHECK,
            asset=SYNC_KEY,
            blocking=True,
            description=blocking + "The change is at most max_change_share (run config, default 50%) of the "
            "rows synced to this target, or is the exact diff of a preview an operator approved "
            "(approve_preview). Otherwise the run stops and stores a preview in reverse_sync.sync_previews.",
        ),
        dg.AssetCheckSpec(
            REJECTIONS_CHECK,
            asset=SYNC_KEY,
            description="The planning tool accepted every row sent (WARN): rejected rows are named with "
            "their reasons from Anaplan's failure dump, kept in reverse_sync.sync_rejections and sent again next run.",
        ),
    ]


def _sync(
    context: dg.AssetExecutionContext,
    config: ForecastSyncConfig,
    warehouse: Warehouse,
    anaplan: AnaplanResource,
    anaplan_import: AnaplanImport,
    pipeline_graph: dg.ResourceParam[PipelineGraph],
) -> Iterator:
    target = anaplan_import.target(anaplan)
    run = RunRecord(
        run_id=context.run.run_id, sync_name=SPEC.name, started_at=_now(), status="blocked", target=target.key
    )
    with warehouse.connect() as con:
        diff = compute_diff(con, SPEC, target)  # what would be sent, judged before anything is
        currency = _reporting_currency(con)
        live = _live_checks(con, diff, target, config, context.log)
    gate = evaluate_gate(context.instance, pipeline_graph.graph, SYNC_INPUT, live)
    for warning in gate.warnings:
        context.log.warning(f"non-blocking check failed: {warning}")
    checks = _named(live)
    if not gate.passed:
        run.failing_checks, run.message = gate.failing, "blocking checks failed; nothing sent"
        with warehouse.connect() as con:
            record_run(con, run)
            since = blocked_since(con, SPEC, target)
        yield _status(
            "blocked",
            f"Nothing sent since {since} UTC: the planning tool keeps what the last sync sent.",
            failing_checks=", ".join(gate.failing_keys),
            blocked_since_utc=str(since),
        )
        yield from [*checks, _verdict(gate, since), *_not_reached("the gate blocked the sync")]
        raise dg.Failure(
            description="Blocked: nothing sent. Failing blocking checks: " + "; ".join(gate.failing),
            metadata={"failing_checks": dg.MetadataValue.json(gate.failing_keys), "sync_target": target.key},
        )
    checks.append(_verdict(gate, None))
    run.created, run.updated, run.deleted = len(diff.creates), len(diff.updates), len(diff.deletes)
    run.invalid = len(diff.invalid)
    guard = yield from _guard(context, config, warehouse, target, diff, run, currency, checks)
    if config.dry_run:
        with warehouse.connect() as con:
            run.status, run.message = "dry_run", "; ".join(filter(None, ["dry run: nothing sent", run.message]))
            log_changes(con, SPEC, target, diff, run.run_id, dry_run=True)
            record_run(con, run)
        context.log.info(
            f"dry run: {len(diff.creates)} creates, {len(diff.updates)} updates, "
            f"{len(diff.deletes)} deletes, {len(diff.invalid)} invalid rows"
        )
        yield dg.MaterializeResult(metadata=_metadata(diff, target, anaplan_import, currency, dry_run=True))
        nothing_sent = dg.AssetCheckResult(
            check_name=REJECTIONS_CHECK, passed=True, severity=dg.AssetCheckSeverity.WARN, metadata={"dry_run": True}
        )
        yield from [*checks, guard, nothing_sent]
        return
    rejected, stats = _send(context, anaplan, anaplan_import, warehouse, target, diff, run)
    metadata = _metadata(diff, target, anaplan_import, currency, **stats)
    metadata |= {"rows_created": run.created, "rows_updated": run.updated, "rows_deleted": run.deleted}
    if run.preview_id:
        metadata["approved_preview"] = run.preview_id
    yield dg.MaterializeResult(metadata={**metadata, "rows_rejected": len(rejected)})
    yield from [*checks, guard, _rejections_check(rejected)]


def _guard(
    context: dg.AssetExecutionContext,
    config: ForecastSyncConfig,
    warehouse: Warehouse,
    target: SyncTarget,
    diff: Diff,
    run: RunRecord,
    currency: str,
    checks: list[dg.AssetCheckResult],
):
    """The large-change guard and its previews; returns the guard check's result when the run may go on.

    A generator (`yield from`): when the run stops here it yields the checks and raises.
    """
    within = dg.AssetCheckResult(check_name=GUARD_CHECK, passed=True, severity=dg.AssetCheckSeverity.ERROR)
    if config.reject_preview:
        return (yield from _reject(config.reject_preview, warehouse, run, checks))
    if config.approve_preview:
        return (yield from _approve(config.approve_preview, warehouse, target, diff, run, currency, checks))
    exceeded = _guard_exceeded(diff, config)
    if exceeded is None:
        return within
    with warehouse.connect() as con:
        preview = store_preview(con, SPEC, target, diff, run.run_id)
        if config.dry_run:  # a dry run reports the preview (an operator may approve it) and goes on reporting
            run.message = f"{exceeded}; preview {preview.preview_id}"
            return _preview_check(preview, diff, exceeded, currency, dg.AssetCheckSeverity.WARN)
        log_changes(con, SPEC, target, diff, run.run_id, dry_run=True)
        run.status, run.message = "awaiting_approval", f"{exceeded}; preview {preview.preview_id}"
        record_run(con, run)
    yield _status(
        "awaiting approval",
        f"Nothing sent: {exceeded}. {_how_to_approve(preview.preview_id)}",
        preview_id=preview.preview_id,
    )
    yield from [*checks, _preview_check(preview, diff, exceeded, currency), *_not_reached("awaiting approval")[1:]]
    raise dg.Failure(
        description=f"Awaiting approval: {exceeded}. Nothing sent. Preview {preview.preview_id} "
        f"({preview.rows} rows) is in reverse_sync.sync_previews. {_how_to_approve(preview.preview_id)}",
        metadata={"preview_id": preview.preview_id, "preview_rows": preview.rows},
    )


def _refuse(message: str, run: RunRecord, warehouse: Warehouse, checks: list, **metadata) -> Iterator:
    run.status, run.message = "refused", message
    with warehouse.connect() as con:
        record_run(con, run)
    yield from [
        *checks,
        dg.AssetCheckResult(
            check_name=GUARD_CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=message,
            metadata=metadata,
        ),
        *_not_reached("the approval was refused")[1:],
    ]
    raise dg.Failure(description=message, metadata=metadata)


def _reject(preview_id: str, warehouse: Warehouse, run: RunRecord, checks: list) -> Iterator:
    with warehouse.connect() as con:
        preview = find_preview(con, SPEC, preview_id)
    if preview is None or preview.decision is not None or preview.target != run.target:
        why = _not_pending(preview_id, preview, run.target)
        yield from _refuse(f"Not rejected: {why}. Nothing sent.", run, warehouse, checks, preview_id=preview_id)
    message = f"preview {preview_id} rejected: its rows will not be sent"
    with warehouse.connect() as con:
        decide(con, preview_id, "rejected", run.run_id, message)
        run.status, run.message = "rejected", message
        run.created = run.updated = run.deleted = 0
        record_run(con, run)
    rejected = dg.AssetCheckResult(
        check_name=GUARD_CHECK,
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"Rejected preview {preview_id}: nothing sent.",
        metadata={"preview_id": preview_id},
    )
    yield from [*checks, rejected, *_not_reached("the preview was rejected")[1:]]
    raise dg.Failure(
        description=f"Rejected preview {preview_id}: nothing sent. The next run makes a new preview while the "
        "change is still above the guard.",
        metadata={"preview_id": preview_id, "status": "rejected"},
        allow_retries=False,
    )


def _not_pending(preview_id: str, preview: Preview | None, target: str | None) -> str:
    if preview is None:
        return f"there is no preview {preview_id} of this sync"
    if preview.target != target:
        return f"preview {preview_id} was made for {preview.target}, not {target}"
    return f"preview {preview_id} was already {preview.decision} (run {preview.decided_by})"


def _approve(
    preview_id: str,
    warehouse: Warehouse,
    target: SyncTarget,
    diff: Diff,
    run: RunRecord,
    currency: str,
    checks: list,
):
    with warehouse.connect() as con:
        preview = find_preview(con, SPEC, preview_id)
    if preview is None or preview.decision is not None or preview.target != target.key:
        why = _not_pending(preview_id, preview, target.key)
        yield from _refuse(f"Not sent: {why}.", run, warehouse, checks, preview_id=preview_id)
    if diff_hash(diff) != preview.diff_hash:
        with warehouse.connect() as con:
            decide(con, preview_id, "stale", run.run_id, "the data changed since the preview was made")
            fresh = store_preview(con, SPEC, target, diff, run.run_id)
        yield from _refuse(
            f"Not sent: preview {preview_id} is stale, the rows to send changed since it was made. "
            f"Review the new preview {fresh.preview_id} ({fresh.rows} rows) and approve that one.",
            run,
            warehouse,
            checks,
            preview_id=preview_id,
            new_preview_id=fresh.preview_id,
            preview=_changes_table(change_rows(diff), currency),
        )
    run.preview_id = preview_id
    return dg.AssetCheckResult(
        check_name=GUARD_CHECK,
        passed=True,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"Approved preview {preview_id}: exactly its {preview.rows} rows are sent.",
        metadata={"approved_preview": preview_id},
    )


def _send(
    context: dg.AssetExecutionContext,
    anaplan: AnaplanResource,
    anaplan_import: AnaplanImport,
    warehouse: Warehouse,
    target: SyncTarget,
    diff: Diff,
    run: RunRecord,
) -> tuple[dict[str, Rejection], dict]:
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
    return rejected, client.stats.metadata()


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


def _scalar(con, sql: str, params: list | None = None) -> object:
    return con.execute(sql, params or []).fetchall()[0][0]


def _result(passed: bool, description: str, **metadata: object) -> dg.AssetCheckResult:
    """An ERROR result that says what is wrong when it fails."""
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None if passed else description,
        metadata=metadata,
    )


def check_no_unconverted_currency(con, diff: Diff, target: SyncTarget) -> dg.AssetCheckResult:
    """No forecast amount is left unconverted (a missing FX rate): none in the forecast, none among the rows to send."""
    forecast_nulls = _scalar(
        con, "select count(*) from marts.fct_revenue_forecast where is_forecast and total_forecast_revenue is null"
    )
    return _result(
        forecast_nulls == 0 and not diff.invalid,
        f"{len(diff.invalid)} rows to send have no value and {forecast_nulls} forecast rows could not be converted "
        "into the reporting currency (a missing FX rate: see marts.fct_valuation_exceptions)",
        forecast_rows_unconverted=forecast_nulls,
        sync_rows_without_value=len(diff.invalid),
    )


def check_exception_share(con, diff: Diff, target: SyncTarget) -> dg.AssetCheckResult:
    """Share of approved time entries that could not be valued, at most SYNC_MAX_EXCEPTION_SHARE."""
    threshold = Decimal(settings.setting("SYNC_MAX_EXCEPTION_SHARE"))
    exceptions = _scalar(
        con, "select count(distinct record_id) from marts.fct_valuation_exceptions where record_type = 'time_entry'"
    )
    entries = _scalar(con, "select count(*) from marts.fct_time_entries where is_approved")
    share = Decimal(exceptions) / Decimal(entries) if entries else Decimal(0)
    return _result(
        share <= threshold,
        f"{exceptions} of {entries} approved time entries ({share:.1%}) could not be valued, above "
        f"SYNC_MAX_EXCEPTION_SHARE {threshold:.1%}",
        exception_rows=exceptions,
        approved_time_entries=entries,
        share=dg.MetadataValue.text(f"{share:.2%}"),
        threshold=dg.MetadataValue.text(f"{threshold:.2%}"),
    )


def check_forecast_change(con, diff: Diff, target: SyncTarget) -> dg.AssetCheckResult:
    """The 'Forecast Revenue' total about to be sent moved at most SYNC_MAX_TOTAL_CHANGE from the last sync to
    this target (the line item alone: the other two add up to it)."""
    threshold = Decimal(settings.setting("SYNC_MAX_TOTAL_CHANGE"))
    new_total = diff.totals.get(FORECAST_LINE, Decimal(0))
    old_total = diff.synced_totals.get(FORECAST_LINE)
    if old_total is None:
        return _result(True, "", new_total=display.money(new_total), note="no previous sync to this target")
    change = abs(new_total - old_total) / abs(old_total) if old_total else Decimal(new_total != 0)
    return _result(
        change <= threshold,
        f"the forecast total would change by {change:.0%} since the last sync ({display.money(old_total)} to "
        f"{display.money(new_total)}), above SYNC_MAX_TOTAL_CHANGE {threshold:.0%}",
        new_total=display.money(new_total),
        last_synced_total=display.money(old_total),
        change=dg.MetadataValue.text(f"{change:.2%}"),
        threshold=dg.MetadataValue.text(f"{threshold:.0%}"),
    )


def check_sync_input_not_empty(con, diff: Diff, target: SyncTarget) -> dg.AssetCheckResult:
    """The sync model has rows: an empty forecast is never sent (it would clear every cell synced before)."""
    rows = diff.desired_rows
    return _result(rows > 0, f"{SPEC.model} is empty: there is no forecast to send", rows=rows)


def check_current_plan_version(con, diff: Diff, target: SyncTarget) -> dg.AssetCheckResult:
    """There is a current plan version (raw_planning.plan_version, `Is Current`): the version the sync sends."""
    current = current_plan_versions(con)
    found = "does not exist" if current is None else 'has no row with "Is Current" true'
    return _result(
        bool(current),
        f"no current plan version: raw_planning.plan_version {found} "
        "(the planning landing file planning/Plan_Versions.csv, or the planning API's Plan_Versions export)",
        current_plan_versions=current or 0,
    )


def check_no_members_dropped(con, diff: Diff, target: SyncTarget) -> dg.AssetCheckResult:
    """Every legal entity, practice and line item the last sync to this target sent is still among the rows to send."""
    dropped = dropped_members(con, SPEC, target)
    listed = "; ".join(f"{column} {', '.join(members)}" for column, members in dropped.items())
    return _result(
        not dropped,
        f"{SPEC.model} drops what the last sync to this target sent: {listed} "
        "(re-run the sync with allow_dropped_members: true if intended)",
        dropped=dg.MetadataValue.json(dropped),
    )


# The aggregate checks: checks of the sync asset (ERROR, blocking), evaluated by the sync on the diff
# it is about to send, before it sends anything; the gate judges them with every check upstream.
AGGREGATE_CHECKS = {
    "no_unconverted_currency": check_no_unconverted_currency,
    "exception_share_under_threshold": check_exception_share,
    "forecast_change_within_threshold": check_forecast_change,
    "sync_input_not_empty": check_sync_input_not_empty,
    "current_plan_version_exists": check_current_plan_version,
    MEMBERS_CHECK: check_no_members_dropped,
}


# The asset's body is _sync above; it is declared here, once its checks (AGGREGATE_CHECKS) exist.
anaplan_forecast_inputs = dg.asset(
    key=SYNC_KEY,
    deps=[SYNC_INPUT],
    group_name="reverse_sync",
    kinds={"anaplan"},
    pool=WRITER_POOL,
    op_tags={"dagster/priority": "10"},  # the end of the revenue-critical path: before publish and analytics
    check_specs=_check_specs(),
    # Finance decides what the planning tool receives (approves previews); data engineering runs the sync.
    owners=["team:finance", "team:data-engineering"],
    tags={"domain": "finance"},
    description="Writes the forecast inputs to the planning tool: only new, changed and removed rows since "
    "the last successful sync to this target, after its gate passed on the rows about to be sent. "
    "Check `gate` is the verdict: blocked or passed, the failing checks and since when.",
)(_sync)
