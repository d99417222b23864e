"""Reference data of the demo firm: scales, legal entities, practices, roles and their rates.

Everything here is a constant so that the generator modules only hold behaviour, and so that
a reader can see the whole shape of the firm in one page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """How big a firm to generate: active consultants at as_of, years of history, legal entities."""

    name: str
    consultants: int
    history_years: int
    entities: tuple[str, ...]


@dataclass(frozen=True)
class Entity:
    """A legal entity: the code shared by NetSuite, Workday, the PSA, the CRM and Anaplan."""

    code: str
    legal_name: str
    country: str
    currency: str
    subsidiary_id: int
    regions: tuple[str, ...]
    headcount_share: float
    rate_factor: float  # local-currency rate card relative to the USD one
    full_time_hours: tuple[float, ...]
    full_time_weights: tuple[float, ...]
    part_time_share: float


@dataclass(frozen=True)
class Role:
    """A Workday job profile, which is also the PSA resource role and the rate-card key."""

    name: str
    code: str
    tier: int  # 0 = delivery staff, 1 = management, 2 = leadership (sells and oversees)
    share: float
    usd_bill_rate: float
    usd_cost_rate: float


ENTITIES: dict[str, Entity] = {
    "PSF-US": Entity(
        "PSF-US",
        "PSF Consulting Inc.",
        "US",
        "USD",
        1,
        ("US East", "US West"),
        0.55,
        1.0,
        (40.0,),
        (1.0,),
        0.08,
    ),
    "PSF-UK": Entity(
        "PSF-UK",
        "PSF Consulting UK Ltd",
        "GB",
        "GBP",
        2,
        ("UK & Ireland",),
        0.28,
        0.8,
        (37.5, 40.0),
        (0.75, 0.25),
        0.10,
    ),
    "PSF-DE": Entity(
        "PSF-DE",
        "PSF Beratung GmbH",
        "DE",
        "EUR",
        3,
        ("DACH",),
        0.17,
        0.92,
        (40.0,),
        (1.0,),
        0.15,
    ),
}
PARENT_ENTITY = "PSF-US"
ELIMINATION = Entity("PSF-ELIM", "PSF Elimination", "US", "USD", 4, (), 0.0, 1.0, (), (), 0.0)
PART_TIME_HOURS = (20.0, 24.0, 30.0, 32.0)

# NetSuite currency internal ids: USD is the base (reporting) currency.
CURRENCIES: tuple[tuple[int, str, str], ...] = (
    (1, "USD", "US Dollar"),
    (2, "GBP", "British Pound"),
    (3, "CAD", "Canadian Dollar"),
    (4, "EUR", "Euro"),
)
BASE_CURRENCY = "USD"
FX_START = {"GBP": 1.27, "EUR": 1.08, "CAD": 0.74}  # USD per unit, the first month of history

SCALES: dict[str, Scale] = {
    "small": Scale("small", 50, 1, ("PSF-US", "PSF-UK")),
    "medium": Scale("medium", 500, 3, ("PSF-US", "PSF-UK", "PSF-DE")),
    "large": Scale("large", 5000, 3, ("PSF-US", "PSF-UK", "PSF-DE")),
}

PRACTICES = ("Strategy", "Technology", "Data & Analytics", "Change")
PRACTICE_WEIGHTS = (0.25, 0.30, 0.30, 0.15)

ROLES: tuple[Role, ...] = (
    Role("Analyst", "ANL", 0, 0.18, 150.0, 62.0),
    Role("Consultant", "CON", 0, 0.24, 195.0, 78.0),
    Role("Senior Consultant", "SCN", 0, 0.22, 245.0, 95.0),
    Role("Manager", "MGR", 1, 0.15, 295.0, 118.0),
    Role("Senior Manager", "SMG", 1, 0.10, 350.0, 140.0),
    Role("Director", "DIR", 2, 0.07, 420.0, 175.0),
    Role("Partner", "PTR", 2, 0.04, 525.0, 230.0),
)
RATE_INCREASE = 0.04  # rate-card uplift at the January of the as_of year

BILLING_TYPES = ("Time and Materials", "Fixed Price", "Milestone", "Retainer")
BILLING_TYPE_WEIGHTS = (0.45, 0.25, 0.15, 0.15)
INTERNAL_PROJECTS = ("Bench", "Training & Development", "Pre-Sales", "Internal Admin")

OPEN_STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation")
OPEN_STAGE_WEIGHTS = (0.30, 0.25, 0.25, 0.20)
STAGE_PROBABILITY = {
    "Prospecting": 10.0,
    "Qualification": 20.0,
    "Proposal": 50.0,
    "Negotiation": 75.0,
    "Closed Won": 100.0,
    "Closed Lost": 0.0,
}
PAYMENT_TERMS = (("Net 30", 30), ("Net 45", 45), ("Net 60", 60))
PAYMENT_TERM_WEIGHTS = (0.7, 0.2, 0.1)
