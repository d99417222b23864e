"""Who works on what: staffing chains per worker, grouped into client projects and assignments.

Staffing is generated worker-first so that nobody is double-booked by accident: each worker
gets a primary chain of engagements (track A, most of their week) and a secondary chain of
part-time roles (track B, about a day a week). Consecutive track-A stints of an entity and
practice that start at about the same time become one project team; track-B stints join a
project that is already running. Everything is weekly: stints start on a Monday and end on
a Friday, which keeps timecards one-per-resource-project-week by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from .config import BILLING_TYPE_WEIGHTS, BILLING_TYPES, ROLES
from .hris import NO_END, Workforce
from .ids import rng_for
from .timeline import Timeline, day_number

STAFFING_LEAD_WEEKS = 8  # how far ahead of as_of new engagements are already staffed
TEAM_SIZES = (1, 2, 3, 4, 5, 6, 8, 10)
TEAM_SIZE_WEIGHTS = (0.12, 0.20, 0.22, 0.18, 0.12, 0.08, 0.05, 0.03)
PRIMARY_ALLOCATION = {  # tier -> (share of the standard day, probability)
    0: ((1.0, 0.8, 0.6), (0.55, 0.30, 0.15)),
    1: ((1.0, 0.8, 0.6, 0.5), (0.30, 0.30, 0.25, 0.15)),
    2: ((0.6, 0.4, 0.2), (0.30, 0.40, 0.30)),
}
SECONDARY_GAP_WEEKS = {0: (4, 28), 1: (2, 12), 2: (0, 6)}  # tier -> uniform gap range between roles
SECONDARY_ALLOCATION = 0.2


@dataclass
class Staffing:
    """Client projects (one row per project) and assignments (one per worker stint on a project)."""

    projects: pd.DataFrame
    assignments: pd.DataFrame


def employment_weeks(wf: Workforce, tl: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """First and end (exclusive) week each worker can be staffed for a whole Monday-Friday week."""
    hire = wf.workers["hire_day"].to_numpy()
    term = wf.workers["term_day"].to_numpy()
    first = np.maximum(0, -((tl.day0 - hire) // 7))  # ceil((hire - day0) / 7): first Monday employed
    end = np.where(term < NO_END, (term - tl.day0 - 4) // 7 + 1, tl.n_weeks)
    return first, np.minimum(end, tl.n_weeks)


def _chain(
    lo: np.ndarray, hi: np.ndarray, limit: int, lengths: np.ndarray, gaps: np.ndarray, first_gap: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lay stints of the given lengths and gaps end to end from each worker's first week.

    Returns (worker, start_week, end_week) of every stint that starts while the worker is
    employed and before the staffing limit; stints are cut at the end of employment.
    """
    cycle = lengths + gaps
    start = (lo + first_gap)[:, None] + np.cumsum(cycle, axis=1) - cycle
    end = np.minimum(start + lengths, hi[:, None])
    w, m = np.nonzero(start < np.minimum(hi, limit)[:, None])
    return w, start[w, m], end[w, m]


def _primary_stints(rng: np.random.Generator, wf: Workforce, tl: Timeline) -> pd.DataFrame:
    """Track A: engagements of 2-40 weeks with short bench gaps, at 20-100% of the standard day."""
    lo, hi = employment_weeks(wf, tl)
    n, m = len(lo), tl.n_weeks // 2 + 2
    u = rng.random((n, m))
    lengths = np.where(
        u < 0.15,
        rng.integers(2, 6, (n, m)),
        np.where(u < 0.75, rng.integers(6, 21, (n, m)), rng.integers(20, 41, (n, m))),
    )
    gaps = rng.choice([0, 1, 2, 3, 4, 6, 8], (n, m), p=[0.45, 0.2, 0.12, 0.08, 0.07, 0.05, 0.03])
    w, start, end = _chain(lo, hi, tl.asof_week + STAFFING_LEAD_WEEKS, lengths, gaps, rng.integers(0, 4, n))
    tier = wf.workers["tier"].to_numpy()[w]
    alloc = np.zeros(len(w))
    for t, (options, p) in PRIMARY_ALLOCATION.items():
        mask = tier == t
        alloc[mask] = rng.choice(options, int(mask.sum()), p=p)
    return pd.DataFrame({"worker": w, "start_week": start, "end_week": end, "alloc": alloc, "track": "A"})


def _secondary_stints(rng: np.random.Generator, wf: Workforce, tl: Timeline) -> pd.DataFrame:
    """Track B: part-time roles (oversight, QA, SME) of 4-16 weeks; seniors hold them more often."""
    lo, hi = employment_weeks(wf, tl)
    n, m = len(lo), tl.n_weeks // 4 + 2
    tier = wf.workers["tier"].to_numpy()
    gaps = np.zeros((n, m), dtype=np.int64)
    for t, (g_lo, g_hi) in SECONDARY_GAP_WEEKS.items():
        mask = tier == t
        gaps[mask] = rng.integers(g_lo, g_hi + 1, (int(mask.sum()), m))
    lengths = rng.integers(4, 17, (n, m))
    w, start, end = _chain(lo, hi, tl.asof_week + STAFFING_LEAD_WEEKS, lengths, gaps, rng.integers(0, 12, n))
    return pd.DataFrame(
        {"worker": w, "start_week": start, "end_week": end, "alloc": SECONDARY_ALLOCATION, "track": "B"}
    )


def _form_teams(rng: np.random.Generator, stints: pd.DataFrame) -> np.ndarray:
    """Project number per primary stint: neighbours in start order within an entity and practice."""
    n = len(stints)
    part = stints["entity_i"].to_numpy() * 10 + stints["practice_i"].to_numpy()
    first_row = np.r_[0, np.flatnonzero(np.diff(part)) + 1]
    rank = np.arange(n) - np.repeat(first_row, np.diff(np.r_[first_row, n]))
    bounds = np.cumsum(rng.choice(TEAM_SIZES, n, p=TEAM_SIZE_WEIGHTS))
    local = np.searchsorted(bounds, rank + rng.integers(0, 10, 100)[part], side="right")
    return pd.factorize(part.astype(np.int64) * 1_000_000 + local)[0]


def _projects(rng: np.random.Generator, primary: pd.DataFrame, wf: Workforce, tl: Timeline) -> pd.DataFrame:
    """One row per client project: entity, practice, dates, manager, billing type and discount."""
    g = primary.groupby("project", sort=True)
    pm = primary.loc[g["role_i"].idxmax(), "worker"].to_numpy()
    projects = pd.DataFrame(
        {
            "project": g.size().index.to_numpy(),
            "entity_i": g["entity_i"].first().to_numpy(),
            "practice_i": g["practice_i"].first().to_numpy(),
            "start_week": g["start_week"].min().to_numpy(),
            "end_week": g["end_week"].max().to_numpy(),
            "pm_worker": pm,
        }
    )
    w = wf.workers
    projects["entity"] = w["entity"].to_numpy()[pm]
    projects["practice"] = w["practice"].to_numpy()[pm]
    projects["region"] = w["region"].to_numpy()[pm]
    projects["currency"] = w["currency"].to_numpy()[pm]
    projects["start_day"] = tl.day0 + 7 * projects["start_week"]
    projects["end_day"] = tl.day0 + 7 * projects["end_week"] - 3
    billing = rng.choice(len(BILLING_TYPES), len(projects), p=BILLING_TYPE_WEIGHTS)
    if len(np.unique(billing)) < len(BILLING_TYPES):  # every billing type at least once, even when small
        billing[rng.permutation(len(projects))[: len(BILLING_TYPES)]] = np.arange(len(BILLING_TYPES))
    projects["billing_type"] = np.asarray(BILLING_TYPES, dtype=object)[billing]
    projects["discount"] = rng.choice([0.0, 0.05, 0.10, 0.15], len(projects), p=[0.4, 0.3, 0.2, 0.1])
    return projects


def _attach_secondary(
    rng: np.random.Generator, secondary: pd.DataFrame, primary: pd.DataFrame, projects: pd.DataFrame
) -> pd.DataFrame:
    """Put each part-time stint on a project of its entity and practice that is already running."""
    secondary = secondary.assign(key=secondary["start_week"] - rng.integers(0, 5, len(secondary)))
    candidates = (
        projects[["project", "entity_i", "practice_i", "start_week", "end_week"]]
        .rename(columns={"start_week": "p_start", "end_week": "p_end"})
        .sort_values(["p_start", "project"])
    )
    matched = pd.merge_asof(
        secondary.sort_values(["key", "worker"], kind="stable"),
        candidates,
        left_on="key",
        right_on="p_start",
        by=["entity_i", "practice_i"],
        direction="backward",
    ).dropna(subset=["project"])
    matched = matched.astype({"project": np.int64, "p_start": np.int64, "p_end": np.int64})
    matched = matched[matched["p_end"] > matched["start_week"] + 1]
    matched = matched.assign(end_week=np.minimum(matched["end_week"], matched["p_end"]))
    on_primary = primary[["worker", "project"]].drop_duplicates().assign(clash=True)
    matched = matched.merge(on_primary, on=["worker", "project"], how="left")
    return matched[matched["clash"].isna()].drop(columns=["key", "p_start", "p_end", "clash"])


def _bill_rates(wf: Workforce, assignments: pd.DataFrame, projects: pd.DataFrame, tl: Timeline) -> np.ndarray:
    """Contract bill rate: the rate card in force when the assignment starts, less the project discount."""
    rc = wf.rate_card
    uplift = day_number(date(tl.as_of.year, 1, 1))
    card = rc.set_index(["entity", "role_i", "eff_day"])["bill"]
    start_day = tl.day0 + 7 * assignments["start_week"].to_numpy()
    eff = np.where(start_day >= uplift, uplift, rc["eff_day"].min())
    entity = projects["entity"].to_numpy()[assignments["project"].to_numpy()]
    role_i = wf.workers["role_i"].to_numpy()[assignments["worker"].to_numpy()]
    standard = card.reindex(pd.MultiIndex.from_arrays([entity, role_i, eff])).to_numpy()
    discount = projects["discount"].to_numpy()[assignments["project"].to_numpy()]
    return np.round(standard * (1 - discount), 2)


def build_staffing(wf: Workforce, tl: Timeline, seed: int) -> Staffing:
    """Stints -> project teams -> assignments with schedules and bill rates."""
    rng = rng_for(seed, "staffing")
    w = wf.workers
    primary = _primary_stints(rng, wf, tl)
    primary["entity_i"] = w["entity_i"].to_numpy()[primary["worker"]]
    primary["practice_i"] = w["practice_i"].to_numpy()[primary["worker"]]
    primary["role_i"] = w["role_i"].to_numpy()[primary["worker"]]
    keys = (rng.random(len(primary)), primary["start_week"], primary["practice_i"], primary["entity_i"])
    order = np.lexsort(keys)
    primary = primary.iloc[order].reset_index(drop=True)
    primary["project"] = _form_teams(rng, primary)
    projects = _projects(rng, primary, wf, tl)
    secondary = _secondary_stints(rng, wf, tl)
    secondary["entity_i"] = w["entity_i"].to_numpy()[secondary["worker"]]
    secondary["practice_i"] = w["practice_i"].to_numpy()[secondary["worker"]]
    secondary = _attach_secondary(rng, secondary, primary, projects)
    cols = ["worker", "project", "start_week", "end_week", "alloc", "track"]
    assignments = pd.concat([primary[cols], secondary[cols]], ignore_index=True)
    assignments = assignments.sort_values(["project", "start_week", "worker", "track"], kind="stable")
    assignments = assignments.reset_index(drop=True)
    worker = assignments["worker"].to_numpy()
    daily = np.maximum(0.25, np.round(assignments["alloc"] * w["daily_hours"].to_numpy()[worker] * 4) / 4)
    assignments["assignment"] = np.arange(len(assignments))
    assignments["daily_hours"] = daily
    assignments["start_day"] = tl.day0 + 7 * assignments["start_week"]
    assignments["end_day"] = tl.day0 + 7 * assignments["end_week"] - 3
    assignments["planned_hours"] = daily * 5 * (assignments["end_week"] - assignments["start_week"])
    assignments["role"] = np.array([r.name for r in ROLES], dtype=object)[w["role_i"].to_numpy()[worker]]
    assignments["bill_rate"] = _bill_rates(wf, assignments, projects, tl)
    return Staffing(projects, assignments)
