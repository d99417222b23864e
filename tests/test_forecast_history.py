"""Forecast history on the small firm: versions accumulate per as-of date, a re-run of a date
replaces its version, the nightly full refresh keeps them all, the bridge explains a week of
changes driver by driver to the cent, and accuracy compares a closed month with the versions
that forecast it.

Three versions are built by running dbt as of three dates over landing data that changes in
between: as of 2026-10-19; as of 2026-10-26 (the same month, so nothing moves but what the test
changed: one deal's probability, one's amount, one's close date, one lost, one new, an
assignment's bill rate, a schedule's hours, a future GBP rate); and as of 2026-12-07 (October
and November closed). The expected driver amounts are computed here from the landing values
(the pipeline spread, hours times rates), not read from the bridge.

Kind: integration (dbt runs on a warehouse of its own).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.contract import SOURCE_OBJECTS
from orchestration.defs.ingest.loader import load_object
from tests.helpers import query
from tests.test_dbt_project import run_dbt

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("forecast_history")]

CENT = Decimal("0.01")
V1, V2, V3 = date(2026, 10, 19), date(2026, 10, 26), date(2026, 12, 7)
WINDOW = (date(2026, 10, 1), date(2027, 9, 1))  # the forecast months of V1 and V2
CHANGED_AT = "2026-12-01T00:00:00.000Z"  # newer than any record of the demo export
NEW_DEAL, LATER_DEAL = "006NEWDEAL00000AAA", "006NEWDEALFFFFFAAA"
GBP_CURRENCY_ID = 2  # NetSuite's currency id of GBP in the demo firm
FX_MONTH = date(2027, 1, 1)
DRIVERS = (
    "actuals_restated_change", "actuals_replacing_forecast_change", "pipeline_probability_change",
    "pipeline_amount_change", "pipeline_close_date_change", "pipeline_lost_change", "new_work_won_change",
    "schedule_change", "rate_change", "fx_change",
)  # fmt: skip
# dbt builds the forecast models and their tests, without the rest of the project's tests.
SELECT = [
    "--indirect-selection", "empty", "--exclude", "resource_type:unit_test", "--select",
    "resource_type:model,+fct_forecast_bridge", "resource_type:model,+fct_forecast_accuracy_by_horizon",
    "resource_type:model,+fct_revenue_forecast", "resource_type:model,+dim_legal_entity",
    "path:models/marts/finance/_forecast_history__models.yml",
    "path:tests/assert_forecast_version_matches_revenue_forecast.sql",
]  # fmt: skip


@dataclass
class History:
    warehouse: Path
    expected: dict[str, Decimal]  # driver -> expected total of the V1 -> V2 bridge
    bridge_v1_v2: list[dict]
    versions_v1: set[tuple]
    v3_rows_before_rerun: int
    v3_pipeline_before_rerun: Decimal
    new_deal_f: Decimal  # F's weighted revenue in V3's window


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _spread(amount: Decimal, probability: Decimal, months: int, close: date, as_of: date, window) -> Decimal:
    """A deal's weighted revenue inside the window, as the forecast spreads it (in its currency)."""
    weighted = _cents(amount * probability / 100)
    regular = _cents(weighted / months)
    first = _add_months(max(close.replace(day=1), as_of.replace(day=1)), 1)
    parts = [regular] * (months - 1) + [weighted - regular * (months - 1)]
    return sum((part for k, part in enumerate(parts) if window[0] <= _add_months(first, k) <= window[1]), Decimal(0))


def _gbp_rate(warehouse: Path) -> Decimal:
    sql = "select average_rate from marts.dim_fx_rate where from_currency_code = 'GBP' and month_start_date = ?"
    return query(warehouse, sql, [FX_MONTH])[0][0]


def _load(warehouse: Path, landing: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        for obj in SOURCE_OBJECTS:
            load_object(con, obj, landing)


def _build(warehouse: Path, work: Path, as_of: date, *extra: str) -> None:
    # As the pipeline gives it: AS_OF_DATE in dbt's environment, so one parse serves every day.
    done = run_dbt(["build", *SELECT, *extra], warehouse, work, env={"AS_OF_DATE": as_of.isoformat()})
    assert done.returncode == 0, done.output[-3000:]


def _deals(warehouse: Path) -> list[tuple]:
    """Open USD deals of V1 with a future close date: id, amount, probability, delivery months, close date."""
    return query(
        warehouse,
        "select record_id, any_value(opportunity_amount), any_value(probability_percent), any_value(delivery_months),"
        " any_value(close_date) from marts.fct_revenue_forecast_version_lines"
        " where as_of_date = ? and record_type = 'opportunity' and currency_code = 'USD' and close_date >= ?"
        " and probability_percent between 10 and 80 group by record_id order by record_id",
        [V1, WINDOW[0]],
    )


def _future_assignments(warehouse: Path) -> list[tuple]:
    """Billable USD assignments of USD time-and-materials projects with no time yet, one per project."""
    return query(
        warehouse,
        "select min(assignments.assignment_id), assignments.project_id"
        " from marts.fct_revenue_forecast_version_assignments as assignments"
        " inner join intermediate.int_projects_joined as projects using (project_id)"
        " where assignments.as_of_date = ? and assignments.currency_code = 'USD' and projects.currency_code = 'USD'"
        " and assignments.billable_hours > 0 and not exists (select 1 from intermediate.int_time_entries_unpivoted"
        " as entries where entries.assignment_id = assignments.assignment_id)"
        " group by assignments.project_id order by 2",
        [V1],
    )


def _window_billable(warehouse: Path, assignment_id: str) -> tuple[Decimal, Decimal]:
    """An assignment's billable scheduled hours in the window's months, and its bill rate."""
    hours, rate = query(
        warehouse,
        "select sum(scheduled_hours), max(bill_rate) from intermediate.int_scheduled_hours_spread"
        " where assignment_id = ? and is_billable and scheduled_date >= ? and scheduled_date < ?",
        [assignment_id, WINDOW[0], _add_months(WINDOW[1], 1)],
    )[0]
    return hours or Decimal(0), rate


def _write_batch(landing: Path, path: str, batch: str, select: str, params: list) -> None:
    """A later export of some records of a landing CSV: the selected rows of the base file, changed."""
    base = landing / path
    con = duckdb.connect()
    con.execute(f"create table base as select * from read_csv('{base}', all_varchar = true)")
    con.execute(f"create table batch as {select}", params)
    target = base.with_name(f"{base.name.split('.')[0]}.{batch}.csv")
    con.execute(f"copy batch to '{target}' (header, quote '\"')")
    con.close()


@dataclass
class Changes:
    expected: dict[str, Decimal]  # driver -> expected total of the V1 -> V2 bridge, but the schedule's
    scheduled_assignment: str  # whose schedule gained an hour every Monday
    scheduled_hours_before: Decimal
    scheduled_bill_rate: Decimal


def _change_deals(landing: Path, warehouse: Path) -> dict[str, Decimal]:
    """One deal's probability +10, one's amount +50,000, one's close date a month later, one lost, one new."""
    deals = _deals(warehouse)
    (a, a_amount, a_p, a_months, a_close), (b, b_amount, b_p, b_months, b_close) = deals[0], deals[1]
    (c, c_amount, c_p, c_months, c_close), (d, d_amount, d_p, d_months, d_close) = deals[2], deals[3]

    def spread(amount: Decimal, probability: Decimal, months: int, close: date) -> Decimal:
        return _spread(amount, probability, months, close, V2, WINDOW)

    c_new_close = _add_months(c_close.replace(day=1), 1).replace(day=min(c_close.day, 28))
    new_amount = Decimal("123456.00")
    _write_batch(
        landing, "crm/Opportunity.csv", "2026-10-25",
        "select * replace ("
        " case when Id = $a then cast(cast(Probability as decimal(9, 2)) + 10 as varchar) when Id = $d then '0.00'"
        "  else Probability end as Probability,"
        " case when Id = $b then cast(cast(Amount as decimal(18, 2)) + 50000 as varchar) else Amount end as Amount,"
        " case when Id = $c then $c_close else CloseDate end as CloseDate,"
        " case when Id = $d then 'Closed Lost' else StageName end as StageName,"
        " case when Id = $d then 'true' else IsClosed end as IsClosed,"
        f" '{CHANGED_AT}' as SystemModstamp) from base where Id in ($a, $b, $c, $d)"
        f" union all select * replace ('{NEW_DEAL}' as Id, '{new_amount}' as Amount,"
        f" '{CHANGED_AT}' as SystemModstamp, '{CHANGED_AT}' as CreatedDate) from base where Id = $a",
        {"a": a, "b": b, "c": c, "d": d, "c_close": c_new_close.isoformat()},
    )  # fmt: skip
    return {
        "pipeline_probability_change": spread(a_amount, a_p + 10, a_months, a_close)
        - spread(a_amount, a_p, a_months, a_close),
        "pipeline_amount_change": spread(b_amount + 50000, b_p, b_months, b_close)
        - spread(b_amount, b_p, b_months, b_close),
        "pipeline_close_date_change": spread(c_amount, c_p, c_months, c_new_close)
        - spread(c_amount, c_p, c_months, c_close),
        "pipeline_lost_change": -spread(d_amount, d_p, d_months, d_close),
        "new_work_won_change": spread(new_amount, a_p, a_months, a_close),
    }


def _raise_gbp_rate(landing: Path, month: date) -> None:
    """A later export of NetSuite's consolidated rates: GBP's average rate of the month + 0.01."""
    periods = [json.loads(line) for line in (landing / "erp" / "accountingperiod.jsonl").read_text().splitlines()]
    (period,) = [p["id"] for p in periods if p["startdate"] == month.isoformat()]
    changed = []
    for line in (landing / "erp" / "consolidatedexchangerate.jsonl").read_text().splitlines():
        record = json.loads(line, parse_float=Decimal)
        if record["postingperiod"] == period and record["fromcurrency"] == GBP_CURRENCY_ID:
            rate = re.search(r'"averagerate":([0-9.]+)', line).group(1)  # type: ignore[union-attr]
            changed.append(line.replace(f'"averagerate":{rate}', f'"averagerate":{Decimal(rate) + CENT:.8f}'))
    assert changed
    (landing / "erp" / "consolidatedexchangerate.2026-10-25.jsonl").write_text("\n".join(changed) + "\n")


def _change_landing(landing: Path, warehouse: Path) -> Changes:
    """The week's changes between V1 and V2, and what each driver of the bridge must show for them."""
    expected = _change_deals(landing, warehouse)
    (x, _), (y, _) = _future_assignments(warehouse)[:2]
    x_hours, _ = _window_billable(warehouse, x)
    expected["rate_change"] = x_hours * 10  # a whole-unit rate change on 2-decimal hours: exact, no rounding
    _write_batch(
        landing, "psa/pse__Assignment__c.csv", "2026-10-25",
        "select * replace (cast(cast(pse__Bill_Rate__c as decimal(18, 2)) + 10 as varchar) as pse__Bill_Rate__c,"
        f" '{CHANGED_AT}' as SystemModstamp) from base where Id = $x",
        {"x": x},
    )  # fmt: skip
    y_hours, y_rate = _window_billable(warehouse, y)
    schedule = query(warehouse, "select schedule_id from staging.stg_psa__assignments where assignment_id = ?", [y])
    (schedule_id,) = schedule[0]
    _write_batch(
        landing, "psa/pse__Schedule__c.csv", "2026-10-25",
        "select * replace (cast(cast(pse__Monday_Hours__c as decimal(9, 2)) + 1 as varchar) as pse__Monday_Hours__c,"
        f" '{CHANGED_AT}' as SystemModstamp) from base where Id = $s",
        {"s": schedule_id},
    )  # fmt: skip
    _raise_gbp_rate(landing, FX_MONTH)
    return Changes(expected, y, y_hours, y_rate)


@pytest.fixture(scope="module")
def history(small_landing, tmp_path_factory: pytest.TempPathFactory) -> History:
    tmp = tmp_path_factory.mktemp("forecast_history")
    landing, warehouse, work = tmp / "landing", tmp / "warehouse.duckdb", tmp / "dbt"
    shutil.copytree(small_landing[0], landing)
    _load(warehouse, landing)
    _build(warehouse, work, V1)
    versions_v1 = set(query(warehouse, "select * from marts.fct_revenue_forecast_versions where as_of_date = ?", [V1]))
    gbp_rate_before = _gbp_rate(warehouse)

    changes = _change_landing(landing, warehouse)
    _load(warehouse, landing)
    _build(warehouse, work, V2)
    expected = changes.expected
    # A whole hour more on Mondays at the unchanged 2-decimal rate: exact, no rounding.
    y_hours_after, _ = _window_billable(warehouse, changes.scheduled_assignment)
    expected["schedule_change"] = (y_hours_after - changes.scheduled_hours_before) * changes.scheduled_bill_rate
    gbp_rate_after = _gbp_rate(warehouse)
    assert gbp_rate_after == gbp_rate_before + CENT  # the revised rate reached the warehouse
    gbp_lines = query(
        warehouse,
        "select revenue from marts.fct_revenue_forecast_version_lines"
        " where as_of_date = ? and currency_code = 'GBP' and month_start_date = ?",
        [V2, FX_MONTH],
    )
    expected["fx_change"] = sum(
        (_cents(r * gbp_rate_after) - _cents(r * gbp_rate_before) for (r,) in gbp_lines), Decimal(0)
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        cursor = con.execute("select * from marts.fct_forecast_bridge")
        names = [c[0] for c in cursor.description]
        bridge_v1_v2 = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    _build(warehouse, work, V3)
    (v3_rows, v3_pipeline) = query(
        warehouse,
        "select count(*), sum(revenue) filter (where billing_type = 'pipeline')"
        " from marts.fct_revenue_forecast_versions where as_of_date = ?",
        [V3],
    )[0]
    # A deal new after V3 was built, then the nightly full refresh re-runs V3.
    (f_amount, f_p, f_months, f_close) = _deals(warehouse)[0][1:]
    _write_batch(
        landing, "crm/Opportunity.csv", "2026-12-08",
        f"select * replace ('{LATER_DEAL}' as Id, '2026-12-08T09:00:00.000Z' as SystemModstamp)"
        " from base where Id = $f",
        {"f": _deals(warehouse)[0][0]},
    )  # fmt: skip
    _load(warehouse, landing)
    _build(warehouse, work, V3, "--full-refresh")
    v3_window = (date(2026, 12, 1), date(2027, 11, 1))
    return History(
        warehouse, expected, bridge_v1_v2, versions_v1, v3_rows, v3_pipeline,
        _spread(f_amount, f_p, f_months, f_close, V3, v3_window),
    )  # fmt: skip


def test_versions_accumulate_and_survive_the_full_refresh(history: History) -> None:
    counts = dict(
        query(
            history.warehouse,
            "select as_of_date, count(*) from marts.fct_revenue_forecast_versions group by 1 order by 1",
        )
    )
    assert list(counts) == [V1, V2, V3]
    # V1 is kept as it was built, through two later runs and a full refresh.
    assert (
        set(query(history.warehouse, "select * from marts.fct_revenue_forecast_versions where as_of_date = ?", [V1]))
        == history.versions_v1
    )
    lines = query(
        history.warehouse, "select distinct as_of_date from marts.fct_revenue_forecast_version_lines order by 1"
    )
    assert [d for (d,) in lines] == [V1, V2, V3]


def test_a_rerun_of_a_date_replaces_its_version(history: History) -> None:
    rows, pipeline = query(
        history.warehouse,
        "select count(*), sum(revenue) filter (where billing_type = 'pipeline')"
        " from marts.fct_revenue_forecast_versions where as_of_date = ?",
        [V3],
    )[0]
    assert rows == history.v3_rows_before_rerun  # replaced, not appended twice
    assert history.new_deal_f > 0
    assert pipeline == history.v3_pipeline_before_rerun + history.new_deal_f  # the re-run's data, in full


def test_bridge_explains_a_week_driver_by_driver(history: History) -> None:
    rows = history.bridge_v1_v2
    assert {(r["from_as_of_date"], r["to_as_of_date"]) for r in rows} == {(V1, V2)}
    totals = {d: sum((r[d] for r in rows if r[d] is not None), Decimal(0)) for d in DRIVERS}
    for driver, amount in history.expected.items():
        assert amount != 0, driver  # each change moved the forecast
        assert totals[driver] == amount, driver
    assert totals["actuals_restated_change"] == totals["actuals_replacing_forecast_change"] == 0
    # The golden identity, in every row: the drivers add up to the change, to the cent.
    for r in rows:
        if r["total_change"] is None:
            assert all(r[d] is None for d in DRIVERS)
        else:
            assert sum(r[d] for d in DRIVERS) == r["total_change"] == r["to_revenue"] - r["from_revenue"]
    assert sum(r["total_change"] for r in rows if r["total_change"] is not None) == sum(history.expected.values())


def test_bridge_defaults_to_the_previous_version_and_closes_months(history: History) -> None:
    rows = query(
        history.warehouse,
        f"select from_as_of_date, to_as_of_date, month_status, month_start_date, total_change,"
        f" {' + '.join(DRIVERS)}, actuals_replacing_forecast_change from marts.fct_forecast_bridge",
    )
    assert {r[:2] for r in rows} == {(V2, V3)}
    closed = {r[3] for r in rows if r[2] == "closed"}
    assert closed == {date(2026, 10, 1), date(2026, 11, 1)}
    for _, _, status, _, change, drivers_sum, replacing in rows:
        assert drivers_sum == change
        if status == "closed":
            assert replacing == change
    assert any(r[6] for r in rows if r[2] == "closed")


def test_accuracy_compares_a_closed_month_with_the_versions_before_it(history: History) -> None:
    rows = query(
        history.warehouse,
        "select as_of_date, horizon_months, legal_entity_code, practice, forecast_revenue, actual_revenue,"
        " forecast_error, absolute_percentage_error from marts.fct_forecast_accuracy"
        " where billing_type = 'all' and month_start_date = '2026-11-01' order by 1, 3, 4",
    )
    assert {(r[0], r[1]) for r in rows} == {(V1, 1), (V2, 1)}
    november = "month_start_date = '2026-11-01'"
    forecast = dict(
        ((d, e, p), v)
        for d, e, p, v in query(
            history.warehouse,
            f"select as_of_date, legal_entity_code, practice, sum(revenue) from marts.fct_revenue_forecast_versions"
            f" where {november} and as_of_date in (?, ?) group by 1, 2, 3",
            [V1, V2],
        )
    )
    actual = dict(
        ((e, p), v)
        for e, p, v in query(
            history.warehouse,
            f"select legal_entity_code, practice, sum(revenue) from marts.fct_revenue_forecast_versions"
            f" where {november} and as_of_date = ? group by 1, 2",
            [V3],
        )
    )
    for version, _, entity, practice, f, a, error, ape in rows:
        assert f == forecast.get((version, entity, practice), 0)
        assert a == actual.get((entity, practice), 0)
        assert error == f - a
        assert ape == (None if a == 0 else (abs(f - a) / abs(a)).quantize(Decimal("0.000001"), ROUND_HALF_UP))
    wape = query(
        history.warehouse,
        "select sum(absolute_error), sum(abs(actual_revenue)), sum(version_month_count)"
        " from marts.fct_forecast_accuracy_by_horizon where horizon_months = 1 and billing_type = 'all'",
    )[0]
    assert wape[0] == sum(abs(r[4] - r[5]) for r in rows) and wape[2] == len(rows)
