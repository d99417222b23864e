"""The reverse-sync gate: every blocking check upstream of a sync passed, on the data it will send.

The sync asset calls this itself instead of trusting Dagster to skip it after a failed dbt test
(Dagster issues #25112 and #33351 show that leak). The rules, judged on each check's latest
evaluation in the instance's history (whichever run recorded it), or on a live result the caller
just computed:

- an ERROR check whose latest evaluation failed blocks, until an evaluation passes;
- an ERROR check that passed on an older materialization of its asset than the latest blocks;
- a run that planned a check without evaluating it (a change-aware run left its asset as it was:
  nothing new to check; or the check broke) leaves the check's latest evaluation standing, judged
  by the two rules above;
- a check never evaluated blocks;
- a failed WARN check is a warning, never a block;
- the checks in NEVER_BLOCKING are at most warnings, even before their first evaluation.

Check history is read with the event-log storage's `get_latest_asset_check_execution_by_key`
(Dagster has no public instance method for it); whether a record holds an evaluation is read from
the public `EventLogEntry.asset_check_evaluation`, not from Dagster's private status enum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

# Checks that are WARN by construction and judge timeliness, row-level quarantine or the landing
# folder's bookkeeping, not the correctness of what is sent: never blocking, even before their
# first evaluation (in a run they may be scheduled after the sync step).
NEVER_BLOCKING = frozenset(
    {"freshness", "no_rows_quarantined", "landing_files_accounted", "no_changes_without_new_stamp"}
)


class PipelineGraph:
    """The whole asset graph of the pipeline a run belongs to, not the running job's subset.

    A run that materializes only the sync must still judge every check upstream of it, also the
    ones it does not execute. The package's definitions.py builds the pipeline and hands its graph
    to every run as resource `pipeline_graph` (a domain never imports the definitions module, and
    an in-process run has no code location to ask).
    """

    def __init__(self) -> None:
        self._resolve: Callable[[], Any] | None = None
        self._graph: Any = None

    def resolve_with(self, resolve: Callable[[], Any]) -> None:
        """How to get the graph, once the definitions that hold this resource exist (resolved on first use)."""
        self._resolve = resolve

    @property
    def graph(self) -> Any:
        if self._graph is None:
            if self._resolve is None:
                raise RuntimeError("pipeline_graph was never bound to its definitions (see definitions.py)")
            self._graph = self._resolve()
        return self._graph


@dataclass
class GateResult:
    failing: list[str] = field(default_factory=list)  # `<check key> (failed): <what it found>`
    warnings: list[str] = field(default_factory=list)
    checks_evaluated: int = 0
    failing_keys: list[str] = field(default_factory=list)  # the failing checks' keys alone, in order

    @property
    def passed(self) -> bool:
        return not self.failing

    def block(self, key: str, reason: str) -> None:
        self.failing_keys.append(key)
        self.failing.append(reason)


def _latest_materialization_ids(instance: dg.DagsterInstance, keys: set[dg.AssetKey]) -> dict[dg.AssetKey, int]:
    latest: dict[dg.AssetKey, int] = {}
    for key in keys:
        records = instance.fetch_materializations(key, limit=1).records
        if records:
            latest[key] = records[0].storage_id
    return latest


def evaluate_gate(
    instance: dg.DagsterInstance,
    asset_graph,
    sync_input: dg.AssetKey,
    live: dict[dg.AssetCheckKey, dg.AssetCheckResult] | None = None,
) -> GateResult:
    """Judge every check on `sync_input` and all its ancestors against their latest materialization.

    Checks in `live` were just evaluated by the caller on the current data and are judged on that.
    """
    live = live or {}
    keys = set(asset_graph.get_ancestor_asset_keys(sync_input, include_self=True))
    all_checks = set(asset_graph.get_check_keys_for_assets(keys)) | set(live)
    check_keys = sorted(all_checks, key=lambda k: k.to_user_string())
    executions = instance.event_log_storage.get_latest_asset_check_execution_by_key(check_keys)
    materialized = _latest_materialization_ids(instance, keys)
    # A run that planned a check and did not evaluate it: its last completed evaluation, in one query.
    planned_only = [k for k in check_keys if k in executions and _evaluation(executions[k]) is None]
    last_completed = {
        key: summary.last_completed_check_execution_record
        for key, summary in instance.event_log_storage.get_asset_check_summary_records(planned_only).items()
    }
    result = GateResult()
    for check_key in check_keys:
        name = check_key.to_user_string()
        if check_key in live:
            result.checks_evaluated += 1
            if not live[check_key].passed:
                blocking = live[check_key].severity == dg.AssetCheckSeverity.ERROR
                if blocking:
                    result.block(name, _failed(name, live[check_key].description))
                else:
                    result.warnings.append(_failed(name, live[check_key].description))
            continue
        evaluation = _evaluation(executions.get(check_key))
        if evaluation is None and check_key in executions:  # planned by the latest run, not evaluated by it
            evaluation = _evaluation(last_completed.get(check_key))
        if check_key.name in NEVER_BLOCKING:
            if evaluation is not None and not evaluation.passed:
                result.warnings.append(_failed(name, evaluation.description))
            continue
        if evaluation is None:
            result.block(name, f"{name} (not evaluated)")
            continue
        result.checks_evaluated += 1
        blocking = evaluation.severity == dg.AssetCheckSeverity.ERROR
        target = evaluation.target_materialization_data
        stale = target is not None and materialized.get(check_key.asset_key) not in (None, target.storage_id)
        if not evaluation.passed and blocking:
            result.block(name, _failed(name, evaluation.description))
        elif not evaluation.passed:
            result.warnings.append(_failed(name, evaluation.description))
        elif stale and blocking:
            result.block(name, f"{name} (evaluated on older data)")
    return result


def _evaluation(record) -> dg.AssetCheckEvaluation | None:
    """The evaluation an execution record holds; None for one planned in a run that never evaluated it."""
    return record.event.asset_check_evaluation if record is not None and record.event else None


def _failed(name: str, description: str | None) -> str:
    """`<check> (failed)`, and what it found when the check says so (`...: <what>`)."""
    detail = " ".join((description or "").split())
    return f"{name} (failed)" + (f": {detail[:500]}" if detail else "")
