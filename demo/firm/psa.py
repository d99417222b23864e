"""Certinia PSA landing frames: resources, projects, assignments, schedules, timecards, milestones.

Internal rows use integer keys; this module turns them into Salesforce-shaped records with
the contract's API names. Internal (non-billable) projects are defined here because they
only exist in the PSA.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import ENTITIES, INTERNAL_PROJECTS, Scale
from .crm import Sales
from .hris import Workforce
from .ids import numbered, rng_for
from .staffing import Staffing
from .timecards import Timecards
from .timeline import Timeline, to_dates, to_timestamps

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def internal_projects(wf: Workforce, scale: Scale, tl: Timeline, first: int) -> pd.DataFrame:
    """Bench, training, pre-sales and admin projects per entity, run by its most senior worker."""
    w = wf.workers.assign(active=wf.workers["term_day"] >= tl.asof_day)
    ranked = w.sort_values(["active", "role_i", "hire_day"], ascending=[False, False, True], kind="stable")
    rows = []
    for e, code in enumerate(scale.entities):
        lead = int(ranked.loc[ranked["entity"] == code, "worker"].iloc[0])
        for k, kind in enumerate(INTERNAL_PROJECTS):
            rows.append((first + e * len(INTERNAL_PROJECTS) + k, f"{kind} - {code}", code, lead))
    return pd.DataFrame(rows, columns=["project", "name", "entity", "pm_worker"])


def _project_stage(start: np.ndarray, end: np.ndarray, tl: Timeline) -> np.ndarray:
    """Planned before start, Completed after end, In Progress in between (as of the snapshot)."""
    stage = np.select([end < tl.asof_day, start <= tl.asof_day], ["Completed", "In Progress"], "Planned")
    return stage.astype(object)


def _client_projects(
    rng: np.random.Generator,
    projects: pd.DataFrame,
    sales: Sales,
    ids: dict[str, np.ndarray],
    contact: np.ndarray,
    tl: Timeline,
) -> pd.DataFrame:
    """Client projects with the account and won opportunity they were sold on."""
    start, end = projects["start_day"].to_numpy(), projects["end_day"].to_numpy()
    stage = _project_stage(start, end, tl)
    opp = sales.opportunities.set_index("opportunity")
    close = opp["close_day"].reindex(sales.project_opportunity).to_numpy()
    touched = np.select(
        [stage == "Completed", stage == "In Progress"],
        [end + rng.integers(1, 30, len(stage)), tl.asof_day - rng.integers(0, 14, len(stage))],
        close + 3,
    )
    return pd.DataFrame(
        {
            "Id": ids["project"][projects["project"].to_numpy()],
            "Name": opp["name"].reindex(sales.project_opportunity).to_numpy(),
            "pse__Account__c": ids["account"][sales.project_account],
            "pse__Opportunity__c": ids["opportunity"][sales.project_opportunity],
            "pse__Billing_Type__c": projects["billing_type"].to_numpy(),
            "pse__Stage__c": stage,
            "pse__Practice__c": projects["practice"].to_numpy(),
            "pse__Region__c": projects["region"].to_numpy(),
            "Legal_Entity__c": projects["entity"].to_numpy(),
            "pse__Start_Date__c": to_dates(start),
            "pse__End_Date__c": to_dates(end),
            "pse__Bookings__c": projects["bookings"].to_numpy(),
            "pse__Planned_Hours__c": projects["planned_hours"].to_numpy(),
            "pse__Is_Billable__c": True,
            "pse__Is_Active__c": stage != "Completed",
            "pse__Project_Manager__c": contact[projects["pm_worker"].to_numpy()],
            "CurrencyIsoCode": projects["currency"].to_numpy(),
            "SystemModstamp": to_timestamps(tl.stamp(rng, touched)),
            "IsDeleted": False,
        }
    )


def _internal_project_frame(
    rng: np.random.Generator,
    internal: pd.DataFrame,
    ids: dict[str, np.ndarray],
    contact: np.ndarray,
    tl: Timeline,
) -> pd.DataFrame:
    """Non-billable internal projects spanning the whole timeline (no account, no billing type)."""
    n = len(internal)
    entity = internal["entity"].to_numpy()
    return pd.DataFrame(
        {
            "Id": ids["project"][internal["project"].to_numpy()],
            "Name": internal["name"].to_numpy(),
            "pse__Account__c": None,
            "pse__Opportunity__c": None,
            "pse__Billing_Type__c": None,
            "pse__Stage__c": "In Progress",
            "pse__Practice__c": None,
            "pse__Region__c": np.array([ENTITIES[e].regions[0] for e in entity], dtype=object),
            "Legal_Entity__c": entity,
            "pse__Start_Date__c": to_dates(np.full(n, tl.start_day)),
            "pse__End_Date__c": to_dates(np.full(n, tl.end_day)),
            "pse__Bookings__c": np.nan,
            "pse__Planned_Hours__c": np.nan,
            "pse__Is_Billable__c": False,
            "pse__Is_Active__c": True,
            "pse__Project_Manager__c": contact[internal["pm_worker"].to_numpy()],
            "CurrencyIsoCode": np.array([ENTITIES[e].currency for e in entity], dtype=object),
            "SystemModstamp": to_timestamps(tl.stamp(rng, np.full(n, tl.start_day - 30))),
            "IsDeleted": False,
        }
    )


def _contacts(wf: Workforce, ids: dict[str, np.ndarray], tl: Timeline) -> pd.DataFrame:
    """One PSA resource per Workday worker, kept in sync (same modified time as the worker record)."""
    w = wf.workers
    return pd.DataFrame(
        {
            "Id": ids["contact"][: len(w)],
            "Name": w["name"].to_numpy(),
            "Email": w["email"].to_numpy(),
            "pse__Is_Resource__c": True,
            "pse__Is_Resource_Active__c": (w["term_day"] >= tl.asof_day).to_numpy(),
            "pse__Resource_Role__c": w["role"].to_numpy(),
            "Workday_Worker_ID__c": w["worker_id"].to_numpy(),
            "SystemModstamp": to_timestamps(np.minimum(w["updated"].to_numpy() + 3600, tl.cutoff - 60)),
            "IsDeleted": False,
        }
    )


def _assignments_and_schedules(
    rng: np.random.Generator,
    staffing: Staffing,
    projects: pd.DataFrame,
    ids: dict[str, np.ndarray],
    tl: Timeline,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assignments and their Monday-Friday schedules (one schedule per assignment)."""
    a = staffing.assignments
    n = len(a)
    start, end = a["start_day"].to_numpy(), a["end_day"].to_numpy()
    closed = end < tl.asof_day
    touched = np.where(closed, end + 2, np.maximum(start - 10, tl.asof_day - 30))
    modified = to_timestamps(tl.stamp(rng, touched))
    schedule_id = ids["schedule"][:n]
    assignments = pd.DataFrame(
        {
            "Id": ids["assignment"][:n],
            "Name": numbered("AS-", np.arange(n) + 1, 7),
            "pse__Project__c": ids["project"][a["project"].to_numpy()],
            "pse__Resource__c": ids["contact"][a["worker"].to_numpy()],
            "pse__Schedule__c": schedule_id,
            "pse__Role__c": a["role"].to_numpy(),
            "pse__Bill_Rate__c": a["bill_rate"].to_numpy(),
            "pse__Planned_Hours__c": a["planned_hours"].to_numpy(),
            "pse__Is_Billable__c": True,
            "pse__Status__c": np.where(closed, "Closed", "Scheduled").astype(object),
            "CurrencyIsoCode": projects["currency"].to_numpy()[a["project"].to_numpy()],
            "SystemModstamp": modified,
            "IsDeleted": False,
        }
    )
    daily = a["daily_hours"].to_numpy()
    schedules = pd.DataFrame(
        {"Id": schedule_id, "pse__Start_Date__c": to_dates(start), "pse__End_Date__c": to_dates(end)}
    )
    for k, day in enumerate(WEEKDAYS):
        schedules[f"pse__{day}_Hours__c"] = daily if k < 5 else 0.0
    schedules["pse__Scheduled_Hours__c"] = a["planned_hours"].to_numpy()
    schedules["SystemModstamp"] = modified
    schedules["IsDeleted"] = False
    return assignments, schedules


def timecard_frame(cards: Timecards, ids: dict[str, np.ndarray], tl: Timeline) -> pd.DataFrame:
    """Weekly timecard headers with the seven day columns and their total."""
    r = cards.rows
    n = len(r)
    week_start = tl.day0 + 7 * r["week"].to_numpy()
    assignment = r["assignment"].to_numpy()
    frame = pd.DataFrame(
        {
            "Id": ids["timecard"][:n],
            "Name": numbered("TC-", np.arange(n) + 1, 8),
            "pse__Resource__c": ids["contact"][r["worker"].to_numpy()],
            "pse__Project__c": ids["project"][r["project"].to_numpy()],
            "pse__Assignment__c": np.where(assignment >= 0, ids["assignment"][assignment], None),
            "pse__Start_Date__c": to_dates(week_start),
            "pse__End_Date__c": to_dates(week_start + 6),
            "pse__Status__c": r["status"].to_numpy(),
            "pse__Billable__c": r["billable"].to_numpy(),
        }
    )
    for k, day in enumerate(WEEKDAYS):
        frame[f"pse__{day}_Hours__c"] = cards.hours[:, k]
    frame["pse__Total_Hours__c"] = cards.hours.sum(axis=1, dtype=np.float64)
    frame["SystemModstamp"] = to_timestamps(r["modified"].to_numpy())
    frame["IsDeleted"] = False
    return frame


def _milestone_frame(milestones: pd.DataFrame, ids: dict[str, np.ndarray]) -> pd.DataFrame:
    """Billing milestones of Milestone projects."""
    actual = milestones["actual_day"].to_numpy()
    return pd.DataFrame(
        {
            "Id": ids["milestone"][: len(milestones)],
            "Name": milestones["name"].to_numpy(),
            "pse__Project__c": ids["project"][milestones["project"].to_numpy()],
            "pse__Milestone_Amount__c": milestones["amount_cents"].to_numpy() / 100,
            "pse__Target_Date__c": to_dates(milestones["target_day"].to_numpy()),
            "pse__Actual_Date__c": pd.Series(to_dates(np.maximum(actual, 0))).where(actual >= 0),
            "pse__Status__c": milestones["status"].to_numpy(),
            "pse__Approved__c": milestones["approved"].to_numpy(),
            "CurrencyIsoCode": milestones["currency"].to_numpy(),
            "SystemModstamp": to_timestamps(milestones["modified"].to_numpy()),
            "IsDeleted": False,
        }
    )


def psa_frames(
    wf: Workforce,
    staffing: Staffing,
    projects: pd.DataFrame,
    internal: pd.DataFrame,
    sales: Sales,
    cards: Timecards,
    milestones: pd.DataFrame,
    ids: dict[str, np.ndarray],
    tl: Timeline,
    seed: int,
) -> dict[str, pd.DataFrame]:
    """All six PSA objects with contract field names."""
    rng = rng_for(seed, "psa-frames")
    contact = ids["contact"]
    project_frame = pd.concat(
        [
            _client_projects(rng, projects, sales, ids, contact, tl),
            _internal_project_frame(rng, internal, ids, contact, tl),
        ],
        ignore_index=True,
    )
    assignments, schedules = _assignments_and_schedules(rng, staffing, projects, ids, tl)
    return {
        "contact": _contacts(wf, ids, tl),
        "project": project_frame,
        "assignment": assignments,
        "schedule": schedules,
        "timecard_header": timecard_frame(cards, ids, tl),
        "milestone": _milestone_frame(milestones, ids),
    }
