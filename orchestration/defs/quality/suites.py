"""The raw-layer quality suites as plain data: one suite per landing-contract object.

Types, keys and required fields are generated from the landing contract (orchestration/contract/__init__.py); ranges,
allowed values, references and a few consistency rules come from the hand-written `RULES` table below.
Nothing here knows Great Expectations: `gx_runner` turns each expectation spec into a GX expectation.

Severity policy (README.md in this folder has the full table):
- ERROR: the table itself is broken (columns or types off the contract, a duplicate or empty primary
  key, an empty required field). The loader never produces these, so they mean tampering or contract
  drift, and they block everything downstream.
- WARN: a row-level defect (impossible hours, unknown reference, value outside its range or picklist,
  a gap in FX rates, stale data). The dbt marts' exceptions model quarantines such rows, so the raw
  layer reports them with counts and sample keys and does not stop the pipeline.

The SQL is DuckDB's; `suite_for(..., dialect="postgres")` gives the PostgreSQL spelling of the few
checks that differ (types from the catalog, freshness arithmetic, window filters, regular expressions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum

from orchestration.contract import SOURCE_OBJECTS, SourceObject, get
from orchestration.defs.ingest.loader import q, sql_str

DEFAULT_FRESHNESS_HOURS = 48.0

# The table under test, as gx_runner exposes it to SQL expectations (a CTE over GX's batch).
BATCH = "batch_rows"
# Load metadata the loader (orchestration.defs.ingest.loader.ensure_tables) adds to every raw table.
LOAD_COLUMNS = (("_loaded_at", "TIMESTAMP"), ("_source_file", "VARCHAR"), ("_batch_id", "VARCHAR"))
# The loader stamps _loaded_at in UTC without a zone; compare in the same terms.
UTC_NOW = "cast(current_timestamp at time zone 'UTC' as timestamp)"
DUCKDB, POSTGRES = "duckdb", "postgres"
# Contract (DuckDB) types as PostgreSQL's format_type() prints them.
POSTGRES_TYPES = {
    "VARCHAR": "character varying",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp without time zone",
    "DOUBLE": "double precision",
}


def postgres_type(contract_type: str) -> str:
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", contract_type)
    return f"numeric({decimal[1]},{decimal[2]})" if decimal else POSTGRES_TYPES[contract_type]


class Severity(StrEnum):
    ERROR = "ERROR"
    WARN = "WARN"


# --- expectation specs: one GX expectation each ------------------------------------------------


@dataclass(frozen=True)
class ColumnsMatch:
    """The table has exactly these columns."""

    columns: tuple[str, ...]


@dataclass(frozen=True)
class NotNull:
    column: str


@dataclass(frozen=True)
class Unique:
    """One column, or a combination of columns, is unique (nulls are not compared)."""

    columns: tuple[str, ...]


@dataclass(frozen=True)
class Between:
    """Non-null values lie within [min_value, max_value]; strict_min makes the lower bound exclusive."""

    column: str
    min_value: float | None = None
    max_value: float | None = None
    strict_min: bool = False


@dataclass(frozen=True)
class InSet:
    """Non-null values are one of `values`."""

    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class UnexpectedRows:
    """A SQL query over `batch_rows` (and other raw tables); every row it returns is a failure."""

    query: str


ExpectationSpec = ColumnsMatch | NotNull | Unique | Between | InSet | UnexpectedRows


@dataclass(frozen=True)
class CheckSpec:
    """One Dagster asset check: a named group of expectations with one severity."""

    name: str
    category: str
    severity: Severity
    description: str
    expectations: tuple[ExpectationSpec, ...]
    reads: tuple[str, ...] = ()  # other raw tables the check queries (`raw_erp.currency`)

    @property
    def blocking(self) -> bool:
        return self.severity is Severity.ERROR


@dataclass(frozen=True)
class SuiteSpec:
    """Every check on one raw table; `key` names the columns that identify a failing row in samples."""

    schema: str
    table: str
    key: tuple[str, ...]
    checks: tuple[CheckSpec, ...]

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.table}"

    def only(self, names: set[str]) -> SuiteSpec:
        """The same suite restricted to the named checks (a subset selected in Dagster)."""
        return replace(self, checks=tuple(c for c in self.checks if c.name in names))


# --- hand-written rules: ranges, allowed values, references, consistency -----------------------


@dataclass(frozen=True)
class Range:
    """Each column within [min_value, max_value]; several columns need a name."""

    columns: tuple[str, ...]
    min_value: float | None = None
    max_value: float | None = None
    strict_min: bool = False
    name: str | None = None


@dataclass(frozen=True)
class Allowed:
    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Reference:
    """Non-null `column` values exist in `target` (`system.name`) column `target_column`."""

    column: str
    target: str
    target_column: str = "Id"


@dataclass(frozen=True)
class UniqueTogether:
    """A business key that should not repeat, beside the primary key (e.g. a duplicated timecard)."""

    name: str
    columns: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class RowRule:
    """Rows matching the SQL predicate `where` (over the table's own columns) fail."""

    name: str
    where: str
    description: str
    category: str = "consistency"
    postgres_where: str | None = None  # the same predicate where PostgreSQL spells it differently


@dataclass(frozen=True)
class SqlRule:
    """A whole SQL query over `batch_rows`; each row it returns fails."""

    name: str
    query: str
    description: str
    category: str
    reads: tuple[str, ...] = ()


Rule = Range | Allowed | Reference | UniqueTogether | RowRule | SqlRule

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY_HOURS = tuple(f"pse__{d}_Hours__c" for d in WEEKDAYS)


def _sum(columns: tuple[str, ...]) -> str:
    return " + ".join(f"coalesce({q(c)}, 0)" for c in columns)


FX_RATE_GAPS = f"""
with pairs as (
    select distinct fromsubsidiary, tosubsidiary, fromcurrency, tocurrency from {BATCH}
),
covered as (
    select min(periods.startdate) as first_start, max(periods.startdate) as last_start
    from {BATCH} as rates
    inner join raw_erp.accounting_period as periods on periods.id = rates.postingperiod
),
months as (
    select periods.id
    from raw_erp.accounting_period as periods
    cross join covered
    where not coalesce(periods.isquarter, false) and not coalesce(periods.isyear, false)
        and periods.startdate between covered.first_start and covered.last_start
)
select months.id as postingperiod, pairs.fromcurrency, pairs.tocurrency
from months
cross join pairs
left join {BATCH} as rates
    on rates.postingperiod = months.id
    and rates.fromsubsidiary is not distinct from pairs.fromsubsidiary
    and rates.tosubsidiary is not distinct from pairs.tosubsidiary
where rates.id is null
order by 1, 2, 3
"""

# What DuckDB's strptime('%b %y') reads (`Jan 26`), as a PostgreSQL regular expression (no try_to_date there).
ANAPLAN_MONTH = "^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) [0-9]{2}$"

RULES: dict[str, tuple[Rule, ...]] = {
    "crm.account": (
        Allowed("Type", ("Customer", "Prospect", "Partner")),
        Reference("CurrencyIsoCode", "erp.currency", "symbol"),
    ),
    "crm.opportunity": (
        Reference("AccountId", "crm.account"),
        Allowed("StageName", ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost")),
        Allowed("Type", ("New Business", "Existing Business")),
        Range(("Probability",), 0, 100),
        Range(("Amount",), 0),
        Range(("Delivery_Months__c",), 0),
        RowRule(
            "closed_flags_match_stage",
            """("StageName" in ('Closed Won', 'Closed Lost')) <> "IsClosed" """
            """or ("StageName" = 'Closed Won') <> "IsWon" """,
            "IsClosed and IsWon agree with StageName.",
        ),
    ),
    "psa.contact": (Reference("Workday_Worker_ID__c", "hris.worker", "Worker_ID"),),
    "psa.project": (
        Allowed("pse__Billing_Type__c", ("Time and Materials", "Fixed Price", "Milestone", "Retainer")),
        Allowed("pse__Stage__c", ("Planned", "In Progress", "Completed", "Canceled")),
        Range(("pse__Bookings__c",), 0),
        Range(("pse__Planned_Hours__c",), 0),
        Reference("pse__Account__c", "crm.account"),
        Reference("pse__Opportunity__c", "crm.opportunity"),
        Reference("pse__Project_Manager__c", "psa.contact"),
        Reference("Legal_Entity__c", "erp.subsidiary", "externalid"),
        RowRule("end_date_not_before_start_date", '"pse__End_Date__c" < "pse__Start_Date__c"', "End date >= start."),
    ),
    "psa.assignment": (
        Reference("pse__Project__c", "psa.project"),
        Reference("pse__Resource__c", "psa.contact"),
        Reference("pse__Schedule__c", "psa.schedule"),
        Allowed("pse__Status__c", ("Scheduled", "Closed")),
        Range(("pse__Bill_Rate__c",), 0),
        Range(("pse__Planned_Hours__c",), 0),
    ),
    "psa.schedule": (
        Range(DAY_HOURS, 0, 24, name="daily_hours_between_0_and_24"),
        Range(("pse__Scheduled_Hours__c",), 0),
        RowRule("end_date_not_before_start_date", '"pse__End_Date__c" < "pse__Start_Date__c"', "End date >= start."),
    ),
    "psa.timecard_header": (
        Range(DAY_HOURS, min_value=0, name="daily_hours_not_negative"),
        Range(DAY_HOURS, max_value=24, name="daily_hours_at_most_24"),
        Reference("pse__Project__c", "psa.project"),
        Reference("pse__Resource__c", "psa.contact"),
        Reference("pse__Assignment__c", "psa.assignment"),
        Allowed("pse__Status__c", ("Saved", "Submitted", "Approved", "Rejected")),
        UniqueTogether(
            "one_timecard_per_resource_project_week",
            ("pse__Resource__c", "pse__Project__c", "pse__Start_Date__c"),
            "No two timecards for the same resource, project and week (a timecard repeated under a new Id).",
        ),
        RowRule(
            "total_hours_equal_sum_of_days",
            f'"pse__Total_Hours__c" <> {_sum(DAY_HOURS)}',
            "pse__Total_Hours__c equals the sum of the seven day columns.",
        ),
        RowRule(
            "week_runs_monday_to_sunday",
            """extract(isodow from "pse__Start_Date__c") <> 1"""
            """ or "pse__End_Date__c" <> "pse__Start_Date__c" + 6""",
            "The timecard week starts on a Monday and ends six days later.",
        ),
    ),
    "psa.milestone": (
        Reference("pse__Project__c", "psa.project"),
        Allowed("pse__Status__c", ("Planned", "In Progress", "Complete", "Canceled")),
        Range(("pse__Milestone_Amount__c",), 0),
    ),
    "erp.subsidiary": (
        Reference("currency", "erp.currency", "id"),
        Reference("parent", "erp.subsidiary", "id"),
    ),
    "erp.currency": (
        UniqueTogether("symbol_unique", ("symbol",), "Each ISO 4217 code appears once."),
        RowRule(
            "symbol_is_iso_4217",
            "not regexp_full_match(symbol, '[A-Z]{3}')",
            "Three capital letters.",
            postgres_where="symbol !~ '^[A-Z]{3}$'",
        ),
    ),
    "erp.accounting_period": (
        RowRule("end_date_not_before_start_date", "enddate < startdate", "enddate >= startdate."),
    ),
    "erp.consolidated_exchange_rate": (
        Range(("averagerate", "currentrate", "historicalrate"), 0, strict_min=True, name="rates_positive"),
        Reference("postingperiod", "erp.accounting_period", "id"),
        Reference("fromcurrency", "erp.currency", "id"),
        Reference("tocurrency", "erp.currency", "id"),
        Reference("fromsubsidiary", "erp.subsidiary", "id"),
        Reference("tosubsidiary", "erp.subsidiary", "id"),
        SqlRule(
            "rate_for_every_month",
            FX_RATE_GAPS,
            "Every month period between the first and last with rates has a rate for every currency pair.",
            "completeness",
            reads=("raw_erp.accounting_period",),
        ),
    ),
    "erp.customer": (
        Reference("subsidiary", "erp.subsidiary", "id"),
        Reference("currency", "erp.currency", "id"),
        Reference("custentity_sf_account_id", "crm.account"),
    ),
    "erp.transaction": (
        Allowed("type", ("CustInvc", "CustCred", "CustPymt")),
        Allowed("status", ("Open", "Paid In Full", "Applied", "Deposited")),
        Reference("entity", "erp.customer", "id"),
        Reference("subsidiary", "erp.subsidiary", "id"),
        Reference("currency", "erp.currency", "id"),
        Reference("custbody_psa_project_id", "psa.project"),
        Range(("exchangerate",), 0, strict_min=True),
        Range(("foreigntotal",), 0),
    ),
    "erp.transaction_line": (
        Reference("transaction", "erp.transaction", "id"),
        Reference("createdfrom", "erp.transaction", "id"),
        Reference("custcol_psa_project_id", "psa.project"),
        Reference("custcol_psa_milestone_id", "psa.milestone"),
        Range(("quantity", "rate", "foreignamount"), 0, name="amounts_not_negative"),
    ),
    "hris.worker": (
        Allowed("Worker_Type", ("Employee", "Contingent Worker")),
        Range(("Scheduled_Weekly_Hours",), 0, 168),
        Reference("Company_ID", "erp.subsidiary", "externalid"),
        RowRule("termination_not_before_hire", '"Termination_Date" < "Hire_Date"', "Termination date >= hire date."),
    ),
    "hris.rate_card": (
        Range(("Standard_Bill_Rate", "Standard_Cost_Rate"), 0, name="rates_not_negative"),
        Reference("Company_ID", "erp.subsidiary", "externalid"),
        UniqueTogether(
            "one_rate_per_role_entity_date",
            ("Job_Profile", "Company_ID", "Effective_Date"),
            "One rate-card line per role, legal entity and effective date.",
        ),
    ),
    "hris.worker_cost_rate": (
        Reference("Worker_ID", "hris.worker", "Worker_ID"),
        Range(("Loaded_Cost_Rate",), 0),
        UniqueTogether(
            "one_rate_per_worker_date", ("Worker_ID", "Effective_Date"), "One cost rate per worker and effective date."
        ),
    ),
    "hris.time_off": (
        Reference("Worker_ID", "hris.worker", "Worker_ID"),
        Range(("Hours",), 0, 24),
        Allowed("Time_Off_Type", ("Vacation", "Sick", "Personal")),
        Allowed("Status", ("Approved", "Submitted", "Canceled")),
    ),
    "hris.holiday": (
        UniqueTogether("one_holiday_per_country_date", ("Country", "Date"), "One holiday per calendar and day."),
    ),
    "planning.plan_version": (
        RowRule(
            "months_in_anaplan_format",
            """try_strptime("Start Month", '%b %y') is null or try_strptime("End Month", '%b %y') is null""",
            "Start Month and End Month read as Anaplan months (`Jan 26`).",
            "allowed values",
            postgres_where=f"""not coalesce("Start Month" ~* '{ANAPLAN_MONTH}'"""
            f""" and "End Month" ~* '{ANAPLAN_MONTH}', false)""",
        ),
    ),
    "planning.target": (
        Reference("Version", "planning.plan_version", "Version Code"),
        Reference("Legal Entity", "erp.subsidiary", "externalid"),
        Range(("Utilization Target",), 0, 1),
        Range(("Revenue Target", "Billable Hours Target", "Headcount Target"), 0, name="targets_not_negative"),
        RowRule(
            "month_in_anaplan_format",
            """try_strptime("Month", '%b %y') is null""",
            "Month reads as an Anaplan month (`Jan 26`).",
            "allowed values",
            postgres_where=f"""not coalesce("Month" ~* '{ANAPLAN_MONTH}', false)""",
        ),
    ),
}


# --- generating the suites -------------------------------------------------------------------


def check_name(text: str) -> str:
    """A Dagster-safe check name: letters, digits and underscores."""
    return re.sub(r"\W", "_", text)


def _number(value: float) -> str:
    return f"{value:g}".replace("-", "minus_").replace(".", "_")


def _key_select(obj: SourceObject, alias: str) -> str:
    return ", ".join(f"{alias}.{q(k)}" for k in obj.primary_key)


def _columns_check(obj: SourceObject) -> CheckSpec:
    columns = (*obj.field_names, *(name for name, _ in LOAD_COLUMNS))
    return CheckSpec(
        "columns_match_contract",
        "types",
        Severity.ERROR,
        "The table has exactly the contract's fields plus the load metadata columns.",
        (ColumnsMatch(columns),),
    )


def _types_check(obj: SourceObject, dialect: str) -> CheckSpec:
    expected = [(f.name, f.type) for f in obj.fields] + list(LOAD_COLUMNS)
    if dialect == POSTGRES:
        expected = [(name, postgres_type(type_)) for name, type_ in expected]
        # the table's catalog entry, as describe reads the batch's in DuckDB; no rows are read
        described = (
            "(select attname as column_name, format_type(atttypid, atttypmod) as column_type from pg_attribute "
            f"where attrelid = {sql_str(f'{obj.schema}.{obj.name}')}::regclass and attnum > 0 and not attisdropped)"
        )
    else:
        described = f"(describe select * from {BATCH})"
    values = ", ".join(f"({sql_str(name)}, {sql_str(type_)})" for name, type_ in expected)
    query = (
        "select expected.column_name, expected.expected_type, described.column_type as actual_type "
        f"from (values {values}) as expected(column_name, expected_type) "
        f"inner join {described} as described on described.column_name = expected.column_name "
        "where described.column_type <> expected.expected_type"
    )
    return CheckSpec(
        "column_types_match_contract",
        "types",
        Severity.ERROR,
        "Every column has the contract's type (DuckDB `describe`, PostgreSQL's catalog; no rows read).",
        (UnexpectedRows(query),),
    )


def _key_check(obj: SourceObject) -> CheckSpec:
    key = ", ".join(obj.primary_key)
    return CheckSpec(
        "primary_key_unique_not_null",
        "keys",
        Severity.ERROR,
        f"The primary key ({key}) is never empty and never repeats.",
        (*(NotNull(k) for k in obj.primary_key), Unique(obj.primary_key)),
    )


def _required_check(obj: SourceObject) -> CheckSpec | None:
    required = [f.name for f in obj.fields if f.required and f.name not in obj.primary_key]
    if not required:
        return None
    return CheckSpec(
        "required_fields_not_null",
        "required fields",
        Severity.ERROR,
        f"Fields the contract requires are never empty: {', '.join(required)}.",
        tuple(NotNull(c) for c in required),
    )


def _freshness_check(hours: float, dialect: str) -> CheckSpec:
    seconds = int(hours * 3600)
    if dialect == POSTGRES:
        age = f"round(cast(extract(epoch from {UTC_NOW} - max(_loaded_at)) / 3600 as numeric), 1)"
        window = f"interval '{seconds} seconds'"
    else:
        age, window = f"round(date_diff('second', max(_loaded_at), {UTC_NOW}) / 3600, 1)", f"to_seconds({seconds})"
    query = (
        f"select max(_loaded_at) as last_loaded_at, {age} as age_hours "
        f"from {BATCH} "
        f"having max(_loaded_at) is null or max(_loaded_at) < {UTC_NOW} - {window}"
    )
    return CheckSpec(
        "freshness",
        "freshness",
        Severity.WARN,
        f"The newest row was loaded within the last {hours:g} hours (max `_loaded_at`, UTC).",
        (UnexpectedRows(query),),
    )


def contract_checks(obj: SourceObject, freshness_hours: float, dialect: str = DUCKDB) -> tuple[CheckSpec, ...]:
    """The checks every raw table gets from its contract: columns, types, key, required fields, freshness."""
    checks = [_columns_check(obj), _types_check(obj, dialect), _key_check(obj), _required_check(obj)]
    return (*(c for c in checks if c is not None), _freshness_check(freshness_hours, dialect))


def _range_check(rule: Range) -> CheckSpec:
    low, high = rule.min_value, rule.max_value
    if low is not None and high is not None:
        suffix, text = f"between_{_number(low)}_and_{_number(high)}", f"between {low:g} and {high:g}"
    elif low is not None:
        suffix = "positive" if rule.strict_min and low == 0 else f"at_least_{_number(low)}"
        text = f"> {low:g}" if rule.strict_min else f">= {low:g}"
    else:
        suffix, text = f"at_most_{_number(high or 0)}", f"<= {high:g}"
    name = rule.name or f"{rule.columns[0]}_{suffix}"
    return CheckSpec(
        check_name(name),
        "ranges",
        Severity.WARN,
        f"{', '.join(rule.columns)}: every value {text}.",
        tuple(Between(c, low, high, rule.strict_min) for c in rule.columns),
    )


def _allowed_check(rule: Allowed) -> CheckSpec:
    return CheckSpec(
        check_name(f"{rule.column}_in_allowed_values"),
        "allowed values",
        Severity.WARN,
        f"{rule.column} is one of: {' | '.join(rule.values)} (or empty).",
        (InSet(rule.column, rule.values),),
    )


def _reference_check(obj: SourceObject, rule: Reference) -> CheckSpec:
    target = get(*rule.target.split("."))
    column, target_column = q(rule.column), q(rule.target_column)
    query = (
        f"select {_key_select(obj, 'checked')}, checked.{column} from {BATCH} as checked "
        f"left join {target.schema}.{target.name} as target on target.{target_column} = checked.{column} "
        f"where checked.{column} is not null and target.{target_column} is null"
    )
    return CheckSpec(
        check_name(f"{rule.column}_references_{target.name}"),
        "references",
        Severity.WARN,
        f"Every non-empty {rule.column} exists in {target.schema}.{target.name}.{rule.target_column}.",
        (UnexpectedRows(query),),
        reads=(f"{target.schema}.{target.name}",),
    )


def _unique_together_check(obj: SourceObject, rule: UniqueTogether, dialect: str) -> CheckSpec:
    """SQL rather than GX's compound-unique, so the sample names the rows (their keys), not the values."""
    columns = ", ".join(q(c) for c in rule.columns)
    extra = ", ".join(q(c) for c in rule.columns if c not in obj.primary_key)
    selected = f"{_key_select(obj, BATCH)}{', ' + extra if extra else ''}"
    not_null = " and ".join(f"{q(c)} is not null" for c in rule.columns)
    if dialect == POSTGRES:  # no qualify: filter the window in a subquery
        keys = ", ".join(q(k) for k in obj.primary_key)
        query = (
            f"select {keys}{', ' + extra if extra else ''} from ("
            f"select {selected}, count(*) over (partition by {columns}) as repeats from {BATCH} where {not_null}"
            f") as counted where repeats > 1 order by {columns}, {keys}"
        )
    else:
        query = (
            f"select {selected} from {BATCH} where {not_null} "
            f"qualify count(*) over (partition by {columns}) > 1 "
            f"order by {columns}, {_key_select(obj, BATCH)}"
        )
    return CheckSpec(rule.name, "keys", Severity.WARN, rule.description, (UnexpectedRows(query),))


def _rule_check(obj: SourceObject, rule: Rule, dialect: str) -> CheckSpec:
    if isinstance(rule, Range):
        return _range_check(rule)
    if isinstance(rule, Allowed):
        return _allowed_check(rule)
    if isinstance(rule, Reference):
        return _reference_check(obj, rule)
    if isinstance(rule, UniqueTogether):
        return _unique_together_check(obj, rule, dialect)
    if isinstance(rule, RowRule):
        where = rule.postgres_where if dialect == POSTGRES and rule.postgres_where else rule.where
        query = f"select {_key_select(obj, BATCH)} from {BATCH} where {where}"
        return CheckSpec(rule.name, rule.category, Severity.WARN, rule.description, (UnexpectedRows(query),))
    return CheckSpec(
        rule.name, rule.category, Severity.WARN, rule.description, (UnexpectedRows(rule.query),), rule.reads
    )


def suite_for(obj: SourceObject, freshness_hours: float = DEFAULT_FRESHNESS_HOURS, dialect: str = DUCKDB) -> SuiteSpec:
    """The suite of one raw table, in the warehouse's SQL dialect: contract checks, then the hand-written rules."""
    rules = RULES.get(f"{obj.system}.{obj.name}", ())
    checks = (*contract_checks(obj, freshness_hours, dialect), *(_rule_check(obj, r, dialect) for r in rules))
    return SuiteSpec(obj.schema, obj.name, obj.primary_key, checks)


def all_suites(freshness_hours: float = DEFAULT_FRESHNESS_HOURS) -> tuple[SuiteSpec, ...]:
    return tuple(suite_for(obj, freshness_hours) for obj in SOURCE_OBJECTS)
