"""NetSuite landing frames: subsidiaries, currencies, periods, exchange rates, customers, transactions.

The receivables themselves are computed in billing.py; this module holds the finance master
data and maps everything to SuiteQL column names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .billing import Ledger
from .config import (
    BASE_CURRENCY,
    CURRENCIES,
    ELIMINATION,
    ENTITIES,
    FX_START,
    PARENT_ENTITY,
    PAYMENT_TERM_WEIGHTS,
    PAYMENT_TERMS,
    Scale,
)
from .crm import Sales
from .ids import numbered, rng_for
from .timeline import DAY_SECONDS, Timeline, from_day_number, to_dates, to_timestamps

CURRENCY_ID = {symbol: cid for cid, symbol, _ in CURRENCIES}
FX_MONTHLY_VOLATILITY = 0.018


@dataclass
class Customers:
    """NetSuite customers (one per Salesforce account that has won a deal) and each project's terms."""

    frame: pd.DataFrame
    project_customer: np.ndarray
    project_terms_days: np.ndarray


def _subsidiaries(scale: Scale, tl: Timeline, rng: np.random.Generator) -> pd.DataFrame:
    """The operating legal entities under the US parent, plus the elimination subsidiary."""
    parent = ENTITIES[PARENT_ENTITY].subsidiary_id
    ents = [ENTITIES[c] for c in scale.entities] + [ELIMINATION]
    return pd.DataFrame(
        {
            "id": [e.subsidiary_id for e in ents],
            "name": [e.legal_name for e in ents],
            "externalid": [e.code for e in ents],
            "country": [e.country for e in ents],
            "currency": [CURRENCY_ID[e.currency] for e in ents],
            "parent": pd.array([None if e.code == PARENT_ENTITY else parent for e in ents], dtype="Int64"),
            "iselimination": [e is ELIMINATION for e in ents],
            "isinactive": False,
            "lastmodifieddate": to_timestamps(tl.stamp(rng, np.full(len(ents), tl.start_day - 400))),
        }
    )


def _currencies(tl: Timeline, rng: np.random.Generator) -> pd.DataFrame:
    """Currencies enabled in the account (one more than the entities use, as in real accounts)."""
    return pd.DataFrame(
        {
            "id": [c[0] for c in CURRENCIES],
            "symbol": [c[1] for c in CURRENCIES],
            "name": [c[2] for c in CURRENCIES],
            "isbasecurrency": [c[1] == BASE_CURRENCY for c in CURRENCIES],
            "lastmodifieddate": to_timestamps(tl.stamp(rng, np.full(len(CURRENCIES), tl.start_day - 500))),
        }
    )


def period_ids(tl: Timeline) -> np.ndarray:
    """accountingperiod.id of each month of the timeline."""
    return 100 + np.arange(tl.n_months)


def _periods(tl: Timeline, rng: np.random.Generator) -> pd.DataFrame:
    """Monthly periods over history and horizon; closed once the month-end close is done (~10th)."""
    start, end = tl.month_starts, tl.month_ends
    last_closed = tl.asof_month if tl.as_of.day > 10 else max(tl.asof_month - 1, 0)
    close_done = tl.month_starts[last_closed]
    closed = end < close_done
    touched = np.where(closed, end + 10, start - 30)
    return pd.DataFrame(
        {
            "id": period_ids(tl),
            "periodname": [from_day_number(d).strftime("%b %Y") for d in start],
            "startdate": to_dates(start),
            "enddate": to_dates(end),
            "isquarter": False,
            "isyear": False,
            "closed": closed,
            "lastmodifieddate": to_timestamps(tl.stamp(rng, touched)),
        }
    )


def exchange_rates(scale: Scale, tl: Timeline, seed: int) -> pd.DataFrame:
    """Month average and month-end rate to USD per non-USD subsidiary: a random walk, flat after as_of.

    NetSuite fills future periods with the latest rate, which is what forecasts convert with.
    """
    rng = rng_for(seed, "fx")
    parent = ENTITIES[PARENT_ENTITY].subsidiary_id
    frames = []
    for code in scale.entities:
        ent = ENTITIES[code]
        if ent.currency == BASE_CURRENCY:
            continue
        steps = rng.normal(0, FX_MONTHLY_VOLATILITY, tl.n_months)
        steps[0] = 0.0
        steps[tl.asof_month + 1 :] = 0.0
        average = FX_START[ent.currency] * np.exp(np.cumsum(steps))
        current = average * (1 + rng.normal(0, 0.006, tl.n_months))
        current[tl.asof_month + 1 :] = current[tl.asof_month]
        frames.append(
            pd.DataFrame(
                {
                    "postingperiod": period_ids(tl),
                    "fromsubsidiary": ent.subsidiary_id,
                    "tosubsidiary": parent,
                    "fromcurrency": CURRENCY_ID[ent.currency],
                    "tocurrency": CURRENCY_ID[BASE_CURRENCY],
                    "averagerate": np.round(average, 8),
                    "currentrate": np.round(current, 8),
                    "historicalrate": np.round(average[0], 8),
                }
            )
        )
    rates = pd.concat(frames).sort_values(["postingperiod", "fromsubsidiary"], kind="stable")
    rates.insert(0, "id", np.arange(len(rates)) + 1)
    return rates.reset_index(drop=True)


def build_customers(
    sales: Sales, projects: pd.DataFrame, ids: dict[str, np.ndarray], tl: Timeline, seed: int
) -> Customers:
    """One customer per account with a live won deal, numbered in order of the first win."""
    rng = rng_for(seed, "customers")
    opps = sales.opportunities
    won = opps[opps["is_won"] & ~opps["is_deleted"]]
    first_win = won.groupby("account")["close_day"].min().sort_values(kind="stable")
    accounts = sales.accounts.set_index("account").loc[first_win.index]
    n = len(accounts)
    customer_id = pd.Series(1001 + np.arange(n), index=first_win.index)
    terms_i = rng.choice(len(PAYMENT_TERMS), n, p=PAYMENT_TERM_WEIGHTS)
    last_end = projects.groupby(sales.project_account)["end_day"].max().reindex(first_win.index).to_numpy()
    created = first_win.to_numpy() * DAY_SECONDS + rng.integers(8 * 3600, 18 * 3600, n)
    created = np.minimum(created, tl.cutoff - 60)
    frame = pd.DataFrame(
        {
            "id": customer_id.to_numpy(),
            "entityid": numbered("CUST", np.arange(n) + 1, 5),
            "companyname": accounts["name"].to_numpy(),
            "subsidiary": [ENTITIES[e].subsidiary_id for e in accounts["entity"]],
            "currency": [CURRENCY_ID[c] for c in accounts["currency"]],
            "custentity_sf_account_id": ids["account"][first_win.index.to_numpy()],
            "terms": np.asarray([t[0] for t in PAYMENT_TERMS], dtype=object)[terms_i],
            "isinactive": last_end < tl.asof_day - 540,
            "datecreated": to_timestamps(created),
            "lastmodifieddate": to_timestamps(np.maximum(tl.stamp(rng, last_end), created)),
        }
    )
    terms_days = pd.Series(np.array([t[1] for t in PAYMENT_TERMS])[terms_i], index=first_win.index)
    return Customers(
        frame,
        customer_id.reindex(sales.project_account).to_numpy(),
        terms_days.reindex(sales.project_account).to_numpy(),
    )


def _nullable_int(values: np.ndarray) -> pd.Series:
    """Integer column where negative internal keys mean NULL."""
    values = np.asarray(values, dtype=np.int64)
    return pd.Series(pd.array(np.where(values >= 0, values, 0), dtype="Int64")).where(values >= 0)


def _transaction_frames(
    ledger: Ledger, customers: Customers, projects: pd.DataFrame, ids: dict[str, np.ndarray]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """transaction and transactionline with SuiteQL column names."""
    h, lines = ledger.headers, ledger.lines
    project = h["project"].to_numpy()
    entity = projects["entity"].to_numpy()[project]
    due = h["due"].to_numpy()
    transactions = pd.DataFrame(
        {
            "id": h["id"].to_numpy(),
            "tranid": h["tranid"].to_numpy(),
            "type": h["type"].to_numpy(),
            "trandate": to_dates(h["trandate"].to_numpy()),
            "duedate": pd.Series(to_dates(np.maximum(due, 0))).where(due >= 0),
            "entity": customers.project_customer[project],
            "subsidiary": [ENTITIES[e].subsidiary_id for e in entity],
            "currency": [CURRENCY_ID[ENTITIES[e].currency] for e in entity],
            "exchangerate": 1.0,
            "foreigntotal": h["cents"].to_numpy() / 100,
            "status": h["status"].to_numpy(),
            "memo": h["memo"].to_numpy(),
            "custbody_psa_project_id": ids["project"][project],
            "createddate": to_timestamps(h["created"].to_numpy()),
            "lastmodifieddate": to_timestamps(h["modified"].to_numpy()),
        }
    )
    service = lines["service_day"].to_numpy()
    milestone = lines["milestone"].to_numpy()
    milestone_ids = ids["milestone"][np.maximum(milestone, 0)]
    line_frame = pd.DataFrame(
        {
            "uniquekey": lines["uniquekey"].to_numpy(),
            "transaction": lines["transaction"].to_numpy(),
            "linesequencenumber": lines["seq"].to_numpy(),
            "memo": lines["memo"].to_numpy(),
            "quantity": lines["quantity"].to_numpy(),
            "rate": lines["rate"].to_numpy(),
            "foreignamount": lines["cents"].to_numpy() / 100,
            "custcol_psa_project_id": ids["project"][lines["project"].to_numpy()],
            "custcol_psa_milestone_id": np.where(milestone >= 0, milestone_ids, None),
            "custcol_service_date": pd.Series(to_dates(np.maximum(service, 0))).where(service >= 0),
            "createdfrom": _nullable_int(lines["createdfrom"].to_numpy()),
            "linelastmodifieddate": to_timestamps(lines["modified"].to_numpy()),
        }
    )
    return transactions, line_frame


def erp_frames(
    scale: Scale,
    tl: Timeline,
    customers: Customers,
    ledger: Ledger,
    projects: pd.DataFrame,
    ids: dict[str, np.ndarray],
    seed: int,
) -> dict[str, pd.DataFrame]:
    """All seven NetSuite tables with contract field names."""
    rng = rng_for(seed, "erp-frames")
    transactions, lines = _transaction_frames(ledger, customers, projects, ids)
    return {
        "subsidiary": _subsidiaries(scale, tl, rng),
        "currency": _currencies(tl, rng),
        "accounting_period": _periods(tl, rng),
        "consolidated_exchange_rate": exchange_rates(scale, tl, seed),
        "customer": customers.frame,
        "transaction": transactions,
        "transaction_line": lines,
    }
