"""The landing contract: every source object, its landing file, fields, keys, cursor and quality rules.

One declaration feeds the loader, the demo generator, the raw-layer checks (Great Expectations),
the dbt sources with their tests and docs/landing-contract.md, so none of them can drift.

Rules sit next to the fields they judge: `one_of(...)` (allowed values), `Range` (bounds), `Ref`
(a reference to another object's field) on a field; `Unique` (a business key beside the primary
key) on the object. Each becomes one named check with its severity (WARN unless declared): the GX
suite on the raw table and a dbt source test carry the same rule under the same name. The primary
key and required fields are ERROR (`KEY_SEVERITY`): a table that breaks them is broken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

SYSTEMS = ("crm", "psa", "erp", "hris", "planning")

# Landing file formats, as each source system exports them.
CSV = "csv"  # Salesforce / Certinia API names, header row, RFC 4180 quoting
JSONL = "jsonl"  # NetSuite SuiteQL `items`, one JSON object per line
WORKDAY_JSON = "workday_json"  # Workday RaaS `{"Report_Entry": [...]}`, all values strings
ANAPLAN_CSV = "anaplan_csv"  # Anaplan export: header row with spaces, months as `Jan 26`

FILE_EXTENSIONS = {CSV: "csv", JSONL: "jsonl", WORKDAY_JSON: "json", ANAPLAN_CSV: "csv"}

MONEY = "DECIMAL(18,2)"
RATE = "DECIMAL(18,8)"
HOURS = "DECIMAL(9,2)"
STAGING_PLURALS = {
    "opportunity": "opportunities",
    "subsidiary": "subsidiaries",
    "currency": "currencies",
    "time_off": "time_off_entries",
}
# Columns the loader adds to every raw table, after the contract's fields.
LOAD_COLUMNS = (
    ("_loaded_at", "TIMESTAMP", "When the loader landed this version of the row, UTC."),
    ("_source_file", "VARCHAR", "Landing file the row was read from."),
    ("_batch_id", "VARCHAR", "Loader batch that landed the row."),
)


class Severity(StrEnum):
    """ERROR: the table is broken, and checks on it block. WARN: row defects, reported with their keys."""

    ERROR = "ERROR"
    WARN = "WARN"


KEY_SEVERITY = Severity.ERROR  # the primary key and required fields


@dataclass(frozen=True)
class Allowed:
    """Every non-empty value is one of `values`."""

    values: tuple[str, ...]
    severity: Severity = Severity.WARN

    def text(self) -> str:
        return "one of " + ", ".join(f"`{v}`" for v in self.values)


@dataclass(frozen=True)
class Range:
    """Every non-empty value lies within [min, max] (above min with `strict_min`).

    The fields of one object that share a `check` name are one check (`daily_hours_at_most_24`);
    without one, the check is named after its field and bounds (`Probability_between_0_and_100`).
    """

    min: Decimal | int | None = None
    max: Decimal | int | None = None
    strict_min: bool = False
    check: str | None = None
    severity: Severity = Severity.WARN

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise ValueError("a range needs a min, a max or both")

    def text(self) -> str:
        if self.min is not None and self.max is not None and not self.strict_min:
            return f"{self.min:g} to {self.max:g}"
        low = None if self.min is None else f"{'above' if self.strict_min else 'at least'} {self.min:g}"
        high = None if self.max is None else f"at most {self.max:g}"
        return " and ".join(t for t in (low, high) if t)

    def suffix(self) -> str:
        """The check name's tail: `between_0_and_24`, `at_least_0`, `positive`, `at_most_24`."""
        low, high = (f"{v:g}".replace("-", "minus_").replace(".", "_") for v in (self.min or 0, self.max or 0))
        if self.min is not None and self.max is not None:
            return f"between_{low}_and_{high}"
        if self.min is not None:
            return "positive" if self.strict_min and self.min == 0 else f"at_least_{low}"
        return f"at_most_{high}"


@dataclass(frozen=True)
class Ref:
    """Every non-empty value exists in `target`, `<system>.<object>.<field>` (a foreign key)."""

    target: str
    severity: Severity = Severity.WARN

    @property
    def parts(self) -> tuple[str, str, str]:
        system, name, field = self.target.split(".", 2)
        return system, name, field

    def text(self) -> str:
        system, name, field = self.parts
        return f"exists in `raw_{system}.{name}.{field}`"


@dataclass(frozen=True)
class Unique:
    """A business key beside the primary key: no two rows share these fields' values (rows with an empty one aside)."""

    name: str
    fields: tuple[str, ...]
    description: str
    severity: Severity = Severity.WARN


FieldRule = Allowed | Range | Ref


def one_of(*values: str, severity: Severity = Severity.WARN) -> Allowed:
    return Allowed(values, severity)


NOT_NEGATIVE = Range(min=0)


@dataclass(frozen=True)
class Field:
    """One contract field.

    `required`: every row has a value; a row whose value is empty (or only spaces) is quarantined.
    `optional`: a file may leave the field out altogether (CSV header, JSON document): the rows it
    inserts have no value and the rows it updates keep the value already stored. Every other field
    must be in the file; a file without it fails, naming the field.
    `rules`: what a value must be beyond its type (allowed values, range, reference), checked after
    loading: a row that breaks one is loaded and reported by the rule's check.
    """

    name: str
    type: str
    description: str
    required: bool = False
    optional: bool = False
    rules: tuple[FieldRule, ...] = ()

    def __post_init__(self) -> None:
        if self.required and self.optional:
            raise ValueError(f"field {self.name}: a required value cannot be optional in the file")

    def rules_text(self) -> str:
        """The value rules in words (`one of ...; at least 0`), with a severity other than WARN."""
        return "; ".join(r.text() + ("" if r.severity is Severity.WARN else f" ({r.severity})") for r in self.rules)


def check_name(text: str) -> str:
    """A check name Dagster and dbt accept: letters, digits and underscores."""
    return re.sub(r"\W", "_", text)


@dataclass(frozen=True)
class RuleCheck:
    """One named check a rule declares on an object; the GX suite and the dbt source tests both carry it."""

    name: str
    rule: Allowed | Range | Ref | Unique
    fields: tuple[str, ...]

    @property
    def severity(self) -> Severity:
        return self.rule.severity


@dataclass(frozen=True)
class SourceObject:
    system: str
    name: str  # raw table: raw_<system>.<name>
    file_stem: str  # landing files: <system>/<file_stem>.<ext> or <file_stem>.<batch>.<ext>
    format: str
    primary_key: tuple[str, ...]
    cursor: str | None  # modified timestamp; None = the newest file wins
    description: str
    fields: tuple[Field, ...]
    unique: tuple[Unique, ...] = ()

    def __post_init__(self) -> None:
        unknown = {*self.primary_key, *(f for u in self.unique for f in u.fields)} - set(self.field_names)
        if unknown:
            raise ValueError(f"{self.system}.{self.name}: keys name unknown fields {sorted(unknown)}")
        self.rule_checks  # noqa: B018 - groups the ranges, refusing one check name with two different bounds

    @property
    def schema(self) -> str:
        return f"raw_{self.system}"

    @property
    def extension(self) -> str:
        return FILE_EXTENSIONS[self.format]

    @property
    def file_patterns(self) -> tuple[str, str]:
        return (f"{self.file_stem}.{self.extension}", f"{self.file_stem}.*.{self.extension}")

    @property
    def staging_model(self) -> str:
        """The dbt staging model over this object's raw table (`stg_<system>__<object>s`)."""
        return f"stg_{self.system}__{STAGING_PLURALS.get(self.name, self.name + 's')}"

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def rule_checks(self) -> tuple[RuleCheck, ...]:
        """The checks the rules declare, in field order, then the business keys."""
        checks: dict[str, RuleCheck] = {}
        for f in self.fields:
            for rule in f.rules:
                if isinstance(rule, Allowed):
                    name = f"{f.name}_in_allowed_values"
                elif isinstance(rule, Ref):
                    name = f"{f.name}_references_{rule.parts[1]}"
                else:
                    name = rule.check or f"{f.name}_{rule.suffix()}"
                known = checks.get(check_name(name))
                if known and known.rule != rule:
                    raise ValueError(f"{self.system}.{self.name}: check {name} has two different rules")
                fields = (*known.fields, f.name) if known else (f.name,)
                checks[check_name(name)] = RuleCheck(check_name(name), rule, fields)
        return (*checks.values(), *(RuleCheck(u.name, u, u.fields) for u in self.unique))


def _sf_meta() -> tuple[Field, ...]:
    return (
        Field("SystemModstamp", "TIMESTAMP", "Last modified, UTC (`2025-01-31T09:00:00.000Z`)", required=True),
        Field(
            "IsDeleted",
            "BOOLEAN",
            "Soft-deleted in Salesforce; only `queryAll` exports have it (optional: without it, nothing is deleted)",
            optional=True,
        ),
    )


def _f(
    name: str, type_: str, description: str, *rules: FieldRule, required: bool = False, optional: bool = False
) -> Field:
    return Field(name, type_, description, required, optional, rules)


# Bounds that several fields of one object share, as one check.
RATES_POSITIVE = Range(min=0, strict_min=True, check="rates_positive")
AMOUNTS_NOT_NEGATIVE = Range(min=0, check="amounts_not_negative")
RATES_NOT_NEGATIVE = Range(min=0, check="rates_not_negative")
TARGETS_NOT_NEGATIVE = Range(min=0, check="targets_not_negative")


def _weekday_hours(what: str, *rules: FieldRule) -> tuple[Field, ...]:
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    return tuple(_f(f"pse__{d}_Hours__c", HOURS, f"{what} on {d}", *rules) for d in days)


CRM = (
    SourceObject(
        "crm",
        "account",
        "Account",
        CSV,
        ("Id",),
        "SystemModstamp",
        "Salesforce Account: the customer as sales knows it.",
        (
            _f("Id", "VARCHAR", "Salesforce 18-char id", required=True),
            _f("Name", "VARCHAR", "Account name", required=True),
            _f("Type", "VARCHAR", "Account type", one_of("Customer", "Prospect", "Partner")),
            _f("Industry", "VARCHAR", "Industry picklist"),
            _f("BillingCountry", "VARCHAR", "ISO 3166 alpha-2 country"),
            _f("CurrencyIsoCode", "VARCHAR", "ISO 4217 currency of the account", Ref("erp.currency.symbol")),
            _f("CreatedDate", "TIMESTAMP", "Created, UTC"),
            *_sf_meta(),
        ),
    ),
    SourceObject(
        "crm",
        "opportunity",
        "Opportunity",
        CSV,
        ("Id",),
        "SystemModstamp",
        "Salesforce Opportunity: a deal moving through stages.",
        (
            _f("Id", "VARCHAR", "Salesforce id", required=True),
            _f("AccountId", "VARCHAR", "Account of the deal", Ref("crm.account.Id"), required=True),
            _f("Name", "VARCHAR", "Opportunity name"),
            _f(
                "StageName",
                "VARCHAR",
                "Sales stage",
                one_of("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost"),
            ),
            _f("Amount", MONEY, "Deal amount in CurrencyIsoCode", NOT_NEGATIVE),
            _f(
                "Probability",
                "DECIMAL(9,2)",
                "Stage probability, percent (a wider type, so a typo lands)",
                Range(0, 100),
            ),
            _f("CloseDate", "DATE", "Expected or actual close date"),
            _f("CurrencyIsoCode", "VARCHAR", "ISO 4217 currency of Amount"),
            _f("IsClosed", "BOOLEAN", "Closed (won or lost)"),
            _f("IsWon", "BOOLEAN", "Closed won"),
            _f("Type", "VARCHAR", "Deal type", one_of("New Business", "Existing Business")),
            _f("Practice__c", "VARCHAR", "Custom: delivering practice"),
            _f("Legal_Entity__c", "VARCHAR", "Custom: contracting legal entity code"),
            _f("Delivery_Months__c", "INTEGER", "Custom: expected delivery period after close, months", NOT_NEGATIVE),
            _f("CreatedDate", "TIMESTAMP", "Created, UTC"),
            *_sf_meta(),
        ),
    ),
)

PSA = (
    SourceObject(
        "psa",
        "contact",
        "Contact",
        CSV,
        ("Id",),
        "SystemModstamp",
        "Certinia resource (a Contact with pse__Is_Resource__c), linked to the Workday worker.",
        (
            _f("Id", "VARCHAR", "Salesforce id", required=True),
            _f("Name", "VARCHAR", "Full name"),
            _f("Email", "VARCHAR", "Work e-mail"),
            _f("pse__Is_Resource__c", "BOOLEAN", "Is a PSA resource"),
            _f("pse__Is_Resource_Active__c", "BOOLEAN", "Resource is active"),
            _f("pse__Resource_Role__c", "VARCHAR", "Default role"),
            _f("Workday_Worker_ID__c", "VARCHAR", "Custom: the same person in Workday", Ref("hris.worker.Worker_ID")),
            *_sf_meta(),
        ),
    ),
    SourceObject(
        "psa",
        "project",
        "pse__Proj__c",
        CSV,
        ("Id",),
        "SystemModstamp",
        "Certinia project: billing type, contract value, estimate and dates.",
        (
            _f("Id", "VARCHAR", "Salesforce id", required=True),
            _f("Name", "VARCHAR", "Project name"),
            _f("pse__Account__c", "VARCHAR", "Customer account", Ref("crm.account.Id")),
            _f("pse__Opportunity__c", "VARCHAR", "Opportunity the project was sold on", Ref("crm.opportunity.Id")),
            _f(
                "pse__Billing_Type__c",
                "VARCHAR",
                "Billing type; empty for internal",
                one_of("Time and Materials", "Fixed Price", "Milestone", "Retainer"),
            ),
            _f("pse__Stage__c", "VARCHAR", "Project stage", one_of("Planned", "In Progress", "Completed", "Canceled")),
            _f("pse__Practice__c", "VARCHAR", "Delivering practice"),
            _f("pse__Region__c", "VARCHAR", "Delivering region"),
            _f("Legal_Entity__c", "VARCHAR", "Custom: contracting legal entity code", Ref("erp.subsidiary.externalid")),
            _f("pse__Start_Date__c", "DATE", "Start date"),
            _f("pse__End_Date__c", "DATE", "End date"),
            _f("pse__Bookings__c", MONEY, "Contract value in CurrencyIsoCode", NOT_NEGATIVE),
            _f("pse__Planned_Hours__c", HOURS, "Estimated hours at completion", NOT_NEGATIVE),
            _f("pse__Is_Billable__c", "BOOLEAN", "Client-billable project (false for internal)"),
            _f("pse__Is_Active__c", "BOOLEAN", "Active"),
            _f("pse__Project_Manager__c", "VARCHAR", "Project manager (a resource)", Ref("psa.contact.Id")),
            _f("CurrencyIsoCode", "VARCHAR", "ISO 4217 project currency"),
            *_sf_meta(),
        ),
    ),
    SourceObject(
        "psa",
        "assignment",
        "pse__Assignment__c",
        CSV,
        ("Id",),
        "SystemModstamp",
        "Certinia assignment: a resource staffed on a project at a bill rate.",
        (
            _f("Id", "VARCHAR", "Salesforce id", required=True),
            _f("Name", "VARCHAR", "Assignment name"),
            _f("pse__Project__c", "VARCHAR", "Project", Ref("psa.project.Id"), required=True),
            _f("pse__Resource__c", "VARCHAR", "Resource staffed", Ref("psa.contact.Id"), required=True),
            _f("pse__Schedule__c", "VARCHAR", "Weekly hour pattern", Ref("psa.schedule.Id")),
            _f("pse__Role__c", "VARCHAR", "Role (Workday job profile code)"),
            _f("pse__Bill_Rate__c", MONEY, "Contract bill rate per hour, project currency", NOT_NEGATIVE),
            _f("pse__Planned_Hours__c", HOURS, "Planned hours", NOT_NEGATIVE),
            _f("pse__Is_Billable__c", "BOOLEAN", "Billable assignment"),
            _f("pse__Status__c", "VARCHAR", "Assignment status", one_of("Scheduled", "Closed")),
            _f("CurrencyIsoCode", "VARCHAR", "ISO 4217 currency of the bill rate"),
            *_sf_meta(),
        ),
    ),
    SourceObject(
        "psa",
        "schedule",
        "pse__Schedule__c",
        CSV,
        ("Id",),
        "SystemModstamp",
        "Certinia schedule: the weekly hour pattern of an assignment between two dates.",
        (
            _f("Id", "VARCHAR", "Salesforce id", required=True),
            _f("pse__Start_Date__c", "DATE", "First scheduled day"),
            _f("pse__End_Date__c", "DATE", "Last scheduled day"),
            *_weekday_hours("Scheduled hours", Range(0, 24, check="daily_hours_between_0_and_24")),
            _f("pse__Scheduled_Hours__c", HOURS, "Total scheduled hours", NOT_NEGATIVE),
            *_sf_meta(),
        ),
    ),
    SourceObject(
        "psa",
        "timecard_header",
        "pse__Timecard_Header__c",
        CSV,
        ("Id",),
        "SystemModstamp",
        "Certinia weekly timecard: hours per weekday for one resource on one project.",
        (
            _f("Id", "VARCHAR", "Salesforce id", required=True),
            _f("Name", "VARCHAR", "Timecard number"),
            _f("pse__Resource__c", "VARCHAR", "Resource whose time this is", Ref("psa.contact.Id"), required=True),
            _f("pse__Project__c", "VARCHAR", "Project worked on", Ref("psa.project.Id"), required=True),
            _f("pse__Assignment__c", "VARCHAR", "Assignment (empty for internal time)", Ref("psa.assignment.Id")),
            _f("pse__Start_Date__c", "DATE", "Week start (Monday)", required=True),
            _f("pse__End_Date__c", "DATE", "Week end (Sunday)"),
            _f("pse__Status__c", "VARCHAR", "Approval status", one_of("Saved", "Submitted", "Approved", "Rejected")),
            _f("pse__Billable__c", "BOOLEAN", "Billable time"),
            *_weekday_hours(
                "Hours worked",
                Range(min=0, check="daily_hours_not_negative"),
                Range(max=24, check="daily_hours_at_most_24"),
            ),
            _f("pse__Total_Hours__c", HOURS, "Total hours of the week"),
            *_sf_meta(),
        ),
        unique=(
            Unique(
                "one_timecard_per_resource_project_week",
                ("pse__Resource__c", "pse__Project__c", "pse__Start_Date__c"),
                "No two timecards for the same resource, project and week (a timecard repeated under a new Id).",
            ),
        ),
    ),
    SourceObject(
        "psa",
        "milestone",
        "pse__Milestone__c",
        CSV,
        ("Id",),
        "SystemModstamp",
        "Certinia milestone: a billable deliverable with an amount and dates.",
        (
            _f("Id", "VARCHAR", "Salesforce id", required=True),
            _f("Name", "VARCHAR", "Milestone name"),
            _f("pse__Project__c", "VARCHAR", "Project", Ref("psa.project.Id"), required=True),
            _f("pse__Milestone_Amount__c", MONEY, "Amount, project currency", NOT_NEGATIVE),
            _f("pse__Target_Date__c", "DATE", "Planned completion"),
            _f("pse__Actual_Date__c", "DATE", "Actual completion"),
            _f(
                "pse__Status__c",
                "VARCHAR",
                "Milestone status",
                one_of("Planned", "In Progress", "Complete", "Canceled"),
            ),
            _f("pse__Approved__c", "BOOLEAN", "Accepted by the customer"),
            _f("CurrencyIsoCode", "VARCHAR", "ISO 4217 currency"),
            *_sf_meta(),
        ),
    ),
)


def _ns_modified(name: str = "lastmodifieddate") -> Field:
    return _f(name, "TIMESTAMP", "Last modified, UTC (`2025-01-31 09:00:00`)", required=True)


ERP = (
    SourceObject(
        "erp",
        "subsidiary",
        "subsidiary",
        JSONL,
        ("id",),
        "lastmodifieddate",
        "NetSuite subsidiary: a legal entity booking in its functional currency.",
        (
            _f("id", "INTEGER", "Internal id", required=True),
            _f("name", "VARCHAR", "Legal name"),
            _f("externalid", "VARCHAR", "Legal entity code shared with Workday and the PSA"),
            _f("country", "VARCHAR", "ISO 3166 alpha-2"),
            _f("currency", "INTEGER", "Functional currency", Ref("erp.currency.id")),
            _f("parent", "INTEGER", "Parent subsidiary (empty for the top)", Ref("erp.subsidiary.id"), optional=True),
            _f("iselimination", "BOOLEAN", "Elimination subsidiary"),
            _f("isinactive", "BOOLEAN", "Inactive"),
            _ns_modified(),
        ),
    ),
    SourceObject(
        "erp",
        "currency",
        "currency",
        JSONL,
        ("id",),
        "lastmodifieddate",
        "NetSuite currency.",
        (
            _f("id", "INTEGER", "Internal id", required=True),
            _f("symbol", "VARCHAR", "ISO 4217 code", required=True),
            _f("name", "VARCHAR", "Name"),
            _f("isbasecurrency", "BOOLEAN", "Base (reporting) currency"),
            _ns_modified(),
        ),
        unique=(Unique("symbol_unique", ("symbol",), "Each ISO 4217 code appears once."),),
    ),
    SourceObject(
        "erp",
        "accounting_period",
        "accountingperiod",
        JSONL,
        ("id",),
        "lastmodifieddate",
        "NetSuite accounting period (months only).",
        (
            _f("id", "INTEGER", "Internal id", required=True),
            _f("periodname", "VARCHAR", "e.g. `Jan 2026`"),
            _f("startdate", "DATE", "First day", required=True),
            _f("enddate", "DATE", "Last day", required=True),
            _f("isquarter", "BOOLEAN", "Quarter period"),
            _f("isyear", "BOOLEAN", "Year period"),
            _f("closed", "BOOLEAN", "Closed for posting"),
            _ns_modified(),
        ),
    ),
    SourceObject(
        "erp",
        "consolidated_exchange_rate",
        "consolidatedexchangerate",
        JSONL,
        ("id",),
        None,
        "NetSuite consolidated exchange rate: subsidiary currency to parent currency per period.",
        (
            _f("id", "INTEGER", "Internal id", required=True),
            _f("postingperiod", "INTEGER", "Accounting period", Ref("erp.accounting_period.id"), required=True),
            _f("fromsubsidiary", "INTEGER", "Subsidiary converted from", Ref("erp.subsidiary.id")),
            _f("tosubsidiary", "INTEGER", "Subsidiary converted to", Ref("erp.subsidiary.id")),
            _f("fromcurrency", "INTEGER", "Currency converted from", Ref("erp.currency.id"), required=True),
            _f("tocurrency", "INTEGER", "Currency converted to", Ref("erp.currency.id"), required=True),
            _f("averagerate", RATE, "Period average rate (P&L)", RATES_POSITIVE),
            _f("currentrate", RATE, "Period-end rate (balances)", RATES_POSITIVE),
            _f("historicalrate", RATE, "Historical rate (equity)", RATES_POSITIVE),
        ),
    ),
    SourceObject(
        "erp",
        "customer",
        "customer",
        JSONL,
        ("id",),
        "lastmodifieddate",
        "NetSuite customer master, linked to the Salesforce Account.",
        (
            _f("id", "INTEGER", "Internal id", required=True),
            _f("entityid", "VARCHAR", "Customer number"),
            _f("companyname", "VARCHAR", "Name"),
            _f("subsidiary", "INTEGER", "Subsidiary", Ref("erp.subsidiary.id")),
            _f("currency", "INTEGER", "Currency", Ref("erp.currency.id")),
            _f("custentity_sf_account_id", "VARCHAR", "Custom: the Salesforce account", Ref("crm.account.Id")),
            _f("terms", "VARCHAR", "Payment terms, e.g. `Net 30`"),
            _f("isinactive", "BOOLEAN", "Inactive"),
            _f("datecreated", "TIMESTAMP", "Created, UTC"),
            _ns_modified(),
        ),
    ),
    SourceObject(
        "erp",
        "transaction",
        "transaction",
        JSONL,
        ("id",),
        "lastmodifieddate",
        "NetSuite transaction header: invoices (CustInvc), credit memos (CustCred), payments (CustPymt).",
        (
            _f("id", "INTEGER", "Internal id", required=True),
            _f("tranid", "VARCHAR", "Document number"),
            _f(
                "type",
                "VARCHAR",
                "Invoice, credit memo or payment",
                one_of("CustInvc", "CustCred", "CustPymt"),
                required=True,
            ),
            _f("trandate", "DATE", "Document date"),
            _f("duedate", "DATE", "Due date (invoices only)", optional=True),
            _f("entity", "INTEGER", "Customer", Ref("erp.customer.id")),
            _f("subsidiary", "INTEGER", "Subsidiary", Ref("erp.subsidiary.id")),
            _f("currency", "INTEGER", "Document currency", Ref("erp.currency.id")),
            _f("exchangerate", RATE, "Document rate to the subsidiary currency", Range(min=0, strict_min=True)),
            _f("foreigntotal", MONEY, "Document total, document currency", NOT_NEGATIVE),
            _f("status", "VARCHAR", "Document status", one_of("Open", "Paid In Full", "Applied", "Deposited")),
            _f("memo", "VARCHAR", "Memo", optional=True),
            _f("custbody_psa_project_id", "VARCHAR", "Custom: the PSA project", Ref("psa.project.Id")),
            _f("createddate", "TIMESTAMP", "Created, UTC"),
            _ns_modified(),
        ),
    ),
    SourceObject(
        "erp",
        "transaction_line",
        "transactionline",
        JSONL,
        ("uniquekey",),
        "linelastmodifieddate",
        "NetSuite transaction line: what was billed, credited or paid.",
        (
            _f("uniquekey", "INTEGER", "Unique line key", required=True),
            _f("transaction", "INTEGER", "Transaction (header)", Ref("erp.transaction.id"), required=True),
            _f("linesequencenumber", "INTEGER", "Line number within the transaction"),
            _f("memo", "VARCHAR", "Line description", optional=True),
            _f("quantity", HOURS, "Hours (time lines) or 1", AMOUNTS_NOT_NEGATIVE),
            _f("rate", MONEY, "Rate per unit", AMOUNTS_NOT_NEGATIVE),
            _f("foreignamount", MONEY, "Line amount, document currency", AMOUNTS_NOT_NEGATIVE),
            _f("custcol_psa_project_id", "VARCHAR", "Custom: the PSA project", Ref("psa.project.Id")),
            _f(
                "custcol_psa_milestone_id",
                "VARCHAR",
                "Custom: the PSA milestone (milestone lines only)",
                Ref("psa.milestone.Id"),
                optional=True,
            ),
            _f("custcol_service_date", "DATE", "Custom: first day of the month of service"),
            _f(
                "createdfrom",
                "INTEGER",
                "Transaction this line applies to (payments, credit memos only)",
                Ref("erp.transaction.id"),
                optional=True,
            ),
            _ns_modified("linelastmodifieddate"),
        ),
    ),
)


def _wd_updated() -> Field:
    return _f("Last_Updated", "TIMESTAMP", "Last updated, UTC (`2025-01-31T09:00:00`)", required=True)


HRIS = (
    SourceObject(
        "hris",
        "worker",
        "Workers",
        WORKDAY_JSON,
        ("Worker_ID",),
        "Last_Updated",
        "Workday worker: company, practice, role, employment dates and standard hours.",
        (
            _f("Worker_ID", "VARCHAR", "Workday employee id", required=True),
            _f("Worker", "VARCHAR", "Full name"),
            _f("Email_Address", "VARCHAR", "Work e-mail"),
            _f("Company_ID", "VARCHAR", "Legal entity code", Ref("erp.subsidiary.externalid")),
            _f("Location_Country", "VARCHAR", "ISO 3166 alpha-2 (holiday calendar)"),
            _f("Practice", "VARCHAR", "Practice (supervisory organization)"),
            _f("Region", "VARCHAR", "Region"),
            _f("Job_Profile", "VARCHAR", "Role code (rate-card key)"),
            _f("Worker_Type", "VARCHAR", "Worker type", one_of("Employee", "Contingent Worker")),
            _f("Hire_Date", "DATE", "Hire date"),
            _f("Termination_Date", "DATE", "Termination date (absent while employed)", optional=True),
            _f("Scheduled_Weekly_Hours", HOURS, "Standard weekly hours", Range(0, 168)),
            _wd_updated(),
        ),
    ),
    SourceObject(
        "hris",
        "rate_card",
        "Rate_Card",
        WORKDAY_JSON,
        ("Rate_Card_ID",),
        "Last_Updated",
        "Rate card per role and legal entity: standard bill rate and standard cost rate.",
        (
            _f("Rate_Card_ID", "VARCHAR", "Rate card line id", required=True),
            _f("Job_Profile", "VARCHAR", "Role code", required=True),
            _f("Company_ID", "VARCHAR", "Legal entity code", Ref("erp.subsidiary.externalid"), required=True),
            _f("Currency", "VARCHAR", "ISO 4217"),
            _f("Standard_Bill_Rate", MONEY, "Standard bill rate per hour", RATES_NOT_NEGATIVE),
            _f("Standard_Cost_Rate", MONEY, "Standard cost rate per hour", RATES_NOT_NEGATIVE),
            _f("Effective_Date", "DATE", "Valid from", required=True),
            _wd_updated(),
        ),
        unique=(
            Unique(
                "one_rate_per_role_entity_date",
                ("Job_Profile", "Company_ID", "Effective_Date"),
                "One rate-card line per role, legal entity and effective date.",
            ),
        ),
    ),
    SourceObject(
        "hris",
        "worker_cost_rate",
        "Worker_Cost_Rates",
        WORKDAY_JSON,
        ("Cost_Rate_ID",),
        "Last_Updated",
        "Loaded hourly cost rate per worker over time (restricted).",
        (
            _f("Cost_Rate_ID", "VARCHAR", "Cost rate line id", required=True),
            _f("Worker_ID", "VARCHAR", "Worker", Ref("hris.worker.Worker_ID"), required=True),
            _f("Effective_Date", "DATE", "Valid from", required=True),
            _f("Loaded_Cost_Rate", MONEY, "Loaded cost per hour", NOT_NEGATIVE),
            _f("Currency", "VARCHAR", "ISO 4217"),
            _wd_updated(),
        ),
        unique=(
            Unique(
                "one_rate_per_worker_date",
                ("Worker_ID", "Effective_Date"),
                "One cost rate per worker and effective date.",
            ),
        ),
    ),
    SourceObject(
        "hris",
        "time_off",
        "Time_Off",
        WORKDAY_JSON,
        ("Time_Off_Entry_ID",),
        "Last_Updated",
        "Time off per worker and day.",
        (
            _f("Time_Off_Entry_ID", "VARCHAR", "Entry id", required=True),
            _f("Worker_ID", "VARCHAR", "Worker", Ref("hris.worker.Worker_ID"), required=True),
            _f("Date", "DATE", "Day off", required=True),
            _f("Hours", HOURS, "Hours off that day", Range(0, 24)),
            _f("Time_Off_Type", "VARCHAR", "Time off type", one_of("Vacation", "Sick", "Personal")),
            _f("Status", "VARCHAR", "Approval status", one_of("Approved", "Submitted", "Canceled")),
            _wd_updated(),
        ),
    ),
    SourceObject(
        "hris",
        "holiday",
        "Holidays",
        WORKDAY_JSON,
        ("Holiday_ID",),
        "Last_Updated",
        "Public holidays per country calendar.",
        (
            _f("Holiday_ID", "VARCHAR", "Holiday id", required=True),
            _f("Country", "VARCHAR", "ISO 3166 alpha-2 calendar", required=True),
            _f("Date", "DATE", "Holiday date", required=True),
            _f("Holiday_Name", "VARCHAR", "Name"),
            _wd_updated(),
        ),
        unique=(Unique("one_holiday_per_country_date", ("Country", "Date"), "One holiday per calendar and day."),),
    ),
)

PLANNING = (
    SourceObject(
        "planning",
        "plan_version",
        "Plan_Versions",
        ANAPLAN_CSV,
        ("Version Code",),
        None,
        "Anaplan plan versions (Budget, Forecast, ...).",
        (
            _f("Version Code", "VARCHAR", "Version code", required=True),
            _f("Version Name", "VARCHAR", "Display name"),
            _f("Is Current", "BOOLEAN", "Current version"),
            _f("Is Locked", "BOOLEAN", "Locked for edits"),
            _f("Start Month", "VARCHAR", "First month, Anaplan format `Jan 26`"),
            _f("End Month", "VARCHAR", "Last month, Anaplan format `Dec 26`"),
        ),
    ),
    SourceObject(
        "planning",
        "target",
        "Targets",
        ANAPLAN_CSV,
        ("Version", "Legal Entity", "Practice", "Month"),
        None,
        "Anaplan targets per version, legal entity, practice and month.",
        (
            _f("Version", "VARCHAR", "Plan version", Ref("planning.plan_version.Version Code"), required=True),
            _f("Legal Entity", "VARCHAR", "Legal entity code", Ref("erp.subsidiary.externalid"), required=True),
            _f("Practice", "VARCHAR", "Practice", required=True),
            _f("Month", "VARCHAR", "Anaplan month `Jan 26`", required=True),
            _f("Currency", "VARCHAR", "ISO 4217 of the revenue target"),
            _f("Revenue Target", MONEY, "Revenue target", TARGETS_NOT_NEGATIVE),
            _f("Billable Hours Target", HOURS, "Billable hours target", TARGETS_NOT_NEGATIVE),
            _f("Utilization Target", "DECIMAL(7,4)", "Billable utilization target, a fraction", Range(0, 1)),
            _f("Headcount Target", "DECIMAL(9,2)", "Headcount target", TARGETS_NOT_NEGATIVE),
        ),
    ),
)

SOURCE_OBJECTS: tuple[SourceObject, ...] = CRM + PSA + ERP + HRIS + PLANNING


def objects_for(system: str) -> tuple[SourceObject, ...]:
    return tuple(o for o in SOURCE_OBJECTS if o.system == system)


def get(system: str, name: str) -> SourceObject:
    for obj in SOURCE_OBJECTS:
        if obj.system == system and obj.name == name:
            return obj
    raise KeyError(f"no source object {system}.{name}")


def referenced(ref: Ref) -> SourceObject:
    """The object a reference points to; KeyError when it or its field is not in the contract."""
    system, name, field = ref.parts
    target = get(system, name)
    if field not in target.field_names:
        raise KeyError(f"no field {field} in {system}.{name}")
    return target


for _obj in SOURCE_OBJECTS:  # every reference points to a contract field
    for _field in _obj.fields:
        for _rule in _field.rules:
            if isinstance(_rule, Ref):
                referenced(_rule)
