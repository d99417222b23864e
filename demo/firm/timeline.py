"""The calendar of one generated firm: history window, planning horizon, weeks and months.

Dates are carried as integer day numbers (days since 1970-01-01) and timestamps as epoch
seconds, so that every generator can do date arithmetic on numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

EPOCH = date(1970, 1, 1)
DAY_SECONDS = 86_400
HORIZON_MONTHS = 12


def day_number(d: date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


def from_day_number(n: int) -> date:
    """Inverse of day_number."""
    return EPOCH + timedelta(days=int(n))


def add_months(d: date, months: int) -> date:
    """First day of the month `months` after the month of d."""
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def to_dates(days: np.ndarray) -> np.ndarray:
    """Day numbers to datetime64[D] (what pandas and DuckDB read as dates)."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]")


def to_timestamps(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds to datetime64[s]."""
    return np.asarray(seconds, dtype=np.int64).astype("datetime64[s]")


@dataclass(frozen=True)
class Timeline:
    """History window (whole months up to as_of) and forward horizon (12 months after as_of's month).

    Data is a snapshot taken at the start of the as_of day: events happen strictly before
    as_of, and every modified timestamp is before as_of 00:00 UTC.
    """

    as_of: date
    history_start: date
    horizon_end: date
    month_starts: np.ndarray = field(repr=False)  # day numbers, history_start .. horizon_end

    @classmethod
    def build(cls, as_of: date, history_years: int) -> Timeline:
        """History of whole months ending with as_of's month, plus the 12-month horizon after it."""
        this_month = date(as_of.year, as_of.month, 1)
        start = add_months(this_month, -12 * history_years)
        end = add_months(this_month, HORIZON_MONTHS + 1) - timedelta(days=1)
        months = [day_number(add_months(start, i)) for i in range(12 * history_years + HORIZON_MONTHS + 1)]
        return cls(as_of, start, end, np.array(months, dtype=np.int64))

    @property
    def asof_day(self) -> int:
        """Day number of as_of."""
        return day_number(self.as_of)

    @property
    def start_day(self) -> int:
        """Day number of the first day of history."""
        return day_number(self.history_start)

    @property
    def end_day(self) -> int:
        """Day number of the last day of the horizon."""
        return day_number(self.horizon_end)

    @property
    def day0(self) -> int:
        """The Monday on or before history_start: day index 0 of every day grid."""
        return self.start_day - self.history_start.weekday()

    @property
    def n_weeks(self) -> int:
        """Weeks in the day grids (Monday day0 through the week of horizon_end)."""
        return (self.end_day - self.day0) // 7 + 1

    @property
    def n_days(self) -> int:
        """Days in the day grids (whole weeks)."""
        return self.n_weeks * 7

    @property
    def asof_week(self) -> int:
        """Week index of the (partial) week containing as_of."""
        return (self.asof_day - self.day0) // 7

    @property
    def cutoff(self) -> int:
        """Snapshot time in epoch seconds: as_of 00:00 UTC."""
        return self.asof_day * DAY_SECONDS

    @property
    def n_months(self) -> int:
        """Months from history_start through horizon_end."""
        return len(self.month_starts)

    @property
    def month_ends(self) -> np.ndarray:
        """Last day of each month of the timeline."""
        return np.append(self.month_starts[1:], self.end_day + 1) - 1

    @property
    def asof_month(self) -> int:
        """Month index of as_of's month."""
        return int(self.month_of(np.array([self.asof_day]))[0])

    def month_of(self, days: np.ndarray) -> np.ndarray:
        """Month index (into month_starts) of each day number; -1 before the history."""
        return np.searchsorted(self.month_starts, days, side="right") - 1

    def stamp(self, rng: np.random.Generator, days: np.ndarray, max_lag_days: float = 0.0) -> np.ndarray:
        """A business-hours timestamp on (or up to max_lag_days after) each day, kept before the cutoff.

        Rows that would land after the snapshot are pulled back to a random moment in the last
        six hours before it, so no modified timestamp is ever in the future.
        """
        days = np.asarray(days, dtype=np.int64)
        lag = rng.uniform(0.0, max_lag_days, len(days)) if max_lag_days else np.zeros(len(days))
        seconds = (days + np.floor(lag)).astype(np.int64) * DAY_SECONDS
        seconds += rng.integers(8 * 3600, 18 * 3600, len(days))
        latest = self.cutoff - rng.integers(60, 6 * 3600, len(days))
        return np.minimum(seconds, latest)
