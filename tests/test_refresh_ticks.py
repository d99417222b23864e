"""The refresh schedules' ticks request a run of only what has something to do, or none (automation/pending.py).

On a copy of the session's demo build. Its landing files sit in a new folder, so at first every file is
new to the copy's load log (the loader's test: path, size and modification time), as after a move.

Kind: demo.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from orchestration.defs.automation.jobs import TICK_TAG
from orchestration.defs.automation.pending import pending
from orchestration.defs.publish.assets import READER_MARTS
from orchestration.defs.transform.assets import dbt_models
from orchestration.lib.warehouse import DuckDBWarehouse
from tests.conftest import AS_OF
from tests.helpers import THROUGH_THE_CALENDARS_ONLY, materialize, query, run_log
from tests.test_change_aware import LOAD_LOG_READER, TIMECARDS, WORKSPACE, _an_earlier_timecard, _one_timecard

INTRADAY_RAW = {dg.AssetKey(["raw_psa", name]) for name in ("timecard_header", "milestone", "assignment")}
MILESTONES = dg.AssetKey(["raw_psa", "milestone"])
# What the UI's "Test schedule" asks the code server, as the daemon's tick does.
DRY_RUN = """
mutation($selector: ScheduleSelector!, $timestamp: Float) {
  scheduleDryRun(selectorData: $selector, timestamp: $timestamp) {
    ... on DryRunInstigationTick { evaluationResult { skipReason runRequests { runKey } error { message } } }
    ... on PythonError { message }
  }
}"""


def _defs():
    from orchestration.definitions import defs

    return defs


def _tick(instance: dg.DagsterInstance, warehouse: Path, name: str = "intraday_refresh"):
    repo = _defs().get_repository_def()
    resources = {"warehouse": DuckDBWarehouse(database=str(warehouse), memory_limit="2GB")}
    # As the daemon does, in a `with`: the context's own instance (from the ref) is closed after the tick.
    with dg.build_schedule_context(instance=instance, repository_def=repo, resources=resources) as context:
        return repo.get_schedule_def(name).evaluate_tick(context)


def _run(instance: dg.DagsterInstance, warehouse: Path, landing: Path, request: dg.RunRequest):
    """The run a tick requested: its selection (with the checks of what it selects) and the tick's tags."""
    result = materialize(
        warehouse, landing, dg.AssetSelection.assets(*request.asset_selection), instance, tags=request.tags
    )
    assert result.success
    return result


def _graph():
    return _defs().resolve_asset_graph()


@pytest.fixture
def ticking_demo(pristine_demo, monkeypatch):
    """The pristine demo copy, its landing folder the tick's (LANDING_DIR), files settled as soon as written."""
    monkeypatch.setenv("LANDING_DIR", str(pristine_demo[1]))
    monkeypatch.setenv("LANDING_SETTLE_SECONDS", "0")
    return pristine_demo


def test_the_intraday_tick_runs_only_what_has_something_to_do_and_nothing_when_nothing_is_new(ticking_demo) -> None:
    warehouse, landing, instance = ticking_demo
    models = set(dbt_models.keys)
    reads_timecards = dg.AssetSelection.assets(TIMECARDS, LOAD_LOG_READER).downstream().resolve(_graph())

    # Every file is new to this warehouse: a run of the job's three exports and what reads them.
    first = _tick(instance, warehouse)
    (request,) = first.run_requests
    selected = set(request.asset_selection)
    assert {k for k in selected if k.path[0].startswith("raw_")} == INTRADAY_RAW
    assert "raw_psa.timecard_header: " in request.tags[TICK_TAG] and " new file(s)" in request.tags[TICK_TAG]
    run = _run(instance, warehouse, landing, request)
    planned = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED)
    checked = {entry.dagster_event.event_specific_data.asset_key for entry in planned}
    assert checked & INTRADAY_RAW and checked <= selected  # no event for a check of an asset left out

    # Nothing new since: no run, and the tick says what it looked at, also in the UI (its code server).
    idle = _tick(instance, warehouse)
    assert idle.run_requests == []
    assert idle.skip_message.startswith("Nothing to do, so no run: no new landing file for raw_psa.assignment, ")
    assert "dbt models has an input changed since its last build" in idle.skip_message
    selector = {"repositoryLocationName": "psa_pipeline", "repositoryName": "__repository__"}
    with define_out_of_process_context(str(WORKSPACE), None, instance) as context:
        tick = datetime.combine(AS_OF, time(9), tzinfo=UTC).timestamp()  # a working-hours tick of the demo's day
        variables = {"selector": {**selector, "scheduleName": "intraday_refresh"}, "timestamp": tick}
        shown = execute_dagster_graphql(context, DRY_RUN, variables).data["scheduleDryRun"]
    assert shown["evaluationResult"] == {"skipReason": idle.skip_message, "runRequests": [], "error": None}

    # One timecard in a later export: that export and what reads it, not the milestones or assignments.
    _one_timecard(landing)
    (request,) = _tick(instance, warehouse).run_requests
    selected = set(request.asset_selection)
    assert TIMECARDS in selected and not selected & (INTRADAY_RAW - {TIMECARDS})
    assert selected & models and selected & models <= reads_timecards
    assert request.tags[TICK_TAG].startswith("raw_psa.timecard_header: 1 new file(s)")
    # Not what reads timecards only through the first timecard week, which this card leaves where it was.
    assert not {key.path[-1] for key in selected} & THROUGH_THE_CALENDARS_ONLY
    run = _run(instance, warehouse, landing, request)
    built = {e.asset_key for e in run.get_asset_materialization_events()}
    assert TIMECARDS in built and built & models and MILESTONES not in built
    assert READER_MARTS in built  # every selected mart was built, so the run published them itself
    assert _checks(instance, run, dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED) == _checks(
        instance, run, dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )  # no check planned that did not run
    assert _tick(instance, warehouse).run_requests == []


def _checks(instance: dg.DagsterInstance, run, event_type: dg.DagsterEventType) -> set[tuple[dg.AssetKey, str]]:
    return {
        (entry.dagster_event.event_specific_data.asset_key, entry.dagster_event.event_specific_data.check_name)
        for entry in instance.all_logs(run.run_id, of_type=event_type)
    }


def test_a_load_that_moves_the_first_timecard_week_leaves_the_calendars_readers_to_the_next_tick(
    ticking_demo,
) -> None:
    """The tick cannot see a week the run's own load will move: the run holds what reads the calendars, the next
    tick builds the calendars and all below them, and then nothing is left to do."""
    warehouse, landing, instance = ticking_demo
    first = _tick(instance, warehouse)
    _run(instance, warehouse, landing, first.run_requests[0])  # every export of the copy loaded
    before = query(warehouse, "select * from intermediate.int_calendar_first_timecard_week")

    _an_earlier_timecard(landing)
    (request,) = _tick(instance, warehouse).run_requests
    assert not {key.path[-1] for key in request.asset_selection} & THROUGH_THE_CALENDARS_ONLY
    run = _run(instance, warehouse, landing, request)
    logged = run_log(instance, run.run_id, "dbt_models")
    moved = "the rows of int_calendar_first_timecard_week moved since int_calendar_dates, int_calendar_months"
    assert moved in logged and "last read them, and those are not in this run" in logged
    built = {e.asset_key.path[-1] for e in run.get_asset_materialization_events()}
    assert "fct_utilization" not in built and "int_time_entries_unpivoted" in built
    assert query(warehouse, "select * from intermediate.int_calendar_first_timecard_week") != before

    (after,) = _tick(instance, warehouse).run_requests  # the week moved: the calendars and all below them
    names = {key.path[-1] for key in after.asset_selection}
    assert {"int_calendar_dates", "int_calendar_months", "fct_utilization"} <= names
    again = _run(instance, warehouse, landing, after)
    built = {e.asset_key.path[-1] for e in again.get_asset_materialization_events()}
    assert {"int_calendar_dates", "fct_utilization"} <= built
    assert moved not in run_log(instance, again.run_id, "dbt_models")
    assert _tick(instance, warehouse).run_requests == []


def test_a_load_by_the_landing_sensor_brings_the_models_that_read_it_at_the_next_tick(ticking_demo) -> None:
    """The landing_files sensor's run loads the export only; the next tick builds what reads it, without ingest."""
    warehouse, landing, instance = ticking_demo
    _one_timecard(landing)
    loaded = materialize(warehouse, landing, dg.AssetSelection.assets(*INTRADAY_RAW), instance=instance)
    assert loaded.success
    (request,) = _tick(instance, warehouse).run_requests
    selected = set(request.asset_selection)
    assert not {k for k in selected if k.path[0].startswith("raw_")}  # nothing left to load
    assert "model(s) to build because raw_psa.timecard_header changed since its last build" in request.tags[TICK_TAG]
    reads_timecards = dg.AssetSelection.assets(TIMECARDS, LOAD_LOG_READER).downstream().resolve(_graph())
    assert selected & set(dbt_models.keys) <= reads_timecards


@pytest.mark.unit
def test_a_tick_during_a_run_asks_for_the_whole_job_without_opening_the_warehouse(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LANDING_DIR", str(tmp_path / "landing"))
    missing = tmp_path / "no-such-folder" / "warehouse.duckdb"  # opening it would fail
    with dg.instance_for_test() as instance:
        run = instance.add_run(dg.DagsterRun(job_name="nightly_full", status=dg.DagsterRunStatus.STARTED))
        found = pending({TIMECARDS}, DuckDBWarehouse(database=str(missing)), instance)
    assert found.whole and f"run {run.run_id[:8]} (nightly_full) is started" in found.whole
    assert found.selection({TIMECARDS, MILESTONES}, None) == {TIMECARDS, MILESTONES}


@pytest.mark.unit
def test_with_api_ingest_the_tick_cannot_tell_and_asks_for_the_whole_job(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INGEST_SOURCE", "api")
    with dg.instance_for_test() as instance:
        found = pending({TIMECARDS}, DuckDBWarehouse(database=str(tmp_path / "unused.duckdb")), instance)
    assert found.whole == "ingest reads the source systems' APIs, and only a call tells what is new there"
    assert found.summary().startswith("the whole job: ingest reads")
