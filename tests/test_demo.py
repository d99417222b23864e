"""Tests of the demo-firm generator (demo.firm): determinism, landing contract, defects, shape.

Kind: unit (fast; `make test-fast`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from demo.firm import DEFECTS, MANIFEST, generate, run
from demo.firm.__main__ import main
from orchestration.contract import ANAPLAN_CSV, CSV, JSONL, SOURCE_OBJECTS, WORKDAY_JSON, SourceObject, get

pytestmark = pytest.mark.unit

AS_OF = date(2026, 11, 26)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAYS = ", ".join(f"pse__{d}_Hours__c" for d in WEEKDAYS)
NOT_A_PROJECT = "pse__Project__c NOT IN (SELECT Id FROM psa_project)"
# Approved timecard days: (Id, day, hours).
APPROVED_DAY_HOURS = (
    "SELECT Id, (pse__Start_Date__c + i::INT)::DATE AS d, "
    f"[{DAYS}][i + 1] AS h"
    " FROM psa_timecard_header, range(7) r(i) WHERE pse__Status__c = 'Approved'"
)
SAME_WEEK = "GROUP BY pse__Resource__c, pse__Project__c, pse__Start_Date__c"


def _path(root: Path, obj: SourceObject) -> Path:
    return root / obj.system / f"{obj.file_stem}.{obj.extension}"


def _records(root: Path, obj: SourceObject) -> list[dict]:
    """The raw records of a landing file, exactly as written (CSV values stay strings)."""
    path = _path(root, obj)
    if obj.format in (CSV, ANAPLAN_CSV):
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    if obj.format == JSONL:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return json.loads(path.read_text(encoding="utf-8"))["Report_Entry"]


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def firm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default small firm (with defects)."""
    out = tmp_path_factory.mktemp("firm")
    generate(out, scale="small", seed=42, as_of=AS_OF)
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same firm without defects."""
    out = tmp_path_factory.mktemp("clean")
    generate(out, scale="small", seed=42, as_of=AS_OF, defects=False)
    return out


def _con(root: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB with one view per source object, named <system>_<object> (e.g. psa_timecard_header)."""
    con = duckdb.connect()
    for obj in SOURCE_OBJECTS:
        path = _path(root, obj).as_posix()
        if obj.format == WORKDAY_JSON:
            source = f"(SELECT unnest(Report_Entry, recursive := true) FROM read_json('{path}'))"
        elif obj.format == JSONL:
            source = f"read_json('{path}', format = 'newline_delimited')"
        else:
            source = f"read_csv('{path}', header = true)"
        con.execute(f"CREATE VIEW {obj.system}_{obj.name} AS SELECT * FROM {source}")
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchone()[0]


def _distinct(con: duckdb.DuckDBPyConnection, column: str, view: str) -> set:
    return {r[0] for r in con.execute(f"SELECT DISTINCT {column} FROM {view}").fetchall()}


def test_same_seed_is_byte_identical_and_other_seed_differs(firm: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again", scale="small", seed=42, as_of=AS_OF)
    generate(tmp_path / "other", scale="small", seed=43, as_of=AS_OF)
    first, again, other = _digests(firm), _digests(tmp_path / "again"), _digests(tmp_path / "other")
    assert first == again
    assert set(first) == set(other)
    assert first["psa/pse__Timecard_Header__c.csv"] != other["psa/pse__Timecard_Header__c.csv"]
    assert sum(first[k] != other[k] for k in first) > len(first) // 2


def test_every_contract_object_has_its_file_and_rows(tmp_path: Path) -> None:
    rows = generate(tmp_path, scale="small", seed=5, as_of=AS_OF)
    base_files = [f"{o.system}/{o.file_stem}.{o.extension}" for o in SOURCE_OBJECTS]
    batch = f"psa/pse__Timecard_Header__c.{AS_OF.isoformat()}.csv"  # the malformed_hours defect
    assert sorted(rows) == sorted([*base_files, batch]) and rows[batch] == 1
    for obj in SOURCE_OBJECTS:
        count = len(_records(tmp_path, obj))
        assert count > 0, obj.name
        assert count == rows[f"{obj.system}/{obj.file_stem}.{obj.extension}"], obj.name


@pytest.mark.parametrize("obj", SOURCE_OBJECTS, ids=lambda o: f"{o.system}.{o.name}")
def test_file_fields_match_contract(firm: Path, obj: SourceObject) -> None:
    required = {f.name for f in obj.fields if f.required}
    if obj.format in (CSV, ANAPLAN_CSV):
        with _path(firm, obj).open(newline="", encoding="utf-8") as fh:
            assert next(csv.reader(fh)) == list(obj.field_names)
    if obj.format == WORKDAY_JSON:
        assert list(json.loads(_path(firm, obj).read_text(encoding="utf-8"))) == ["Report_Entry"]
    for record in _records(firm, obj):
        assert set(record) <= set(obj.field_names)
        assert all(record.get(name) not in (None, "") for name in required)
        if obj.format == WORKDAY_JSON:
            assert all(isinstance(v, str) and v != "" for v in record.values())


def test_value_formats_follow_each_source_system(firm: Path) -> None:
    card = _records(firm, get("psa", "timecard_header"))[0]
    assert card["pse__Billable__c"] in ("true", "false")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z", card["SystemModstamp"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", card["pse__Start_Date__c"])
    tx = _records(firm, get("erp", "transaction"))[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", tx["lastmodifieddate"])
    assert isinstance(tx["foreigntotal"], int | float)
    assert isinstance(tx["id"], int)
    assert _records(firm, get("erp", "subsidiary"))[0]["isinactive"] in ("T", "F")
    workers = _records(firm, get("hris", "worker"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", workers[0]["Last_Updated"])
    assert {w.get("Termination_Date") is None for w in workers} == {True, False}  # absent while employed
    assert {w["Scheduled_Weekly_Hours"] for w in workers} >= {"40", "37.5"}
    months = {t["Month"] for t in _records(firm, get("planning", "target"))}
    assert all(re.fullmatch(r"[A-Z][a-z]{2} \d\d", m) for m in months)
    lines = _records(firm, get("erp", "transaction_line"))
    assert all(round(line["foreignamount"], 2) == line["foreignamount"] for line in lines)


def test_defaults_inject_every_defect(firm: Path) -> None:
    con = _con(firm)
    assert _one(con, "SELECT count(*) FROM crm_opportunity WHERE Probability > 100") >= 1
    assert _one(con, f"SELECT count(*) FROM psa_timecard_header WHERE least({DAYS}) < 0") >= 1
    assert _one(con, f"SELECT count(*) FROM psa_timecard_header WHERE greatest({DAYS}) > 24") >= 1
    assert _one(con, f"SELECT count(*) FROM psa_timecard_header WHERE {NOT_A_PROJECT}") >= 1
    duplicates = f"SELECT count(*) FROM psa_timecard_header {SAME_WEEK}, {DAYS} HAVING count(*) > 1"
    assert _one(con, f"SELECT count(*) FROM ({duplicates})") >= 1
    foreign = "SELECT count(*) FROM erp_subsidiary WHERE iselimination = 'F' AND currency <> 1"
    expected = _one(con, "SELECT count(*) FROM erp_accounting_period") * _one(con, foreign)
    assert _one(con, "SELECT count(*) FROM erp_consolidated_exchange_rate") == expected - 1
    (uninvoiced,) = json.loads((firm / MANIFEST).read_text(encoding="utf-8"))["defects"]["uninvoiced_month"]
    project, month = uninvoiced.split("|")
    billed = f"WHERE custcol_psa_project_id = '{project}' AND strftime(custcol_service_date, '%Y-%m') = '{month}'"
    assert _one(con, f"SELECT count(*) FROM erp_transaction_line {billed}") == 0
    assert _one(con, f"SELECT count(*) FROM psa_timecard_header WHERE pse__Project__c = '{project}'") > 0
    (future,) = json.loads((firm / MANIFEST).read_text(encoding="utf-8"))["defects"]["approved_future_time"]
    # As of Thursday 2026-11-26: approved hours on Friday 27th only, the weekday after the as-of date.
    days = con.execute(f"SELECT d, h FROM ({APPROVED_DAY_HOURS}) WHERE Id = ? AND h <> 0", [future]).fetchall()
    assert [d for d, _ in days] == [date(2026, 11, 27)] and all(0 < h <= 24 for _, h in days)
    assert _one(con, f"SELECT count(*) FROM ({APPROVED_DAY_HOURS}) WHERE h <> 0 AND d > DATE '{AS_OF}'") == 1
    (malformed,) = json.loads((firm / MANIFEST).read_text(encoding="utf-8"))["defects"]["malformed_hours"]
    batch = firm / "psa" / f"pse__Timecard_Header__c.{AS_OF.isoformat()}.csv"
    with batch.open(newline="", encoding="utf-8") as fh:
        assert [(r["Id"], r["pse__Monday_Hours__c"]) for r in csv.DictReader(fh)] == [(malformed, "7,5")]
    manifest = json.loads((firm / MANIFEST).read_text(encoding="utf-8"))
    assert list(manifest["defects"]) == list(DEFECTS)
    assert all(len(keys) >= 1 for keys in manifest["defects"].values())


def test_no_defects_gives_clean_data(clean: Path) -> None:
    con = _con(clean)
    assert _one(con, "SELECT max(Probability) FROM crm_opportunity") <= 100
    assert _one(con, f"SELECT min(least({DAYS})) FROM psa_timecard_header") >= 0
    assert _one(con, f"SELECT max(greatest({DAYS})) FROM psa_timecard_header") <= 24
    assert _one(con, f"SELECT count(*) FROM psa_timecard_header WHERE {NOT_A_PROJECT}") == 0
    duplicates = f"SELECT count(*) FROM psa_timecard_header {SAME_WEEK} HAVING count(*) > 1"
    assert _one(con, f"SELECT count(*) FROM ({duplicates})") == 0
    foreign = "SELECT count(*) FROM erp_subsidiary WHERE iselimination = 'F' AND currency <> 1"
    expected = _one(con, "SELECT count(*) FROM erp_accounting_period") * _one(con, foreign)
    assert _one(con, "SELECT count(*) FROM erp_consolidated_exchange_rate") == expected
    assert _one(con, f"SELECT count(*) FROM ({APPROVED_DAY_HOURS}) WHERE h <> 0 AND d >= DATE '{AS_OF}'") == 0
    assert json.loads((clean / MANIFEST).read_text(encoding="utf-8"))["defects"] == {}


DAY_HOURS = (
    "SELECT pse__Resource__c, pse__Start_Date__c + i::INT AS d, "
    f"[{DAYS}][i + 1] AS h FROM psa_timecard_header, range(7) r(i)"
)
INTEGRITY = {
    "assignments": "SELECT count(*) FROM psa_assignment"
    " WHERE pse__Project__c NOT IN (SELECT Id FROM psa_project)"
    " OR pse__Resource__c NOT IN (SELECT Id FROM psa_contact)"
    " OR pse__Schedule__c NOT IN (SELECT Id FROM psa_schedule)",
    "timecard-assignment": "SELECT count(*) FROM psa_timecard_header t"
    " JOIN psa_assignment a ON a.Id = t.pse__Assignment__c"
    " WHERE a.pse__Project__c <> t.pse__Project__c OR a.pse__Resource__c <> t.pse__Resource__c",
    "billable-flags": "SELECT count(*) FROM psa_timecard_header t"
    " JOIN psa_project p ON p.Id = t.pse__Project__c"
    " WHERE t.pse__Billable__c <> p.pse__Is_Billable__c"
    " OR (t.pse__Assignment__c IS NULL) = p.pse__Is_Billable__c",
    "timecard-totals": f"SELECT count(*) FROM psa_timecard_header"
    f" WHERE abs(pse__Total_Hours__c - list_sum([{DAYS}])) > 0.001 OR dayofweek(pse__Start_Date__c) <> 1",
    "project-opportunity": "SELECT count(*) FROM psa_project p"
    " LEFT JOIN crm_opportunity o ON o.Id = p.pse__Opportunity__c"
    " WHERE p.pse__Is_Billable__c AND (o.Id IS NULL OR o.Amount <> p.pse__Bookings__c"
    " OR o.StageName <> 'Closed Won' OR o.AccountId <> p.pse__Account__c"
    " OR o.Legal_Entity__c <> p.Legal_Entity__c)",
    "project-entity": "SELECT count(*) FROM psa_project"
    " WHERE Legal_Entity__c NOT IN (SELECT externalid FROM erp_subsidiary)",
    "worker-entity": "SELECT count(*) FROM hris_worker"
    " WHERE Company_ID NOT IN (SELECT externalid FROM erp_subsidiary) OR Company_ID IS NULL",
    "contact-worker": "SELECT count(*) FROM psa_contact c"
    " LEFT JOIN hris_worker w ON w.Worker_ID = c.Workday_Worker_ID__c WHERE w.Worker_ID IS NULL",
    "customer-account": "SELECT count(*) FROM erp_customer"
    " WHERE custentity_sf_account_id NOT IN (SELECT Id FROM crm_account)",
    "transaction-refs": "SELECT count(*) FROM erp_transaction"
    " WHERE entity NOT IN (SELECT id FROM erp_customer)"
    " OR custbody_psa_project_id NOT IN (SELECT Id FROM psa_project)",
    "invoice-totals": 'SELECT count(*) FROM erp_transaction t JOIN (SELECT "transaction" id,'
    " sum(foreignamount) s FROM erp_transaction_line GROUP BY 1) l USING (id)"
    " WHERE abs(l.s - t.foreigntotal) > 0.001",
    "createdfrom": "SELECT count(*) FROM erp_transaction_line WHERE createdfrom IS NOT NULL"
    " AND createdfrom NOT IN (SELECT id FROM erp_transaction WHERE type = 'CustInvc')",
    "milestone-refs": "SELECT count(*) FROM erp_transaction_line"
    " WHERE custcol_psa_milestone_id NOT IN (SELECT Id FROM psa_milestone)",
    "employment": f"SELECT count(*) FROM ({DAY_HOURS}) t JOIN psa_contact c ON c.Id = t.pse__Resource__c"
    " JOIN hris_worker w ON w.Worker_ID = c.Workday_Worker_ID__c WHERE t.h <> 0 AND (t.d < w.Hire_Date::DATE"
    " OR t.d > coalesce(w.Termination_Date::DATE, DATE '2999-01-01') OR t.d >= DATE '2026-11-26')",
}


@pytest.mark.parametrize("sql", INTEGRITY.values(), ids=INTEGRITY.keys())
def test_referential_integrity_without_defects(clean: Path, sql: str) -> None:
    assert _one(_con(clean), sql) == 0


def test_small_firm_has_the_promised_variety(firm: Path) -> None:
    con = _con(firm)
    assert len(_distinct(con, "currency", "erp_subsidiary")) >= 2
    assert len(_distinct(con, "CurrencyIsoCode", "psa_project")) >= 2
    billing = _distinct(con, "pse__Billing_Type__c", "psa_project")
    assert {"Time and Materials", "Fixed Price", "Milestone", "Retainer"} <= billing
    assert _distinct(con, "pse__Status__c", "psa_timecard_header") == {
        "Saved",
        "Submitted",
        "Approved",
        "Rejected",
    }
    assert _distinct(con, "type", "erp_transaction") == {"CustInvc", "CustCred", "CustPymt"}
    pipeline = "SELECT count(*) FROM crm_opportunity WHERE NOT IsClosed AND CloseDate > DATE '2026-11-26'"
    assert _one(con, pipeline) > 0
    assert _one(con, "SELECT count(*) FROM psa_schedule WHERE pse__End_Date__c > DATE '2026-11-26'") > 0
    assert _one(con, "SELECT count(*) FROM psa_project WHERE NOT pse__Is_Billable__c") >= 2


def test_nothing_is_modified_after_as_of(firm: Path) -> None:
    for obj in SOURCE_OBJECTS:
        stamps = [f.name for f in obj.fields if f.type == "TIMESTAMP"]
        for record in _records(firm, obj) if stamps else []:
            assert all(record[name] < AS_OF.isoformat() for name in stamps), (obj.name, record)


def test_cli_prints_rows_and_defects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "--scale",
        "small",
        "--seed",
        "3",
        "--out",
        str(tmp_path),
        "--as-of",
        "2026-02-02",
        "--no-progress",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "psa/pse__Timecard_Header__c.csv" in out
    assert all(name in out for name in DEFECTS)
    assert _path(tmp_path, get("erp", "transaction")).exists()


def test_run_reports_defect_keys_and_rejects_unknown_scale(tmp_path: Path) -> None:
    result = run(tmp_path, scale="small", seed=9, as_of=AS_OF)
    cards = (tmp_path / "psa" / "pse__Timecard_Header__c.csv").read_text(encoding="utf-8")
    keys = result.defects["duplicate_timecard"] + result.defects["unknown_project"]
    assert all(key in cards for key in keys)
    with pytest.raises(ValueError, match="unknown scale"):
        run(tmp_path, scale="huge")
