"""Runs cost what changed: after one changed timecard or bill rate, only what reads it is built, and exactly.

A changed timecard leaves the calendars (and what reads timecards only through them) alone unless it
moves the first timecard week, the cutoff view's row they read.

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

from bench.pipeline import write_timecard_change
from orchestration.defs.reverse_sync.assets import anaplan_forecast_inputs
from orchestration.defs.transform.assets import dbt_models
from orchestration.defs.transform.changes import STATE_SCHEMA
from tests.conftest import AS_OF
from tests.helpers import THROUGH_THE_CALENDARS_ONLY, failures, materialize, query, run_log
from tests.test_dbt_project import run_dbt

TIMECARDS = dg.AssetKey(["raw_psa", "timecard_header"])
NEWER = "2026-07-01T08:00:00"  # after every demo modification (all are on or before the as-of date)
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


@pytest.mark.parametrize(
    "change",
    [_one_timecard, _an_earlier_timecard, _one_bill_rate],
    ids=["one timecard", "an earlier timecard", "one bill rate"],
)
def test_after_a_change_only_what_reads_the_changed_table_is_built_and_equals_a_full_rebuild(
    pristine_demo, tmp_path: Path, change
) -> None:
    warehouse, landing, instance = pristine_demo
    first_day = "select min(calendar_date) from intermediate.int_calendar_dates"
    (before,) = query(warehouse, first_day)
    changed = change(landing)
    everything_but_the_sync = dg.AssetSelection.all() - dg.AssetSelection.assets(anaplan_forecast_inputs.key)
    run = materialize(warehouse, landing, everything_but_the_sync, instance=instance)
    assert run.success, failures(run)

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    # What reads the table, and what reads the load log that logged the new file (the operational marts).
    below = dg.AssetSelection.assets(changed, LOAD_LOG_READER).downstream().resolve(graph) - {changed}
    logged = run_log(instance, run.run_id, "dbt_models")
    if change is _one_timecard:  # the first timecard week stays: what reads timecards only through it is left
        below = {key for key in below if key.path[-1] not in THROUGH_THE_CALENDARS_ONLY}
        assert f"cutoff int_calendar_first_timecard_week: its rows are as {CALENDARS} last read them" in logged
    elif change is _an_earlier_timecard:
        assert (
            f"cutoff int_calendar_first_timecard_week: its rows changed since the last build of {CALENDARS}" in logged
        )
        assert query(warehouse, first_day)[0] < before  # the calendars start earlier now
    models = set(dbt_models.keys)
    built = {e.asset_key for e in run.get_asset_materialization_events()}
    raw = {key for key in built if key.path[0].startswith("raw_")}  # every ingest asset runs; 21 load nothing
    assert built - raw <= below
    assert built & models == below & models
    assert 10 < len(built & models) < len(models)
    # The run's log says what dbt left alone and why.
    left_alone = len(models) - len(below & models)
    assert f"{left_alone} left as they are (no input they read changed since their last build)" in logged
    assert f"{'.'.join(changed.path)} changed since its last build" in logged
    # Priced again whole after a rate change, incrementally (the changed timecard alone) after a timecard change.
    whole = "built whole, their increments do not follow what changed: int_time_entries_valued"
    assert (whole in logged) == (changed != TIMECARDS)
    # Only the checks of what was built were evaluated among dbt's tests.
    evaluated = {e.asset_key for e in run.get_asset_check_evaluations()}
    assert evaluated & models <= below

    # A from-scratch build of every model from the same raw tables holds the same rows.
    scratch = tmp_path / "scratch" / "warehouse.duckdb"
    scratch.parent.mkdir()
    shutil.copy(warehouse, scratch)
    with duckdb.connect(str(scratch)) as con:  # the raw layer and the load log only: no model, no record of builds
        for schema in (*COMPARED_SCHEMAS, "staging", STATE_SCHEMA):
            con.execute(f"drop schema if exists {schema} cascade")
    vars_ = json.dumps({"as_of_date": AS_OF.isoformat()})
    done = run_dbt(["build", "--exclude", "source:*", "--vars", vars_], scratch, tmp_path / "scratch")
    assert done.returncode == 0, done.output[-3000:]
    assert _differences(warehouse, scratch) == {}
