"""The unapproved-time backlog and plan against actual on the small demo, checked against the raw tables.

fct_unapproved_time holds every timecard the PSA export has as Saved or Submitted, with the same
hours; fct_plan_vs_actual has a row for every target cell of the current plan version.

Kind: demo (on the shared demo build).
"""

from __future__ import annotations

import pytest

from tests.helpers import query

pytestmark = pytest.mark.demo

RAW_UNAPPROVED = (
    'select "Id", "pse__Status__c", "pse__Total_Hours__c" from raw_psa.timecard_header'
    " where \"pse__Status__c\" in ('Saved', 'Submitted') and not coalesce(\"IsDeleted\", false)"
)


def test_unapproved_time_holds_every_unapproved_timecard_with_its_hours(demo_build) -> None:
    warehouse = demo_build[0]
    raw = {row[0]: (row[1], row[2]) for row in query(warehouse, RAW_UNAPPROVED)}
    mart = {
        row[0]: (row[1], row[2])
        for row in query(warehouse, "select timecard_id, timecard_status, hours from marts.fct_unapproved_time")
    }
    assert {"Saved", "Submitted"} <= {status for status, _ in raw.values()}  # the demo has both to find
    assert mart == raw
    by_status = dict(query(warehouse, "select timecard_status, sum(hours) from marts.fct_unapproved_time group by 1"))
    raw_by_status = dict(
        query(warehouse, f'select "pse__Status__c", sum("pse__Total_Hours__c") from ({RAW_UNAPPROVED}) group by 1')
    )
    assert by_status == raw_by_status


def test_unapproved_time_is_valued_and_aged(demo_build) -> None:
    warehouse = demo_build[0]
    rows = query(
        warehouse,
        "select age_bucket, min(age_days), max(age_days), count(*) filter (where standard_value_reporting is null),"
        " sum(standard_value_reporting) from marts.fct_unapproved_time group by 1",
    )
    bounds = {"0-7": (0, 7), "8-14": (8, 14), "15-30": (15, 30), "31+": (31, 10**6)}
    for bucket, low, high, unknown, value in rows:
        assert bounds[bucket][0] <= low <= high <= bounds[bucket][1], bucket
        assert unknown == 0 and value > 0, bucket


def test_plan_vs_actual_has_a_row_for_every_target_cell_of_the_current_plan(demo_build) -> None:
    warehouse = demo_build[0]
    current = query(warehouse, 'select "Version Code" from raw_planning.plan_version where "Is Current"')
    assert len(current) == 1
    cells = set(
        query(
            warehouse,
            'select "Version", "Legal Entity", "Practice", "Month" from raw_planning.target where "Version" = ?',
            [current[0][0]],
        )
    )
    rows = query(
        warehouse,
        "select plan_version_code, legal_entity_code, practice, strftime(month_start_date, '%b %y'),"
        " variance_amount_reporting from marts.fct_plan_vs_actual where is_current_plan_version",
    )
    assert {row[:4] for row in rows} == cells
    assert len(rows) == len(cells)
    # Inside the forecast's window every cell has a variance (the demo has every month's FX rate but one).
    assert sum(1 for row in rows if row[4] is not None) >= len(cells) // 2
