"""The marts on the small demo: defects land in the exceptions model, and figures match a hand calculation.

The hand calculations read the raw tables directly, not the dbt models, so they check the marts
against the metrics' definitions, not against themselves.

Kind: demo (on the shared demo build).
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.conftest import AS_OF
from tests.helpers import materialization_metadata, query

pytestmark = pytest.mark.demo

CENT = Decimal("0.01")
MONTH = "2026-10-01"  # the last full actual month before the as-of date (2026-11-16)


def _defects(small_landing) -> dict[str, list[str]]:
    landing, _ = small_landing
    return json.loads((landing / "demo_manifest.json").read_text())["defects"]


def test_every_injected_defect_is_an_exception_not_a_figure(demo_build, small_landing) -> None:
    warehouse = demo_build[0]
    defects = _defects(small_landing)
    rows = query(warehouse, "select reason_code, source_id from marts.fct_valuation_exceptions")
    by_reason: dict[str, set[str]] = {}
    for reason, source_id in rows:
        by_reason.setdefault(reason, set()).add(source_id)
    assert set(defects["duplicate_timecard"]) <= by_reason["duplicate_timecard"]
    assert set(defects["negative_hours"]) | set(defects["hours_over_24"]) <= by_reason["invalid_hours"]
    assert set(defects["unknown_project"]) <= by_reason["unknown_project"]
    assert set(defects["probability_over_100"]) <= by_reason["invalid_probability"]
    period_id = int(float(defects["missing_fx_rate"][0].split()[0].split("=")[1]))
    missing_month = query(warehouse, f"select startdate from raw_erp.accounting_period where id = {period_id}")[0][0]
    fx_months = query(
        warehouse,
        "select distinct month_start_date from marts.fct_valuation_exceptions where reason_code = 'missing_fx_rate'",
    )
    assert (missing_month,) in fx_months
    whole_timecards = defects["duplicate_timecard"] + defects["unknown_project"]
    valued = "select count(*) from intermediate.int_time_entries_valued where "
    assert query(warehouse, valued + f"timecard_id in ({', '.join(repr(i) for i in whole_timecards)})") == [(0,)]
    # A day with impossible hours is left out; the valid days of the same timecard still count.
    assert query(warehouse, valued + "hours < 0 or hours > 24") == [(0,)]


def test_finance_marts_carry_their_exception_counts(demo_build) -> None:
    warehouse, _, first = demo_build
    metadata = materialization_metadata(first)
    for model in ("fct_project_margin", "fct_backlog", "fct_revenue_forecast"):
        expected = dict(
            query(
                warehouse,
                "select reason_code, count(*) from marts.fct_valuation_exceptions "
                f"where affected_model = '{model}' group by 1",
            )
        )
        meta = metadata[f"marts/{model}"]
        assert meta["valuation_exceptions_by_reason"] == expected
        assert meta["valuation_exceptions"] == sum(expected.values())
    assert metadata["marts/fct_project_margin"]["valuation_exceptions"] > 0


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _valid_day_hours(defect_ids: set[str], billable_only: bool = True) -> str:
    """Approved timecard days from the raw PSA table, defects excluded, as SQL."""
    excluded = ", ".join(repr(i) for i in sorted(defect_ids))
    billable = "and pse__Billable__c" if billable_only else ""
    days = " union all ".join(
        f"""select pse__Project__c as project_id, pse__Assignment__c as assignment_id,
                   pse__Start_Date__c + {offset} as day, pse__{weekday}_Hours__c as hours
            from raw_psa.timecard_header
            where pse__Status__c = 'Approved' {billable} and not coalesce(IsDeleted, false)
              and Id not in ({excluded})"""
        for offset, weekday in enumerate(WEEKDAYS)
    )
    return f"select * from ({days}) where hours <> 0 and day < date '{AS_OF}'"


def test_time_and_materials_revenue_matches_a_hand_calculation(demo_build, small_landing) -> None:
    warehouse = demo_build[0]
    defect_ids = {i for ids in _defects(small_landing).values() for i in ids}
    project_id, bookings = query(
        warehouse,
        f"""select p.Id, p.pse__Bookings__c from raw_psa.project as p
            where p.pse__Billing_Type__c = 'Time and Materials'
              and exists (select 1 from ({_valid_day_hours(defect_ids)}) v
                          where v.project_id = p.Id and date_trunc('month', v.day) = date '{MONTH}')
            order by p.Id limit 1""",
    )[0]
    expected = _hand_tm_month(warehouse, project_id, defect_ids, MONTH)
    revenue, billable_hours = query(
        warehouse,
        f"select revenue, billable_hours from marts.fct_project_margin "
        f"where project_id = '{project_id}' and month_start_date = date '{MONTH}'",
    )[0]
    assert revenue == expected
    earned = sum(
        (
            _hand_tm_month(warehouse, project_id, defect_ids, month)
            for (month,) in query(
                warehouse,
                f"select distinct date_trunc('month', day)::date from ({_valid_day_hours(defect_ids)}) "
                f"where project_id = '{project_id}' and day < date '{MONTH}' + interval 1 month",
            )
        ),
        Decimal(0),
    )
    backlog = query(
        warehouse,
        f"select earned_to_date, backlog_amount from marts.fct_backlog "
        f"where project_id = '{project_id}' and month_start_date = date '{MONTH}'",
    )[0]
    assert backlog == (earned, bookings - earned)
    assert billable_hours > 0


def _hand_tm_month(warehouse, project_id: str, defect_ids: set[str], month) -> Decimal:
    rows = query(
        warehouse,
        f"""select sum(v.hours * a.pse__Bill_Rate__c)
            from ({_valid_day_hours(defect_ids)}) as v
            join raw_psa.assignment as a on a.Id = v.assignment_id
            where v.project_id = '{project_id}' and date_trunc('month', v.day) = date '{month}'""",
    )
    return Decimal(rows[0][0]).quantize(CENT, ROUND_HALF_UP)


def test_fixed_fee_earned_to_date_matches_a_hand_calculation(demo_build, small_landing) -> None:
    warehouse = demo_build[0]
    defect_ids = {i for ids in _defects(small_landing).values() for i in ids}
    all_hours = _valid_day_hours(defect_ids, billable_only=False)
    project_id, contract, estimate, hours = query(
        warehouse,
        f"""select p.Id, p.pse__Bookings__c, p.pse__Planned_Hours__c, sum(v.hours)
            from raw_psa.project as p join ({all_hours}) as v on v.project_id = p.Id
            where p.pse__Billing_Type__c = 'Fixed Price' and v.day < date '{MONTH}' + interval 1 month
            group by all order by p.Id limit 1""",
    )[0]
    percent_complete = min(Decimal(hours) / Decimal(estimate), Decimal(1))
    expected = (percent_complete * contract).quantize(CENT, ROUND_HALF_UP)
    earned, backlog = query(
        warehouse,
        f"select earned_to_date, backlog_amount from marts.fct_backlog "
        f"where project_id = '{project_id}' and month_start_date = date '{MONTH}'",
    )[0]
    assert earned == expected
    assert earned + backlog == contract


def test_time_approved_after_the_as_of_date_is_flagged_and_in_no_actual(demo_build, small_landing) -> None:
    """The demo's approved_future_time card: each day is listed with its reason, the WARN dbt check names
    them, and no actual figure counts them (utilization's as-of month included)."""
    warehouse, _, first = demo_build
    defect_ids = {i for ids in _defects(small_landing).values() for i in ids}
    (card,) = _defects(small_landing)["approved_future_time"]
    days = " union all ".join(
        f"select pse__Resource__c, pse__Start_Date__c + {offset} as day, pse__{weekday}_Hours__c as hours"
        f" from raw_psa.timecard_header where Id = '{card}' and pse__Status__c = 'Approved'"
        for offset, weekday in enumerate(WEEKDAYS)
    )
    approved = query(warehouse, f"select * from ({days}) where hours <> 0 order by day")
    assert approved and all(day > AS_OF and day.month == AS_OF.month for _, day, _ in approved)
    resource = approved[0][0]

    listed = query(
        warehouse,
        "select record_id, hours, exception_date, reason_text from marts.fct_valuation_exceptions"
        " where reason_code = 'approved_future_time' order by exception_date",
    )
    assert listed == [
        (
            f"{card}-{day:%Y%m%d}",
            hours,
            day,
            f"Approved time dated {day}, after the as-of date {AS_OF}: not counted as actual",
        )
        for _, day, hours in approved
    ]
    (check,) = [
        e
        for e in first.get_asset_check_evaluations()
        if e.check_name == "fct_time_entries_has_no_approved_time_after_as_of_date"
    ]
    assert (check.passed, check.severity.value) == (False, "WARN")
    assert check.metadata["dagster_dbt/failed_row_count"].value == len(approved)

    flags = query(
        warehouse,
        f"select is_after_as_of_date, is_actual, count(*) from marts.fct_time_entries where timecard_id = '{card}'"
        " group by all",
    )
    assert flags == [(True, False, len(approved))]
    assert query(
        warehouse, f"select count(*) from intermediate.int_time_entries_valued where timecard_id = '{card}'"
    ) == [(0,)]
    # Utilization of the as-of month: the resource's approved billable hours up to the as-of date, by hand
    # from the raw timecards (the other defects left out by Id; this card only by its dates).
    other_defects = ", ".join(repr(i) for i in sorted(defect_ids - {card}))
    month_days = " union all ".join(
        f"""select pse__Start_Date__c + {offset} as day, pse__{weekday}_Hours__c as hours
            from raw_psa.timecard_header
            where pse__Resource__c = '{resource}' and pse__Status__c = 'Approved' and pse__Billable__c
              and not coalesce(IsDeleted, false) and Id not in ({other_defects})"""
        for offset, weekday in enumerate(WEEKDAYS)
    )
    month = AS_OF.replace(day=1)
    (expected,) = query(
        warehouse,
        f"select sum(hours) from ({month_days}) where day between date '{month}' and date '{AS_OF}'",
    )[0]
    billable = query(
        warehouse,
        "select billable_hours from marts.fct_utilization where resource_id = ? and month_start_date = ?",
        [resource, month],
    )
    assert billable == [(Decimal(expected).quantize(CENT),)]
