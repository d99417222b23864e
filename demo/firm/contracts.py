"""What was sold: contract value, estimate and milestones of each client project.

Commercials are derived from the staffing plan (standard value of the scheduled hours) so
that bookings, estimates, actual hours and invoices stay in proportion to each other.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .ids import rng_for
from .names import MILESTONE_NAMES
from .staffing import Staffing
from .timeline import Timeline


def _round_to(values: np.ndarray, unit: float) -> np.ndarray:
    """Round to a commercial unit (e.g. 1,000) with a floor of one unit."""
    return np.maximum(unit, np.round(values / unit) * unit)


def price_projects(staffing: Staffing, tl: Timeline, seed: int) -> pd.DataFrame:
    """Add months, bookings, planned hours and the retainer fee to the client projects."""
    rng = rng_for(seed, "contracts")
    p = staffing.projects.copy()
    a = staffing.assignments
    planned = np.bincount(a["project"], weights=a["planned_hours"], minlength=len(p))
    standard = np.bincount(a["project"], weights=a["planned_hours"] * a["bill_rate"], minlength=len(p))
    months = tl.month_of(p["end_day"].to_numpy()) - tl.month_of(p["start_day"].to_numpy()) + 1
    billing = p["billing_type"].to_numpy()
    fee = _round_to(standard / months * rng.uniform(0.9, 1.1, len(p)), 100.0)
    bookings = np.select(
        [billing == "Time and Materials", billing == "Retainer"],
        [_round_to(standard * rng.uniform(0.95, 1.10, len(p)), 1000.0), fee * months],
        _round_to(standard * rng.uniform(0.90, 1.15, len(p)), 1000.0),
    )
    p["months"] = months
    p["bookings"] = bookings
    p["retainer_fee"] = np.where(billing == "Retainer", fee, np.nan)
    estimate = np.round(planned * rng.uniform(0.9, 1.1, len(p)))
    p["planned_hours"] = np.where(billing == "Retainer", planned, estimate)
    return p


def split_cents(total_cents: np.ndarray, group: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split each group's total into weighted parts in whole cents; the last part takes the remainder."""
    share = weights / np.bincount(group, weights=weights)[group]
    parts = np.round(total_cents[group] * share).astype(np.int64)
    last = np.r_[group[1:] != group[:-1], True]
    allocated = np.bincount(group, weights=parts).astype(np.int64)
    parts[last] += (total_cents - allocated)[group[last]]
    return parts


def build_milestones(projects: pd.DataFrame, tl: Timeline, seed: int) -> pd.DataFrame:
    """Billing milestones of Milestone projects: evenly spaced targets, amounts summing to bookings."""
    rng = rng_for(seed, "milestones")
    mp = projects[projects["billing_type"] == "Milestone"].reset_index(drop=True)
    count = np.clip(mp["months"].to_numpy() // 2 + 1, 2, 5)
    group = np.repeat(np.arange(len(mp)), count)
    seq = np.arange(len(group)) - np.repeat(np.cumsum(count) - count, count)
    k = count[group]
    start, end = mp["start_day"].to_numpy()[group], mp["end_day"].to_numpy()[group]
    target = start + np.round((end - start) * (seq + 1) / k).astype(np.int64)
    cents = split_cents(
        np.round(mp["bookings"].to_numpy() * 100).astype(np.int64), group, rng.uniform(0.6, 1.4, len(group))
    )
    actual = np.maximum(target + rng.integers(-5, 15, len(group)), start + 7)
    complete = actual < tl.asof_day
    approved = complete & ((rng.random(len(group)) < 0.9) | (actual < tl.asof_day - 30))
    pending = (~complete).astype(np.int64)
    first_open = (pending == 1) & (pd.Series(pending).groupby(group).cumsum().to_numpy() == 1)
    started = start <= tl.asof_day
    status = np.where(complete, "Complete", np.where(first_open & started, "In Progress", "Planned"))
    phase = np.asarray(MILESTONE_NAMES, dtype=object)[np.minimum(seq, 4)]
    names = np.where(seq == k - 1, MILESTONE_NAMES[-1], phase)
    modified_day = np.where(complete, actual, np.maximum(start, tl.asof_day - 60))
    return pd.DataFrame(
        {
            "milestone": np.arange(len(group)),
            "project": mp["project"].to_numpy()[group],
            "name": pd.Series("M" + (seq + 1).astype(str)).to_numpy(dtype=object) + " - " + names,
            "amount_cents": cents,
            "target_day": target,
            "actual_day": np.where(complete, actual, -1),
            "status": status.astype(object),
            "approved": approved,
            "currency": mp["currency"].to_numpy()[group],
            "modified": tl.stamp(rng, modified_day, max_lag_days=3),
        }
    )
