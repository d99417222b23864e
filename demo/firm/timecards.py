"""Weekly timecards: what people actually logged, derived from their schedules and availability.

A worker-week produces up to four timecards: the primary assignment, a part-time secondary
assignment, internal time for the rest of the standard week (bench when unstaffed, training,
pre-sales or admin otherwise), and sometimes a couple of admin hours on top of a full week.
Hours follow the schedule with noise and are zero on days the worker is not available
(weekend, public holiday, time off, before hire, after termination, before history start,
on or after as_of).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import INTERNAL_PROJECTS
from .hris import Workforce
from .ids import rng_for
from .staffing import Staffing
from .timeline import Timeline

BENCH, TRAINING, PRESALES, ADMIN = range(len(INTERNAL_PROJECTS))
REJECTED_SHARE = 0.03


@dataclass
class Timecards:
    """One row per timecard (internal keys) and its Monday..Sunday hours."""

    rows: pd.DataFrame  # worker, project, assignment (-1 internal), week, billable, status, modified
    hours: np.ndarray  # float32 [timecard, 7]


def internal_project(first_internal: int, entity_i: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Project number of an entity's internal project (they follow the client projects)."""
    return first_internal + entity_i * len(INTERNAL_PROJECTS) + kind


def _expand_weeks(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, week) for every week in each [start, end) range."""
    n = np.maximum(end - start, 0)
    row = np.repeat(np.arange(len(start)), n)
    week = start[row] + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    return row, week


def _assignment_weeks(staffing: Staffing, tl: Timeline) -> pd.DataFrame:
    """Billable candidate timecards: each assignment week up to the week of as_of."""
    a = staffing.assignments
    start = np.maximum(a["start_week"].to_numpy(), 0)
    end = np.minimum(a["end_week"].to_numpy(), tl.asof_week + 1)
    row, week = _expand_weeks(start, end)
    return pd.DataFrame(
        {
            "worker": a["worker"].to_numpy()[row],
            "project": a["project"].to_numpy()[row],
            "assignment": row,
            "week": week,
            "daily": a["daily_hours"].to_numpy()[row],
            "alloc": a["alloc"].to_numpy()[row],
            "billable": True,
            "admin": False,
        }
    )


def _internal_weeks(
    rng: np.random.Generator, wf: Workforce, billable: pd.DataFrame, tl: Timeline, first_internal: int
) -> pd.DataFrame:
    """Internal candidate timecards: the unallocated share of each employed worker-week, on bench,
    training, pre-sales or admin, plus an hour or three of admin on Friday in about a third of weeks.
    """
    n_workers, n_weeks = len(wf.workers), tl.asof_week + 1
    booked = np.zeros((n_workers, n_weeks), dtype=np.float32)
    cells = (billable["worker"].to_numpy(), billable["week"].to_numpy())
    np.add.at(booked, cells, billable["alloc"].to_numpy())
    employed = wf.employed[:, : n_weeks * 7].reshape(n_workers, n_weeks, 7).any(axis=2)
    rest = 1.0 - booked
    w, week = np.nonzero(employed & (rest > 0.05))
    tier = wf.workers["tier"].to_numpy()[w]
    u = rng.random(len(w))
    kind = np.select(
        [booked[w, week] == 0, tier == 2, tier == 1],
        [BENCH, PRESALES, np.where(u < 0.5, PRESALES, ADMIN)],
        np.where(u < 0.4, TRAINING, ADMIN),
    )
    daily = np.round(rest[w, week] * wf.workers["daily_hours"].to_numpy()[w] * 4) / 4
    has_admin = np.zeros((n_workers, n_weeks), dtype=bool)
    has_admin[w[kind == ADMIN], week[kind == ADMIN]] = True
    xw, xweek = np.nonzero(employed & ~has_admin & (rng.random((n_workers, n_weeks)) < 0.3))
    w, week = np.r_[w, xw], np.r_[week, xweek]
    kind = np.r_[kind, np.full(len(xw), ADMIN)]
    extra = np.r_[np.zeros(len(daily), dtype=bool), np.ones(len(xw), dtype=bool)]
    return pd.DataFrame(
        {
            "worker": w,
            "project": internal_project(first_internal, wf.workers["entity_i"].to_numpy()[w], kind),
            "assignment": -1,
            "week": week,
            "daily": np.r_[daily, rng.integers(1, 4, len(xw))],
            "alloc": 0.0,
            "billable": False,
            "admin": extra,
        }
    )


def _hours(rng: np.random.Generator, cards: pd.DataFrame, wf: Workforce, tl: Timeline) -> np.ndarray:
    """Logged hours per weekday: the plan on available days, with noise, odd zero days and weekend work."""
    n = len(cards)
    worker = cards["worker"].to_numpy()
    day = cards["week"].to_numpy()[:, None] * 7 + np.arange(7)
    plan = np.zeros((n, 7), dtype=np.float32)
    daily = cards["daily"].to_numpy(dtype=np.float32)
    admin = cards["admin"].to_numpy()
    plan[:, :5] = np.where(admin[:, None], 0.0, daily[:, None])
    plan[admin, 4] = daily[admin]
    noise = np.clip(1 + 0.08 * rng.standard_normal((n, 7), dtype=np.float32), 0.5, 1.6)
    hours = np.round(plan * noise * 4) / 4
    hours *= wf.available[worker[:, None], day] & (rng.random((n, 7), dtype=np.float32) > 0.015)
    weekend = cards["billable"].to_numpy() & (rng.random(n) < 0.03) & wf.workable[worker, day[:, 5]]
    hours[weekend, 5] = rng.integers(2, 7, int(weekend.sum()))
    in_window = (day >= tl.start_day - tl.day0) & (day < tl.asof_day - tl.day0)
    return (hours * in_window).astype(np.float32)


def _statuses(rng: np.random.Generator, week: np.ndarray, tl: Timeline) -> np.ndarray:
    """Approval status by age: recent weeks are still Saved or Submitted, older ones Approved or Rejected."""
    age = (tl.asof_day - 1 - tl.day0) // 7 - week
    u = rng.random(len(week))
    older = np.where(u < 1 - REJECTED_SHARE, "Approved", "Rejected")
    return np.select(
        [age <= 0, age == 1, age == 2],
        [
            np.where(u < 0.6, "Saved", "Submitted"),
            np.select([u < 0.45, u < 0.85], ["Submitted", "Approved"], "Saved"),
            np.select([u < 0.90, u < 0.97], ["Approved", "Submitted"], "Rejected"),
        ],
        older,
    ).astype(object)


def build_timecards(
    wf: Workforce,
    staffing: Staffing,
    tl: Timeline,
    seed: int,
    first_internal: int,
) -> Timecards:
    """All timecards with nonzero hours, sorted by week, resource and project."""
    rng = rng_for(seed, "timecards")
    billable = _assignment_weeks(staffing, tl)
    cards = pd.concat([billable, _internal_weeks(rng, wf, billable, tl, first_internal)], ignore_index=True)
    hours = _hours(rng, cards, wf, tl)
    keep = hours.sum(axis=1) > 0
    cards, hours = cards[keep], hours[keep]
    order = np.lexsort((cards["project"].to_numpy(), cards["worker"].to_numpy(), cards["week"].to_numpy()))
    cards = cards.iloc[order].reset_index(drop=True)
    hours = hours[order]
    week = cards["week"].to_numpy()
    status = _statuses(rng, week, tl)
    week_start = tl.day0 + 7 * week
    touched = np.where(
        np.isin(status, ("Saved", "Submitted")),
        np.maximum(week_start, tl.asof_day - 1 - rng.integers(0, 3, len(week))),
        week_start + 5,
    )
    rows = cards[["worker", "project", "assignment", "week", "billable"]].assign(
        status=status, modified=tl.stamp(rng, touched, max_lag_days=6)
    )
    return Timecards(rows, hours)
