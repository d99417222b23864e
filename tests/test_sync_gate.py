"""The gate's rules (orchestration/defs/reverse_sync/gate.py), judged on a Dagster test instance.

Materializations and check evaluations are real: small assets and checks run with
`dg.materialize` on an ephemeral instance, so every evaluation carries the materialization it
targeted, as in the pipeline. `source` -> `model` -> `sync`; `sync` calls the gate in its body,
as the reverse sync does.

Kind: unit (fast; `make test-fast`).
"""

import dagster as dg
import pytest

from orchestration.defs.reverse_sync.gate import evaluate_gate

pytestmark = pytest.mark.unit

MODEL = dg.AssetKey("model")


def build(outcomes: dict[str, bool], with_freshness: bool = False, model_unchanged: bool = False) -> dg.Definitions:
    """source -> model -> sync, with checks whose verdicts are `outcomes` (default: pass).

    `model_unchanged`: the model's step yields nothing, as the dbt step does for a model whose inputs
    did not change: Dagster plans the model's checks in the run and skips them.
    """

    @dg.asset
    def source() -> None:
        return None

    @dg.asset(deps=[source], output_required=False)
    def model():
        if not model_unchanged:
            yield dg.Output(None)

    whole: list[dg.Definitions] = []  # the whole graph, not the run's subset, as the real sync reads it

    @dg.asset(deps=[model])
    def sync(context: dg.AssetExecutionContext) -> None:
        gate = evaluate_gate(context.instance, whole[0].resolve_asset_graph(), MODEL)
        if not gate.passed:
            raise dg.Failure("Blocked: nothing sent. Failing blocking checks: " + "; ".join(gate.failing))

    def check(asset: dg.AssetKey, name: str, severity: dg.AssetCheckSeverity) -> dg.AssetChecksDefinition:
        @dg.asset_check(asset=asset, name=name)
        def _check() -> dg.AssetCheckResult:
            if outcomes.get(name) is None and name in outcomes:
                raise RuntimeError("the check itself broke")
            passed = outcomes.get(name, True)
            return dg.AssetCheckResult(
                passed=passed, severity=severity, description=None if passed else f"{name} found 3 bad rows"
            )

        return _check

    checks = [
        check(MODEL, "totals_match", dg.AssetCheckSeverity.ERROR),
        check(MODEL, "few_late_rows", dg.AssetCheckSeverity.WARN),
        check(dg.AssetKey("source"), "keys_unique", dg.AssetCheckSeverity.ERROR),
    ]
    if with_freshness:  # the name every raw table's timeliness check has (orchestration/defs/quality)
        checks.append(check(dg.AssetKey("source"), "freshness", dg.AssetCheckSeverity.WARN))
    whole.append(dg.Definitions(assets=[source, model, sync], asset_checks=checks))
    return whole[0]


def run(instance: dg.DagsterInstance, defs: dg.Definitions, selection: dg.AssetSelection) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*defs.assets, *defs.asset_checks], instance=instance, selection=selection, raise_on_error=False
    )


UPSTREAM = dg.AssetSelection.assets("source", "model")  # with their checks
ASSETS_ONLY = UPSTREAM.without_checks()


@pytest.fixture
def instance() -> dg.DagsterInstance:
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def gate(instance: dg.DagsterInstance, defs: dg.Definitions):
    return evaluate_gate(instance, defs.resolve_asset_graph(), MODEL)


def sync_failure(result: dg.ExecuteInProcessResult) -> str | None:
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return failures[0].step_failure_data.user_failure_data.description if failures else None  # dg.Failure's


def test_all_checks_passed_on_the_latest_data_lets_the_sync_through(instance) -> None:
    defs = build({})
    assert run(instance, defs, UPSTREAM).success
    result = gate(instance, defs)
    assert (result.passed, result.failing, result.warnings, result.checks_evaluated) == (True, [], [], 3)


@pytest.mark.parametrize("failing", ["totals_match", "keys_unique"], ids=["on-the-model", "on-an-ancestor"])
def test_a_failed_error_check_blocks(instance, failing) -> None:
    defs = build({failing: False})
    run(instance, defs, UPSTREAM)
    result = gate(instance, defs)
    asset = "model" if failing == "totals_match" else "source"
    assert not result.passed
    assert result.failing == [f"{asset}:{failing} (failed): {failing} found 3 bad rows"]


def test_a_passing_check_evaluated_on_older_data_blocks(instance) -> None:
    defs = build({})
    assert run(instance, defs, UPSTREAM).success
    assert run(instance, defs, ASSETS_ONLY).success  # the model is rebuilt, its checks are not run again
    result = gate(instance, defs)
    # the WARN check is as old, but only ERROR checks guard what is sent
    assert result.failing == [
        "model:totals_match (evaluated on older data)",
        "source:keys_unique (evaluated on older data)",
    ]
    assert run(instance, defs, dg.AssetSelection.all_asset_checks()).success
    assert gate(instance, defs).passed  # the same checks, evaluated on the latest data


def test_a_failed_warn_check_is_a_warning_only(instance) -> None:
    defs = build({"few_late_rows": False})
    run(instance, defs, UPSTREAM)
    result = gate(instance, defs)
    assert result.passed and result.failing == []
    assert result.warnings == ["model:few_late_rows (failed): few_late_rows found 3 bad rows"]


def test_a_check_never_evaluated_blocks(instance) -> None:
    defs = build({"totals_match": None})  # its evaluation raises: planned in the run, never evaluated
    run(instance, defs, ASSETS_ONLY)  # the checks of source never ran at all
    run(instance, defs, dg.AssetSelection.checks(dg.AssetCheckKey(MODEL, "totals_match")))
    result = gate(instance, defs)
    # a check's severity comes with its result: one never evaluated blocks whatever it would have been
    assert result.failing == [
        "model:few_late_rows (not evaluated)",
        "model:totals_match (not evaluated)",
        "source:keys_unique (not evaluated)",
    ]


@pytest.mark.parametrize("verdict", [True, False], ids=["passed", "failed"])
def test_a_run_that_left_the_model_unchanged_leaves_its_checks_last_verdict_standing(instance, verdict) -> None:
    """A change-aware run with nothing new for the model: its checks are planned, not evaluated, not stale."""
    assert run(instance, build({"totals_match": verdict}), UPSTREAM).success
    unchanged = build({"totals_match": verdict}, model_unchanged=True)
    later = run(instance, unchanged, UPSTREAM)
    assert later.success and [e.asset_key for e in later.get_asset_materialization_events()] == [dg.AssetKey("source")]
    assert {e.asset_key for e in later.get_asset_check_evaluations()} == {dg.AssetKey("source")}  # planned, skipped
    result = gate(instance, unchanged)
    blocked = [] if verdict else ["model:totals_match (failed): totals_match found 3 bad rows"]
    assert (result.failing, result.checks_evaluated) == (blocked, 3)


def test_a_raw_table_freshness_check_never_evaluated_does_not_block(instance) -> None:
    """Timeliness is a warning by construction: not yet evaluated, it is no reason to send nothing."""
    defs = build({}, with_freshness=True)
    freshness = dg.AssetCheckKey(dg.AssetKey("source"), "freshness")
    others = [k for k in defs.resolve_asset_graph().asset_check_keys if k != freshness]
    assert run(instance, defs, UPSTREAM.without_checks() | dg.AssetSelection.checks(*others)).success
    result = gate(instance, defs)
    assert (result.passed, result.failing, result.checks_evaluated) == (True, [], 3)


def test_a_failure_recorded_by_an_earlier_run_still_blocks_a_later_sync(instance) -> None:
    """The nightly run's check failed; the sync launched alone later, nothing materialized since."""
    defs = build({"totals_match": False})
    assert run(instance, defs, UPSTREAM).success  # the check failed, but it is not Dagster-blocking
    later = run(instance, defs, dg.AssetSelection.assets("sync"))
    assert not later.success
    assert sync_failure(later) == (
        "Blocked: nothing sent. Failing blocking checks: model:totals_match (failed): totals_match found 3 bad rows"
    )
    fixed = build({})
    assert run(instance, fixed, dg.AssetSelection.checks(dg.AssetCheckKey(MODEL, "totals_match"))).success
    assert run(instance, fixed, dg.AssetSelection.assets("sync")).success  # the check passed since: through


def test_a_live_result_overrides_the_history(instance) -> None:
    """The sync re-evaluates its aggregate checks itself: a live failure blocks over a passing history."""
    defs = build({})
    run(instance, defs, UPSTREAM)
    key = dg.AssetCheckKey(MODEL, "totals_match")
    live = {key: dg.AssetCheckResult(passed=False, description="the sync model is empty")}
    result = evaluate_gate(instance, defs.resolve_asset_graph(), MODEL, live)
    assert result.failing == ["model:totals_match (failed): the sync model is empty"]
