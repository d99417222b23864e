"""Public holiday calendars for the countries the firm employs people in (US, GB, DE).

Fixed-date and rule-based holidays with the usual weekend substitution; good enough for
capacity maths, not a legal calendar.
"""

from __future__ import annotations

from datetime import date, timedelta

HOLIDAY_COUNTRIES = ("US", "GB", "DE")


def easter_sunday(year: int) -> date:
    """Gregorian Easter (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    j = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * j) // 451
    month, day = divmod(h + j - 7 * m + 114, 31)
    return date(year, month, day + 1)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th given weekday of a month (n = -1 for the last one)."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = date(year + month // 12, month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _substitute(days: list[tuple[date, str]], friday_for_saturday: bool) -> list[tuple[date, str]]:
    """Move weekend holidays to the next free weekday (US: Saturday holidays to the Friday before)."""
    taken: set[date] = set()
    out = []
    for actual, name in sorted(days):
        observed = actual - timedelta(days=1) if actual.weekday() == 5 and friday_for_saturday else actual
        while observed.weekday() >= 5 or observed in taken:
            observed += timedelta(days=1)
        taken.add(observed)
        out.append((observed, name))
    return out


def _us(year: int) -> list[tuple[date, str]]:
    days = [
        (date(year, 1, 1), "New Year's Day"),
        (nth_weekday(year, 1, 0, 3), "Martin Luther King Jr. Day"),
        (nth_weekday(year, 5, 0, -1), "Memorial Day"),
        (date(year, 6, 19), "Juneteenth"),
        (date(year, 7, 4), "Independence Day"),
        (nth_weekday(year, 9, 0, 1), "Labor Day"),
        (nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
        (date(year, 12, 25), "Christmas Day"),
    ]
    return _substitute(days, friday_for_saturday=True)


def _gb(year: int) -> list[tuple[date, str]]:
    easter = easter_sunday(year)
    days = [
        (date(year, 1, 1), "New Year's Day"),
        (easter - timedelta(days=2), "Good Friday"),
        (easter + timedelta(days=1), "Easter Monday"),
        (nth_weekday(year, 5, 0, 1), "Early May Bank Holiday"),
        (nth_weekday(year, 5, 0, -1), "Spring Bank Holiday"),
        (nth_weekday(year, 8, 0, -1), "Summer Bank Holiday"),
        (date(year, 12, 25), "Christmas Day"),
        (date(year, 12, 26), "Boxing Day"),
    ]
    return _substitute(days, friday_for_saturday=False)


def _de(year: int) -> list[tuple[date, str]]:
    easter = easter_sunday(year)
    return sorted(
        [
            (date(year, 1, 1), "Neujahr"),
            (easter - timedelta(days=2), "Karfreitag"),
            (easter + timedelta(days=1), "Ostermontag"),
            (date(year, 5, 1), "Tag der Arbeit"),
            (easter + timedelta(days=39), "Christi Himmelfahrt"),
            (easter + timedelta(days=50), "Pfingstmontag"),
            (date(year, 10, 3), "Tag der Deutschen Einheit"),
            (date(year, 12, 25), "1. Weihnachtstag"),
            (date(year, 12, 26), "2. Weihnachtstag"),
        ]
    )


_CALENDARS = {"US": _us, "GB": _gb, "DE": _de}


def public_holidays(years: range) -> list[tuple[str, date, str]]:
    """(country, date, name) for every country and year, sorted for deterministic output."""
    rows = [(c, d, n) for c in HOLIDAY_COUNTRIES for y in years for d, n in _CALENDARS[c](y)]
    return sorted(rows)
