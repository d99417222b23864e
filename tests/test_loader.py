"""The loader against hand-written landing files: merge rules, idempotence and named errors.

Kind: unit (fast; `make test-fast`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.ingest.loader import LandingFileError, load_object, load_relation
from tests import landing_records
from tests.landing_records import ACCOUNT, CUSTOMER, TARGET, WORKER, record

pytestmark = pytest.mark.unit

ACCOUNT_HEADER = "Id,Name,Type,Industry,BillingCountry,CurrencyIsoCode,CreatedDate,SystemModstamp,IsDeleted"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _account_row(account_id: str, name: str, modified: str) -> str:
    return f"{account_id},{name},Customer,Tech,US,USD,2025-01-01T00:00:00.000Z,{modified},false"


def _write_accounts(path: Path, *rows: str, header: str = ACCOUNT_HEADER) -> Path:
    """An Account CSV export: the header, then one line per row."""
    return _write(path, "\n".join([header, *rows]) + "\n")


def _write_two_account_batches(landing: Path) -> None:
    """Salesforce's Account export, then a later batch with a new column: A1 changed, A2 older than stored, A3 new."""
    _write_accounts(
        landing / "crm/Account.csv",
        _account_row("A1", "Acme", "2025-01-02T00:00:00.000Z"),
        _account_row("A2", "Beta", "2025-01-05T00:00:00.000Z"),
    )
    _write_accounts(
        landing / "crm/Account.2025-02-01.csv",
        _account_row("A1", "Acme Corp", "2025-02-01T00:00:00.000Z") + ",x",
        _account_row("A2", "Stale Beta", "2025-01-01T00:00:00.000Z") + ",y",
        _account_row("A3", "Gamma", "2025-02-01T00:00:00.000Z") + ",z",
        header=ACCOUNT_HEADER + ",New_Field__c",
    )


def _write_two_target_batches(landing: Path) -> None:
    """Anaplan's Targets export, then a later batch that changes January's revenue target and adds February's."""
    header = ",".join(TARGET.field_names)
    _write(landing / "planning/Targets.csv", f"{header}\nBUD26,PSF-US,Strategy,Jan 26,USD,1000.00,10,0.75,2\n")
    _write(
        landing / "planning/Targets.2026-02.csv",
        f"{header}\nBUD26,PSF-US,Strategy,Jan 26,USD,1250.50,10,0.75,2\n"
        "BUD26,PSF-US,Strategy,Feb 26,USD,900.00,10,0.75,2\n",
    )


@pytest.fixture
def con(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        yield connection


def _rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_newer_file_merges_by_key_and_latest_modified_wins(con, tmp_path: Path) -> None:
    _write_two_account_batches(tmp_path)
    result = load_object(con, ACCOUNT, tmp_path, batch_id="b1")
    assert (result.rows_read, result.rows_inserted, result.rows_updated, result.rows_unchanged) == (5, 3, 1, 1)
    assert result.extra_fields == ["New_Field__c"]
    assert _rows(con, 'select "Id", "Name" from raw_crm.account order by 1') == [
        ("A1", "Acme Corp"),
        ("A2", "Beta"),
        ("A3", "Gamma"),
    ]
    source, batch = _rows(con, "select _source_file, _batch_id from raw_crm.account where \"Id\" = 'A3'")[0]
    assert source.endswith("crm/Account.2025-02-01.csv") and batch == "b1"


def test_loading_the_same_file_again_adds_nothing(con, tmp_path: Path) -> None:
    path = _write_accounts(tmp_path / "crm/Account.csv", _account_row("A1", "Acme", "2025-01-02T00:00:00.000Z"))
    load_object(con, ACCOUNT, tmp_path)
    again = load_object(con, ACCOUNT, tmp_path)
    assert again.files_skipped == [str(path)] and again.rows_read == 0 and again.row_count == 1
    os.utime(path, (1_000_000_000, 1_000_000_000))  # touched: re-read, but nothing changes
    touched = load_object(con, ACCOUNT, tmp_path)
    assert (touched.rows_read, touched.rows_inserted, touched.rows_updated, touched.row_count) == (1, 0, 0, 1)


QUARANTINE_COLUMNS = "table_name, source_file, source_row, record_key, rule, field, value, reason"


def test_bad_value_goes_to_quarantine_with_rule_and_reason(con, tmp_path: Path) -> None:
    good = _write_accounts(tmp_path / "crm/Account.csv", _account_row("A1", "Acme", "2025-01-02T00:00:00.000Z"))
    bad = _write_accounts(
        tmp_path / "crm/Account.2025-03-01.csv",
        _account_row("A2", "Ok", "2025-03-01T00:00:00.000Z"),
        _account_row("A3", "Bad", "yesterday"),
    )
    result = load_object(con, ACCOUNT, tmp_path, batch_id="b1")
    assert _rows(con, 'select "Id" from raw_crm.account order by 1') == [("A1",), ("A2",)]
    assert _rows(con, f"select {QUARANTINE_COLUMNS} from ingest_meta.quarantine") == [
        (
            "raw_crm.account",
            str(bad),
            3,
            "A3",
            "type",
            "SystemModstamp",
            "yesterday",
            "cannot convert 'yesterday' to TIMESTAMP",
        )
    ]
    record = json.loads(_rows(con, "select record from ingest_meta.quarantine")[0][0])
    assert (record["Name"], record["BillingCountry"]) == ("Bad", "US")  # the whole row is kept, never dropped
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert result.batch_rows_accounted and result.quarantine_rules == {"type: SystemModstamp": 1}
    assert _rows(
        con, "select source_file, rows_read, rows_quarantined from ingest_meta.loaded_files order by loaded_at, 2"
    ) == [
        (str(good), 1, 0),
        (str(bad), 2, 1),
    ]


def test_a_bad_record_read_again_is_counted_but_kept_once(con, tmp_path: Path) -> None:
    path = _write_accounts(tmp_path / "crm/Account.csv", _account_row("A3", "Bad", "yesterday"))
    first = load_object(con, ACCOUNT, tmp_path)
    os.utime(path, (1_000_000_000, 1_000_000_000))  # re-exported unchanged: read again
    second = load_object(con, ACCOUNT, tmp_path)
    assert (first.rows_quarantined, second.rows_quarantined) == (1, 1)
    assert _rows(con, "select count(*) from ingest_meta.quarantine") == [(1,)]


def test_every_broken_rule_of_a_row_is_listed(con, tmp_path: Path) -> None:
    _write_accounts(tmp_path / "crm/Account.csv", ",Nameless,Customer,Tech,US,USD,soon,never,maybe")
    result = load_object(con, ACCOUNT, tmp_path)
    assert result.rows_quarantined == 1 and result.row_count == 0
    rule, field_name, failures = _rows(con, "select rule, field, failures from ingest_meta.quarantine")[0]
    assert (rule, field_name) == ("required", "Id")  # the first broken rule, in contract field order
    assert [(f["rule"], f["field"]) for f in json.loads(failures)] == [
        ("required", "Id"),
        ("type", "CreatedDate"),
        ("type", "SystemModstamp"),
        ("type", "IsDeleted"),
    ]


def test_mostly_bad_file_is_a_schema_change_and_loads_nothing(con, tmp_path: Path) -> None:
    rows = [_account_row(f"A{i}", "Acme", f"{i} days ago") for i in range(12)]
    good = _write_accounts(tmp_path / "crm/Account.csv", _account_row("A1", "Acme", "2025-01-02T00:00:00.000Z"))
    bad = _write_accounts(tmp_path / "crm/Account.2025-03-01.csv", *rows)
    with pytest.raises(LandingFileError) as err:
        load_object(con, ACCOUNT, tmp_path)
    assert str(err.value) == (
        f"{bad}, line 2, field 'SystemModstamp': cannot convert '0 days ago' to TIMESTAMP (12 row(s) break this rule;"
        " 12 of 12 rows break the contract, more than 10%: a broken export or a changed schema, so nothing is loaded)"
    )
    assert _rows(con, "select count(*) from raw_crm.account") == [(0,)]  # not even the good file
    assert _rows(con, "select count(*) from ingest_meta.quarantine") == [(0,)]
    assert good.exists() and bad.exists()


def test_truncated_csv_names_the_line(con, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "crm/Account.csv",
        f"{ACCOUNT_HEADER}\n{_account_row('A1', 'Acme', '2025-01-02T00:00:00.000Z')}\nA2,Trunc",
    )
    with pytest.raises(LandingFileError, match=r"line 3: expected 9 fields \(the header.s\), found 2") as err:
        load_object(con, ACCOUNT, tmp_path)
    assert err.value.path == str(path)


def test_missing_column_is_a_schema_change(con, tmp_path: Path) -> None:
    header = ACCOUNT_HEADER.replace(",SystemModstamp", "")
    _write_accounts(
        tmp_path / "crm/Account.csv", "A1,Acme,Customer,Tech,US,USD,2025-01-01T00:00:00.000Z,false", header=header
    )
    with pytest.raises(LandingFileError, match=r"line 1, field 'SystemModstamp': missing column\(s\) in header"):
        load_object(con, ACCOUNT, tmp_path)


def test_workday_entry_with_bad_date_is_quarantined_by_record_number(con, tmp_path: Path) -> None:
    entries = [
        record(WORKER, Worker_ID="W1", Hire_Date="2020-01-01"),
        record(WORKER, Worker_ID="W2", Hire_Date="2020-13-01"),
    ]
    path = landing_records.write(tmp_path, WORKER, entries)
    result = load_object(con, WORKER, tmp_path)
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    assert _rows(con, f"select {QUARANTINE_COLUMNS} from ingest_meta.quarantine") == [
        (
            "raw_hris.worker",
            str(path),
            2,
            "W2",
            "type",
            "Hire_Date",
            "2020-13-01",
            "cannot convert '2020-13-01' to DATE",
        )
    ]


def test_workday_omitted_fields_load_as_null(con, tmp_path: Path) -> None:
    entries = [
        record(WORKER, Worker_ID="W1", Scheduled_Weekly_Hours="37.5", Termination_Date="2024-06-30", Region=None),
        record(WORKER, Worker_ID="W2", Scheduled_Weekly_Hours="40", Termination_Date=None),
    ]
    landing_records.write(tmp_path, WORKER, entries)
    load_object(con, WORKER, tmp_path)
    assert _rows(
        con,
        'select "Worker_ID", "Termination_Date"::varchar, "Region", "Scheduled_Weekly_Hours"::varchar '
        "from raw_hris.worker order by 1",
    ) == [("W1", "2024-06-30", None, "37.50"), ("W2", None, "x", "40.00")]


def test_malformed_jsonl_names_the_line(con, tmp_path: Path) -> None:
    line = json.dumps(record(CUSTOMER, id=1))
    path = _write(tmp_path / "erp/customer.jsonl", f'{line}\n{{"id": 2,\n{line}\n')
    with pytest.raises(LandingFileError, match=r"line 2: malformed JSON: the record ends before") as err:
        load_object(con, CUSTOMER, tmp_path)
    assert err.value.path == str(path)


def test_empty_required_key_is_quarantined(con, tmp_path: Path) -> None:
    path = landing_records.write(tmp_path, CUSTOMER, [record(CUSTOMER, id=1), record(CUSTOMER, id=None)])
    result = load_object(con, CUSTOMER, tmp_path)
    assert (result.rows_loaded, result.rows_quarantined, result.row_count) == (1, 1, 1)
    assert _rows(con, "select source_file, source_row, rule, field, reason from ingest_meta.quarantine") == [
        (str(path), 2, "required", "id", "required value is empty")
    ]


def test_connector_relation_gets_the_same_checks(con, tmp_path: Path) -> None:
    con.execute(
        """create table landed as select * from (values
            ('A1', 'Acme', '2025-01-02T00:00:00.000Z', 'x'), ('A2', 'Bad', 'not a date', 'y'))
            t("Id", "Name", "SystemModstamp", "NewField")"""
    )
    con.execute("""alter table landed add column "CreatedDate" varchar""")
    for name in ("Type", "Industry", "BillingCountry", "CurrencyIsoCode", "IsDeleted"):
        con.execute(f'alter table landed add column "{name}" varchar')
    result = load_relation(con, ACCOUNT, "landed", batch_id="api-1", source_label="salesforce:Account")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    assert result.extra_fields == ["NewField"]
    assert _rows(con, 'select "Id", _source_file, _batch_id from raw_crm.account') == [
        ("A1", "salesforce:Account", "api-1")
    ]
    assert _rows(con, "select source_file, source_row, record_key, field from ingest_meta.quarantine") == [
        ("salesforce:Account", 2, "A2", "SystemModstamp")
    ]


def test_anaplan_composite_key_newest_file_wins(con, tmp_path: Path) -> None:
    _write_two_target_batches(tmp_path)
    result = load_object(con, TARGET, tmp_path)
    assert (result.rows_inserted, result.rows_updated) == (2, 1)
    assert _rows(con, 'select "Month", "Revenue Target"::varchar from raw_planning.target order by 1') == [
        ("Feb 26", "900.00"),
        ("Jan 26", "1250.50"),
    ]


def test_a_file_still_settling_waits_with_the_later_batches(con, tmp_path: Path) -> None:
    base = landing_records.write(tmp_path, ACCOUNT, [record(ACCOUNT, Id="A1", Name="Acme")])
    young = landing_records.write(tmp_path, ACCOUNT, [record(ACCOUNT, Id="A2", Name="Beta")], batch="2026-01-01")
    later = landing_records.write(tmp_path, ACCOUNT, [record(ACCOUNT, Id="A3", Name="Gamma")], batch="2026-01-02")
    now = 1_800_000_000.0
    os.utime(base, (now - 3600, now - 3600))
    os.utime(young, (now - 5, now - 5))  # written five seconds ago: may still be being written
    os.utime(later, (now - 3600, now - 3600))
    first = load_object(con, ACCOUNT, tmp_path, settle_seconds=30, now=now)
    assert first.files_loaded == [str(base)] and first.files_waiting == [str(young), str(later)]
    assert first.files_accounted  # waiting to settle is not a problem to warn about
    assert _rows(con, 'select "Id" from raw_crm.account') == [("A1",)]
    second = load_object(con, ACCOUNT, tmp_path, settle_seconds=30, now=now + 60)
    assert second.files_loaded == [str(young), str(later)] and second.files_waiting == []
    assert _rows(con, 'select "Id" from raw_crm.account order by 1') == [("A1",), ("A2",), ("A3",)]


def test_a_file_written_while_it_is_read_is_read_whole_next_run(con, tmp_path: Path, monkeypatch) -> None:
    from orchestration.defs.ingest import loader

    path = landing_records.write(tmp_path, ACCOUNT, [record(ACCOUNT, Id="A1", Name="Acme")])
    later = landing_records.write(tmp_path, ACCOUNT, [record(ACCOUNT, Id="A9", Name="Later")], batch="2026-01-02")
    real_stage = loader.stage_file

    def stage_then_append(con, obj, staged_path):  # the exporter appends after the reader read
        staged = real_stage(con, obj, staged_path)
        if staged_path == path:
            with staged_path.open("a") as handle:
                handle.write(landing_records.render(ACCOUNT, [record(ACCOUNT, Id="A2", Name="Appended")]).decode()
                             .split("\n", 1)[1])  # fmt: skip
        return staged

    monkeypatch.setattr(loader, "stage_file", stage_then_append)
    first = load_object(con, ACCOUNT, tmp_path)
    assert first.files_changed_while_read == [str(path), str(later)] and not first.files_accounted
    assert first.files_loaded == [] and _rows(con, "select count(*) from raw_crm.account") == [(0,)]
    assert _rows(con, "select count(*) from ingest_meta.loaded_files") == [(0,)]  # not marked loaded
    monkeypatch.setattr(loader, "stage_file", real_stage)
    second = load_object(con, ACCOUNT, tmp_path)
    assert second.files_loaded == [str(path), str(later)] and second.rows_read == 3
    assert _rows(con, 'select "Id" from raw_crm.account order by 1') == [("A1",), ("A2",), ("A9",)]
