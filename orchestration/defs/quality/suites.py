"""The raw-layer quality suites as plain data: one suite per landing-contract object.

Everything comes from the landing contract (orchestration/contract/__init__.py): columns, types, the
primary key and required fields (ERROR), freshness, and the rules declared next to the fields:
allowed values, ranges, references and business keys, each one check with the contract's name and
severity. The only rules written here are the consistency rules in `CONSISTENCY`: SQL across the
columns of a row (closed flags against the stage, a week from Monday to Sunday) or across tables
(a rate for every month), which no other layer repeats.
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

from orchestration.contract import (
    KEY_SEVERITY,
    LOAD_COLUMNS,
    SOURCE_OBJECTS,
    Allowed,
    Range,
    Ref,
    RuleCheck,
    Severity,
    SourceObject,
    referenced,
)
from orchestration.contract import Unique as BusinessKey
from orchestration.defs.ingest.loader import q, sql_str

DEFAULT_FRESHNESS_HOURS = 48.0

# The table under test, as gx_runner exposes it to SQL expectations (a CTE over GX's batch).
BATCH = "batch_rows"
# The loader stamps _loaded_at in UTC without a zone; compare in the same terms.
UTC_NOW = "cast(current_timestamp at time zone 'UTC' as timestamp)"
DUCKDB, POSTGRES = "duckdb", "postgres"
# What a check's verdict depends on (CheckSpec.scope; quality/changes.py decides what a run validates):
# TABLE: the whole table (and the tables it reads); ROWS: each row on its own, given the other tables
# it reads (a reference's target), so when the verdict passed and only its own table changed,
# validating the rows written since says what validating the table would; KEYS: each row against the
# rows with the same values of its columns `CheckSpec.keys` (uniqueness), so then validating the rows
# written since and every row sharing their key says it; CLOCK: also the time of evaluation, so it is
# evaluated every run.
TABLE, ROWS, KEYS, CLOCK = "table", "rows", "keys", "clock"
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
    scope: str = TABLE  # TABLE, ROWS, KEYS or CLOCK (above)
    keys: tuple[str, ...] = ()  # scope KEYS: the columns whose values it compares across rows

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
    # A SQL predicate: the ROWS checks are validated on the rows matching it, the KEYS checks on those
    # and the rows sharing their keys, the rest on the table.
    rows_where: str | None = None

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.table}"

    def only(self, names: set[str]) -> SuiteSpec:
        """The same suite restricted to the named checks (a subset selected in Dagster)."""
        return replace(self, checks=tuple(c for c in self.checks if c.name in names))


# --- consistency rules: SQL over a row or across tables, GX only --------------------------------


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

END_NOT_BEFORE_START = RowRule(
    "end_date_not_before_start_date", '"pse__End_Date__c" < "pse__Start_Date__c"', "End date >= start."
)

CONSISTENCY: dict[str, tuple[RowRule | SqlRule, ...]] = {
    "crm.opportunity": (
        RowRule(
            "closed_flags_match_stage",
            """("StageName" in ('Closed Won', 'Closed Lost')) <> "IsClosed" """
            """or ("StageName" = 'Closed Won') <> "IsWon" """,
            "IsClosed and IsWon agree with StageName.",
        ),
    ),
    "psa.project": (END_NOT_BEFORE_START,),
    "psa.schedule": (END_NOT_BEFORE_START,),
    "psa.timecard_header": (
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
    "erp.currency": (
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
        SqlRule(
            "rate_for_every_month",
            FX_RATE_GAPS,
            "Every month period between the first and last with rates has a rate for every currency pair.",
            "completeness",
            reads=("raw_erp.accounting_period",),
        ),
    ),
    "hris.worker": (
        RowRule("termination_not_before_hire", '"Termination_Date" < "Hire_Date"', "Termination date >= hire date."),
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


def _key_select(obj: SourceObject, alias: str) -> str:
    return ", ".join(f"{alias}.{q(k)}" for k in obj.primary_key)


def _columns_check(obj: SourceObject) -> CheckSpec:
    columns = (*obj.field_names, *(name for name, _, _ in LOAD_COLUMNS))
    return CheckSpec(
        "columns_match_contract",
        "types",
        KEY_SEVERITY,
        "The table has exactly the contract's fields plus the load metadata columns.",
        (ColumnsMatch(columns),),
    )


def _types_check(obj: SourceObject, dialect: str) -> CheckSpec:
    expected = [(f.name, f.type) for f in obj.fields] + [(name, type_) for name, type_, _ in LOAD_COLUMNS]
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
        KEY_SEVERITY,
        "Every column has the contract's type (DuckDB `describe`, PostgreSQL's catalog; no rows read).",
        (UnexpectedRows(query),),
        scope=ROWS,
    )


def _key_check(obj: SourceObject) -> CheckSpec:
    key = ", ".join(obj.primary_key)
    return CheckSpec(
        "primary_key_unique_not_null",
        "keys",
        KEY_SEVERITY,
        f"The primary key ({key}) is never empty and never repeats.",
        (*(NotNull(k) for k in obj.primary_key), Unique(obj.primary_key)),
        scope=KEYS,
        keys=obj.primary_key,
    )


def _required_check(obj: SourceObject) -> CheckSpec | None:
    required = [f.name for f in obj.fields if f.required and f.name not in obj.primary_key]
    if not required:
        return None
    return CheckSpec(
        "required_fields_not_null",
        "required fields",
        KEY_SEVERITY,
        f"Fields the contract requires are never empty: {', '.join(required)}.",
        tuple(NotNull(c) for c in required),
        scope=ROWS,
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
        scope=CLOCK,
    )


def contract_checks(obj: SourceObject, freshness_hours: float, dialect: str = DUCKDB) -> tuple[CheckSpec, ...]:
    """The checks every raw table gets from its contract: columns, types, key, required fields, freshness."""
    checks = [_columns_check(obj), _types_check(obj, dialect), _key_check(obj), _required_check(obj)]
    return (*(c for c in checks if c is not None), _freshness_check(freshness_hours, dialect))


def _range_check(check: RuleCheck, rule: Range) -> CheckSpec:
    low, high = rule.min, rule.max
    if low is not None and high is not None:
        text = f"between {low:g} and {high:g}"
    elif low is not None:
        text = f"> {low:g}" if rule.strict_min else f">= {low:g}"
    else:
        text = f"<= {high:g}"
    return CheckSpec(
        check.name,
        "ranges",
        check.severity,
        f"{', '.join(check.fields)}: every value {text}.",
        tuple(Between(c, low, high, rule.strict_min) for c in check.fields),
        scope=ROWS,
    )


def _reference_check(obj: SourceObject, check: RuleCheck, rule: Ref) -> CheckSpec:
    target, (column,), target_column = referenced(rule), check.fields, rule.parts[2]
    query = (
        f"select {_key_select(obj, 'checked')}, checked.{q(column)} from {BATCH} as checked "
        f"left join {target.schema}.{target.name} as target on target.{q(target_column)} = checked.{q(column)} "
        f"where checked.{q(column)} is not null and target.{q(target_column)} is null"
    )
    return CheckSpec(
        check.name,
        "references",
        check.severity,
        f"Every non-empty {column} exists in {target.schema}.{target.name}.{target_column}.",
        (UnexpectedRows(query),),
        reads=(f"{target.schema}.{target.name}",),
        # each row against the target: while the target is as it was, a load's rows say it all; a reference
        # into its own table (a parent subsidiary) is not: a load may change the rows other rows point to
        scope=TABLE if (target.schema, target.name) == (obj.schema, obj.name) else ROWS,
    )


def _unique_check(obj: SourceObject, rule: BusinessKey) -> CheckSpec:
    """SQL rather than GX's compound-unique, so the sample names the rows (their keys), not the values.

    The repeated values are found by grouping, then their rows by a join: the same SQL on DuckDB and
    PostgreSQL, and on the large demo's timecards (1.7 M rows) half the time of a window count.
    """
    columns = ", ".join(q(c) for c in rule.fields)
    extra = ", ".join(q(c) for c in rule.fields if c not in obj.primary_key)
    selected = f"{_key_select(obj, BATCH)}{', ' + extra if extra else ''}"
    not_null = " and ".join(f"{q(c)} is not null" for c in rule.fields)
    query = (
        f"select {selected} from {BATCH} join ("
        f"select {columns} from {BATCH} where {not_null} group by {columns} having count(*) > 1"
        f") as repeated using ({columns}) order by {columns}, {_key_select(obj, BATCH)}"
    )
    return CheckSpec(
        rule.name, "keys", rule.severity, rule.description, (UnexpectedRows(query),), scope=KEYS, keys=rule.fields
    )


def rule_check(obj: SourceObject, check: RuleCheck, dialect: str = DUCKDB) -> CheckSpec:
    """The GX check of one rule the contract declares."""
    rule = check.rule
    if isinstance(rule, Allowed):
        description = f"{check.fields[0]} is one of: {' | '.join(rule.values)} (or empty)."
        allowed = (InSet(check.fields[0], rule.values),)
        return CheckSpec(check.name, "allowed values", check.severity, description, allowed, scope=ROWS)
    if isinstance(rule, Range):
        return _range_check(check, rule)
    if isinstance(rule, Ref):
        return _reference_check(obj, check, rule)
    return _unique_check(obj, rule)


def _consistency_check(obj: SourceObject, rule: RowRule | SqlRule, dialect: str) -> CheckSpec:
    if isinstance(rule, RowRule):
        where = rule.postgres_where if dialect == POSTGRES and rule.postgres_where else rule.where
        query = f"select {_key_select(obj, BATCH)} from {BATCH} where {where}"
        return CheckSpec(
            rule.name, rule.category, Severity.WARN, rule.description, (UnexpectedRows(query),), scope=ROWS
        )
    return CheckSpec(
        rule.name, rule.category, Severity.WARN, rule.description, (UnexpectedRows(rule.query),), rule.reads
    )


def suite_for(obj: SourceObject, freshness_hours: float = DEFAULT_FRESHNESS_HOURS, dialect: str = DUCKDB) -> SuiteSpec:
    """The suite of one raw table, in the warehouse's SQL dialect: contract checks, its rules, then consistency."""
    consistency = CONSISTENCY.get(f"{obj.system}.{obj.name}", ())
    checks = (
        *contract_checks(obj, freshness_hours, dialect),
        *(rule_check(obj, check, dialect) for check in obj.rule_checks),
        *(_consistency_check(obj, rule, dialect) for rule in consistency),
    )
    return SuiteSpec(obj.schema, obj.name, obj.primary_key, checks)


def all_suites(freshness_hours: float = DEFAULT_FRESHNESS_HOURS) -> tuple[SuiteSpec, ...]:
    return tuple(suite_for(obj, freshness_hours) for obj in SOURCE_OBJECTS)
