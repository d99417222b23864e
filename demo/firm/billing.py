"""NetSuite receivables: invoices by billing type, credit memos and customer payments.

Invoices are derived from PSA facts exactly as a billing team would: approved billable T&M
hours per assignment and month at the contract rate, approved milestones, monthly fixed-fee
instalments and retainer fees. Some work is invoiced late and a little is never invoiced,
which is the revenue leakage the pipeline is built to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .contracts import split_cents
from .ids import numbered, rng_for
from .timecards import Timecards
from .timeline import Timeline, from_day_number

UNBILLED_LINE_SHARE = 0.02  # approved T&M hours that never reach an invoice
LATE_INVOICE_SHARE = 0.15
CREDIT_SHARE = 0.03
NEVER_PAID_SHARE = 0.04
TYPE_ORDER = {"CustInvc": 0, "CustCred": 1, "CustPymt": 2}


@dataclass
class Ledger:
    """Transaction headers and lines with internal keys (money in integer cents)."""

    headers: pd.DataFrame
    lines: pd.DataFrame


def _month_labels(tl: Timeline) -> np.ndarray:
    """`Jan 2026` for every month of the timeline."""
    return np.array([from_day_number(m).strftime("%b %Y") for m in tl.month_starts], dtype=object)


def _line_frame(**columns: object) -> pd.DataFrame:
    """Invoice lines in the common shape every billing source produces."""
    frame = pd.DataFrame(columns)
    for name, default in (("milestone", -1), ("quantity", 1.0)):
        if name not in frame:
            frame[name] = default
    return frame


def _time_and_materials(
    rng: np.random.Generator,
    cards: Timecards,
    projects: pd.DataFrame,
    assignments: pd.DataFrame,
    workers: pd.DataFrame,
    tl: Timeline,
) -> pd.DataFrame:
    """Approved billable hours per assignment and month, billed on the next month's invoice."""
    rows = cards.rows
    project = rows["project"].to_numpy()
    client = project < len(projects)
    tm = np.zeros(len(rows), dtype=bool)
    tm[client] = projects["billing_type"].to_numpy()[project[client]] == "Time and Materials"
    sel = np.flatnonzero(tm & rows["billable"].to_numpy() & (rows["status"].to_numpy() == "Approved"))
    day = tl.day0 + rows["week"].to_numpy()[sel, None] * 7 + np.arange(7)
    month = np.maximum(tl.month_of(day), 0)  # days before the history carry no hours
    key = rows["assignment"].to_numpy()[sel, None] * tl.n_months + month
    totals = np.bincount(key.ravel(), weights=cards.hours[sel].ravel().astype(np.float64))
    key = np.flatnonzero(totals > 0)
    asg, month = key // tl.n_months, key % tl.n_months
    keep = (month < tl.asof_month) & (rng.random(len(key)) >= UNBILLED_LINE_SHARE)
    asg, month, hours = asg[keep], month[keep], np.round(totals[key][keep], 2)
    proj = assignments["project"].to_numpy()[asg]
    doc = pd.factorize(proj * tl.n_months + month)[0]
    n_docs = int(doc.max()) + 1 if len(doc) else 0
    late = rng.random(n_docs) < LATE_INVOICE_SHARE
    lag = np.where(late, rng.integers(15, 46, n_docs), rng.integers(2, 11, n_docs))
    rate = assignments["bill_rate"].to_numpy()[asg]
    worker = assignments["worker"].to_numpy()[asg]
    return _line_frame(
        kind="Time and Materials",
        group=doc,
        project=proj,
        month=month,
        trandate=tl.month_ends[month] + 1 + lag[doc],
        quantity=hours,
        rate=rate,
        cents=np.round(hours * rate * 100).astype(np.int64),
        memo=assignments["role"].to_numpy()[asg] + " - " + workers["name"].to_numpy()[worker],
    )


def _project_months(
    projects: pd.DataFrame,
    billing_type: str,
    tl: Timeline,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Projects of one billing type and the (project row, month) pairs they span."""
    p = projects[projects["billing_type"] == billing_type].reset_index(drop=True)
    first = tl.month_of(p["start_day"].to_numpy())
    count = p["months"].to_numpy()
    row = np.repeat(np.arange(len(p)), count)
    month = first[row] + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return p.iloc[row].reset_index(drop=True), month


def _retainers(rng: np.random.Generator, projects: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """The monthly retainer fee, invoiced in advance at the start of each month of the term."""
    p, month = _project_months(projects, "Retainer", tl)
    fee = p["retainer_fee"].to_numpy()
    trandate = np.maximum(tl.month_starts[month], p["start_day"].to_numpy()) + rng.integers(0, 4, len(p))
    return _line_frame(
        kind="Retainer",
        group=np.arange(len(p)),
        project=p["project"].to_numpy(),
        month=month,
        trandate=trandate,
        rate=fee,
        cents=np.round(fee * 100).astype(np.int64),
        memo="Monthly retainer fee",
    )


def _fixed_fees(rng: np.random.Generator, projects: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """Fixed-price billing schedule: equal monthly instalments invoiced at each month end."""
    p, month = _project_months(projects, "Fixed Price", tl)
    group = pd.factorize(p["project"].to_numpy())[0]
    bookings = p.drop_duplicates("project")["bookings"].to_numpy()
    cents = split_cents(np.round(bookings * 100).astype(np.int64), group, np.ones(len(p)))
    return _line_frame(
        kind="Fixed Price",
        group=np.arange(len(p)),
        project=p["project"].to_numpy(),
        month=month,
        trandate=tl.month_ends[month] + rng.integers(0, 6, len(p)),
        rate=cents / 100,
        cents=cents,
        memo="Fixed fee instalment",
    )


def _milestones(rng: np.random.Generator, milestones: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """Approved milestones, invoiced a few days after acceptance."""
    m = milestones[milestones["approved"]]
    actual = m["actual_day"].to_numpy()
    cents = m["amount_cents"].to_numpy()
    return _line_frame(
        kind="Milestone",
        group=np.arange(len(m)),
        project=m["project"].to_numpy(),
        month=tl.month_of(actual),
        trandate=actual + rng.integers(1, 13, len(m)),
        rate=cents / 100,
        cents=cents,
        memo=m["name"].to_numpy(),
        milestone=m["milestone"].to_numpy(),
    )


def _invoices(lines: pd.DataFrame, tl: Timeline) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Invoice headers, one per (billing source, group) dated before the snapshot, and their lines."""
    lines = lines[lines["trandate"] < tl.asof_day]
    kind_rank = lines["kind"].map({"Time and Materials": 0, "Fixed Price": 1, "Milestone": 2, "Retainer": 3})
    lines = lines.assign(doc=pd.factorize(kind_rank.to_numpy() * 10**9 + lines["group"].to_numpy())[0])
    labels = _month_labels(tl)
    head = lines.groupby("doc", sort=True).agg(
        project=("project", "first"),
        month=("month", "first"),
        trandate=("trandate", "first"),
        kind=("kind", "first"),
        cents=("cents", "sum"),
        memo_line=("memo", "first"),
    )
    prefix = head["kind"].map(
        {
            "Time and Materials": "Time and materials",
            "Fixed Price": "Fixed fee instalment",
            "Retainer": "Retainer fee",
            "Milestone": "Milestone",
        }
    )
    head["memo"] = np.where(
        head["kind"] == "Milestone",
        "Milestone: " + head["memo_line"],
        prefix + " - " + labels[head["month"].to_numpy()],
    )
    head["type"] = "CustInvc"
    return head.reset_index(), lines


def _credits(rng: np.random.Generator, invoices: pd.DataFrame, tl: Timeline) -> pd.DataFrame:
    """A few credit memos (write-downs and disputes) against issued invoices."""
    pick = invoices[rng.random(len(invoices)) < CREDIT_SHARE]
    trandate = pick["trandate"].to_numpy() + rng.integers(5, 40, len(pick))
    cents = np.round(pick["cents"].to_numpy() * rng.uniform(0.03, 0.15, len(pick))).astype(np.int64)
    out = pd.DataFrame(
        {
            "applies_to": pick["doc"].to_numpy(),
            "project": pick["project"].to_numpy(),
            "month": pick["month"].to_numpy(),
            "trandate": trandate,
            "cents": cents,
            "memo": "Service credit",
            "type": "CustCred",
        }
    )
    return out[(out["trandate"] < tl.asof_day) & (out["cents"] > 0)]


def _payments(
    rng: np.random.Generator, invoices: pd.DataFrame, credits: pd.DataFrame, terms: np.ndarray, tl: Timeline
) -> pd.DataFrame:
    """Customer payments of the net amount, around the due date; a few invoices are never paid."""
    credited = credits.groupby("applies_to")["cents"].sum().reindex(invoices["doc"]).fillna(0).to_numpy()
    due = invoices["trandate"].to_numpy() + terms
    pay = np.maximum(
        due + np.round(rng.normal(2, 10, len(invoices))).astype(np.int64), invoices["trandate"].to_numpy() + 5
    )
    paid = (pay < tl.asof_day) & (rng.random(len(invoices)) >= NEVER_PAID_SHARE)
    return pd.DataFrame(
        {
            "applies_to": invoices["doc"].to_numpy(),
            "project": invoices["project"].to_numpy(),
            "month": invoices["month"].to_numpy(),
            "trandate": pay,
            "cents": invoices["cents"].to_numpy() - credited.astype(np.int64),
            "memo": None,
            "type": "CustPymt",
        }
    )[paid]


def _number(headers: pd.DataFrame) -> pd.DataFrame:
    """Internal ids in date order (as NetSuite allocates them) and per-type document numbers."""
    order = ["trandate", "type_rank", "project", "doc"]
    headers = headers.sort_values(order, kind="stable").reset_index(drop=True)
    headers["id"] = 5001 + np.arange(len(headers))
    seq = headers.groupby("type").cumcount().to_numpy() + 1
    prefix = {"CustInvc": "INV", "CustCred": "CM", "CustPymt": "PYMT"}
    tranid = np.empty(len(headers), dtype=object)
    for kind, pre in prefix.items():
        mask = (headers["type"] == kind).to_numpy()
        tranid[mask] = numbered(pre, seq[mask], 6)
    headers["tranid"] = tranid
    return headers


def build_ledger(
    cards: Timecards,
    projects: pd.DataFrame,
    assignments: pd.DataFrame,
    workers: pd.DataFrame,
    milestones: pd.DataFrame,
    terms_days: np.ndarray,
    tl: Timeline,
    seed: int,
) -> Ledger:
    """All receivables transactions; terms_days gives each client project's customer payment terms."""
    rng = rng_for(seed, "billing")
    sources = [
        _time_and_materials(rng, cards, projects, assignments, workers, tl),
        _fixed_fees(rng, projects, tl),
        _milestones(rng, milestones, tl),
        _retainers(rng, projects, tl),
    ]
    invoices, inv_lines = _invoices(pd.concat(sources, ignore_index=True), tl)
    credits = _credits(rng, invoices, tl)
    payments = _payments(rng, invoices, credits, terms_days[invoices["project"].to_numpy()], tl)
    n_inv = len(invoices)
    credits = credits.assign(doc=n_inv + np.arange(len(credits)))
    payments = payments.assign(doc=n_inv + len(credits) + np.arange(len(payments)))
    headers = pd.concat([invoices.drop(columns=["memo_line", "kind"]), credits, payments], ignore_index=True)
    headers["type_rank"] = headers["type"].map(TYPE_ORDER)
    headers = _number(headers)
    headers["due"] = np.where(
        headers["type"] == "CustInvc", headers["trandate"] + terms_days[headers["project"].to_numpy()], -1
    )
    paid_on = payments.set_index("applies_to")["trandate"]
    headers["paid_day"] = paid_on.reindex(headers["doc"]).fillna(-1).astype(np.int64).to_numpy()
    headers["created"] = tl.stamp(rng, headers["trandate"].to_numpy())
    touched = np.where(headers["paid_day"] >= 0, headers["paid_day"], headers["trandate"])
    headers["modified"] = np.maximum(tl.stamp(rng, touched, max_lag_days=2), headers["created"])
    headers["status"] = np.select(
        [headers["type"] == "CustCred", headers["type"] == "CustPymt", headers["paid_day"] >= 0],
        ["Applied", "Deposited", "Paid In Full"],
        "Open",
    ).astype(object)
    return Ledger(headers, _lines(inv_lines, credits, payments, headers, tl))


def _lines(
    inv_lines: pd.DataFrame,
    credits: pd.DataFrame,
    payments: pd.DataFrame,
    headers: pd.DataFrame,
    tl: Timeline,
) -> pd.DataFrame:
    """Transaction lines: invoice items, credit lines and payment applications (createdfrom = invoice)."""
    doc_id = pd.Series(headers["id"].to_numpy(), index=headers["doc"].to_numpy())
    applied = [
        frame.assign(
            quantity=q,
            rate=r,
            milestone=-1,
            createdfrom=doc_id.reindex(frame["applies_to"]).to_numpy(),
            doc=frame["doc"],
        )
        for frame, q, r in ((credits, 1.0, credits["cents"] / 100), (payments, np.nan, np.nan))
    ]
    items = inv_lines.assign(createdfrom=-1)
    cols = ["doc", "project", "month", "memo", "quantity", "rate", "cents", "milestone", "createdfrom"]
    lines = pd.concat([items[cols]] + [a[cols] for a in applied], ignore_index=True)
    lines["transaction"] = doc_id.reindex(lines["doc"]).to_numpy()
    lines = lines.sort_values(["transaction"], kind="stable").reset_index(drop=True)
    lines["seq"] = lines.groupby("transaction").cumcount() + 1
    lines["uniquekey"] = 100_001 + np.arange(len(lines))
    is_payment = lines["transaction"].map(headers.set_index("id")["type"]).to_numpy() == "CustPymt"
    lines["service_day"] = np.where(is_payment, -1, tl.month_starts[lines["month"].to_numpy()])
    lines["modified"] = lines["transaction"].map(headers.set_index("id")["modified"]).to_numpy()
    return lines
