"""Runs cost what changed: after each kind of change, only what reads the changed table is built, and exactly.

The kinds (issue 12): a timecard changed or new (a deleted one: tests/test_incremental.py), a bill rate,
an exchange rate, a project re-dated, an opportunity's stage and probability, a plan version. A changed
timecard leaves the calendars (and what reads timecards only through them) alone unless it moves the
first timecard week, the cutoff view's row they read.

On a copy of the session's demo build (warehouse, reader file, Dagster instance), so the shared build
and its instance stay as they were. The run leaves out the reverse sync (the planning server is the
session's); a blocked sync in a run with nothing new is tested in tests/test_gate_ui.py.

Kind: demo.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from bench.pipeline import write_timecard_change
from orchestration.contract import SourceObject, get
from orchestration.defs.reverse_sync.assets import anaplan_forecast_inputs
from orchestration.defs.transform.assets import dbt_models
from orchestration.defs.transform.changes import STATE_SCHEMA, rows_version
from tests.conftest import AS_OF
from tests.helpers import RAW_ASSETS, THROUGH_THE_CALENDARS_ONLY, failures, materialize, query, run_log
from tests.test_dbt_project import run_dbt

TIMECARDS = dg.AssetKey(["raw_psa", "timecard_header"])
NEWER = "2026-07-01T08:00:00"  # a modified stamp after that of the rate card the bill-rate change replaces
LOAD_LOG_READER = dg.AssetKey(["intermediate", "int_source_files_loaded"])  # ingest_meta.loaded_files
COMPARED_SCHEMAS = ("marts", "restricted", "intermediate", "sync")
CALENDARS = "int_calendar_dates, int_calendar_months"  # the cutoff view's readers
# When the build ran: fct_source_lag's measurement and the lags measured at it; the time-entry models' refresh.
VOLATILE = {"measured_at", "record_lag_hours", "load_lag_hours", "refreshed_at"}


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    schemas = ", ".join(f"'{s}'" for s in COMPARED_SCHEMAS)
    return [
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
            f"and table_schema in ({schemas}) order by 1, 2"
        ).fetchall()
    ]


def _differences(left: Path, right: Path) -> dict[str, tuple[int, int]]:
    """Per table, the rows only in `left` and only in `right` (EXCEPT ALL both ways), where any."""
    with duckdb.connect(str(left)) as con:
        con.execute(f"attach '{right}' as other (read_only)")
        tables = _tables(con)
        assert len(tables) > 40, tables
        found = {}
        for table in tables:
            columns = [r[0] for r in con.execute(f"describe {table}").fetchall() if r[0] not in VOLATILE]
            select = ", ".join(f'"{c}"' for c in columns)
            only_left = con.execute(
                f"select count(*) from (select {select} from {table} except all select {select} from other.{table})"
            ).fetchall()[0][0]
            only_right = con.execute(
                f"select count(*) from (select {select} from other.{table} except all select {select} from {table})"
            ).fetchall()[0][0]
            if only_left or only_right:
                found[table] = (only_left, only_right)
    return found


def _one_timecard(landing: Path) -> dg.AssetKey:
    """A later timecard export: one card a quarter hour more on a worked Monday (the intraday case)."""
    assert write_timecard_change(landing, AS_OF.isoformat(), share=0.0002)["rows_changed"] == 1
    return TIMECARDS


def _an_earlier_timecard(landing: Path) -> dg.AssetKey:
    """A later timecard export with one new card 13 weeks before the first timecard week, and before
    the calendars' first month: it moves the first week they read (the cutoff view's row), so they
    are built, and all below them, and the calendars start earlier than before."""
    cards = landing / "psa" / "pse__Timecard_Header__c.csv"
    batch = cards.with_name("pse__Timecard_Header__c.2026-06-30-earlier.csv")
    with duckdb.connect() as con:
        con.execute(
            f"""copy (
                select * replace (
                    'a2T0000000000EARLY' as Id,
                    strftime(cast(pse__Start_Date__c as date) - 91, '%Y-%m-%d') as pse__Start_Date__c,
                    strftime(cast(pse__End_Date__c as date) - 91, '%Y-%m-%d') as pse__End_Date__c,
                    '{NEWER}.000Z' as SystemModstamp)
                from read_csv('{cards}', all_varchar = true)
                order by cast(pse__Start_Date__c as date), Id limit 1
            ) to '{batch}' (header true)"""
        )
    return TIMECARDS


def _one_bill_rate(landing: Path) -> dg.AssetKey:
    """A later Workday rate-card export: one standard bill rate 10.00 higher, updated after the as-of date.

    The time-entry increments follow timecards and assignments, not rate cards: the valued entries
    must be built whole to price every entry of that role again.
    """
    entries = json.loads((landing / "hris" / "Rate_Card.json").read_text())["Report_Entry"]
    card = next(e for e in entries if e["Company_ID"] == "PSF-US" and e["Effective_Date"] <= AS_OF.isoformat())
    card = {**card, "Standard_Bill_Rate": f"{Decimal(card['Standard_Bill_Rate']) + 10}", "Last_Updated": NEWER}
    (landing / "hris" / "Rate_Card.2026-06-30-change.json").write_text(json.dumps({"Report_Entry": [card]}))
    return dg.AssetKey(["raw_hris", "rate_card"])


def _a_revised_exchange_rate(landing: Path) -> dg.AssetKey:
    """A later NetSuite export: one period's GBP-to-USD average rate revised up by 1 % (no cursor: it replaces the row).

    Every converted amount of that period is priced again: the valued time entries are built whole.
    """
    export = landing / "erp" / "consolidatedexchangerate.jsonl"
    rates = [json.loads(line, parse_float=Decimal) for line in export.open()]
    rate = next(r for r in reversed(rates) if r["fromcurrency"] != r["tocurrency"] and r["postingperiod"] <= 110)
    rate = {**rate, "averagerate": (rate["averagerate"] * Decimal("1.01")).quantize(Decimal("0.00000001"))}
    line = "{" + ",".join(f'"{name}":{value}' for name, value in rate.items()) + "}\n"  # numbers as NetSuite writes
    export.with_name("consolidatedexchangerate.2026-11-16-change.jsonl").write_text(line)
    return dg.AssetKey(["raw_erp", "consolidated_exchange_rate"])


def _csv_change(landing: Path, obj: SourceObject, where: str, replace_: str) -> dg.AssetKey:
    """A later batch of a CSV export: the first record `where` selects, its fields as `replace_` sets them,
    and stamped on the as-of date (after every demo modification) when the object has a modified cursor."""
    source = landing / obj.system / f"{obj.file_stem}.csv"
    batch = source.with_name(f"{obj.file_stem}.2026-11-16-change.csv")
    stamp = f", '{AS_OF.isoformat()}T20:00:00.000Z' as {obj.cursor}" if obj.cursor else ""
    with duckdb.connect() as con:
        con.execute(
            f"""copy (
                select * replace ({replace_}{stamp})
                from read_csv('{source}', all_varchar = true) where {where} order by 1 limit 1
            ) to '{batch}' (header true)"""
        )
        assert con.execute(f"select count(*) from read_csv('{batch}', all_varchar = true)").fetchall() == [(1,)]
    return dg.AssetKey([obj.schema, obj.name])


def _a_redated_project(landing: Path) -> dg.AssetKey:
    """A project in progress ends four weeks later: its schedules, spreads and backlog move."""
    where = "pse__Stage__c = 'In Progress' and pse__Billing_Type__c = 'Time and Materials'"
    later = "strftime(cast(pse__End_Date__c as date) + 28, '%Y-%m-%d') as pse__End_Date__c"
    return _csv_change(landing, get("psa", "project"), where, later)


def _an_opportunity_moved_on(landing: Path) -> dg.AssetKey:
    """An open opportunity in Proposal moves to Negotiation, its probability from 50 to 75 percent."""
    moved = "'Negotiation' as StageName, '75.00' as Probability"
    return _csv_change(landing, get("crm", "opportunity"), "StageName = 'Proposal' and IsClosed = 'false'", moved)


def _a_plan_version_change(landing: Path) -> dg.AssetKey:
    """The current plan version is locked and runs three months longer (an Anaplan export: no cursor)."""
    changed = """'true' as "Is Locked", 'Mar 28' as "End Month" """
    return _csv_change(landing, get("planning", "plan_version"), "\"Is Current\" = 'true'", changed)


CUTOFF = dg.AssetKey(["intermediate", "int_calendar_first_timecard_week"])
WORKSPACE = Path(__file__).parents[1] / "workspace.yaml"
STALE_STATUS = """
query StaleStatus($keys: [AssetKeyInput!]) {
  assetNodes(assetKeys: $keys) { assetKey { path } staleStatus }
}
"""
# The incremental models: their increments follow timecards (and the valued one's, assignments too).
INCREMENTAL = (
    dg.AssetKey(["marts", "fct_time_entries"]),
    dg.AssetKey(["intermediate", "int_time_entries_unpivoted"]),
    dg.AssetKey(["intermediate", "int_time_entries_valued"]),
)
WHOLE = "built whole, their increments do not follow what changed: "


def _run_builds_what_reads(
    warehouse: Path, landing: Path, instance: dg.DagsterInstance, change, every_ingest: bool = True
) -> tuple[str, set[str]]:
    """Write `change`, run everything but the sync, and assert it built exactly what reads the changed table.

    With `every_ingest` False, the run ingests only the changed object, as the landing_files sensor starts it.
    Returns the dbt step's log, and the tables below the changed raw table ("schema.name"), not those
    only below the load log.
    """
    changed = change(landing)
    selection = dg.AssetSelection.all() - dg.AssetSelection.assets(anaplan_forecast_inputs.key)
    if not every_ingest:
        selection = selection - RAW_ASSETS | dg.AssetSelection.assets(changed)
    run = materialize(warehouse, landing, selection, instance=instance)
    assert run.success, failures(run)

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    # What reads the table, and what reads the load log that logged the new file (the operational marts).
    below = dg.AssetSelection.assets(changed, LOAD_LOG_READER).downstream().resolve(graph) - {changed}
    logged = run_log(instance, run.run_id, "dbt_models")
    if change is _one_timecard:  # the first timecard week stays: what reads timecards only through it is left
        below = {key for key in below if key.path[-1] not in THROUGH_THE_CALENDARS_ONLY}
    models = set(dbt_models.keys)
    built = {e.asset_key for e in run.get_asset_materialization_events()}
    raw = {key for key in built if key.path[0].startswith("raw_")}
    assert raw == (
        {key for key in graph.get_all_asset_keys() if key.path[0].startswith("raw_")} if every_ingest else {changed}
    )
    assert built - raw <= below
    assert built & models == below & models
    assert 0 < len(built & models) < len(models)
    # The run's log says what dbt left alone and why.
    left_alone = len(models) - len(below & models)
    assert f"{left_alone} left as they are (no input they read changed since their last build)" in logged
    assert f"{'.'.join(changed.path)} changed since its last build" in logged
    # Built whole after any change but a timecard's, incrementally (the changed timecard alone) after one.
    whole = next((line.removeprefix(WHOLE).split(", ") for line in logged.splitlines() if line.startswith(WHOLE)), [])
    assert whole == sorted(key.path[-1] for key in INCREMENTAL if key in below and changed != TIMECARDS)
    # Only the checks of what was built were evaluated among dbt's tests.
    evaluated = {e.asset_key for e in run.get_asset_check_evaluations()}
    assert evaluated & models <= below
    # The checks left as they were are named as such before Dagster lists them as outputs not yielded.
    dbt_checks = {e.asset_check_key for e in run.get_asset_check_evaluations() if e.asset_key in models}
    left = len(dbt_models.check_keys) - len(dbt_checks)
    assert f"{left} of the {len(dbt_models.check_keys)} selected dbt checks not evaluated in this run" in logged
    reads_it = dg.AssetSelection.assets(changed).downstream().resolve(graph) - {changed}
    return logged, {".".join(key.path) for key in reads_it & below}


def _from_scratch(warehouse: Path, work: Path) -> Path:
    """A from-scratch build of every model from the warehouse's raw tables, in a copy under `work`.

    Called again with the same `work`, it replaces the copy: same file, same profile, so dbt starts
    from its partial parse there instead of parsing the whole project again.
    """
    scratch = work / "warehouse.duckdb"
    work.mkdir(exist_ok=True)
    scratch.unlink(missing_ok=True)
    shutil.copy(warehouse, scratch)
    with duckdb.connect(str(scratch)) as con:  # the raw layer and the load log only: no model, no record of builds
        for schema in (*COMPARED_SCHEMAS, "staging", STATE_SCHEMA):
            con.execute(f"drop schema if exists {schema} cascade")
    # The rows only (the tests ran in the run compared), as of the demo's date as the pipeline gives it.
    done = run_dbt(["run"], scratch, work, env={"AS_OF_DATE": AS_OF.isoformat()})
    assert done.returncode == 0, done.output[-3000:]
    return scratch


@pytest.mark.parametrize("change", [_one_timecard, _an_earlier_timecard], ids=["one timecard", "an earlier timecard"])
def test_after_a_timecard_change_only_what_reads_timecards_is_built_and_equals_a_full_rebuild(
    pristine_demo, tmp_path: Path, change
) -> None:
    warehouse, landing, instance = pristine_demo
    first_day = "select min(calendar_date) from intermediate.int_calendar_dates"
    (before,) = query(warehouse, first_day)
    # The demo build, on a new warehouse, read the cutoff view after building it: its version is its rows.
    materialized = instance.get_latest_materialization_event(CUTOFF).asset_materialization
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert materialized.tags["dagster/data_version"] == rows_version(con, ".".join(CUTOFF.path))
    logged, _ = _run_builds_what_reads(warehouse, landing, instance, change)
    if change is _one_timecard:
        assert f"cutoff int_calendar_first_timecard_week: its rows are as {CALENDARS} last read them" in logged
        # The view was built again with the same rows: the UI shows the calendars in sync, not "Unsynced".
        with define_out_of_process_context(str(WORKSPACE), None, instance, read_only=True) as context:
            keys = [{"path": ["intermediate", name]} for name in CALENDARS.split(", ")]
            nodes = execute_dagster_graphql(context, STALE_STATUS, {"keys": keys}).data["assetNodes"]
        assert {node["assetKey"]["path"][-1]: node["staleStatus"] for node in nodes} == {
            "int_calendar_dates": "FRESH",
            "int_calendar_months": "FRESH",
        }
    else:
        assert (
            f"cutoff int_calendar_first_timecard_week: its rows changed since the last build of {CALENDARS}" in logged
        )
        assert query(warehouse, first_day)[0] < before  # the calendars start earlier now
    assert _differences(warehouse, _from_scratch(warehouse, tmp_path / "scratch")) == {}


OTHER_CHANGES = (
    _one_bill_rate,
    _a_revised_exchange_rate,
    _a_redated_project,
    _an_opportunity_moved_on,
    _a_plan_version_change,
)


def test_after_each_other_kind_of_change_only_what_reads_it_is_built_and_the_end_equals_a_full_rebuild(
    pristine_demo, tmp_path: Path
) -> None:
    """Issue 12's other kinds of change, one after another on one warehouse.

    Each run builds exactly what reads the changed table (the rest keep their tables) and changes rows
    of it, and then every table equals a from-scratch build. Each run ingests only the object that
    changed, as the landing_files sensor starts it.
    """
    warehouse, landing, instance = pristine_demo
    for change in OTHER_CHANGES:
        before = tmp_path / f"{change.__name__}.duckdb"
        shutil.copy(warehouse, before)
        _, reads_it = _run_builds_what_reads(warehouse, landing, instance, change, every_ingest=False)
        moved = _differences(before, warehouse)
        assert set(moved) & reads_it, f"{change.__name__} changed no row of what reads it: {moved}"
        before.unlink()
        scratch = _from_scratch(warehouse, tmp_path / "scratch")
        assert _differences(warehouse, scratch) == {}, change.__name__
