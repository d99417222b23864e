"""Workday side of the firm: workers, rate card, loaded cost rates, time off and holidays.

The workforce is generated first because everything else (staffing, timecards, capacity,
plan targets) is derived from who is employed where, when, and at which standard hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from .config import ENTITIES, PART_TIME_HOURS, PRACTICE_WEIGHTS, PRACTICES, RATE_INCREASE, ROLES, Scale
from .holidays import HOLIDAY_COUNTRIES, public_holidays
from .ids import numbered, rng_for
from .names import FIRST_NAMES, LAST_NAMES
from .timeline import Timeline, day_number, to_dates, to_timestamps

NO_END = 10**8  # day number standing for "not terminated"
ANNUAL_ATTRITION = 0.12
EMAIL_DOMAIN = "psf.example.com"


@dataclass
class Workforce:
    """Workers plus the day grids (worker x day since Timeline.day0) that capacity and timecards use."""

    workers: pd.DataFrame
    employed: np.ndarray  # bool [worker, day]
    workable: np.ndarray  # bool [worker, day]: employed and not a public holiday (weekends included)
    available: np.ndarray  # bool [worker, day]: employed weekday, no holiday, no time off
    time_off: pd.DataFrame
    rate_card: pd.DataFrame
    cost_rates: pd.DataFrame
    holidays: pd.DataFrame


def _pick(rng: np.random.Generator, options: tuple, weights: tuple | None, n: int) -> np.ndarray:
    """Draw n values from options (object array), optionally weighted."""
    p = None if weights is None else np.asarray(weights) / np.sum(weights)
    return np.asarray(options, dtype=object)[rng.choice(len(options), n, p=p)]


def _employment(rng: np.random.Generator, scale: Scale, tl: Timeline) -> tuple[np.ndarray, np.ndarray]:
    """Hire and termination days: a tenured core, hires during the history, and leavers."""
    n_active = scale.consultants
    n_left = round(n_active * ANNUAL_ATTRITION * scale.history_years)
    hire = np.empty(n_active + n_left, dtype=np.int64)
    term = np.full(n_active + n_left, NO_END, dtype=np.int64)
    recent = rng.random(n_active) < 0.25
    hire[:n_active] = np.where(
        recent,
        rng.integers(tl.start_day, tl.asof_day - 14, n_active),
        tl.start_day - rng.integers(1, 10 * 365, n_active),
    )
    term[n_active:] = rng.integers(tl.start_day + 14, tl.asof_day, n_left)
    hire[n_active:] = term[n_active:] - rng.integers(120, 2500, n_left)
    return hire, term


def _weekly_hours(rng: np.random.Generator, entity: np.ndarray) -> np.ndarray:
    """Standard weekly hours: the entity's full-time norm, some part-timers at 20-32 h."""
    hours = np.empty(len(entity))
    for code, ent in ENTITIES.items():
        mask = entity == code
        n = int(mask.sum())
        full = _pick(rng, ent.full_time_hours, ent.full_time_weights, n).astype(float)
        part = _pick(rng, PART_TIME_HOURS, None, n).astype(float)
        hours[mask] = np.where(rng.random(n) < ent.part_time_share, part, full)
    return hours


def _names(rng: np.random.Generator, country: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last names drawn from the worker's country lists."""
    first = np.empty(len(country), dtype=object)
    last = np.empty(len(country), dtype=object)
    for code in FIRST_NAMES:
        mask = country == code
        first[mask] = _pick(rng, FIRST_NAMES[code], None, int(mask.sum()))
        last[mask] = _pick(rng, LAST_NAMES[code], None, int(mask.sum()))
    return first, last


def _emails(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """first.last@domain, ASCII-folded, with a counter for namesakes (as a directory would do)."""
    local = pd.Series(first + "." + last, dtype=object).str.lower()
    for src, dst in (("ü", "ue"), ("ö", "oe"), ("ä", "ae"), ("ß", "ss"), (" ", "")):
        local = local.str.replace(src, dst, regex=False)
    seen = local.groupby(local, sort=False).cumcount()
    suffix = np.where(seen > 0, (seen + 1).astype(str), "")
    return (local + suffix + "@" + EMAIL_DOMAIN).to_numpy(dtype=object)


def _workers(scale: Scale, tl: Timeline, seed: int) -> pd.DataFrame:
    """One row per worker ever employed in the window, ordered (and numbered) by hire date."""
    rng = rng_for(seed, "workers")
    hire, term = _employment(rng, scale, tl)
    n = len(hire)
    order = np.lexsort((rng.random(n), hire))
    hire, term = hire[order], term[order]
    entity_shares = np.array([ENTITIES[e].headcount_share for e in scale.entities])
    entity = _pick(rng, scale.entities, tuple(entity_shares), n)
    country = np.array([ENTITIES[e].country for e in entity], dtype=object)
    role_i = rng.choice(len(ROLES), n, p=np.array([r.share for r in ROLES]) / sum(r.share for r in ROLES))
    practice_i = rng.choice(len(PRACTICES), n, p=PRACTICE_WEIGHTS)
    pick_region = rng.integers(0, 6, n)
    region = np.array(
        [ENTITIES[e].regions[k % len(ENTITIES[e].regions)] for e, k in zip(entity, pick_region, strict=True)],
        dtype=object,
    )
    first, last = _names(rng, country)
    weekly = _weekly_hours(rng, entity)
    return pd.DataFrame(
        {
            "worker": np.arange(n),
            "worker_id": (np.arange(n) + 100_001).astype(str).astype(object),
            "name": first + " " + last,
            "email": _emails(first, last),
            "entity": entity,
            "entity_i": np.array([scale.entities.index(e) for e in entity]),
            "country": country,
            "country_i": np.array([HOLIDAY_COUNTRIES.index(c) for c in country]),
            "currency": np.array([ENTITIES[e].currency for e in entity], dtype=object),
            "practice": np.asarray(PRACTICES, dtype=object)[practice_i],
            "practice_i": practice_i,
            "region": region,
            "role_i": role_i,
            "role": np.array([r.name for r in ROLES], dtype=object)[role_i],
            "tier": np.array([r.tier for r in ROLES])[role_i],
            "worker_type": np.where(rng.random(n) < 0.06, "Contingent Worker", "Employee").astype(object),
            "hire_day": hire,
            "term_day": term,
            "weekly_hours": weekly,
            "daily_hours": weekly / 5.0,
            "updated": tl.stamp(
                rng,
                np.where(term < NO_END, term, rng.integers(np.maximum(hire, tl.asof_day - 365), tl.asof_day)),
            ),
        }
    )


def _holiday_grid(holidays: pd.DataFrame, tl: Timeline) -> np.ndarray:
    """bool [country, day]: public holiday in that country's calendar."""
    grid = np.zeros((len(HOLIDAY_COUNTRIES), tl.n_days), dtype=bool)
    j = holidays["day"].to_numpy() - tl.day0
    ok = (j >= 0) & (j < tl.n_days)
    grid[holidays["country_i"].to_numpy()[ok], j[ok]] = True
    return grid


def _holidays(tl: Timeline) -> pd.DataFrame:
    """Public holidays of every country calendar for each year the timeline touches."""
    rows = public_holidays(range(tl.history_start.year, tl.horizon_end.year + 1))
    return pd.DataFrame(
        {
            "country": [c for c, _, _ in rows],
            "country_i": [HOLIDAY_COUNTRIES.index(c) for c, _, _ in rows],
            "day": [day_number(d) for _, d, _ in rows],
            "name": [n for _, _, n in rows],
            "published": [day_number(date(d.year - 1, 12, 1)) for _, d, _ in rows],
        }
    )


def _vacation_grid(rng: np.random.Generator, tl: Timeline, n_workers: int) -> np.ndarray:
    """bool [worker, day]: vacation blocks of 1-9 calendar days, about 4.5 a year, sparse far ahead."""
    n_blocks = rng.poisson(4.5 * tl.n_days / 365.25, n_workers)
    worker = np.repeat(np.arange(n_workers), n_blocks)
    start = rng.integers(0, tl.n_days, len(worker))
    far = start > (tl.asof_day - tl.day0) + 180
    keep = ~far | (rng.random(len(worker)) < 0.3)
    worker, start = worker[keep], start[keep]
    length = rng.integers(1, 10, len(worker))
    grid = np.zeros((n_workers, tl.n_days), dtype=bool)
    for k in range(9):
        j = start + k
        ok = (length > k) & (j < tl.n_days)
        grid[worker[ok], j[ok]] = True
    return grid


def _statuses(rng: np.random.Generator, day: np.ndarray, sick: np.ndarray, tl: Timeline) -> np.ndarray:
    """Approval status by how far the day is from as_of: future requests are often still Submitted."""
    ahead = day - tl.asof_day
    u = rng.random(len(day))
    past = np.select([u < 0.95, u < 0.99], ["Approved", "Canceled"], "Submitted")
    near = np.select([u < 0.85, u < 0.97], ["Approved", "Submitted"], "Canceled")
    far = np.select([u < 0.55, u < 0.97], ["Approved", "Submitted"], "Canceled")
    status = np.where(ahead < 0, past, np.where(ahead < 60, near, far))
    status = np.where(sick, np.where(u < 0.97, "Approved", "Submitted"), status)
    return status.astype(object)


def _time_off(
    rng: np.random.Generator,
    workers: pd.DataFrame,
    tl: Timeline,
    free: np.ndarray,
) -> pd.DataFrame:
    """Day-level time off on working days: vacation blocks, sick days (past only), some personal days."""
    asof_j = tl.asof_day - tl.day0
    vacation = _vacation_grid(rng, tl, len(workers))
    sick = rng.random(free.shape, dtype=np.float32) < 0.012
    sick[:, asof_j:] = False
    w, j = np.nonzero((vacation | sick) & free)
    is_sick = sick[w, j] & ~vacation[w, j]
    kind = np.where(is_sick, "Sick", np.where(rng.random(len(w)) < 0.07, "Personal", "Vacation"))
    day = j + tl.day0
    requested = np.where(is_sick, day + rng.integers(0, 3, len(w)), day - rng.integers(14, 90, len(w)))
    requested = np.minimum(requested, tl.asof_day - 1 - rng.integers(0, 20, len(w)))
    requested = np.maximum(requested, workers["hire_day"].to_numpy()[w])
    return pd.DataFrame(
        {
            "worker": w,
            "day": day,
            "hours": workers["daily_hours"].to_numpy()[w],
            "kind": kind.astype(object),
            "status": _statuses(rng, day, is_sick, tl),
            "updated": tl.stamp(rng, requested),
        }
    )


def _rate_card(scale: Scale, tl: Timeline) -> pd.DataFrame:
    """Standard bill and cost rate per role and entity, with an uplift in January of the as_of year."""
    first = date(tl.history_start.year, 1, 1)
    uplift = date(tl.as_of.year, 1, 1)
    rows = []
    for code in scale.entities:
        ent = ENTITIES[code]
        for role_i, role in enumerate(ROLES):
            bill = round(role.usd_bill_rate * ent.rate_factor / 5) * 5.0
            cost = round(role.usd_cost_rate * ent.rate_factor, 0)
            rows.append((code, role_i, role, ent.currency, bill, cost, first))
            rows.append(
                (
                    code,
                    role_i,
                    role,
                    ent.currency,
                    round(bill * (1 + RATE_INCREASE) / 5) * 5.0,
                    round(cost * 1.03, 2),
                    uplift,
                )
            )
    return pd.DataFrame(
        {
            "id": [f"RC-{r[0][4:]}-{r[2].code}-{r[6].year}" for r in rows],
            "entity": [r[0] for r in rows],
            "role_i": [r[1] for r in rows],
            "role": [r[2].name for r in rows],
            "currency": [r[3] for r in rows],
            "bill": [r[4] for r in rows],
            "cost": [r[5] for r in rows],
            "eff_day": [day_number(r[6]) for r in rows],
        }
    )


def _cost_rates(
    rng: np.random.Generator,
    workers: pd.DataFrame,
    rate_card: pd.DataFrame,
    tl: Timeline,
) -> pd.DataFrame:
    """Loaded cost per worker: a rate at hire, then January raises (one or two) while employed."""
    base = rate_card.drop_duplicates(["entity", "role_i"]).set_index(["entity", "role_i"])["cost"]
    std = base.reindex(pd.MultiIndex.from_arrays([workers["entity"], workers["role_i"]])).to_numpy()
    n = len(workers)
    hire, term = workers["hire_day"].to_numpy(), workers["term_day"].to_numpy()
    raise_days = [day_number(date(tl.as_of.year - 1, 1, 1)), day_number(date(tl.as_of.year, 1, 1))]
    rate = np.round(std * rng.uniform(0.88, 1.12, n), 2)
    parts = [(np.arange(n), hire, rate.copy(), np.ones(n, dtype=bool))]
    for k, day in enumerate(raise_days):
        rate = np.round(rate * rng.uniform(1.02, 1.06, n), 2)
        eligible = (hire < day) & (term >= day) & ((k == 1) | (rng.random(n) < 0.6))
        parts.append((np.arange(n), np.full(n, day), rate.copy(), eligible))
    rows = pd.concat(
        [
            pd.DataFrame({"worker": w, "eff_day": d, "rate": r, "seq": k})[keep]
            for k, (w, d, r, keep) in enumerate(parts)
        ]
    ).sort_values(["worker", "seq"], kind="stable")
    rows["seq"] = rows.groupby("worker").cumcount() + 1
    rows["id"] = "CR-" + workers["worker_id"].to_numpy()[rows["worker"]] + "-" + rows["seq"].astype(str)
    rows["currency"] = workers["currency"].to_numpy()[rows["worker"]]
    rows["updated"] = tl.stamp(rng, rows["eff_day"].to_numpy() - 20)
    return rows.reset_index(drop=True)


def build_workforce(scale: Scale, tl: Timeline, seed: int) -> Workforce:
    """Workers, their day grids, and the HR reference tables."""
    workers = _workers(scale, tl, seed)
    rng = rng_for(seed, "hris")
    holidays = _holidays(tl)
    days = tl.day0 + np.arange(tl.n_days)
    hire, term = workers["hire_day"].to_numpy()[:, None], workers["term_day"].to_numpy()[:, None]
    employed = (days >= hire) & (days <= term)
    weekday = (np.arange(tl.n_days) % 7) < 5
    workable = employed & ~_holiday_grid(holidays, tl)[workers["country_i"].to_numpy()]
    free = workable & weekday
    time_off = _time_off(rng, workers, tl, free)
    taken = time_off[time_off["status"] != "Canceled"]
    available = free.copy()
    available[taken["worker"].to_numpy(), taken["day"].to_numpy() - tl.day0] = False
    rate_card = _rate_card(scale, tl)
    cost_rates = _cost_rates(rng, workers, rate_card, tl)
    return Workforce(workers, employed, workable, available, time_off, rate_card, cost_rates, holidays)


def hris_frames(wf: Workforce, tl: Timeline, seed: int) -> dict[str, pd.DataFrame]:
    """The five Workday reports, with contract field names."""
    rng = rng_for(seed, "hris-frames")
    w = wf.workers
    term = w["term_day"].to_numpy()
    worker_ids = w["worker_id"].to_numpy()
    workers = pd.DataFrame(
        {
            "Worker_ID": worker_ids,
            "Worker": w["name"],
            "Email_Address": w["email"],
            "Company_ID": w["entity"],
            "Location_Country": w["country"],
            "Practice": w["practice"],
            "Region": w["region"],
            "Job_Profile": w["role"],
            "Worker_Type": w["worker_type"],
            "Hire_Date": to_dates(w["hire_day"]),
            "Termination_Date": pd.Series(to_dates(np.where(term < NO_END, term, 0))).where(term < NO_END),
            "Scheduled_Weekly_Hours": w["weekly_hours"],
            "Last_Updated": to_timestamps(w["updated"]),
        }
    )
    rc = wf.rate_card
    rate_card = pd.DataFrame(
        {
            "Rate_Card_ID": rc["id"],
            "Job_Profile": rc["role"],
            "Company_ID": rc["entity"],
            "Currency": rc["currency"],
            "Standard_Bill_Rate": rc["bill"],
            "Standard_Cost_Rate": rc["cost"],
            "Effective_Date": to_dates(rc["eff_day"]),
            "Last_Updated": to_timestamps(tl.stamp(rng, rc["eff_day"].to_numpy() - 30)),
        }
    )
    cr = wf.cost_rates
    cost_rates = pd.DataFrame(
        {
            "Cost_Rate_ID": cr["id"],
            "Worker_ID": worker_ids[cr["worker"]],
            "Effective_Date": to_dates(cr["eff_day"]),
            "Loaded_Cost_Rate": cr["rate"],
            "Currency": cr["currency"],
            "Last_Updated": to_timestamps(cr["updated"]),
        }
    )
    to = wf.time_off
    time_off = pd.DataFrame(
        {
            "Time_Off_Entry_ID": numbered("TOE-", np.arange(len(to)) + 1, 8),
            "Worker_ID": worker_ids[to["worker"]],
            "Date": to_dates(to["day"]),
            "Hours": to["hours"],
            "Time_Off_Type": to["kind"],
            "Status": to["status"],
            "Last_Updated": to_timestamps(to["updated"]),
        }
    )
    h = wf.holidays
    holidays = pd.DataFrame(
        {
            "Holiday_ID": ("HOL-" + h["country"] + "-" + pd.Series(to_dates(h["day"])).dt.strftime("%Y%m%d")),
            "Country": h["country"],
            "Date": to_dates(h["day"]),
            "Holiday_Name": h["name"],
            "Last_Updated": to_timestamps(tl.stamp(rng, h["published"].to_numpy())),
        }
    )
    return {
        "worker": workers,
        "rate_card": rate_card,
        "worker_cost_rate": cost_rates,
        "time_off": time_off,
        "holiday": holidays,
    }
