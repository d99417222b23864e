"""The bad-input corpus: malformed exports, lossy values and stray files, each with the outcome a user sees.

A small firm (seven objects, every landing format) is loaded once; each case copies that
warehouse, drops one file in a fresh landing folder (a later batch `<stem>.2026-01-15.<ext>`
unless it names its own) and loads the case's object. Every case asserts:
- the outcome: the file fails with an error naming the file, the physical line, the field and the
  reason; or its bad rows are quarantined with exactly those; or it loads as stated;
- rows in = rows loaded + rows quarantined (and the quarantine holds the file's bad rows only);
- every other table (raw tables, quarantine, load log) is unchanged, and a failed file leaves its
  own raw table unchanged too.

Kind: unit (fast; `make test-fast`).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from orchestration.contract import SourceObject
from orchestration.defs.ingest.loader import LandingFileError, LoadResult, load_object, q
from tests import landing_records
from tests.landing_records import ACCOUNT, FX, LINE, TARGET, TIMECARD, TRANSACTION, WORKER, record, render

pytestmark = pytest.mark.unit

OBJECTS = (ACCOUNT, TIMECARD, TRANSACTION, LINE, FX, WORKER, TARGET)
BATCH = "2026-01-15"


# --- the firm before every case ------------------------------------------------------------------


def account(id_: str, name: str, stamp: str = "2025-06-01T09:00:00.000Z", **values) -> dict:
    return record(ACCOUNT, Id=id_, Name=name, SystemModstamp=stamp, **values)


def timecard(id_: str, monday: str = "8.00", stamp: str = "2025-06-02T09:00:00.000Z", **values) -> dict:
    fields = {"pse__Resource__c": "C1", "pse__Project__c": "P1", "pse__Start_Date__c": "2025-06-02"}
    fields |= {"pse__Status__c": "Approved", "pse__Monday_Hours__c": monday, "SystemModstamp": stamp}
    return record(TIMECARD, Id=id_, **(fields | values))


def transaction(id_: int, total: object = 1000.0, stamp: str = "2025-06-01 09:00:00", **values) -> dict:
    return record(
        TRANSACTION, **({"id": id_, "type": "CustInvc", "foreigntotal": total, "lastmodifieddate": stamp} | values)
    )


def line(key: object, amount: object = 100.0, stamp: str = "2025-06-01 09:00:00", **values) -> dict:
    fields = {"uniquekey": key, "transaction": 5001, "foreignamount": amount, "linelastmodifieddate": stamp}
    return record(LINE, **(fields | values))


def fx(id_: int, average: object = 1.27, **values) -> dict:
    fields = {"id": id_, "postingperiod": 100, "fromcurrency": 2, "tocurrency": 1, "averagerate": average}
    return record(FX, **(fields | values))


def worker(id_: str, stamp: str = "2025-06-01T09:00:00", **values) -> dict:
    fields = {"Worker_ID": id_, "Last_Updated": stamp, "Job_Profile": "Consultant", "Termination_Date": None}
    return record(WORKER, **(fields | values))


def target(month: str, revenue: str = "1000.00", **values) -> dict:
    keys = {"Version": "BUD26", "Legal Entity": "PSF-US", "Practice": "Strategy", "Month": month}
    return record(TARGET, **keys, **{"Revenue Target": revenue}, **values)


BASE: dict[SourceObject, list[dict]] = {
    ACCOUNT: [account("A1", "Acme"), account("A2", "Beta", IsDeleted="true")],
    TIMECARD: [timecard("T1"), timecard("T2", monday="7.50")],
    TRANSACTION: [transaction(5001, 1000.0, memo="June invoice"), transaction(5002, 250.5, memo="July invoice")],
    LINE: [line(100001, 1000.0), line(100002, 250.5)],
    FX: [fx(1, 1.27), fx(2, 1.1)],
    WORKER: [worker("W1", Termination_Date="2025-03-31"), worker("W2")],
    TARGET: [target("Jan 26"), target("Feb 26", "1100.00")],
}


@pytest.fixture(scope="module")
def firm(tmp_path_factory) -> Path:
    """The firm's warehouse with every base export loaded."""
    folder = tmp_path_factory.mktemp("firm")
    for obj, records in BASE.items():
        landing_records.write(folder / "landing", obj, records)
    with duckdb.connect(str(folder / "warehouse.duckdb")) as con:
        for obj in OBJECTS:
            result = load_object(con, obj, folder / "landing", batch_id="base")
            assert result.rows_quarantined == 0 and result.row_count == len(BASE[obj])
    return folder / "warehouse.duckdb"


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every table's rows, sorted, load times left out (they differ by run, not by content)."""
    tables = {f"{o.schema}.{o.name}": o for o in OBJECTS}
    shot = {}
    for name, obj in tables.items():
        cols = ", ".join(q(f.name) for f in obj.fields) + ", _source_file, _batch_id"
        shot[name] = con.execute(f"select {cols} from {name} order by all").fetchall()
    shot["quarantine"] = con.execute(
        "select table_name, source_file, source_row, rule, field, value, reason "
        "from ingest_meta.quarantine order by all"
    ).fetchall()
    shot["loaded_files"] = con.execute(
        "select table_name, source_file, rows_read, rows_inserted, rows_updated, rows_quarantined "
        "from ingest_meta.loaded_files order by all"
    ).fetchall()
    return shot


# --- the cases ---------------------------------------------------------------------------------------


@dataclass
class Case:
    """One bad (or surprising) file and what a user must see."""

    name: str
    obj: SourceObject
    content: bytes
    file: str | None = None  # path under the landing folder; default: the object's batch file
    # An error: (physical line or None, field or None, reason pattern).
    error: tuple[int | None, str | None, str] | None = None
    # Quarantined rows: (physical line, field, rule, reason pattern), in line order.
    quarantined: list[tuple[int, str, str, str]] = field(default_factory=list)
    rows_in: int | None = None  # records in the file (checked against loaded + quarantined)
    # Rows of the object's table that must read so afterwards: (sql over the table, expected rows).
    expect: list[tuple[str, list[tuple]]] = field(default_factory=list)
    loaded: bool = True  # whether the file ends up marked loaded
    check: Callable[[LoadResult], bool] | None = None  # what the load reports besides: must return True


def csv_bytes(obj: SourceObject, rows: list[dict], header: list[str] | None = None) -> bytes:
    return render(obj, rows, header)


def jsonl(*lines: str) -> bytes:
    return "".join(f"{text}\n" for text in lines).encode()


def js(row: dict) -> str:
    return json.dumps(row)


def without(row: dict, *names: str) -> dict:
    return {k: v for k, v in row.items() if k not in names}


def renamed(row: dict, old: str, new: str) -> dict:
    return {new if k == old else k: v for k, v in row.items()}


def workday(entries: list[dict]) -> bytes:
    return json.dumps({"Report_Entry": [{k: str(v) for k, v in e.items() if v is not None} for e in entries]}).encode()


ACCOUNT_FIELDS = list(ACCOUNT.field_names)
ACCOUNT_HEADER = ",".join(ACCOUNT_FIELDS)
NAME = 'select "Id", "Name" from raw_crm.account order by 1'
TOTALS = "select id, foreigntotal::varchar, memo from raw_erp.transaction order by 1"
AMOUNTS = "select uniquekey, foreignamount::varchar from raw_erp.transaction_line order by 1"
BASE_TOTALS = [(5001, "1000.00", "June invoice"), (5002, "250.50", "July invoice")]
BASE_AMOUNTS = [(100001, "1000.00"), (100002, "250.50")]


def _not_read(pattern: str) -> Callable[[LoadResult], bool]:
    def check(result: LoadResult) -> bool:
        unmatched = result.files_unmatched
        alone = not result.files_accounted and result.files_loaded == [] and len(unmatched) == 1
        return alone and re.search(pattern, unmatched[0]) is not None

    return check


CASES = [
    # --- fields the file lacks ----------------------------------------------------------------------
    Case(
        "jsonl_field_in_no_record",
        TRANSACTION,
        jsonl(js(without(transaction(5001, stamp="2025-07-01 09:00:00"), "foreigntotal"))),
        error=(None, "foreigntotal", r"missing field\(s\): no record of the file has foreigntotal"),
    ),
    Case(
        "jsonl_field_renamed",
        LINE,
        jsonl(js(renamed(line(100001, stamp="2025-07-01 09:00:00"), "foreignamount", "foreign_amount"))),
        error=(None, "foreignamount", r"no record of the file has foreignamount; did you mean: .*'foreign_amount'"),
    ),
    Case(
        "workday_field_in_no_entry",
        WORKER,
        workday([without(worker("W1", "2025-07-01T09:00:00"), "Job_Profile")]),
        error=(None, "Job_Profile", r"no record of the file has Job_Profile"),
    ),
    Case(
        "csv_column_missing",
        ACCOUNT,
        csv_bytes(
            ACCOUNT, [account("A1", "Acme", "2025-07-01T09:00:00.000Z")], [f for f in ACCOUNT_FIELDS if f != "Name"]
        ),
        error=(1, "Name", r"missing column\(s\) in header: Name"),
    ),
    Case(
        "anaplan_column_in_other_case",
        TARGET,
        csv_bytes(TARGET, [target("Mar 26")]).replace(b"Revenue Target", b"Revenue target"),
        error=(
            1,
            "Revenue Target",
            r"did you mean: 'Revenue Target' \(the file has 'Revenue target': names are exact\)",
        ),
    ),
    Case(
        "csv_optional_column_absent_keeps_stored",
        ACCOUNT,
        csv_bytes(
            ACCOUNT,
            [account("A2", "Beta Ltd", "2025-07-01T09:00:00.000Z")],
            [f for f in ACCOUNT_FIELDS if f != "IsDeleted"],
        ),
        rows_in=1,
        expect=[
            (
                'select "Id", "Name", "IsDeleted" from raw_crm.account order by 1',
                [("A1", "Acme", False), ("A2", "Beta Ltd", True)],
            )
        ],
        check=lambda r: list(r.absent_fields.values()) == [["IsDeleted"]],
    ),
    Case(
        "jsonl_optional_field_absent_keeps_stored",
        TRANSACTION,
        jsonl(js(without(transaction(5001, 1200.0, "2025-07-01 09:00:00"), "memo"))),
        rows_in=1,
        expect=[(TOTALS, [(5001, "1200.00", "June invoice"), (5002, "250.50", "July invoice")])],
    ),
    Case(
        "workday_optional_field_absent_keeps_stored",
        WORKER,
        workday([worker("W1", "2025-07-01T09:00:00", Region="EMEA")]),
        rows_in=1,
        expect=[
            (
                'select "Worker_ID", "Region", "Termination_Date"::varchar from raw_hris.worker order by 1',
                [("W1", "EMEA", "2025-03-31"), ("W2", "x", None)],
            )
        ],
    ),
    Case(
        "workday_entry_omits_what_others_carry_means_empty",
        WORKER,
        workday(
            [worker("W1", "2025-07-01T09:00:00", Termination_Date=None), worker("W3", Termination_Date="2025-05-31")]
        ),
        rows_in=2,
        expect=[
            (
                'select "Worker_ID", "Termination_Date"::varchar from raw_hris.worker order by 1',
                [("W1", None), ("W2", None), ("W3", "2025-05-31")],
            )
        ],
    ),
    # --- values that do not convert exactly --------------------------------------------------------------
    Case(
        "integer_key_with_fraction",
        LINE,
        jsonl(js(line(100002.4, 999.0, "2025-07-01 09:00:00")), js(line(100003, 5.0))),
        quarantined=[(1, "uniquekey", "lossless", r"'100002.4' is not a whole number: INTEGER would round it")],
        rows_in=2,
        expect=[(AMOUNTS, [*BASE_AMOUNTS, (100003, "5.00")])],
    ),
    Case(
        "integer_with_zero_fraction_is_exact",
        LINE,
        jsonl(js(line(100003.0, 5.0))),
        rows_in=1,
        expect=[(AMOUNTS, [*BASE_AMOUNTS, (100003, "5.00")])],
    ),
    Case(
        "decimal_with_more_places_than_the_contract",
        TIMECARD,
        csv_bytes(TIMECARD, [timecard("T3", monday="7.125"), timecard("T4")]),
        quarantined=[
            (
                2,
                "pse__Monday_Hours__c",
                "lossless",
                r"'7.125' has more than 2 decimal places: DECIMAL\(9,2\) would round it",
            )
        ],
        rows_in=2,
    ),
    Case(
        "decimal_places_that_would_round_away",
        TRANSACTION,
        jsonl(js(transaction(5003, "10.001"))),
        quarantined=[(1, "foreigntotal", "lossless", r"'10.001' has more than 2 decimal places")],
        rows_in=1,
        expect=[(TOTALS, BASE_TOTALS)],
    ),
    Case(
        # The quarantine quotes the number as the file wrote it, not as a double prints (1e-06).
        "json_number_below_the_contract_scale",
        TRANSACTION,
        jsonl(js(transaction(5003, "PLACEHOLDER"))).replace(b'"PLACEHOLDER"', b"0.000001"),
        quarantined=[(1, "foreigntotal", "lossless", r"'0\.000001' has more than 2 decimal places")],
        rows_in=1,
        expect=[(TOTALS, BASE_TOTALS)],
    ),
    Case(
        "json_number_beyond_double_precision",
        TRANSACTION,
        b'{"id": 5003, "tranid": "x", "type": "CustInvc", "trandate": "2025-01-01", "duedate": null, "entity": 1, '
        b'"subsidiary": 1, "currency": 1, "exchangerate": 1.0, "foreigntotal": 99999999999999.99, "status": "Open", '
        b'"memo": null, "custbody_psa_project_id": null, "createddate": "2025-01-01 00:00:00", '
        b'"lastmodifieddate": "2025-07-01 09:00:00"}\n',
        rows_in=1,
        expect=[(TOTALS, [*BASE_TOTALS, (5003, "99999999999999.99", None)])],
    ),
    Case(
        "json_number_with_exponent",
        FX,
        jsonl(js(fx(3, average=None) | {"averagerate": "PLACEHOLDER"})).replace(b'"PLACEHOLDER"', b"1.2345e-1"),
        rows_in=1,
        expect=[
            (
                "select id, averagerate::varchar from raw_erp.consolidated_exchange_rate order by 1",
                [(1, "1.27000000"), (2, "1.10000000"), (3, "0.12345000")],
            )
        ],
    ),
    Case(
        "rate_with_nine_places",
        FX,
        jsonl(js(fx(3, average="1.123456789"))),
        quarantined=[(1, "averagerate", "lossless", r"'1.123456789' has more than 8 decimal places: DECIMAL\(18,8\)")],
        rows_in=1,
    ),
    Case(
        "decimal_out_of_range",
        TRANSACTION,
        jsonl(js(transaction(5003, "12345678901234567.00"))),
        quarantined=[(1, "foreigntotal", "range", r"'12345678901234567.00' is out of range for DECIMAL\(18,2\)")],
        rows_in=1,
    ),
    Case(
        "integer_out_of_range",
        LINE,
        jsonl(js(line(3000000000))),
        quarantined=[(1, "uniquekey", "range", r"'3000000000' is out of range for INTEGER")],
        rows_in=1,
    ),
    Case(
        "date_with_a_time_of_day",
        TIMECARD,
        csv_bytes(TIMECARD, [timecard("T3", pse__Start_Date__c="2026-06-01 10:00:00")]),
        quarantined=[(2, "pse__Start_Date__c", "lossless", r"has a time of day: DATE would drop it")],
        rows_in=1,
    ),
    Case(
        "timestamp_with_negative_offset_is_converted_to_utc",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Gamma", "2026-07-01T09:00:00.000-07:00")]),
        rows_in=1,
        expect=[
            ('select "SystemModstamp"::varchar from raw_crm.account where "Id" = \'A3\'', [("2026-07-01 16:00:00",)])
        ],
    ),
    Case(
        "timestamp_with_salesforce_offset",
        ACCOUNT,
        csv_bytes(
            ACCOUNT, [account("A3", "Gamma", "2026-07-01T09:00:00.000+0000", CreatedDate="2026-06-30T23:30:00+05:30")]
        ),
        rows_in=1,
        expect=[
            (
                'select "SystemModstamp"::varchar, "CreatedDate"::varchar from raw_crm.account where "Id" = \'A3\'',
                [("2026-07-01 09:00:00", "2026-06-30 18:00:00")],
            )
        ],
    ),
    Case(
        "timestamp_below_a_microsecond",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Gamma", "2026-07-01T09:00:00.1234567Z")]),
        quarantined=[(2, "SystemModstamp", "lossless", r"has digits below a microsecond")],
        rows_in=1,
    ),
    Case(
        "impossible_date",
        WORKER,
        workday([worker("W3", Hire_Date="2026-02-30")]),
        quarantined=[(1, "Hire_Date", "type", r"cannot convert '2026-02-30' to DATE")],
        rows_in=1,
    ),
    Case(
        "boolean_not_a_boolean",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Gamma", IsDeleted="maybe")]),
        quarantined=[(2, "IsDeleted", "type", r"cannot convert 'maybe' to BOOLEAN")],
        rows_in=1,
    ),
    Case(
        "decimal_comma",
        TIMECARD,
        csv_bytes(TIMECARD, [timecard("T3", monday="7,5")]),
        quarantined=[(2, "pse__Monday_Hours__c", "type", r"cannot convert '7,5' to DECIMAL\(9,2\)")],
        rows_in=1,
    ),
    # --- required values ---------------------------------------------------------------------------------------
    Case(
        "required_value_only_spaces",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "   "), account("A4", "Delta")]),
        quarantined=[(2, "Name", "required", r"required value is blank \(only spaces\)")],
        rows_in=2,
        expect=[(NAME, [("A1", "Acme"), ("A2", "Beta"), ("A4", "Delta")])],
    ),
    Case(
        "required_value_empty_string_in_json",
        TRANSACTION,
        jsonl(js(transaction(5003, type="")), js(transaction(5004))),
        quarantined=[(1, "type", "required", r"required value is empty")],
        rows_in=2,
    ),
    Case(
        "required_key_left_out_of_a_workday_entry",
        WORKER,
        workday([worker("W3"), without(worker("W4"), "Worker_ID")]),
        quarantined=[(2, "Worker_ID", "required", r"required value is empty")],
        rows_in=2,
    ),
    # --- files nobody reads --------------------------------------------------------------------------------------
    Case(
        "misspelled_file_name",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Gamma")]),
        file="crm/Acount.csv",
        loaded=False,
        check=_not_read(r"Acount\.csv: not a contract file name .*did you mean Account\.csv"),
    ),
    Case(
        "file_name_in_other_case",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Gamma")]),
        file="crm/account.csv",
        loaded=False,
        check=_not_read(r"account\.csv: not a contract file name \(names are case-sensitive\)"),
    ),
    Case(
        "file_in_another_systems_folder",
        ACCOUNT,
        b"Id\n",
        file="crm/pse__Proj__c.csv",
        loaded=False,
        check=_not_read(r"pse__Proj__c\.csv: named like psa's pse__Proj__c: move it to psa/"),
    ),
    Case(
        "system_folder_in_upper_case",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Gamma")]),
        file="CRM/Account.csv",
        loaded=False,
        check=_not_read(r"folder 'CRM' is not read: system folders are lower case \('crm'\)"),
    ),
    Case(
        "hidden_temporary_file_is_ignored",
        ACCOUNT,
        b"partial upload",
        file="crm/.Account.csv.part",
        loaded=False,
        check=lambda r: r.files_accounted and r.files_unmatched == [] and r.files_loaded == [],
    ),
    # --- where and why ----------------------------------------------------------------------------------------------
    Case(
        "not_utf8_on_line_4",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Gamma"), account("A4", "Delta"), account("A5", "Caf\u00e9")]).replace(
            "Caf\u00e9".encode(), b"Caf\xe9"
        ),
        error=(4, None, r"not UTF-8: byte 0xE9 at column 7"),
    ),
    Case(
        "utf8_bom_is_accepted",
        ACCOUNT,
        b"\xef\xbb\xbf" + csv_bytes(ACCOUNT, [account("A3", "Gamma")]),
        rows_in=1,
        expect=[(NAME, [("A1", "Acme"), ("A2", "Beta"), ("A3", "Gamma")])],
    ),
    Case(
        "utf8_bom_in_jsonl_is_accepted",
        LINE,
        b"\xef\xbb\xbf" + jsonl(js(line(100003, 5.0))),
        rows_in=1,
        expect=[(AMOUNTS, [*BASE_AMOUNTS, (100003, "5.00")])],
    ),
    Case(
        "duplicate_column",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Gamma")]).replace(b"Type,", b"Name,", 1),
        error=(1, "Name", r"duplicate column 'Name' in the header \(columns 2 and 3\)"),
    ),
    Case(
        "blank_column_name",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Gamma")]).replace(b"\n", b",\n", 1).replace(b"false\n", b"false,\n"),
        error=(1, None, r"header column 10 has no name"),
    ),
    Case(
        "quoted_line_break_before_a_bad_row",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Two\nLines"), account("A4", "Delta", "last week")]),
        quarantined=[(4, "SystemModstamp", "type", r"cannot convert 'last week' to TIMESTAMP")],
        rows_in=2,
        expect=[('select "Name" from raw_crm.account where "Id" = \'A3\'', [("Two\nLines",)])],
    ),
    Case(
        "blank_lines_in_jsonl_before_a_bad_record",
        LINE,
        jsonl(js(line(100003, 5.0)), "", "  ", js(line(100004, "5.555"))),
        quarantined=[(4, "foreignamount", "lossless", r"'5.555' has more than 2 decimal places")],
        rows_in=2,
    ),
    Case(
        "malformed_json_after_a_blank_line",
        LINE,
        jsonl(js(line(100003)), "", '{"uniquekey": 100004, "transaction": 5001,', js(line(100005))),
        error=(3, None, r"malformed JSON: the record ends before its JSON is complete"),
    ),
    Case(
        "json_syntax_error_names_its_column",
        LINE,
        jsonl(js(line(100003)), '{"uniquekey": 100004 "transaction": 5001}'),
        error=(2, None, r"malformed JSON: Expecting ',' delimiter at column 22"),
    ),
    Case(
        "jsonl_record_that_is_not_an_object",
        LINE,
        jsonl(js(line(100003)), "[100004, 5001]"),
        error=(2, None, r"a record must be a JSON object, found ARRAY"),
    ),
    Case(
        "jsonl_field_twice_in_a_record",
        LINE,
        jsonl(js(line(100003)), js(line(100004)).replace('"memo"', '"foreignamount": 1.0, "memo"')),
        error=(2, "foreignamount", r"field 'foreignamount' appears more than once in the record"),
    ),
    Case(
        "unterminated_quote",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Gamma")])
        + b'A4,"Delta,Customer,Tech,US,USD,2025-01-01T00:00:00.000Z,2025-06-01T09:00:00.000Z,false\n',
        error=(3, None, r"a quoted field is never closed \(unterminated quote\)"),
    ),
    Case(
        "row_with_an_extra_field",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A3", "Gamma"), account("A4", "Delta")]).replace(b"Delta,", b"Delta,extra,"),
        error=(3, None, r"expected 9 fields \(the header's\), found 10"),
    ),
    Case(
        "truncated_last_row",
        TIMECARD,
        csv_bytes(TIMECARD, [timecard("T3")]) + b"T4,TC-4",
        error=(3, None, r"expected 19 fields \(the header's\), found 2"),
    ),
    Case(
        "workday_document_malformed",
        WORKER,
        b'{"Report_Entry": [\n{"Worker_ID": "W3"},\n{"Worker_ID" "W4"}\n]}',
        error=(3, None, r"malformed JSON: Expecting ':' delimiter at column 14"),
    ),
    Case(
        "workday_document_without_report_entry",
        WORKER,
        b'{"Report_Entries": []}',
        error=(1, None, r"not a Workday RaaS report: no Report_Entry array"),
    ),
    Case(
        "empty_file",
        ACCOUNT,
        b"",
        error=(1, None, r"empty file: no header row"),
    ),
    Case(
        "not_utf8_in_the_header",
        TARGET,
        csv_bytes(TARGET, [target("Mar 26")]).replace(b"Practice", b"Pr\xe4ctice", 1),
        error=(1, None, r"not UTF-8: byte 0xE4 at column"),
    ),
    # --- what the source did to a record ----------------------------------------------------------------------------
    Case(
        "changed_without_a_new_stamp",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A1", "Acme Renamed")]),
        rows_in=1,
        expect=[(NAME, [("A1", "Acme Renamed"), ("A2", "Beta")])],
        check=lambda r: r.rows_changed_same_stamp == 1 and r.rows_updated == 1,
    ),
    Case(
        "older_version_arrives_late",
        ACCOUNT,
        csv_bytes(ACCOUNT, [account("A1", "Acme (old)", "2025-01-01T09:00:00.000Z")]),
        rows_in=1,
        expect=[(NAME, [("A1", "Acme"), ("A2", "Beta")])],
        check=lambda r: r.rows_unchanged == 1 and r.rows_changed_same_stamp == 0,
    ),
    Case(
        "same_key_twice_in_a_file_newest_wins",
        TIMECARD,
        csv_bytes(
            TIMECARD,
            [timecard("T1", "6.00", "2025-07-01T09:00:00.000Z"), timecard("T1", "5.00", "2025-06-30T09:00:00.000Z")],
        ),
        rows_in=2,
        expect=[
            (
                'select "Id", "pse__Monday_Hours__c"::varchar from raw_psa.timecard_header order by 1',
                [("T1", "6.00"), ("T2", "7.50")],
            )
        ],
        check=lambda r: r.duplicate_keys == 1 and r.rows_updated == 1,
    ),
    Case(
        "mostly_bad_file_is_refused_whole",
        TIMECARD,
        csv_bytes(TIMECARD, [timecard("T3"), *[timecard(f"T{i}", monday="8,0") for i in range(4, 16)]]),
        error=(
            3,
            "pse__Monday_Hours__c",
            r"cannot convert '8,0' to DECIMAL\(9,2\) \(12 row\(s\) break this rule; 12 of 13 rows",
        ),
    ),
    Case(
        "no_cursor_object_newest_file_wins_where_values_differ",
        FX,
        jsonl(js(fx(1, 1.27)), js(fx(2, 1.12))),
        rows_in=2,
        expect=[
            (
                "select id, averagerate::varchar from raw_erp.consolidated_exchange_rate order by 1",
                [(1, "1.27000000"), (2, "1.12000000")],
            )
        ],
        check=lambda r: (r.rows_updated, r.rows_unchanged) == (1, 1),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, firm: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(firm, warehouse)
    landing = tmp_path / "landing"
    path = landing / (case.file or f"{case.obj.system}/{case.obj.file_stem}.{BATCH}.{case.obj.extension}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(case.content)
    table = f"{case.obj.schema}.{case.obj.name}"
    with duckdb.connect(str(warehouse)) as con:
        before = snapshot(con)
        if case.error:
            expected_line, expected_field, reason = case.error
            with pytest.raises(LandingFileError) as err:
                load_object(con, case.obj, landing, batch_id="case")
            message = str(err.value)
            assert err.value.path == str(path) and message.startswith(str(path)), message
            assert err.value.line == expected_line, message
            if expected_line is not None:
                assert f"line {expected_line}" in message
            assert err.value.field == expected_field, message
            if expected_field is not None:
                assert f"field {expected_field!r}" in message
            assert re.search(reason, err.value.reason), message
            assert snapshot(con) == before  # nothing half-written, in any table
            return
        result = load_object(con, case.obj, landing, batch_id="case")
        after = snapshot(con)

    # rows in = rows loaded + rows quarantined
    assert result.batch_rows_accounted, result
    if case.rows_in is not None:
        assert result.rows_read == case.rows_in
    assert result.rows_quarantined == len(case.quarantined)
    quarantine = [row for row in after["quarantine"] if row not in before["quarantine"]]
    assert [(r[1], r[2], r[4], r[3]) for r in quarantine] == [
        (str(path), ln, fld, rule) for ln, fld, rule, _ in case.quarantined
    ]
    for row, (_, _, _, reason) in zip(quarantine, case.quarantined, strict=True):
        assert re.search(reason, row[6]), row

    # the file is marked loaded (or not), and nothing else changed
    logged = [row for row in after["loaded_files"] if row not in before["loaded_files"]]
    assert [row[1] for row in logged] == ([str(path)] if case.loaded else [])
    for name in before:
        if name not in (table, "quarantine", "loaded_files"):
            assert after[name] == before[name], f"{name} changed"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for sql, rows in case.expect:
            assert con.execute(sql).fetchall() == rows, sql
    if not case.loaded:
        assert after[table] == before[table]
    if case.check:
        assert case.check(result) is True, result


def test_the_corpus_covers_every_class() -> None:
    """At least 40 cases, across every format and every outcome."""
    assert len(CASES) >= 40
    assert {c.obj.format for c in CASES} == {o.format for o in OBJECTS}
    assert {r[2] for c in CASES for r in c.quarantined} >= {"type", "lossless", "range", "required"}
    assert sum(1 for c in CASES if c.error) >= 10 and sum(1 for c in CASES if not c.loaded) >= 4
