"""The firm's exports as they stood on an earlier day: the same firm, knowing only what was known then.

The generator builds the firm as of its as-of date. `as_known_on(frames, as_of, day)` turns those
export frames into the exports the same systems would have produced at the start of an earlier
`day` (00:00 UTC), record by record:

- a record created on or after `day` is absent (workers not yet hired, but for pre-hires starting
  within the staffing lead, who are already staffed and costed; opportunities not yet
  opened, projects not yet won, assignments not yet staffed, timecards of later weeks, invoices,
  payments and accounting periods not yet created, rate-card lines and holidays not yet published);
- a record last modified before `day` is exactly the same record;
- a record created before `day` and modified since is put back in the state it had then, and
  stamped an hour before `day`: a termination not yet entered, an opportunity still open at the
  stage it had reached (stages advance evenly from creation to close), a project Planned or In
  Progress, an assignment still Scheduled, a timecard with the hours entered up to the day before
  (Saved, or Submitted once its week ended), a milestone not yet complete, an invoice still Open,
  an accounting period not yet closed, exchange rates of later months at the latest month's rate
  (as NetSuite fills future periods).

Every rewound record's stamp is before `day` and after any earlier rewound stamp of it, so
loading the exports oldest first replaces each record with its newer state, as production loads
would. The planning tool's exports hold no modification stamps: the generator writes the plan
versions that existed on `day` (see planning.py).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from .config import OPEN_STAGES, STAGE_PROBABILITY
from .psa import WEEKDAYS
from .staffing import STAFFING_LEAD_WEEKS
from .timeline import HORIZON_MONTHS

Frames = dict[tuple[str, str], pd.DataFrame]
REWOUND_LAG = pd.Timedelta(hours=1)  # a rewound record was last touched this long before the day
PLANNING = ("plan_version", "target")


def _rewind(frame: pd.DataFrame, keep: np.ndarray, stamp: str, cut: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
    """The kept rows and a mask of those modified since the cut (to be put back), already restamped."""
    out = frame[keep].copy()
    changed = (out[stamp] >= cut).to_numpy()
    out.loc[changed, stamp] = cut - REWOUND_LAG
    return out, changed


def _workers(f: pd.DataFrame, cut: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
    """Workers hired before the day, and pre-hires starting within the staffing lead (already staffed)."""
    known = (f["Hire_Date"] < cut + pd.Timedelta(weeks=STAFFING_LEAD_WEEKS)).to_numpy()
    out, changed = _rewind(f, known, "Last_Updated", cut)
    out.loc[changed & (out["Termination_Date"] >= cut).to_numpy(), "Termination_Date"] = pd.NaT
    return out, changed


def _opportunity_stages(opp: pd.DataFrame, changed: np.ndarray, cut: pd.Timestamp, as_of: date) -> None:
    """Opportunities open on the day: the open stage reached, stages advancing evenly from creation to close."""
    days = lambda column: opp[column].to_numpy().astype("datetime64[D]").astype(np.int64)  # noqa: E731
    created = days("CreatedDate")
    closed = opp["IsClosed"].to_numpy(dtype=bool)
    open_then = changed & (~closed | (opp["CloseDate"] >= cut).to_numpy())
    final = np.where(closed, len(OPEN_STAGES), opp["StageName"].map({s: i for i, s in enumerate(OPEN_STAGES)}))
    final = np.nan_to_num(final.astype(float), nan=0).astype(np.int64)
    end = np.where(closed, days("CloseDate"), np.datetime64(as_of, "D").astype(np.int64))
    progress = np.clip((np.datetime64(cut.date(), "D").astype(np.int64) - created) / np.maximum(end - created, 1), 0, 1)
    steps = np.where(closed, final, final + 1)
    stage = np.minimum(np.floor(steps * progress).astype(np.int64), np.where(closed, final - 1, final))
    stage = np.clip(stage, 0, len(OPEN_STAGES) - 1)
    names = np.asarray(OPEN_STAGES, dtype=object)[stage]
    rows = open_then
    opp.loc[rows, "StageName"] = names[rows]
    opp.loc[rows, "Probability"] = [STAGE_PROBABILITY[s] for s in names[rows]]
    opp.loc[rows, ["IsClosed", "IsWon", "IsDeleted"]] = False


def _timecards(f: pd.DataFrame, cut: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
    """Timecards of weeks started before the day, with the hours of the days before it."""
    days = [f"pse__{d}_Hours__c" for d in WEEKDAYS]
    start = f["pse__Start_Date__c"]
    before = np.stack([(start + pd.Timedelta(days=k) < cut).to_numpy() for k in range(7)], axis=1)
    hours = f[days].to_numpy(dtype=np.float64)
    entered = np.where(before, hours, 0.0)
    keep = (start < cut).to_numpy() & (entered != 0).any(axis=1)
    later_hours = (hours != entered).any(axis=1)
    out = f[keep].copy()
    changed = (out["SystemModstamp"] >= cut).to_numpy() | later_hours[keep]
    out.loc[changed, "SystemModstamp"] = cut - REWOUND_LAG
    values = entered[keep][changed]
    for k, day in enumerate(days):
        out.loc[changed, day] = values[:, k].astype(out[day].dtype)
    out.loc[changed, "pse__Total_Hours__c"] = values.sum(axis=1)
    ended = (out["pse__End_Date__c"] < cut).to_numpy()
    status = out["pse__Status__c"].to_numpy()
    then = np.where(ended & (status != "Saved"), "Submitted", "Saved")
    out.loc[changed, "pse__Status__c"] = then[changed]
    return out, changed


def _milestones(f: pd.DataFrame, projects: pd.DataFrame, cut: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
    kept = f["pse__Project__c"].isin(projects["Id"]).to_numpy()
    out, changed = _rewind(f, kept, "SystemModstamp", cut)
    complete = (out["pse__Actual_Date__c"] < cut).to_numpy()
    start = out["pse__Project__c"].map(projects.set_index("Id")["pse__Start_Date__c"])
    open_ = ~complete
    opened = pd.Series(open_.astype(int)).groupby(out["pse__Project__c"].to_numpy()).cumsum()
    first_open = open_ & (opened == 1).to_numpy()
    status = np.where(complete, "Complete", np.where(first_open & (start <= cut).to_numpy(), "In Progress", "Planned"))
    out.loc[changed, "pse__Status__c"] = status[changed]
    out.loc[changed & ~complete, "pse__Actual_Date__c"] = pd.NaT
    out.loc[changed & ~complete, "pse__Approved__c"] = False
    return out, changed


def _exchange_rates(rates: pd.DataFrame, periods: pd.DataFrame, day: date) -> pd.DataFrame:
    """Rates of the periods that exist; months after the day's month carry that month's rate (or the last one)."""
    start = rates["postingperiod"].map(periods.set_index("id")["startdate"])
    out = rates[start.notna().to_numpy()].copy()
    start = start[start.notna()]
    month = pd.Timestamp(day.year, day.month, 1)
    known = out[(start <= month).to_numpy()]
    latest = known.sort_values("postingperiod").groupby("fromsubsidiary").last()
    later = (start > month).to_numpy()
    for column in ("averagerate", "currentrate"):
        out.loc[later, column] = out.loc[later, "fromsubsidiary"].map(latest[column]).to_numpy()
    return out


def as_known_on(frames: Frames, as_of: date, day: date) -> Frames:
    """The exports as they stood at the start of `day` (before the generator's as-of date)."""
    if day >= as_of:
        raise ValueError(f"the day an export is known on ({day}) must be before the firm's as-of date ({as_of})")
    cut = pd.Timestamp(day)
    out: Frames = {}

    def keep_stamped(key: tuple[str, str], stamp: str) -> None:
        f = frames[key]
        out[key] = f[(f[stamp] < cut).to_numpy()].copy()

    # Workday
    out["hris", "worker"], _ = _workers(frames["hris", "worker"], cut)
    for name in ("rate_card", "worker_cost_rate", "time_off", "holiday"):
        keep_stamped(("hris", name), "Last_Updated")

    # Salesforce
    opp = frames["crm", "opportunity"]
    opp, changed = _rewind(opp, (opp["CreatedDate"] < cut).to_numpy(), "SystemModstamp", cut)
    _opportunity_stages(opp, changed, cut, as_of)
    out["crm", "opportunity"] = opp
    acc, changed = _rewind(
        frames["crm", "account"], (frames["crm", "account"]["CreatedDate"] < cut).to_numpy(), "SystemModstamp", cut
    )
    customers = set(opp.loc[opp["IsWon"].astype(bool) & ~opp["IsDeleted"].astype(bool), "AccountId"])
    acc.loc[changed & (acc["Type"] == "Customer").to_numpy() & ~acc["Id"].isin(customers).to_numpy(), "Type"] = (
        "Prospect"
    )
    out["crm", "account"] = acc

    # Certinia: resources follow their Workday worker; client projects exist once their deal is won.
    workers = out["hris", "worker"].set_index("Worker_ID")
    contact = frames["psa", "contact"]
    contact, changed = _rewind(
        contact, contact["Workday_Worker_ID__c"].isin(workers.index).to_numpy(), "SystemModstamp", cut
    )
    terminated = contact["Workday_Worker_ID__c"].map(workers["Termination_Date"]).notna().to_numpy()
    contact.loc[changed, "pse__Is_Resource_Active__c"] = ~terminated[changed]
    out["psa", "contact"] = contact
    won = set(opp.loc[opp["IsWon"].astype(bool), "Id"])
    project = frames["psa", "project"]
    internal = project["pse__Opportunity__c"].isna().to_numpy()
    sold = internal | project["pse__Opportunity__c"].isin(won).to_numpy()
    project, changed = _rewind(project, sold, "SystemModstamp", cut)
    start, end = project["pse__Start_Date__c"], project["pse__End_Date__c"]
    client = project["pse__Opportunity__c"].notna().to_numpy()
    stage = np.select([(end < cut).to_numpy(), (start <= cut).to_numpy()], ["Completed", "In Progress"], "Planned")
    rows = changed & client
    project.loc[rows, "pse__Stage__c"] = stage[rows]
    project.loc[rows, "pse__Is_Active__c"] = stage[rows] != "Completed"
    out["psa", "project"] = project
    schedule = frames["psa", "schedule"].set_index("Id")
    assignment = frames["psa", "assignment"]
    sched_start = assignment["pse__Schedule__c"].map(schedule["pse__Start_Date__c"])
    staffed = (sched_start < cut + pd.Timedelta(weeks=STAFFING_LEAD_WEEKS)).to_numpy()
    assignment, changed = _rewind(
        assignment, staffed & assignment["pse__Project__c"].isin(project["Id"]).to_numpy(), "SystemModstamp", cut
    )
    sched_end = assignment["pse__Schedule__c"].map(schedule["pse__End_Date__c"])
    assignment.loc[changed, "pse__Status__c"] = np.where((sched_end < cut).to_numpy(), "Closed", "Scheduled")[changed]
    out["psa", "assignment"] = assignment
    sched = frames["psa", "schedule"]
    sched, _ = _rewind(sched, sched["Id"].isin(assignment["pse__Schedule__c"]).to_numpy(), "SystemModstamp", cut)
    out["psa", "schedule"] = sched
    out["psa", "timecard_header"], _ = _timecards(frames["psa", "timecard_header"], cut)
    out["psa", "milestone"], _ = _milestones(frames["psa", "milestone"], project, cut)

    # NetSuite
    for name in ("subsidiary", "currency"):
        keep_stamped(("erp", name), "lastmodifieddate")
    periods = frames["erp", "accounting_period"]
    horizon = pd.Timestamp(day.year, day.month, 1) + pd.DateOffset(months=HORIZON_MONTHS + 1)
    periods, changed = _rewind(periods, (periods["startdate"] < horizon).to_numpy(), "lastmodifieddate", cut)
    last_closed = pd.Timestamp(day.year, day.month, 1)
    if day.day <= 10:
        last_closed -= pd.offsets.MonthBegin(1)
    periods.loc[changed, "closed"] = (periods["enddate"] < last_closed).to_numpy()[changed]
    out["erp", "accounting_period"] = periods
    rates = frames["erp", "consolidated_exchange_rate"]
    out["erp", "consolidated_exchange_rate"] = _exchange_rates(rates, periods, day)
    customer = frames["erp", "customer"]
    out["erp", "customer"], _ = _rewind(customer, (customer["datecreated"] < cut).to_numpy(), "lastmodifieddate", cut)
    tx = frames["erp", "transaction"]
    tx, changed = _rewind(tx, (tx["createddate"] < cut).to_numpy(), "lastmodifieddate", cut)
    tx.loc[changed & (tx["type"] == "CustInvc").to_numpy(), "status"] = "Open"
    out["erp", "transaction"] = tx
    lines = frames["erp", "transaction_line"]
    lines = lines[lines["transaction"].isin(tx["id"]).to_numpy()].copy()
    lines["linelastmodifieddate"] = lines["transaction"].map(tx.set_index("id")["lastmodifieddate"]).to_numpy()
    out["erp", "transaction_line"] = lines

    for key, frame in frames.items():  # the planning tool's (see the module docstring)
        out.setdefault(key, frame)
    return out
