"""Deliberate data-quality defects, so the pipeline's checks have something real to catch.

Each defect is injected at a small rate but at least once, into the frames that are about to
be written; the clean derivations (invoices, capacity) were computed before, so a defect is
visible only where a real source-system mistake would be.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from .ids import numbered, rng_for

DEFECTS: dict[str, str] = {
    "duplicate_timecard": "A timecard repeated under a new Id: same resource, project, week and hours.",
    "negative_hours": "A timecard day with negative hours (the week total includes it).",
    "hours_over_24": "A timecard day with more than 24 hours (the week total includes it).",
    "unknown_project": "A timecard whose pse__Project__c matches no pse__Proj__c record.",
    "approved_future_time": "An approved timecard for days after the as-of date (approved before the time was "
    "worked): flagged, never an actual.",
    "missing_fx_rate": "One month x currency missing from consolidatedexchangerate.",
    "probability_over_100": "An open opportunity with Probability above 100.",
    "uninvoiced_month": "The invoice of one time-and-materials project-month, with the credit memo and payment "
    "applied to it, missing from the ERP export: approved billable work that never reached an invoice.",
    "malformed_hours": "A later timecard batch file whose one row has a decimal comma in its hours (`7,5`): "
    "the loader cannot read it as a number and quarantines the row.",
}

Frames = dict[tuple[str, str], pd.DataFrame]
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_COLUMNS = tuple(f"pse__{d}_Hours__c" for d in WEEKDAYS)


def _retotal(cards: pd.DataFrame, rows: np.ndarray) -> None:
    """Keep pse__Total_Hours__c equal to the sum of the day columns on edited rows."""
    cards.loc[rows, "pse__Total_Hours__c"] = cards.loc[rows, list(DAY_COLUMNS)].sum(axis=1).to_numpy()


def _worked_day(rng: np.random.Generator, cards: pd.DataFrame, rows: np.ndarray) -> list[str]:
    """For each row, the name of a day column with hours on it."""
    hours = cards.loc[rows, list(DAY_COLUMNS)].to_numpy()
    return [DAY_COLUMNS[int(rng.choice(np.flatnonzero(h > 0)))] for h in hours]


def _timecard_defects(
    rng: np.random.Generator, frames: Frames, ids: dict[str, np.ndarray], found: dict[str, list[str]]
) -> pd.DataFrame:
    """Impossible hours and an unknown project on approved past timecards; returns the duplicates (not appended)."""
    cards = frames[("psa", "timecard_header")]
    n = len(cards)
    each = max(1, n // 20_000)
    n_dup = max(1, n // 5_000)
    pool = rng.permutation(np.flatnonzero((cards["pse__Status__c"] == "Approved").to_numpy()))
    dup, neg, big, unknown = np.split(pool[: n_dup + 3 * each], [n_dup, n_dup + each, n_dup + 2 * each])
    for rows, name, value in ((neg, "negative_hours", -1.0), (big, "hours_over_24", None)):
        for row, col in zip(rows, _worked_day(rng, cards, rows), strict=True):
            hours = float(cards.at[row, col])
            cards.at[row, col] = -hours if value is not None else 24.0 + float(rng.integers(1, 9)) + hours % 1
        _retotal(cards, rows)
        found[name] = cards.loc[rows, "Id"].tolist()
    n_projects = len(frames[("psa", "project")])
    cards.loc[unknown, "pse__Project__c"] = ids["project"][n_projects]
    cards.loc[unknown, "pse__Assignment__c"] = None
    found["unknown_project"] = cards.loc[unknown, "Id"].tolist()
    copies = cards.loc[np.sort(dup)].copy()
    copies["Id"] = ids["timecard"][n : n + len(copies)]
    copies["Name"] = numbered("TC-", n + 1 + np.arange(len(copies)), 8)
    found["duplicate_timecard"] = copies["Id"].tolist()
    return copies


def _first_weekday_after(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _approved_future_time(
    seed: int, frames: Frames, ids: dict[str, np.ndarray], as_of: date, taken: int, found: dict[str, list[str]]
) -> pd.DataFrame:
    """One approved timecard for weekdays after as_of: time approved before it was worked.

    The card repeats a recent approved billable card (resource, project, assignment) of an active
    resource whose assignment is scheduled past those days, with the source card's longest day on
    each weekday after as_of in the week of the first weekday after it (so usually in the as-of
    month). When every such pair already has a card that week, the following week is used (no card
    is dated there). It was approved on the evening before the snapshot: stamped two hours before
    as_of 00:00 (so an export known on an earlier day does not hold it yet). Its own random
    stream keeps the other defects as they were; `taken` spare ids are already used. Returns the
    card (not appended).
    """
    rng = rng_for(seed, "approved_future_time")
    cards = frames[("psa", "timecard_header")]
    defective = {i for name in ("negative_hours", "hours_over_24", "unknown_project") for i in found.get(name, [])}
    contacts = frames[("psa", "contact")]
    active = set(contacts.loc[contacts["pse__Is_Resource_Active__c"], "Id"])
    assignments = frames[("psa", "assignment")].merge(
        frames[("psa", "schedule")][["Id", "pse__End_Date__c"]].rename(columns={"Id": "pse__Schedule__c"}),
        on="pse__Schedule__c",
    )
    starts = pd.to_datetime(cards["pse__Start_Date__c"])
    pairs = pd.Series(list(zip(cards["pse__Resource__c"], cards["pse__Project__c"], strict=True)), index=cards.index)
    approved = (
        (cards["pse__Status__c"] == "Approved")
        & cards["pse__Billable__c"].astype(bool)
        & cards["pse__Resource__c"].isin(active)
        & ~cards["Id"].isin(defective)
    )
    first = _first_weekday_after(as_of)
    for _ in range(2):
        week_start = first - timedelta(days=first.weekday())
        friday = week_start + timedelta(days=4)
        scheduled = assignments.loc[assignments["pse__End_Date__c"] >= pd.Timestamp(friday), "Id"]
        booked = set(pairs[starts == pd.Timestamp(week_start)])
        candidates = cards.index[
            approved
            & cards["pse__Assignment__c"].isin(scheduled)
            & (starts >= pd.Timestamp(week_start - timedelta(weeks=8)))
            & ~pairs.isin(booked)
        ]
        if len(candidates):
            break
        first = week_start + timedelta(weeks=1)
    source = cards.loc[candidates[int(rng.integers(len(candidates)))]]
    card = source.to_frame().T.reset_index(drop=True)
    n = len(cards) + taken
    card["Id"] = ids["timecard"][n]
    card["Name"] = numbered("TC-", np.array([n + 1]), 8)
    card["pse__Start_Date__c"] = pd.Timestamp(week_start)
    card["pse__End_Date__c"] = pd.Timestamp(week_start + timedelta(days=6))
    card["pse__Status__c"] = "Approved"
    card["SystemModstamp"] = pd.Timestamp(as_of) - pd.Timedelta(hours=2)
    longest = float(source[list(DAY_COLUMNS)].max())
    for k, column in enumerate(DAY_COLUMNS):
        card[column] = longest if k < 5 and week_start + timedelta(days=k) >= first else 0.0
    card = card.astype(cards.dtypes.to_dict())
    _retotal(card, card.index.to_numpy())
    found["approved_future_time"] = card["Id"].tolist()
    return card


def _missing_fx(rng: np.random.Generator, frames: Frames, found: dict[str, list[str]]) -> None:
    """Drop one past month x currency rate (not the first or the latest months)."""
    rates = frames[("erp", "consolidated_exchange_rate")]
    periods = frames[("erp", "accounting_period")]
    closed = periods.loc[periods["closed"], "id"].to_numpy()
    candidates = rates.index[rates["postingperiod"].isin(closed[1:-1] if len(closed) > 2 else closed)]
    drop = candidates[int(rng.integers(len(candidates)))]
    row = rates.loc[drop]
    found["missing_fx_rate"] = [f"postingperiod={row['postingperiod']} fromcurrency={row['fromcurrency']}"]
    frames[("erp", "consolidated_exchange_rate")] = rates.drop(index=drop).reset_index(drop=True)


def _bad_probability(rng: np.random.Generator, frames: Frames, found: dict[str, list[str]]) -> None:
    """Open opportunities whose Probability was typed over 100."""
    opps = frames[("crm", "opportunity")]
    open_rows = np.flatnonzero(~opps["IsClosed"].to_numpy())
    rows = rng.permutation(open_rows)[: max(1, len(opps) // 500)]
    opps.loc[rows, "Probability"] = rng.choice([110.0, 150.0, 500.0, 750.0], len(rows))
    found["probability_over_100"] = opps.loc[rows, "Id"].tolist()


def _uninvoiced_month(seed: int, frames: Frames, found: dict[str, list[str]]) -> None:
    """Leave one T&M invoice (and what was applied to it) out of the ERP export: revenue leakage with a known key.

    Only months closed before the latest two qualify, so the gap is past any billing window. The key
    is `<project Id>|<yyyy-mm>` of the work month. Its own random stream keeps the other defects as
    they were.
    """
    rng = rng_for(seed, "uninvoiced_month")
    headers, lines = frames[("erp", "transaction")], frames[("erp", "transaction_line")]
    projects = frames[("psa", "project")]
    periods = frames[("erp", "accounting_period")]
    time_and_materials = projects.loc[projects["pse__Billing_Type__c"] == "Time and Materials", "Id"]
    invoices = headers.loc[
        (headers["type"] == "CustInvc") & headers["custbody_psa_project_id"].isin(time_and_materials), "id"
    ]
    service = pd.to_datetime(lines["custcol_service_date"])
    billed = lines["transaction"].isin(invoices)
    old_months = np.sort(pd.to_datetime(periods.loc[periods["closed"], "startdate"]).to_numpy())[:-2]
    eligible = billed & service.isin(old_months)
    candidates = np.sort(lines.loc[eligible if eligible.any() else billed, "transaction"].unique())
    invoice = int(candidates[int(rng.integers(len(candidates)))])
    line = lines.index[lines["transaction"] == invoice][0]
    applied = lines.loc[lines["createdfrom"].isin([invoice]), "transaction"].unique()
    dropped = [invoice, *applied.tolist()]
    frames[("erp", "transaction")] = headers[~headers["id"].isin(dropped)].reset_index(drop=True)
    frames[("erp", "transaction_line")] = lines[~lines["transaction"].isin(dropped)].reset_index(drop=True)
    found["uninvoiced_month"] = [f"{lines.at[line, 'custcol_psa_project_id']}|{service[line]:%Y-%m}"]


def inject_defects(frames: Frames, ids: dict[str, np.ndarray], seed: int, as_of: date) -> dict[str, list[str]]:
    """Inject every defect in DEFECTS; returns the affected record keys per defect id."""
    rng = rng_for(seed, "defects")
    found: dict[str, list[str]] = {}
    copies = _timecard_defects(rng, frames, ids, found)
    future = _approved_future_time(seed, frames, ids, as_of, len(copies), found)
    # The duplicates stay the file's last rows (the malformed batch copies the last one).
    cards = frames[("psa", "timecard_header")]
    frames[("psa", "timecard_header")] = pd.concat([cards, future, copies], ignore_index=True)
    _missing_fx(rng, frames, found)
    _bad_probability(rng, frames, found)
    _uninvoiced_month(seed, frames, found)
    return {name: found[name] for name in DEFECTS if name in found}


def write_malformed_timecard_batch(base_file: Path, spare_id: str, as_of: str) -> tuple[Path, list[str]]:
    """A one-row later export of timecards, `<stem>.<as_of>.csv`, with a decimal comma in Monday's hours.

    The row copies the base file's last timecard under an unused Id, so the firm's figures do not
    change whether it is loaded or quarantined. Returns the file and the affected Id.
    """
    with base_file.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    with base_file.open("rb") as handle:  # the last line only: the base file can hold millions of rows
        handle.seek(max(0, base_file.stat().st_size - 65_536))
        last_line = handle.read().decode("utf-8").rstrip("\n").rsplit("\n", 1)[-1]
    row = dict(zip(header, next(csv.reader([last_line])), strict=True))
    row["Id"] = spare_id
    row["pse__Monday_Hours__c"] = "7,5"
    path = base_file.with_name(f"{base_file.stem}.{as_of}{base_file.suffix}")
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerow([row[name] for name in header])
    return path, [spare_id]
