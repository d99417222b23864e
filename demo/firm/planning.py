"""Anaplan side: plan versions and monthly targets per legal entity and practice.

Targets are derived from the generated workforce (headcount, standard hours, rate card) so
that plan-versus-actual comparisons land in a believable range instead of being noise.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from .config import ENTITIES, PRACTICES, Scale
from .hris import Workforce
from .ids import rng_for
from .timeline import Timeline, add_months, day_number

PRACTICE_UTILIZATION = {"Strategy": 0.68, "Technology": 0.76, "Data & Analytics": 0.74, "Change": 0.70}
CAPACITY_FACTOR = 52 / 12 * 0.88  # weekly hours -> monthly hours net of holidays and vacation
REALIZATION = 0.92
FORECAST_VERSION_MONTHS = 15  # a forecast version: its quarter and the 12 months after it


def anaplan_month(d: date) -> str:
    """Anaplan's month label, e.g. `Jan 26`."""
    return d.strftime("%b %y")


def _versions(tl: Timeline) -> list[tuple[str, str, bool, bool, date, date]]:
    """The versions the planning tool holds on as_of: budgets for every calendar year touched, the
    current quarter's forecast and the previous quarter's. A forecast covers its quarter and the
    twelve months after it, so a version is the same version whatever day it is exported on.
    """
    rows = []
    for year in range(tl.history_start.year, tl.horizon_end.year + 1):
        rows.append(
            (
                f"BUD{year % 100:02d}",
                f"Budget FY{year}",
                False,
                year <= tl.as_of.year,
                date(year, 1, 1),
                date(year, 12, 1),
            )
        )
    quarter = (tl.as_of.month - 1) // 3
    q_start = date(tl.as_of.year, 3 * quarter + 1, 1)
    prev = add_months(q_start, -3)
    rows.append(
        (
            f"FC_Q{(prev.month - 1) // 3 + 1}",
            f"Forecast Q{(prev.month - 1) // 3 + 1} FY{prev.year}",
            False,
            True,
            prev,
            add_months(prev, FORECAST_VERSION_MONTHS - 1),
        )
    )
    name = f"Forecast Q{quarter + 1} FY{tl.as_of.year}"
    rows.append((f"FC_Q{quarter + 1}", name, True, False, q_start, add_months(q_start, FORECAST_VERSION_MONTHS - 1)))
    return rows


def _months(start: date, end: date) -> list[date]:
    """First days of the months from start to end inclusive."""
    n = (end.year - start.year) * 12 + end.month - start.month + 1
    return [add_months(start, i) for i in range(n)]


def _headcount(wf: Workforce, months: list[date], entity: str, practice: str) -> np.ndarray:
    """Workers of an entity and practice employed on the 15th of each month."""
    w = wf.workers
    mid = np.array([day_number(m) + 14 for m in months])
    mask = ((w["entity"] == entity) & (w["practice"] == practice)).to_numpy()
    hire, term = w["hire_day"].to_numpy()[mask], w["term_day"].to_numpy()[mask]
    return ((hire[:, None] <= mid) & (term[:, None] >= mid)).sum(axis=0).astype(float)


def planning_frames(wf: Workforce, scale: Scale, tl: Timeline, seed: int) -> dict[str, pd.DataFrame]:
    """Plan_Versions and Targets with Anaplan column names."""
    versions = _versions(tl)
    w = wf.workers
    first_rates = wf.rate_card.drop_duplicates(["entity", "role_i"]).set_index(["entity", "role_i"])["bill"]
    rows = []
    for code, _name, _current, _locked, start, end in versions:
        rng = rng_for(seed, f"planning {code} {start.isoformat()}")  # a version's targets, whenever exported
        months = _months(start, end)
        is_budget = code.startswith("BUD")
        growth = rng.uniform(0.02, 0.10) if is_budget else rng.uniform(-0.02, 0.03)
        for entity in scale.entities:
            for practice in PRACTICES:
                team = w[(w["entity"] == entity) & (w["practice"] == practice)]
                if team.empty:
                    continue
                keys = pd.MultiIndex.from_arrays([team["entity"], team["role_i"]])
                rates = first_rates.reindex(keys).to_numpy()
                hc = np.round(_headcount(wf, months, entity, practice) * (1 + growth), 1)
                util = round(PRACTICE_UTILIZATION[practice] - (0.0 if is_budget else 0.02), 4)
                hours = np.round(hc * team["weekly_hours"].mean() * CAPACITY_FACTOR * util, 0)
                revenue = np.round(hours * rates.mean() * REALIZATION, -2)
                for i, month in enumerate(months):
                    rows.append(
                        (
                            code,
                            entity,
                            practice,
                            anaplan_month(month),
                            ENTITIES[entity].currency,
                            revenue[i],
                            hours[i],
                            util,
                            hc[i],
                        )
                    )
    targets = pd.DataFrame(
        rows,
        columns=[
            "Version",
            "Legal Entity",
            "Practice",
            "Month",
            "Currency",
            "Revenue Target",
            "Billable Hours Target",
            "Utilization Target",
            "Headcount Target",
        ],
    )
    plan_versions = pd.DataFrame(
        {
            "Version Code": [v[0] for v in versions],
            "Version Name": [v[1] for v in versions],
            "Is Current": [v[2] for v in versions],
            "Is Locked": [v[3] for v in versions],
            "Start Month": [anaplan_month(v[4]) for v in versions],
            "End Month": [anaplan_month(v[5]) for v in versions],
        }
    )
    return {"plan_version": plan_versions, "target": targets}
