"""Which dbt models a run builds (orchestration/defs/transform/changes.py) and the raw tables' versions.

Kind: unit (the real dbt project's asset graph, an in-memory DuckDB; no dbt run).
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest

from orchestration.defs.ingest.loader import LOADED_FILES, table_versions
from orchestration.defs.transform import changes
from orchestration.defs.transform.assets import dbt_models
from tests.helpers import THROUGH_THE_CALENDARS_ONLY

pytestmark = pytest.mark.unit

TIMECARDS, CURRENCIES = "raw_psa.timecard_header", "raw_erp.currency"
NOW = {TIMECARDS: "3:100:2026-06-30 10:00:00", CURRENCIES: "1:5:2026-06-01 00:00:00"}
MODELS = sorted(dbt_models.keys, key=lambda k: k.to_user_string())


def _below(table: str) -> set[dg.AssetKey]:
    return dg.AssetSelection.assets(dg.AssetKey(table.split("."))).downstream().resolve([dbt_models]) & set(MODELS)


def _all_built(versions=NOW, fingerprint="f1") -> dict[dg.AssetKey, changes.Built]:
    return {key: changes.Built(fingerprint, dict(versions), "run-1") for key in MODELS}


def test_nothing_changed_builds_nothing_and_says_so() -> None:
    plan = changes.plan(MODELS, [dbt_models], _all_built(), NOW, "f1")
    assert plan.build == set() and plan.skip == MODELS
    assert plan.summary().splitlines()[0] == f"dbt: 0 of {len(MODELS)} selected models to build"
    assert f"{len(MODELS)} left as they are (no input they read changed since their last build)" in plan.summary()


def test_a_changed_table_builds_exactly_the_models_downstream_of_it() -> None:
    now = {**NOW, TIMECARDS: "4:101:2026-06-30 11:00:00"}
    plan = changes.plan(MODELS, [dbt_models], _all_built(), now, "f1")
    downstream = _below(TIMECARDS)
    assert 10 < len(downstream) < len(MODELS)
    assert plan.build == downstream
    assert set(plan.skip) == set(MODELS) - downstream
    assert dg.AssetKey(["staging", "stg_erp__currencies"]) in plan.skip
    assert list(plan.why) == [f"{TIMECARDS} changed since its last build"]
    assert sorted(plan.why[f"{TIMECARDS} changed since its last build"]) == sorted(k.path[-1] for k in downstream)
    assert plan.code_tested  # the unit tests can stay out: the code did not change


def test_only_the_selected_models_are_built() -> None:
    now = {**NOW, TIMECARDS: "4:101:2026-06-30 11:00:00"}
    staging = [k for k in MODELS if k.path[0] == "staging"]
    plan = changes.plan(staging, [dbt_models], _all_built(), now, "f1")
    assert plan.build == _below(TIMECARDS) & set(staging)
    assert [k.path[-1] for k in plan.build] == ["stg_psa__timecard_headers"]


def test_a_model_without_a_record_or_built_by_other_code_is_built() -> None:
    built = _all_built()
    forgotten = dg.AssetKey(["marts", "fct_backlog"])
    del built[forgotten]  # its last build failed, or a test on it did
    plan = changes.plan(MODELS, [dbt_models], built, NOW, "f1")
    assert plan.build == {forgotten} and not plan.code_tested
    assert changes.plan(MODELS, [dbt_models], _all_built(), NOW, "f2").build == set(MODELS)
    assert changes.plan(MODELS, [dbt_models], {}, NOW, "f1").build == set(MODELS)
    everything = changes.plan(MODELS, [dbt_models], _all_built(), NOW, "f1", rebuild_all="tag pipeline/rebuild: all")
    assert everything.build == set(MODELS) and list(everything.why) == ["tag pipeline/rebuild: all"]


def test_models_built_on_different_versions_are_each_judged_on_their_own() -> None:
    """A model the intraday run rebuilt after a timecard change has newer versions on record than the rest."""
    later = {**NOW, TIMECARDS: "4:101:2026-06-30 11:00:00"}
    built = _all_built()
    built.update({key: changes.Built("f1", later, "run-2") for key in _below(TIMECARDS)})
    assert changes.plan(MODELS, [dbt_models], built, later, "f1").build == set()
    newer_rates = {**later, CURRENCIES: "2:6:2026-07-01 00:00:00"}
    assert changes.plan(MODELS, [dbt_models], built, newer_rates, "f1").build == _below(CURRENCIES)


def test_the_fingerprint_follows_the_code_and_the_vars_not_the_parse() -> None:
    manifest = {
        "nodes": {"model.p.a": {"resource_type": "model", "checksum": {"checksum": "abc"}, "config": {"x": 1}}},
        "macros": {"macro.p.m": {"macro_sql": "{% macro m() %}1{% endmacro %}"}},
        "metadata": {"generated_at": "2026-12-05T10:00:00Z"},
    }
    base = changes.fingerprint(manifest, {"as_of_date": "2026-06-30"})
    reparsed = {**manifest, "metadata": {"generated_at": "2026-12-06T10:00:00Z"}}
    assert changes.fingerprint(reparsed, {"as_of_date": "2026-06-30"}) == base
    assert changes.fingerprint(manifest, {"as_of_date": "2026-07-01"}) != base
    edited = {**manifest, "nodes": {"model.p.a": {**manifest["nodes"]["model.p.a"], "checksum": {"checksum": "abd"}}}}
    assert changes.fingerprint(edited, {"as_of_date": "2026-06-30"}) != base
    macro = {**manifest, "macros": {"macro.p.m": {"macro_sql": "{% macro m() %}2{% endmacro %}"}}}
    assert changes.fingerprint(macro, {"as_of_date": "2026-06-30"}) != base


def test_the_fingerprint_follows_the_dbt_and_engine_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade of dbt, its adapter or DuckDB counts as new code: every model is built, the unit tests run."""
    manifest = {"nodes": {}, "macros": {}, "metadata": {"adapter_type": "duckdb"}}
    assert set(changes.engine(manifest)) == {"dbt-core", "dbt-duckdb", "duckdb"}
    assert changes.engine({**manifest, "metadata": {"adapter_type": "postgres"}}) == {
        "dbt-core": changes._installed("dbt-core"),
        "dbt-postgres": changes._installed("dbt-postgres"),
    }
    base = changes.fingerprint(manifest, {})
    real = changes._installed
    monkeypatch.setattr(changes, "_installed", lambda p: "9.9.9" if p == "duckdb" else real(p))
    assert changes.fingerprint(manifest, {}) != base


def test_the_unit_tests_stay_out_of_a_rebuild_of_code_already_built_and_tested() -> None:
    """The nightly rebuilds every model; each has a clean build of this code on record, so its unit tests passed."""
    nightly = changes.plan(MODELS, [dbt_models], _all_built(), NOW, "f1", rebuild_all="tag dbt/full_refresh")
    assert nightly.build == set(MODELS) and nightly.code_tested
    new_code = changes.plan(MODELS, [dbt_models], _all_built(), NOW, "f2", rebuild_all="tag dbt/full_refresh")
    assert new_code.build == set(MODELS) and not new_code.code_tested
    built = _all_built()
    del built[dg.AssetKey(["marts", "fct_backlog"])]  # its last build failed: not tested on record
    assert not changes.plan(MODELS, [dbt_models], built, NOW, "f1", rebuild_all="tag dbt/full_refresh").code_tested
    first = changes.plan(MODELS, [dbt_models], {}, NOW, "f1", rebuild_all="tag dbt/full_refresh")
    assert not first.code_tested  # a new warehouse: nothing on record


def test_only_clean_builds_are_recorded() -> None:
    keys = {f"model.p.{name}": dg.AssetKey(["marts", name]) for name in ("ok", "tested", "broken", "skipped")}
    manifest = {"nodes": {"test.p.not_null_tested_x": {"depends_on": {"nodes": ["model.p.tested"]}}}}
    results = [
        {"unique_id": "model.p.ok", "status": "success"},
        {"unique_id": "model.p.tested", "status": "success"},
        {"unique_id": "test.p.not_null_tested_x", "status": "fail"},
        {"unique_id": "model.p.broken", "status": "error"},
        {"unique_id": "model.p.skipped", "status": "skipped"},
    ]
    con = duckdb.connect()
    assert changes.read_state(con) == {}
    # An earlier clean build of every one of them is on record.
    assert changes.record(con, [{"unique_id": u, "status": "success"} for u in keys], keys, {}, "f1", NOW, "r1") == (
        4,
        0,
    )
    assert changes.record(con, results, keys, manifest, "f2", NOW, "r2") == (1, 3)
    state = changes.read_state(con)
    assert state == {dg.AssetKey(["marts", "ok"]): changes.Built("f2", NOW, "r2")}


def test_a_table_version_moves_only_when_a_load_changed_rows_or_the_row_count_moved() -> None:
    con = duckdb.connect()
    con.execute("create schema raw_erp; create table raw_erp.currency (id integer)")
    assert table_versions(con, [CURRENCIES, TIMECARDS]) == {CURRENCIES: "0:0:", TIMECARDS: "0:0:"}
    con.execute("create schema ingest_meta")
    con.execute(
        f"create table {LOADED_FILES} (table_name varchar, source_file varchar, file_size bigint, file_mtime double,"
        " batch_id varchar, rows_read bigint, rows_inserted bigint, rows_updated bigint, loaded_at timestamp)"
    )
    con.execute("insert into raw_erp.currency values (1), (2)")
    con.execute(f"insert into {LOADED_FILES} values ('{CURRENCIES}', 'a.csv', 1, 1, 'b1', 2, 2, 0, '2026-06-01')")
    first = table_versions(con, [CURRENCIES])[CURRENCIES]
    assert first == "1:2:2026-06-01 00:00:00"
    # A later file that changed nothing: the same version.
    con.execute(f"insert into {LOADED_FILES} values ('{CURRENCIES}', 'b.csv', 1, 2, 'b2', 2, 0, 0, '2026-06-02')")
    assert table_versions(con, [CURRENCIES])[CURRENCIES] == first
    con.execute(f"insert into {LOADED_FILES} values ('{CURRENCIES}', 'c.csv', 1, 3, 'b3', 1, 0, 1, '2026-06-03')")
    assert table_versions(con, [CURRENCIES])[CURRENCIES] == "2:2:2026-06-03 00:00:00"
    con.execute("delete from raw_erp.currency where id = 2")  # outside the loader: the count still tells
    assert table_versions(con, [CURRENCIES])[CURRENCIES] == "2:1:2026-06-03 00:00:00"


def test_a_new_file_in_the_load_log_rebuilds_the_models_that_read_the_log() -> None:
    import json

    from orchestration.defs.transform.assets import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    keys_by_id = {spec.metadata["dagster_dbt/unique_id"]: spec.key for spec in dbt_models.specs}
    readers = changes.log_readers(manifest, keys_by_id, [LOADED_FILES])
    files_loaded = dg.AssetKey(["intermediate", "int_source_files_loaded"])
    assert readers == {LOADED_FILES: [files_loaded]}  # its pre-hook creates the log when missing
    then = {**NOW, LOADED_FILES: "40:2026-06-30 10:00:00"}
    now = {**NOW, LOADED_FILES: "41:2026-06-30 11:00:00"}
    plan = changes.plan(MODELS, [dbt_models], _all_built(then), now, "f1", readers=readers)
    expected = dg.AssetSelection.assets(files_loaded).downstream().resolve([dbt_models])
    assert plan.build == expected
    assert {k.path[-1] for k in plan.build} >= {"int_source_files_loaded", "fct_source_lag"}


def test_an_incremental_model_is_built_whole_after_a_change_its_increments_do_not_follow() -> None:
    import json

    from orchestration.defs.transform.assets import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    keys_by_id = {spec.metadata["dagster_dbt/unique_id"]: spec.key for spec in dbt_models.specs}
    increments = changes.increments(manifest, keys_by_id)
    valued = dg.AssetKey(["intermediate", "int_time_entries_valued"])
    unpivoted = dg.AssetKey(["intermediate", "int_time_entries_unpivoted"])
    published = dg.AssetKey(["marts", "fct_time_entries"])  # the copy of the unpivoted entries
    assert increments == {
        valued: ["raw_psa.timecard_header", "raw_psa.assignment", changes.AS_OF],
        unpivoted: ["raw_psa.timecard_header", changes.AS_OF],
        published: ["raw_psa.timecard_header", changes.AS_OF],
    }
    rate_cards = "raw_hris.rate_card"
    timecard = changes.plan(MODELS, [dbt_models], _all_built(), {**NOW, TIMECARDS: "4:101:x"}, "f1")
    assert {valued, unpivoted, published} <= timecard.build and timecard.whole(increments) == []  # intraday
    assignments = {**NOW, TIMECARDS: "4:101:x", "raw_psa.assignment": "2:9:y"}
    assert changes.plan(MODELS, [dbt_models], _all_built(), assignments, "f1").whole(increments) == []
    # A new bill rate on the rate card re-prices every entry: the valued entries are built whole.
    rates = changes.plan(MODELS, [dbt_models], _all_built(), {**NOW, TIMECARDS: "4:101:x", rate_cards: "2:3:z"}, "f1")
    assert {valued, unpivoted} <= rates.build and rates.whole(increments) == [valued]
    code = changes.plan(MODELS, [dbt_models], _all_built(), NOW, "f2")  # a deploy: nothing to follow
    assert code.whole(increments) == [unpivoted, valued, published]


def test_a_new_as_of_date_builds_every_model_and_the_time_entries_follow_it_incrementally() -> None:
    """AS_OF_DATE unset: the first run of a new day builds as of that day; the increments follow the date."""
    from orchestration.lib import settings

    readers = {changes.AS_OF: MODELS}  # every model may read the as-of date (the dbt step's readers)
    yesterday, today = {**NOW, changes.AS_OF: "2026-06-29"}, {**NOW, changes.AS_OF: "2026-06-30"}
    assert changes.plan(MODELS, [dbt_models], _all_built(yesterday), yesterday, "f1", readers=readers).build == set()
    plan = changes.plan(MODELS, [dbt_models], _all_built(yesterday), today, "f1", readers=readers)
    assert plan.build == set(MODELS) and list(plan.why) == ["as_of_date changed since its last build"]
    increments = {dg.AssetKey(["intermediate", "int_time_entries_unpivoted"]): [TIMECARDS, changes.AS_OF]}
    assert plan.whole(increments) == []
    # Today in the firm's time zone: 23:30 UTC on June 29 is already June 30 in Sydney.
    late = datetime(2026, 6, 29, 23, 30, tzinfo=UTC)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AS_OF_DATE", "")
        mp.setenv("FIRM_TIMEZONE", "Australia/Sydney")
        assert settings.effective_as_of_date(late) == "2026-06-30"
        mp.setenv("FIRM_TIMEZONE", "America/New_York")
        assert settings.effective_as_of_date(late) == "2026-06-29"
        mp.setenv("AS_OF_DATE", "2026-05-31")
        assert settings.effective_as_of_date(late) == "2026-05-31"


# --- cutoff views: the calendars read the first timecard week, not every timecard ------------------

FIRST_WEEK = dg.AssetKey(["intermediate", "int_calendar_first_timecard_week"])
ROWS = "rows of intermediate.int_calendar_first_timecard_week"


def _project() -> tuple[dict, dict[str, dg.AssetKey]]:
    import json

    from orchestration.defs.transform.assets import dbt_project

    manifest = json.loads(dbt_project.manifest_path.read_text())
    return manifest, {spec.metadata["dagster_dbt/unique_id"]: spec.key for spec in dbt_models.specs}


def _cut_plan(rows_now: str) -> changes.BuildPlan:
    manifest, keys_by_id = _project()
    cut = changes.cutoffs(manifest, keys_by_id)
    now = {**NOW, TIMECARDS: "4:101:2026-06-30 11:00:00", ROWS: rows_now}
    readers = {c.input: list(c.readers) for c in cut}
    return changes.plan(
        MODELS, changes.cut_graph(dbt_models, cut), _all_built({**NOW, ROWS: "r1"}), now, "f1", None, readers
    )


def test_the_calendars_read_the_timecards_through_one_cutoff_view() -> None:
    manifest, keys_by_id = _project()
    (cut,) = changes.cutoffs(manifest, keys_by_id)
    assert (cut.key, cut.relation, cut.input) == (FIRST_WEEK, "intermediate.int_calendar_first_timecard_week", ROWS)
    assert [key.path[-1] for key in cut.readers] == ["int_calendar_dates", "int_calendar_months"]


def test_a_timecard_change_that_leaves_the_first_week_builds_what_reads_timecards_otherwise() -> None:
    plan = _cut_plan(rows_now="r1")
    names = {key.path[-1] for key in plan.build}
    assert names == {key.path[-1] for key in _below(TIMECARDS)} - THROUGH_THE_CALENDARS_ONLY
    assert FIRST_WEEK in plan.build  # the view itself: its rows were read again
    assert {"int_time_entries_unpivoted", "fct_utilization", "fct_backlog"} <= names
    assert list(plan.why) == [f"{TIMECARDS} changed since its last build"]


def test_a_moved_first_week_builds_the_calendars_and_everything_below_timecards() -> None:
    plan = _cut_plan(rows_now="r2")
    assert plan.build == _below(TIMECARDS)
    assert sorted(plan.why[f"{ROWS} changed since its last build"]) == sorted(THROUGH_THE_CALENDARS_ONLY)
    assert plan.code_tested


def test_a_cutoff_view_that_could_hold_stale_rows_is_refused() -> None:
    import copy

    manifest, keys_by_id = _project()
    uid = next(u for u, k in keys_by_id.items() if k == FIRST_WEEK)
    as_table = copy.deepcopy(manifest)
    as_table["nodes"][uid]["config"]["materialized"] = "table"
    with pytest.raises(ValueError, match="int_calendar_first_timecard_week has meta `cutoff` but is a table"):
        changes.cutoffs(as_table, keys_by_id)
    on_a_table = copy.deepcopy(manifest)
    joined = next(u for u in manifest["nodes"] if u.endswith(".int_projects_joined"))
    on_a_table["nodes"][uid]["depends_on"]["nodes"].append(joined)
    with pytest.raises(ValueError, match="reads int_projects_joined, not a staging view over sources"):
        changes.cutoffs(on_a_table, keys_by_id)


def test_a_cutoff_views_version_follows_its_rows_only() -> None:
    con = duckdb.connect()
    assert changes.rows_version(con, "intermediate.first_week") is None  # not built yet
    con.execute("create schema intermediate")
    con.execute("create table cards (week date, hours decimal(9, 2))")
    con.execute("insert into cards values ('2026-06-29', 8), ('2026-07-06', 7.5)")
    con.execute("create view intermediate.first_week as select min(week) as first_week from cards")
    first = changes.rows_version(con, "intermediate.first_week")
    con.execute("insert into cards values ('2026-07-13', 4)")  # a later week: the first one stays
    assert changes.rows_version(con, "intermediate.first_week") == first
    con.execute("insert into cards values ('2026-06-22', 1)")
    assert changes.rows_version(con, "intermediate.first_week") not in (first, None)
    con.execute("create view intermediate.weeks as select * from range(1001)")  # too many rows: always a change
    assert changes.rows_version(con, "intermediate.weeks") is None
    cut = [changes.Cutoff(FIRST_WEEK, "intermediate.weeks", ())]
    assert changes.cutoff_versions(con, cut, "run-9") == {"rows of intermediate.weeks": "unread in run run-9"}


def test_the_log_says_whether_a_cutoff_views_rows_moved() -> None:
    manifest, keys_by_id = _project()
    cut = changes.cutoffs(manifest, keys_by_id)
    built = _all_built({**NOW, ROWS: "r1"})
    assert changes.cutoff_summary(cut, built, {ROWS: "r1"}) == [
        "cutoff int_calendar_first_timecard_week: its rows are as int_calendar_dates, int_calendar_months last "
        "read them, so a change to what it reads does not build them"
    ]
    assert changes.cutoff_summary(cut, {}, {ROWS: "r1"}) == [
        "cutoff int_calendar_first_timecard_week: no build of its readers is on record"
    ]
    assert changes.cutoff_summary(cut, built, {ROWS: "r2"}) == [
        "cutoff int_calendar_first_timecard_week: its rows changed since the last build of int_calendar_dates, "
        "int_calendar_months"
    ]


def test_readers_of_a_moved_cutoff_left_out_of_the_run_hold_what_reads_them() -> None:
    """A tick selects the calendars only when the first timecard week moved before its run; when the run's own
    load moves it, the dbt step holds what reads the calendars for the next run, with its reasons."""
    manifest, keys_by_id = _project()
    (cut,) = changes.cutoffs(manifest, keys_by_id)
    built = _all_built({**NOW, ROWS: "r1"})
    calendars = set(cut.readers)
    selected = [key for key in MODELS if key not in calendars]
    assert changes.readers_left_behind([cut], built, {**NOW, ROWS: "r1"}, selected) == []  # the week stayed
    assert changes.readers_left_behind([cut], built, {**NOW, ROWS: "r2"}, MODELS) == []  # they are in the run
    behind = changes.readers_left_behind([cut], built, {**NOW, ROWS: "r2"}, selected)
    assert behind == sorted(calendars, key=lambda k: k.to_user_string())
    assert changes.readers_left_behind([cut], {}, {**NOW, ROWS: "r2"}, selected) == []  # nothing on record

    plan = _cut_plan(rows_now="r1")  # what a timecard load builds when the week stays
    below = dg.AssetSelection.assets(*behind).downstream().resolve([dbt_models])
    held = plan.hold(below)
    names = {key.path[-1] for key in held}
    assert "fct_utilization" in names and "int_time_entries_unpivoted" not in names
    assert not plan.build & below and set(held) <= set(plan.skip)
    built_names = sorted(key.path[-1] for key in plan.build)
    assert sorted(plan.why[f"{TIMECARDS} changed since its last build"]) == built_names
    assert "fct_utilization" not in plan.summary().splitlines()[1]
