"""Salesforce side: customer and prospect accounts, and opportunities in every stage.

Every client project was sold on a Closed Won opportunity of the same amount; lost deals
fill the history and open deals with future close dates feed the pipeline forecast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import ENTITIES, OPEN_STAGE_WEIGHTS, OPEN_STAGES, PRACTICES, STAGE_PROBABILITY, Scale
from .ids import rng_for
from .names import (
    COMPANY_HEADS,
    COMPANY_SUFFIX,
    COMPANY_TAILS,
    CUSTOMER_COUNTRIES,
    CUSTOMER_COUNTRY_WEIGHTS,
    ENGAGEMENTS,
    INDUSTRIES,
)
from .timeline import DAY_SECONDS, Timeline, to_dates, to_timestamps

QUALIFIERS = ("", "Global", "International", "Holdings", "Worldwide", "Solutions", "Services", "Europe")


@dataclass
class Sales:
    """Accounts and opportunities, plus the account and opportunity of each client project."""

    accounts: pd.DataFrame
    opportunities: pd.DataFrame
    project_account: np.ndarray
    project_opportunity: np.ndarray


def _company_names(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """Unique company names: head + tail (+ qualifier) + a legal suffix of the home country."""
    n = len(country)
    combos = len(COMPANY_HEADS) * len(COMPANY_TAILS)
    pick = rng.permutation(combos * len(QUALIFIERS))[:n] if n > combos else rng.permutation(combos)[:n]
    head = np.asarray(COMPANY_HEADS, dtype=object)[pick % len(COMPANY_HEADS)]
    tail = np.asarray(COMPANY_TAILS, dtype=object)[(pick // len(COMPANY_HEADS)) % len(COMPANY_TAILS)]
    qual = np.asarray(QUALIFIERS, dtype=object)[pick // combos]
    home = np.select([np.isin(country, ("GB", "IE")), np.isin(country, ("US", "CA"))], ["GB", "US"], "DE")
    pick_suffix = rng.integers(0, 12, n)
    suffix = np.array(
        [COMPANY_SUFFIX[h][k % len(COMPANY_SUFFIX[h])] for h, k in zip(home, pick_suffix, strict=True)],
        dtype=object,
    )
    body = head + " " + tail + np.where(qual == "", "", " " + qual)
    return body + " " + suffix


def _accounts(rng: np.random.Generator, projects: pd.DataFrame, scale: Scale, tl: Timeline) -> pd.DataFrame:
    """Customer pools per entity (about five projects per customer) plus prospects that never bought."""
    counts = projects["entity"].value_counts()
    parts = []
    for code in scale.entities:
        n_cust = max(3, -(-int(counts.get(code, 0)) // 5))
        n = n_cust + -(-7 * n_cust // 10)
        ent = ENTITIES[code]
        country = np.asarray(CUSTOMER_COUNTRIES[ent.country], dtype=object)[
            rng.choice(len(CUSTOMER_COUNTRIES[ent.country]), n, p=CUSTOMER_COUNTRY_WEIGHTS[ent.country])
        ]
        parts.append(
            pd.DataFrame(
                {
                    "entity": code,
                    "currency": ent.currency,
                    "country": country,
                    "pool": np.where(np.arange(n) < n_cust, "customer", "prospect"),
                }
            )
        )
    accounts = pd.concat(parts, ignore_index=True)
    accounts["account"] = np.arange(len(accounts))
    accounts["name"] = _company_names(rng, accounts["country"].to_numpy())
    industry = rng.integers(0, len(INDUSTRIES), len(accounts))
    accounts["industry"] = np.asarray(INDUSTRIES, dtype=object)[industry]
    return accounts


def _pool(accounts: pd.DataFrame, entity: str, pool: str) -> np.ndarray:
    """Account numbers of one entity's customer or prospect pool."""
    return accounts.loc[(accounts["entity"] == entity) & (accounts["pool"] == pool), "account"].to_numpy()


def _assign_accounts(rng: np.random.Generator, projects: pd.DataFrame, accounts: pd.DataFrame) -> np.ndarray:
    """Customer of each project: a few large accounts get most of the work (Zipf-like weights)."""
    out = np.empty(len(projects), dtype=np.int64)
    for code in accounts["entity"].unique():
        pool = _pool(accounts, code, "customer")
        mask = (projects["entity"] == code).to_numpy()
        weights = 1.0 / (np.arange(len(pool)) + 1) ** 0.7
        out[mask] = pool[rng.choice(len(pool), int(mask.sum()), p=weights / weights.sum())]
    return out


def _deal_names(rng: np.random.Generator, account_names: np.ndarray, practice: np.ndarray) -> np.ndarray:
    """`<Account> - <engagement>` with an engagement typical of the practice."""
    pick = rng.integers(0, 6, len(practice))
    engagement = np.array([ENGAGEMENTS[p][k] for p, k in zip(practice, pick, strict=True)], dtype=object)
    return account_names + " - " + engagement


def _won(rng: np.random.Generator, projects: pd.DataFrame, account: np.ndarray, tl: Timeline) -> pd.DataFrame:
    """One Closed Won opportunity per client project, closed before the project starts."""
    n = len(projects)
    before_start = projects["start_day"].to_numpy() - rng.integers(3, 45, n)
    close = np.minimum(before_start, tl.asof_day - rng.integers(1, 10, n))
    return pd.DataFrame(
        {
            "account": account,
            "practice": projects["practice"].to_numpy(),
            "entity": projects["entity"].to_numpy(),
            "currency": projects["currency"].to_numpy(),
            "stage": "Closed Won",
            "amount": projects["bookings"].to_numpy(),
            "close_day": close,
            "created_day": close - rng.integers(20, 150, n),
            "months": projects["months"].to_numpy(),
            "project": projects["project"].to_numpy(),
        }
    )


def _unwon(
    rng: np.random.Generator, won: pd.DataFrame, accounts: pd.DataFrame, tl: Timeline, n: int, is_open: bool
) -> pd.DataFrame:
    """Lost (history) or open (future close) deals, shaped like the won ones."""
    like = won.iloc[rng.integers(0, len(won), n)]
    entity = like["entity"].to_numpy()
    prospect = rng.random(n) < (0.5 if is_open else 0.7)
    account = np.empty(n, dtype=np.int64)
    for code in np.unique(entity):
        for pool, want in (("prospect", True), ("customer", False)):
            ids = _pool(accounts, code, pool)
            mask = (entity == code) & (prospect == want)
            account[mask] = ids[rng.integers(0, len(ids), int(mask.sum()))]
    if is_open:
        stage = np.asarray(OPEN_STAGES, dtype=object)[rng.choice(len(OPEN_STAGES), n, p=OPEN_STAGE_WEIGHTS)]
        close = tl.asof_day + rng.integers(5, 270, n)
        created = tl.asof_day - rng.integers(5, 200, n)
    else:
        stage = np.full(n, "Closed Lost", dtype=object)
        close = rng.integers(tl.start_day - 60, tl.asof_day, n)
        created = close - rng.integers(20, 150, n)
    return pd.DataFrame(
        {
            "account": account,
            "practice": np.asarray(PRACTICES, dtype=object)[rng.integers(0, 4, n)],
            "entity": entity,
            "currency": like["currency"].to_numpy(),
            "stage": stage,
            "amount": np.maximum(1000.0, np.round(like["amount"].to_numpy() * rng.uniform(0.7, 1.3, n), -3)),
            "close_day": close,
            "created_day": created,
            "months": like["months"].to_numpy(),
            "project": -1,
        }
    )


def _finish_opportunities(
    rng: np.random.Generator, opps: pd.DataFrame, accounts: pd.DataFrame, tl: Timeline
) -> pd.DataFrame:
    """Order by creation, derive probability, flags, type, names, timestamps and a few soft deletes."""
    opps = opps.sort_values(["created_day", "close_day", "account"], kind="stable").reset_index(drop=True)
    n = len(opps)
    opps["opportunity"] = np.arange(n)
    stage = opps["stage"].to_numpy()
    opps["probability"] = np.array([STAGE_PROBABILITY[s] for s in stage])
    opps["is_closed"] = np.isin(stage, ("Closed Won", "Closed Lost"))
    opps["is_won"] = stage == "Closed Won"
    won = opps[stage == "Closed Won"]
    first_win = won.groupby("account")["close_day"].min().reindex(opps["account"]).to_numpy()
    existing = first_win < opps["close_day"].to_numpy()  # NaN (never won) compares False
    opps["type"] = np.where(existing, "Existing Business", "New Business").astype(object)
    opps["name"] = _deal_names(rng, accounts["name"].to_numpy()[opps["account"]], opps["practice"].to_numpy())
    opps["created"] = opps["created_day"] * DAY_SECONDS + rng.integers(8 * 3600, 18 * 3600, n)
    touched = np.where(opps["is_closed"], opps["close_day"], tl.asof_day - rng.integers(0, 30, n))
    opps["modified"] = np.maximum(tl.stamp(rng, touched, max_lag_days=3), opps["created"] + 60)
    lost = np.flatnonzero(stage == "Closed Lost")
    deleted = np.zeros(n, dtype=bool)
    deleted[rng.permutation(lost)[: max(1, len(lost) // 100)]] = True
    opps["is_deleted"] = deleted
    return opps


def _finish_accounts(
    rng: np.random.Generator,
    accounts: pd.DataFrame,
    opps: pd.DataFrame,
    tl: Timeline,
) -> None:
    """Type from what the account bought, creation before its first deal, last touch after its last."""
    live = opps[~opps["is_deleted"]]
    won = np.zeros(len(accounts), dtype=bool)
    won[live.loc[live["is_won"], "account"].to_numpy()] = True
    partner = rng.random(len(accounts)) < 0.05
    accounts["type"] = np.where(won, "Customer", np.where(partner, "Partner", "Prospect")).astype(object)
    first = opps.groupby("account")["created_day"].min().reindex(accounts["account"]).to_numpy()
    last = opps.groupby("account")["modified"].max().reindex(accounts["account"]).to_numpy()
    fallback = tl.asof_day - rng.integers(30, 900, len(accounts))
    n = len(accounts)
    created_day = np.where(np.isnan(first), fallback, np.nan_to_num(first) - rng.integers(0, 400, n))
    accounts["created"] = created_day.astype(np.int64) * DAY_SECONDS + rng.integers(8 * 3600, 18 * 3600, n)
    accounts["modified"] = np.maximum(np.nan_to_num(last, nan=0).astype(np.int64), accounts["created"] + 60)
    accounts["modified"] = np.minimum(accounts["modified"], tl.cutoff - 60)


def build_sales(projects: pd.DataFrame, scale: Scale, tl: Timeline, seed: int) -> Sales:
    """Accounts, won/lost/open opportunities, and the sale behind every client project."""
    rng = rng_for(seed, "crm")
    accounts = _accounts(rng, projects, scale, tl)
    project_account = _assign_accounts(rng, projects, accounts)
    won = _won(rng, projects, project_account, tl)
    per_month = len(won) / (12 * scale.history_years)
    lost = _unwon(rng, won, accounts, tl, max(2, round(0.6 * len(won))), is_open=False)
    open_ = _unwon(rng, won, accounts, tl, max(8, round(4 * per_month)), is_open=True)
    opps = _finish_opportunities(rng, pd.concat([won, lost, open_], ignore_index=True), accounts, tl)
    _finish_accounts(rng, accounts, opps, tl)
    by_project = opps[opps["project"] >= 0].set_index("project")["opportunity"]
    project_opportunity = by_project.reindex(projects["project"]).to_numpy()
    return Sales(accounts, opps, project_account, project_opportunity)


def crm_frames(sales: Sales, ids: dict[str, np.ndarray]) -> dict[str, pd.DataFrame]:
    """Account and Opportunity with contract field names."""
    a, o = sales.accounts, sales.opportunities
    accounts = pd.DataFrame(
        {
            "Id": ids["account"][a["account"].to_numpy()],
            "Name": a["name"].to_numpy(),
            "Type": a["type"].to_numpy(),
            "Industry": a["industry"].to_numpy(),
            "BillingCountry": a["country"].to_numpy(),
            "CurrencyIsoCode": a["currency"].to_numpy(),
            "CreatedDate": to_timestamps(a["created"].to_numpy()),
            "SystemModstamp": to_timestamps(a["modified"].to_numpy()),
            "IsDeleted": False,
        }
    )
    opportunities = pd.DataFrame(
        {
            "Id": ids["opportunity"][o["opportunity"].to_numpy()],
            "AccountId": ids["account"][o["account"].to_numpy()],
            "Name": o["name"].to_numpy(),
            "StageName": o["stage"].to_numpy(),
            "Amount": o["amount"].to_numpy(),
            "Probability": o["probability"].to_numpy(),
            "CloseDate": to_dates(o["close_day"].to_numpy()),
            "CurrencyIsoCode": o["currency"].to_numpy(),
            "IsClosed": o["is_closed"].to_numpy(),
            "IsWon": o["is_won"].to_numpy(),
            "Type": o["type"].to_numpy(),
            "Practice__c": o["practice"].to_numpy(),
            "Legal_Entity__c": o["entity"].to_numpy(),
            "Delivery_Months__c": o["months"].to_numpy(),
            "CreatedDate": to_timestamps(o["created"].to_numpy()),
            "SystemModstamp": to_timestamps(o["modified"].to_numpy()),
            "IsDeleted": o["is_deleted"].to_numpy(),
        }
    )
    return {"account": accounts, "opportunity": opportunities}
