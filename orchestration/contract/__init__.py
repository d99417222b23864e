"""The landing contract: every source object, its landing file, fields, key and cursor.

One declaration feeds the loader, the demo generator, the dbt sources and the README's
landing-contract section, so the four cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Field:
    """One contract field.

    `required`: every row has a value; a row whose value is empty (or only spaces) is quarantined.
    `optional`: a file may leave the field out altogether (CSV header, JSON document): the rows it
    inserts have no value and the rows it updates keep the value already stored. Every other field
    must be in the file; a file without it fails, naming the field.
    """

    name: str
    type: str
    description: str
    required: bool = False
    optional: bool = False

    def __post_init__(self) -> None:
        if self.required and self.optional:
            raise ValueError(f"field {self.name}: a required value cannot be optional in the file")


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


def _sf_meta() -> tuple[Field, ...]:
    return (
        Field("SystemModstamp", "TIMESTAMP", "Last modified, UTC (`2025-01-31T09:00:00.000Z`)", True),
        Field(
            "IsDeleted",
            "BOOLEAN",
            "Soft-deleted in Salesforce; only `queryAll` exports have it (optional: without it, nothing is deleted)",
            optional=True,
        ),
    )


def _f(name: str, type_: str, description: str, required: bool = False, optional: bool = False) -> Field:
    return Field(name, type_, description, required, optional)


def _weekday_hours(prefix: str, what: str) -> tuple[Field, ...]:
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    return tuple(_f(f"{prefix}{d}_Hours__c", HOURS, f"{what} on {d}") for d in days)


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
            _f("Id", "VARCHAR", "Salesforce 18-char id", True),
            _f("Name", "VARCHAR", "Account name", True),
            _f("Type", "VARCHAR", "Customer | Prospect | Partner"),
            _f("Industry", "VARCHAR", "Industry picklist"),
            _f("BillingCountry", "VARCHAR", "ISO 3166 alpha-2 country"),
            _f("CurrencyIsoCode", "VARCHAR", "ISO 4217 currency of the account"),
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
            _f("Id", "VARCHAR", "Salesforce id", True),
            _f("AccountId", "VARCHAR", "Account.Id", True),
            _f("Name", "VARCHAR", "Opportunity name"),
            _f(
                "StageName",
                "VARCHAR",
                "Prospecting | Qualification | Proposal | Negotiation | Closed Won | Closed Lost",
            ),
            _f("Amount", MONEY, "Deal amount in CurrencyIsoCode"),
            _f(
                "Probability",
                "DECIMAL(9,2)",
                "Stage probability, percent 0-100 (wider type so a typo lands and is caught by checks)",
            ),
            _f("CloseDate", "DATE", "Expected or actual close date"),
            _f("CurrencyIsoCode", "VARCHAR", "ISO 4217 currency of Amount"),
            _f("IsClosed", "BOOLEAN", "Closed (won or lost)"),
            _f("IsWon", "BOOLEAN", "Closed won"),
            _f("Type", "VARCHAR", "New Business | Existing Business"),
            _f("Practice__c", "VARCHAR", "Custom: delivering practice"),
            _f("Legal_Entity__c", "VARCHAR", "Custom: contracting legal entity code"),
            _f("Delivery_Months__c", "INTEGER", "Custom: expected delivery period after close, months"),
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
            _f("Id", "VARCHAR", "Salesforce id", True),
            _f("Name", "VARCHAR", "Full name"),
            _f("Email", "VARCHAR", "Work e-mail"),
            _f("pse__Is_Resource__c", "BOOLEAN", "Is a PSA resource"),
            _f("pse__Is_Resource_Active__c", "BOOLEAN", "Resource is active"),
            _f("pse__Resource_Role__c", "VARCHAR", "Default role"),
            _f("Workday_Worker_ID__c", "VARCHAR", "Custom: Workday Worker_ID"),
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
            _f("Id", "VARCHAR", "Salesforce id", True),
            _f("Name", "VARCHAR", "Project name"),
            _f("pse__Account__c", "VARCHAR", "Account.Id of the customer"),
            _f("pse__Opportunity__c", "VARCHAR", "Opportunity.Id the project was sold on"),
            _f(
                "pse__Billing_Type__c",
                "VARCHAR",
                "Time and Materials | Fixed Price | Milestone | Retainer; empty for internal",
            ),
            _f("pse__Stage__c", "VARCHAR", "Planned | In Progress | Completed | Canceled"),
            _f("pse__Practice__c", "VARCHAR", "Delivering practice"),
            _f("pse__Region__c", "VARCHAR", "Delivering region"),
            _f("Legal_Entity__c", "VARCHAR", "Custom: contracting legal entity code"),
            _f("pse__Start_Date__c", "DATE", "Start date"),
            _f("pse__End_Date__c", "DATE", "End date"),
            _f("pse__Bookings__c", MONEY, "Contract value in CurrencyIsoCode"),
            _f("pse__Planned_Hours__c", HOURS, "Estimated hours at completion"),
            _f("pse__Is_Billable__c", "BOOLEAN", "Client-billable project (false for internal)"),
            _f("pse__Is_Active__c", "BOOLEAN", "Active"),
            _f("pse__Project_Manager__c", "VARCHAR", "Contact.Id of the project manager"),
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
            _f("Id", "VARCHAR", "Salesforce id", True),
            _f("Name", "VARCHAR", "Assignment name"),
            _f("pse__Project__c", "VARCHAR", "pse__Proj__c.Id", True),
            _f("pse__Resource__c", "VARCHAR", "Contact.Id", True),
            _f("pse__Schedule__c", "VARCHAR", "pse__Schedule__c.Id"),
            _f("pse__Role__c", "VARCHAR", "Role (Workday job profile code)"),
            _f("pse__Bill_Rate__c", MONEY, "Contract bill rate per hour, project currency"),
            _f("pse__Planned_Hours__c", HOURS, "Planned hours"),
            _f("pse__Is_Billable__c", "BOOLEAN", "Billable assignment"),
            _f("pse__Status__c", "VARCHAR", "Scheduled | Closed"),
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
            _f("Id", "VARCHAR", "Salesforce id", True),
            _f("pse__Start_Date__c", "DATE", "First scheduled day"),
            _f("pse__End_Date__c", "DATE", "Last scheduled day"),
            *_weekday_hours("pse__", "Scheduled hours"),
            _f("pse__Scheduled_Hours__c", HOURS, "Total scheduled hours"),
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
            _f("Id", "VARCHAR", "Salesforce id", True),
            _f("Name", "VARCHAR", "Timecard number"),
            _f("pse__Resource__c", "VARCHAR", "Contact.Id", True),
            _f("pse__Project__c", "VARCHAR", "pse__Proj__c.Id", True),
            _f("pse__Assignment__c", "VARCHAR", "pse__Assignment__c.Id (empty for internal time)"),
            _f("pse__Start_Date__c", "DATE", "Week start (Monday)", True),
            _f("pse__End_Date__c", "DATE", "Week end (Sunday)"),
            _f("pse__Status__c", "VARCHAR", "Saved | Submitted | Approved | Rejected"),
            _f("pse__Billable__c", "BOOLEAN", "Billable time"),
            *_weekday_hours("pse__", "Hours worked"),
            _f("pse__Total_Hours__c", HOURS, "Total hours of the week"),
            *_sf_meta(),
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
            _f("Id", "VARCHAR", "Salesforce id", True),
            _f("Name", "VARCHAR", "Milestone name"),
            _f("pse__Project__c", "VARCHAR", "pse__Proj__c.Id", True),
            _f("pse__Milestone_Amount__c", MONEY, "Amount, project currency"),
            _f("pse__Target_Date__c", "DATE", "Planned completion"),
            _f("pse__Actual_Date__c", "DATE", "Actual completion"),
            _f("pse__Status__c", "VARCHAR", "Planned | In Progress | Complete | Canceled"),
            _f("pse__Approved__c", "BOOLEAN", "Accepted by the customer"),
            _f("CurrencyIsoCode", "VARCHAR", "ISO 4217 currency"),
            *_sf_meta(),
        ),
    ),
)


def _ns_modified(name: str = "lastmodifieddate") -> Field:
    return _f(name, "TIMESTAMP", "Last modified, UTC (`2025-01-31 09:00:00`)", True)


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
            _f("id", "INTEGER", "Internal id", True),
            _f("name", "VARCHAR", "Legal name"),
            _f("externalid", "VARCHAR", "Legal entity code shared with Workday and the PSA"),
            _f("country", "VARCHAR", "ISO 3166 alpha-2"),
            _f("currency", "INTEGER", "currency.id of the functional currency"),
            _f("parent", "INTEGER", "Parent subsidiary id (empty for the top)", optional=True),
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
            _f("id", "INTEGER", "Internal id", True),
            _f("symbol", "VARCHAR", "ISO 4217 code", True),
            _f("name", "VARCHAR", "Name"),
            _f("isbasecurrency", "BOOLEAN", "Base (reporting) currency"),
            _ns_modified(),
        ),
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
            _f("id", "INTEGER", "Internal id", True),
            _f("periodname", "VARCHAR", "e.g. `Jan 2026`"),
            _f("startdate", "DATE", "First day", True),
            _f("enddate", "DATE", "Last day", True),
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
            _f("id", "INTEGER", "Internal id", True),
            _f("postingperiod", "INTEGER", "accountingperiod.id", True),
            _f("fromsubsidiary", "INTEGER", "subsidiary.id converted from"),
            _f("tosubsidiary", "INTEGER", "subsidiary.id converted to"),
            _f("fromcurrency", "INTEGER", "currency.id converted from", True),
            _f("tocurrency", "INTEGER", "currency.id converted to", True),
            _f("averagerate", RATE, "Period average rate (P&L)"),
            _f("currentrate", RATE, "Period-end rate (balances)"),
            _f("historicalrate", RATE, "Historical rate (equity)"),
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
            _f("id", "INTEGER", "Internal id", True),
            _f("entityid", "VARCHAR", "Customer number"),
            _f("companyname", "VARCHAR", "Name"),
            _f("subsidiary", "INTEGER", "subsidiary.id"),
            _f("currency", "INTEGER", "currency.id"),
            _f("custentity_sf_account_id", "VARCHAR", "Custom: Salesforce Account.Id"),
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
            _f("id", "INTEGER", "Internal id", True),
            _f("tranid", "VARCHAR", "Document number"),
            _f("type", "VARCHAR", "CustInvc | CustCred | CustPymt", True),
            _f("trandate", "DATE", "Document date"),
            _f("duedate", "DATE", "Due date (invoices only)", optional=True),
            _f("entity", "INTEGER", "customer.id"),
            _f("subsidiary", "INTEGER", "subsidiary.id"),
            _f("currency", "INTEGER", "currency.id of the document"),
            _f("exchangerate", RATE, "Document rate to the subsidiary currency"),
            _f("foreigntotal", MONEY, "Document total, positive, document currency"),
            _f("status", "VARCHAR", "Open | Paid In Full | Applied | Deposited"),
            _f("memo", "VARCHAR", "Memo", optional=True),
            _f("custbody_psa_project_id", "VARCHAR", "Custom: PSA pse__Proj__c.Id"),
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
            _f("uniquekey", "INTEGER", "Unique line key", True),
            _f("transaction", "INTEGER", "transaction.id", True),
            _f("linesequencenumber", "INTEGER", "Line number within the transaction"),
            _f("memo", "VARCHAR", "Line description", optional=True),
            _f("quantity", HOURS, "Hours (time lines) or 1"),
            _f("rate", MONEY, "Rate per unit"),
            _f("foreignamount", MONEY, "Line amount, positive, document currency"),
            _f("custcol_psa_project_id", "VARCHAR", "Custom: PSA pse__Proj__c.Id"),
            _f(
                "custcol_psa_milestone_id",
                "VARCHAR",
                "Custom: PSA pse__Milestone__c.Id (milestone lines only)",
                optional=True,
            ),
            _f("custcol_service_date", "DATE", "Custom: first day of the month of service"),
            _f(
                "createdfrom",
                "INTEGER",
                "transaction.id this line applies to (payments, credit memos only)",
                optional=True,
            ),
            _ns_modified("linelastmodifieddate"),
        ),
    ),
)


def _wd_updated() -> Field:
    return _f("Last_Updated", "TIMESTAMP", "Last updated, UTC (`2025-01-31T09:00:00`)", True)


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
            _f("Worker_ID", "VARCHAR", "Workday employee id", True),
            _f("Worker", "VARCHAR", "Full name"),
            _f("Email_Address", "VARCHAR", "Work e-mail"),
            _f("Company_ID", "VARCHAR", "Legal entity code"),
            _f("Location_Country", "VARCHAR", "ISO 3166 alpha-2 (holiday calendar)"),
            _f("Practice", "VARCHAR", "Practice (supervisory organization)"),
            _f("Region", "VARCHAR", "Region"),
            _f("Job_Profile", "VARCHAR", "Role code (rate-card key)"),
            _f("Worker_Type", "VARCHAR", "Employee | Contingent Worker"),
            _f("Hire_Date", "DATE", "Hire date"),
            _f("Termination_Date", "DATE", "Termination date (absent while employed)", optional=True),
            _f("Scheduled_Weekly_Hours", HOURS, "Standard weekly hours"),
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
            _f("Rate_Card_ID", "VARCHAR", "Rate card line id", True),
            _f("Job_Profile", "VARCHAR", "Role code", True),
            _f("Company_ID", "VARCHAR", "Legal entity code", True),
            _f("Currency", "VARCHAR", "ISO 4217"),
            _f("Standard_Bill_Rate", MONEY, "Standard bill rate per hour"),
            _f("Standard_Cost_Rate", MONEY, "Standard cost rate per hour"),
            _f("Effective_Date", "DATE", "Valid from", True),
            _wd_updated(),
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
            _f("Cost_Rate_ID", "VARCHAR", "Cost rate line id", True),
            _f("Worker_ID", "VARCHAR", "Worker_ID", True),
            _f("Effective_Date", "DATE", "Valid from", True),
            _f("Loaded_Cost_Rate", MONEY, "Loaded cost per hour"),
            _f("Currency", "VARCHAR", "ISO 4217"),
            _wd_updated(),
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
            _f("Time_Off_Entry_ID", "VARCHAR", "Entry id", True),
            _f("Worker_ID", "VARCHAR", "Worker_ID", True),
            _f("Date", "DATE", "Day off", True),
            _f("Hours", HOURS, "Hours off that day"),
            _f("Time_Off_Type", "VARCHAR", "Vacation | Sick | Personal"),
            _f("Status", "VARCHAR", "Approved | Submitted | Canceled"),
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
            _f("Holiday_ID", "VARCHAR", "Holiday id", True),
            _f("Country", "VARCHAR", "ISO 3166 alpha-2 calendar", True),
            _f("Date", "DATE", "Holiday date", True),
            _f("Holiday_Name", "VARCHAR", "Name"),
            _wd_updated(),
        ),
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
            _f("Version Code", "VARCHAR", "Version code", True),
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
            _f("Version", "VARCHAR", "Version Code", True),
            _f("Legal Entity", "VARCHAR", "Legal entity code", True),
            _f("Practice", "VARCHAR", "Practice", True),
            _f("Month", "VARCHAR", "Anaplan month `Jan 26`", True),
            _f("Currency", "VARCHAR", "ISO 4217 of the revenue target"),
            _f("Revenue Target", MONEY, "Revenue target"),
            _f("Billable Hours Target", HOURS, "Billable hours target"),
            _f("Utilization Target", "DECIMAL(7,4)", "Billable utilization target, fraction 0-1"),
            _f("Headcount Target", "DECIMAL(9,2)", "Headcount target"),
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
