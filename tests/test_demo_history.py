"""The demo firm's exports as known on an earlier day: the same firm, knowing only what was known then.

`python -m demo.firm --as-of T --known-on D` writes the exports of the firm generated as of T as
they stood at the start of D (demo/firm/known_on.py). These tests build the frames once and check
the export of D against the firm's own records of T: nothing dated on or after D, every record
that had not changed since D exactly the same, every record one the firm really has.

Kind: unit (the small firm in memory, about two seconds).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from demo.firm.config import SCALES, STAGE_PROBABILITY
from demo.firm.defects import inject_defects
from demo.firm.generator import build_frames
from demo.firm.known_on import as_known_on
from demo.firm.psa import WEEKDAYS
from demo.firm.timeline import Timeline
from orchestration.contract import SOURCE_OBJECTS

pytestmark = pytest.mark.unit

AS_OF = date(2026, 11, 16)
DAYS = (date(2026, 6, 3), date(2026, 9, 19), date(2026, 10, 14), date(2026, 11, 12))  # mid-week: a week half entered
CURSORED = [obj for obj in SOURCE_OBJECTS if obj.cursor and obj.system != "planning"]


class _Bar:
    def set_description(self, _label: str) -> None: ...

    def update(self) -> None: ...


def _frames(as_of: date, planning_on: date | None = None):
    years = SCALES["small"].history_years
    planning_tl = Timeline.build(planning_on, years) if planning_on else None
    frames, ids = build_frames("small", 42, Timeline.build(as_of, years), _Bar(), planning_tl)
    inject_defects(frames, ids, 42, as_of)
    return frames


@pytest.fixture(scope="module")
def firm():
    return _frames(AS_OF)


@pytest.fixture(scope="module", params=DAYS, ids=str)
def known(request, firm):
    day = request.param
    return day, as_known_on(_frames(AS_OF, planning_on=day), AS_OF, day)


def _keyed(frame: pd.DataFrame, key: tuple[str, ...]) -> pd.DataFrame:
    return frame.set_index(list(key)).sort_index()


@pytest.mark.parametrize("obj", CURSORED, ids=lambda o: f"{o.system}.{o.name}")
def test_a_record_unchanged_since_the_day_is_the_same_and_none_is_stamped_after_it(firm, known, obj) -> None:
    day, frames = known
    cut = pd.Timestamp(day)
    then, now = (
        _keyed(frames[obj.system, obj.name], obj.primary_key),
        _keyed(firm[obj.system, obj.name], obj.primary_key),
    )
    assert (then[obj.cursor] < cut).all(), f"{obj.name}: a record stamped on or after {day}"
    assert then.index.isin(now.index).all(), f"{obj.name}: a record the firm does not have"
    unchanged = now[now[obj.cursor] < cut]
    assert unchanged.index.isin(then.index).all(), f"{obj.name}: a record known before {day} is missing"
    pd.testing.assert_frame_equal(then.loc[unchanged.index], unchanged, check_dtype=False)


def test_nothing_that_happened_on_or_after_the_day_is_in_the_export(known) -> None:
    day, f = known
    cut = pd.Timestamp(day)
    cards = f["psa", "timecard_header"]
    for k, name in enumerate(WEEKDAYS):
        later = cards["pse__Start_Date__c"] + pd.Timedelta(days=k) >= cut
        assert (cards.loc[later, f"pse__{name}_Hours__c"] == 0).all(), f"{name} hours on or after {day}"
    hours = cards[[f"pse__{name}_Hours__c" for name in WEEKDAYS]].sum(axis=1)
    assert np.allclose(hours, cards["pse__Total_Hours__c"])
    assert not ((cards["pse__Status__c"] == "Approved") & (cards["SystemModstamp"] >= cut)).any()
    workers = f["hris", "worker"]
    assert (workers["Hire_Date"] < cut + pd.Timedelta(weeks=8)).all()  # pre-hires within the staffing lead
    assert not (workers["Termination_Date"] >= cut).any()
    known = set(workers["Worker_ID"])
    assert f["hris", "worker_cost_rate"]["Worker_ID"].isin(known).all()
    assert f["psa", "contact"]["Workday_Worker_ID__c"].isin(known).all()
    assert f["psa", "assignment"]["pse__Resource__c"].isin(f["psa", "contact"]["Id"]).all()
    accounts = set(f["crm", "account"]["Id"])
    assert f["erp", "customer"]["custentity_sf_account_id"].isin(accounts).all()
    opp = f["crm", "opportunity"]
    assert (opp["CreatedDate"] < cut).all() and (opp.loc[opp["IsClosed"], "CloseDate"] < cut).all()
    assert (opp["Probability"] == opp["StageName"].map(STAGE_PROBABILITY)).sum() >= len(opp) - 1  # one defect
    projects = f["psa", "project"]
    won = set(opp.loc[opp["IsWon"], "Id"])
    client = projects["pse__Opportunity__c"].notna()
    assert projects.loc[client, "pse__Opportunity__c"].isin(won).all()
    assert (projects.loc[projects["pse__Stage__c"] == "Completed", "pse__End_Date__c"] < cut).all()
    assert not f["psa", "milestone"]["pse__Actual_Date__c"].ge(cut).any()
    tx = f["erp", "transaction"]
    assert (tx["trandate"] < cut).all()
    paid = tx.loc[tx["type"] == "CustPymt", "id"]
    paid_invoices = f["erp", "transaction_line"].loc[lambda x: x["transaction"].isin(paid), "createdfrom"]
    assert set(tx.loc[tx["status"] == "Paid In Full", "id"]) <= set(paid_invoices)
    periods = f["erp", "accounting_period"]
    assert (periods.loc[periods["closed"], "enddate"] < cut).all()


def test_exchange_rates_after_the_day_are_the_latest_known(firm, known) -> None:
    day, f = known
    periods = f["erp", "accounting_period"].set_index("id")["startdate"]
    rates = f["erp", "consolidated_exchange_rate"].assign(start=lambda r: r["postingperiod"].map(periods))
    month = pd.Timestamp(day.year, day.month, 1)
    for _, currency in rates.groupby("fromsubsidiary"):
        latest = currency[currency["start"] <= month].sort_values("start").iloc[-1]
        later = currency[currency["start"] > month]
        assert len(later) > 0 and (later["averagerate"] == latest["averagerate"]).all()
    true_rates = firm["erp", "consolidated_exchange_rate"].set_index("id")
    known_months = rates[rates["start"] <= month].set_index("id")
    pd.testing.assert_series_equal(known_months["averagerate"], true_rates.loc[known_months.index, "averagerate"])


def test_a_plan_version_is_the_same_whenever_it_is_exported(firm, known) -> None:
    day, f = known
    versions = f["planning", "plan_version"]
    current = versions.loc[versions["Is Current"], "Version Code"].tolist()
    assert current == [f"FC_Q{(day.month - 1) // 3 + 1}"]
    then, now = f["planning", "target"], firm["planning", "target"]
    key = ["Version", "Legal Entity", "Practice", "Month"]
    both = then.merge(now, on=key, suffixes=("", "_now"))
    shared = set(then["Version"]) & set(now["Version"])
    assert len(both) == len(then[then["Version"].isin(shared)])
    for column in ("Revenue Target", "Billable Hours Target", "Headcount Target", "Utilization Target"):
        assert (both[column] == both[f"{column}_now"]).all(), column


@pytest.mark.parametrize("as_of", [date(2026, 12, 5), date(2026, 12, 30), date(2026, 3, 31), date(2027, 1, 1)], ids=str)
def test_history_days_give_versions_one_to_three_months_before_the_last_closed_month(as_of) -> None:
    from demo.history import history_days

    days = history_days(as_of, weeks=8, months=4)
    assert days == sorted(days) and max(days) < as_of
    assert {as_of - pd.Timedelta(weeks=k) for k in range(1, 9)} <= set(days)  # 8 weekly versions
    closed = as_of.year * 12 + as_of.month - 2  # the last closed month, as a month index
    made = {d.year * 12 + d.month - 1 for d in days}
    assert {closed - 1, closed - 2, closed - 3} <= made, "a version 1, 2 and 3 months before it"
    assert history_days(as_of, weeks=0, months=4) == []


def test_history_is_made_into_a_new_warehouse_only(tmp_path, monkeypatch) -> None:
    import duckdb

    from demo.history import make_history, warehouse_is_new

    database = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE", "duckdb")
    monkeypatch.setenv("DUCKDB_DATABASE", str(database))
    assert warehouse_is_new()  # no file yet
    with duckdb.connect(str(database)) as con:
        con.execute("create schema ingest_meta; create table ingest_meta.loaded_files (path varchar)")
    assert warehouse_is_new()  # nothing loaded yet
    with duckdb.connect(str(database)) as con:
        con.execute("insert into ingest_meta.loaded_files values ('crm/Account.csv')")
    assert not warehouse_is_new()
    # A warehouse that knows later data gets no past version: nothing is generated or run.
    assert make_history(date(2026, 12, 5), 8, 4, "small", 42, tmp_path / "landing") == []
    assert not (tmp_path / "landing").exists()
