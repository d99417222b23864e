"""The operational marts on the small demo: populated, the injected defects show where they should, and
a project-month of the reconciliation matches a hand calculation from the raw tables to the cent.

The hand calculations read the raw tables, not the dbt models, and take the defect keys from the
demo manifest.

Kind: demo (on the shared demo build).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.contract import SOURCE_OBJECTS
from tests.conftest import AS_OF
from tests.helpers import query

pytestmark = pytest.mark.demo

CENT = Decimal("0.01")
DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
BILLING_DUE_DAYS = 10  # dbt_project.yml var billing_due_days
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
RECONCILED_TYPES = "('Time and Materials', 'Milestone', 'Retainer')"


def _defects(small_landing) -> dict[str, list[str]]:
    landing, _ = small_landing
    return json.loads((landing / "demo_manifest.json").read_text())["defects"]


def _in(ids: list[str]) -> str:
    return "(" + ", ".join(f"'{i}'" for i in ids) + ")"


def _approved_days(where: str = "true") -> str:
    """Approved timecard days up to the as-of date from raw_psa, as the PSA holds them (defects included)."""
    days = " union all ".join(
        f"""select Id as timecard_id, pse__Project__c as project_id, pse__Assignment__c as assignment_id,
                   pse__Billable__c as is_billable, pse__Start_Date__c + {offset} as day,
                   pse__{weekday}_Hours__c as hours
            from raw_psa.timecard_header
            where pse__Status__c = 'Approved' and not coalesce(IsDeleted, false) and ({where})"""
        for offset, weekday in enumerate(WEEKDAYS)
    )
    return f"(select * from ({days}) where hours <> 0 and day <= date '{AS_OF}')"


def _month(day: date) -> date:
    return day.replace(day=1)


def _month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _age_bucket(days: int) -> str:
    return "0-30" if days <= 30 else "31-60" if days <= 60 else "61-90" if days <= 90 else "90+"


def _hand_reconciliation(warehouse: Path, project_id: str, month: date) -> tuple[Decimal, Decimal, Decimal]:
    """PSA billable value, ERP invoiced and credited for a time-and-materials project-month, from raw tables."""
    time_value = query(
        warehouse,
        f"""select coalesce(sum(d.hours * a.pse__Bill_Rate__c), 0)
            from {_approved_days(f"pse__Project__c = '{project_id}' and pse__Billable__c")} as d
            join raw_psa.assignment as a on a.Id = d.assignment_id
            where date_trunc('month', d.day) = date '{month}'""",
    )[0][0]
    invoiced, credited = query(
        warehouse,
        f"""select coalesce(sum(l.foreignamount) filter (where t.type = 'CustInvc'), 0),
                   coalesce(sum(l.foreignamount) filter (where t.type = 'CustCred'), 0)
            from raw_erp.transaction_line as l join raw_erp."transaction" as t on t.id = l."transaction"
            where coalesce(l.custcol_psa_project_id, t.custbody_psa_project_id) = '{project_id}'
              and date_trunc('month', coalesce(l.custcol_service_date, t.trandate)) = date '{month}'
              and t.trandate <= date '{AS_OF}'""",
    )[0]
    return Decimal(time_value).quantize(CENT, ROUND_HALF_UP), invoiced, credited


def _reconciliation_row(warehouse: Path, project_id: str, month: date) -> dict:
    columns = (
        "reconciliation_status, psa_billable_value, erp_invoiced_amount, erp_credited_amount, variance_amount, "
        "is_billing_due, psa_approved_hours, psa_billable_hours, psa_defect_hours"
    )
    rows = query(
        warehouse,
        f"select {columns} from marts.fct_reconciliation_psa_erp "
        f"where project_id = '{project_id}' and month_start_date = date '{month}'",
    )
    assert len(rows) == 1, (project_id, month, rows)
    return dict(zip([c.strip() for c in columns.split(",")], rows[0], strict=True))


def test_operational_marts_are_populated(demo_build) -> None:
    warehouse = demo_build[0]
    for mart in ("fct_reconciliation_psa_erp", "fct_revenue_leakage", "fct_billing_sla"):
        assert query(warehouse, f"select count(*) from marts.{mart}")[0][0] > 0, mart
    statuses = dict(
        query(warehouse, "select reconciliation_status, count(*) from marts.fct_reconciliation_psa_erp group by 1")
    )
    assert statuses["matched"] > sum(n for status, n in statuses.items() if status != "matched")
    # Every T&M invoice and completed milestone of the raw ERP and PSA is measured once in the SLA mart.
    invoices = query(
        warehouse,
        f"""select count(distinct t.id) from raw_erp."transaction" as t
            join raw_erp.transaction_line as l on l."transaction" = t.id
            join raw_psa.project as p on p.Id = t.custbody_psa_project_id
            where t.type = 'CustInvc' and l.custcol_psa_milestone_id is null
              and p.pse__Billing_Type__c = 'Time and Materials' and t.trandate <= date '{AS_OF}'""",
    )[0][0]
    milestones = query(
        warehouse,
        f"""select count(*) from raw_psa.milestone where not coalesce(IsDeleted, false)
              and (pse__Status__c = 'Complete' or (pse__Approved__c and pse__Actual_Date__c is not null))
              and pse__Actual_Date__c <= date '{AS_OF}'""",
    )[0][0]
    measured = query(
        warehouse, "select sum(time_invoice_count), sum(milestones_completed_count) from marts.fct_billing_sla"
    )[0]
    assert measured == (invoices, milestones)


def test_uninvoiced_month_is_not_invoiced_and_aged_as_leakage(demo_build, small_landing) -> None:
    warehouse = demo_build[0]
    (key,) = _defects(small_landing)["uninvoiced_month"]
    project_id, month_label = key.split("|")
    month = date.fromisoformat(f"{month_label}-01")
    row = _reconciliation_row(warehouse, project_id, month)
    psa_value, invoiced, _ = _hand_reconciliation(warehouse, project_id, month)
    assert (row["reconciliation_status"], row["is_billing_due"]) == ("not_invoiced", True)
    assert (row["psa_billable_value"], row["erp_invoiced_amount"], invoiced) == (psa_value, 0, 0)
    assert psa_value > 0
    days = (AS_OF - _month_end(month)).days
    leakage = query(
        warehouse,
        f"""select leakage_reason, leakage_amount, days_since_period_close, age_bucket from marts.fct_revenue_leakage
            where project_id = '{project_id}' and month_start_date = date '{month}'""",
    )
    assert leakage == [("not_invoiced", psa_value, days, _age_bucket(days))]


def test_unknown_project_timecard_is_a_reconciliation_break(demo_build, small_landing) -> None:
    warehouse = demo_build[0]
    card_ids = _defects(small_landing)["unknown_project"]
    days = query(
        warehouse,
        f"""select project_id, date_trunc('month', day)::date, sum(hours), bool_or(is_billable)
            from {_approved_days(f"Id in {_in(card_ids)}")} group by all""",
    )
    assert days, "the unknown-project timecards have approved days up to the as-of date"
    for project_id, month, hours, is_billable in days:
        row = _reconciliation_row(warehouse, project_id, month)
        assert (row["reconciliation_status"], row["psa_approved_hours"]) == ("unknown_project", hours)
        leakage = query(
            warehouse,
            f"""select leakage_reason, leakage_amount from marts.fct_revenue_leakage
                where project_id = '{project_id}' and month_start_date = date '{month}'""",
        )
        # Billable time that can reach no invoice is leakage (of unknown value); non-billable time is not.
        due = _month_end(month) + timedelta(days=BILLING_DUE_DAYS) < AS_OF
        assert leakage == ([("unknown_project", None)] if is_billable and due else [])


def test_timecard_defects_count_in_the_reconciliation_as_the_psa_holds_them(demo_build, small_landing) -> None:
    warehouse = demo_build[0]
    defects = _defects(small_landing)
    duplicates, invalid = defects["duplicate_timecard"], defects["negative_hours"] + defects["hours_over_24"]
    flagged = f"""select d.project_id, date_trunc('month', d.day)::date as month, sum(d.hours) as hours,
                         bool_or(d.is_billable) and any_value(p.pse__Billing_Type__c) = 'Time and Materials' as bills
                  from {_approved_days(f"Id in {_in(duplicates + invalid)}")} as d
                  join raw_psa.project as p on p.Id = d.project_id
                  where p.pse__Billing_Type__c in {RECONCILED_TYPES}
                    and (d.timecard_id in {_in(duplicates)} or d.hours < 0 or d.hours > 24)
                  group by all"""
    expected = query(warehouse, flagged)
    total = query(warehouse, "select coalesce(sum(psa_defect_hours), 0) from marts.fct_reconciliation_psa_erp")
    assert total == [(sum((hours for _, _, hours, _ in expected), Decimal(0)),)]
    for project_id, month, hours, bills in expected:
        row = _reconciliation_row(warehouse, project_id, month)
        assert row["psa_defect_hours"] == hours
        if bills:  # billable T&M time counted differently from what was invoiced moves the PSA value off the invoice
            assert row["reconciliation_status"] != "matched", (project_id, month, row)


def test_reconciliation_of_a_project_month_matches_a_hand_calculation(demo_build) -> None:
    warehouse = demo_build[0]
    month = _month(AS_OF) - timedelta(days=1)
    month = _month(month)  # the last full month before the as-of date
    (project_id,) = query(
        warehouse,
        f"""select p.Id from raw_psa.project as p
            where p.pse__Billing_Type__c = 'Time and Materials'
              and exists (select 1 from {_approved_days("pse__Billable__c")} as d
                          where d.project_id = p.Id and date_trunc('month', d.day) = date '{month}')
            order by p.Id limit 1""",
    )[0]
    psa_value, invoiced, credited = _hand_reconciliation(warehouse, project_id, month)
    row = _reconciliation_row(warehouse, project_id, month)
    assert row["psa_billable_value"] == psa_value
    assert row["erp_invoiced_amount"] == invoiced
    assert row["erp_credited_amount"] == credited
    assert row["variance_amount"] == psa_value - invoiced
    matched = abs(psa_value - invoiced) <= Decimal("1.00")
    assert (row["reconciliation_status"] == "matched") == matched


def test_source_lag_lists_every_contract_object(demo_build) -> None:
    warehouse = demo_build[0]
    rows = {
        table: (records, has_cursor, lag)
        for table, records, has_cursor, lag in query(
            warehouse,
            "select source_table, record_count, has_modified_cursor, load_lag_hours from marts.fct_source_lag",
        )
    }
    assert set(rows) == {f"{o.schema}.{o.name}" for o in SOURCE_OBJECTS}
    for obj in SOURCE_OBJECTS:
        records, has_cursor, lag = rows[f"{obj.schema}.{obj.name}"]
        assert records == query(warehouse, f"select count(*) from {obj.schema}.{obj.name}")[0][0], obj.name
        assert has_cursor == (obj.cursor is not None), obj.name
        assert lag is not None and lag >= 0, obj.name


def test_forecast_refresh_latency_measures_every_sync_run(demo_build, tmp_path) -> None:
    """Rebuilt on a copy of the warehouse after the demo's syncs (dbt builds before the sync of its own run)."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_build[0], copy)
    # A delivered sync after every load, beside the demo's own runs (which the gate may have blocked).
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "insert into reverse_sync.sync_runs (run_id, sync_name, started_at, finished_at, status)"
            " select 'delivered-after-loads', 'planning__forecast_inputs', max(loaded_at) + interval 5 minute,"
            " max(loaded_at) + interval 5 minute + interval 1234567 microsecond, 'success'"
            " from ingest_meta.loaded_files"
        )
    env = {**os.environ, "DUCKDB_DATABASE": str(copy), "DO_NOT_TRACK": "1"}
    completed = subprocess.run(
        [
            sys.executable, "-m", "dbt.cli.main", "build", "--select", "fct_forecast_refresh_latency",
            "--vars", json.dumps({"as_of_date": AS_OF.isoformat()}),
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
        ],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:]
    expected = []
    for run_id, status, started_at, finished_us in query(
        copy, "select run_id, status, started_at, epoch_us(finished_at) from reverse_sync.sync_runs order by run_id"
    ):
        # The newest source change and the last file load before the sync started, from the raw tables.
        (load_us,) = query(
            copy, "select epoch_us(max(loaded_at)) from ingest_meta.loaded_files where loaded_at <= ?", [started_at]
        )[0]
        newest_us = _newest_source_change_us(copy, started_at)
        delivered = status == "success"
        latencies = (_hours(finished_us - newest_us), _hours(finished_us - load_us)) if delivered else (None, None)
        expected.append((run_id, status, *latencies))
    measured = query(
        copy,
        "select run_id, sync_status, refresh_latency_hours, load_to_sync_hours"
        " from marts.fct_forecast_refresh_latency order by run_id",
    )
    assert measured == expected
    assert ("delivered-after-loads", "success") in {row[:2] for row in measured}
    assert all(latency is not None for _, status, latency, _ in measured if status == "success")


def _hours(microseconds: int) -> Decimal:
    """As the model rounds: to 4 decimals of an hour, then to the hundredth."""
    hours = Decimal(microseconds) / Decimal(3_600_000_000)
    return hours.quantize(Decimal("0.0001"), ROUND_HALF_UP).quantize(CENT, ROUND_HALF_UP)


def _newest_source_change_us(warehouse: Path, before) -> int:
    """Largest source modified timestamp (epoch microseconds) among raw rows loaded at or before `before`."""
    stamps = [
        query(warehouse, f'select epoch_us(max("{o.cursor}")) from {o.schema}.{o.name} where _loaded_at <= ?', [before])
        for o in SOURCE_OBJECTS
        if o.cursor
    ]
    return max(rows[0][0] for rows in stamps if rows[0][0] is not None)
