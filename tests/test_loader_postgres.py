"""The loader landing in PostgreSQL: DuckDB reads and checks, COPY moves, PostgreSQL merges, all or nothing.

The same scenarios as tests/test_loader.py, asserted on the PostgreSQL tables, and the whole small
demo loaded both ways with identical raw tables and counts.

Kind: integration (the loader into PostgreSQL).
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from orchestration import contract
from orchestration.defs.ingest.loader import LandingFileError, load_object, load_relation
from orchestration.defs.ingest.postgres_target import PostgresTarget
from orchestration.lib.postgres import connect_raw
from tests import landing_records
from tests.landing_records import ACCOUNT, TARGET, WORKER, record
from tests.test_loader import _account_row, _write_accounts, _write_two_account_batches, _write_two_target_batches

pytestmark = pytest.mark.integration

RAW_SCHEMAS = sorted({o.schema for o in contract.SOURCE_OBJECTS})


@pytest.fixture(scope="module")
def database(postgres_database) -> dict:
    return postgres_database("loader")


class Landing:
    """An in-memory DuckDB that stages and checks, and the PostgreSQL database the rows land in."""

    def __init__(self, database: dict):
        self.engine = duckdb.connect()
        self.pg = connect_raw(**database)
        self.reader = connect_raw(**database, autocommit=True)

    def load(self, obj, landing: Path, **kwargs):
        return load_object(self.engine, obj, landing, target=PostgresTarget(self.pg), **kwargs)

    def rows(self, sql: str) -> list[tuple]:
        with self.reader.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def close(self) -> None:
        for con in (self.engine, self.pg, self.reader):
            con.close()


@pytest.fixture
def pg(database):
    landing = Landing(database)
    with landing.reader.cursor() as cur:  # every test starts from an empty warehouse
        cur.execute(f"drop schema if exists {', '.join([*RAW_SCHEMAS, 'ingest_meta'])} cascade")
    yield landing
    landing.close()


def test_newer_file_merges_by_key_and_latest_modified_wins(pg: Landing, tmp_path: Path) -> None:
    _write_two_account_batches(tmp_path)
    result = pg.load(ACCOUNT, tmp_path, batch_id="b1")
    assert (result.rows_read, result.rows_inserted, result.rows_updated, result.rows_unchanged) == (5, 3, 1, 1)
    assert result.extra_fields == ["New_Field__c"] and result.row_count == 3
    assert pg.rows('select "Id", "Name", _batch_id from raw_crm.account order by 1') == [
        ("A1", "Acme Corp", "b1"),
        ("A2", "Beta", "b1"),
        ("A3", "Gamma", "b1"),
    ]
    assert pg.rows("select count(*), sum(rows_read) from ingest_meta.loaded_files") == [(2, 5)]


def test_loading_the_same_file_again_adds_nothing(pg: Landing, tmp_path: Path) -> None:
    path = _write_accounts(tmp_path / "crm/Account.csv", _account_row("A1", "Acme", "2025-01-02T00:00:00.000Z"))
    pg.load(ACCOUNT, tmp_path)
    again = pg.load(ACCOUNT, tmp_path)
    assert again.files_skipped == [str(path)] and again.rows_read == 0 and again.row_count == 1
    os.utime(path, (1_000_000_000, 1_000_000_000))  # touched: re-read, but nothing changes
    touched = pg.load(ACCOUNT, tmp_path)
    assert (touched.rows_read, touched.rows_inserted, touched.rows_updated, touched.row_count) == (1, 0, 0, 1)


def test_bad_value_is_quarantined_in_postgres_and_the_rest_loads(pg: Landing, tmp_path: Path) -> None:
    _write_accounts(
        tmp_path / "crm/Account.csv",
        _account_row("A2", "Ok", "2025-03-01T00:00:00.000Z"),
        _account_row("A3", "Bad", "yesterday"),
    )
    result = pg.load(ACCOUNT, tmp_path, batch_id="b1")
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (2, 1, 1)
    assert result.batch_rows_accounted and result.quarantine_rules == {"type: SystemModstamp": 1}
    assert pg.rows('select "Id" from raw_crm.account') == [("A2",)]
    rows = pg.rows(
        "select source_row, record_key, rule, field, value, reason, record, failures, batch_id"
        " from ingest_meta.quarantine"
    )
    assert len(rows) == 1
    *located, record, failures, batch = rows[0]
    assert located == [3, "A3", "type", "SystemModstamp", "yesterday", "cannot convert 'yesterday' to TIMESTAMP"]
    assert (record["Name"], record["BillingCountry"], batch) == ("Bad", "US", "b1")  # jsonb: the whole row
    assert [f["field"] for f in failures] == ["SystemModstamp"]
    assert pg.rows("select rows_read, rows_quarantined from ingest_meta.loaded_files") == [(2, 1)]


def test_a_bad_record_read_again_is_counted_but_kept_once(pg: Landing, tmp_path: Path) -> None:
    path = _write_accounts(tmp_path / "crm/Account.csv", _account_row("A3", "Bad", "yesterday"))
    first = pg.load(ACCOUNT, tmp_path)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    second = pg.load(ACCOUNT, tmp_path)
    assert (first.rows_quarantined, second.rows_quarantined) == (1, 1)
    assert pg.rows("select count(*) from ingest_meta.quarantine") == [(1,)]


def test_a_failing_file_rolls_the_whole_object_back(pg: Landing, tmp_path: Path) -> None:
    _write_accounts(tmp_path / "crm/Account.csv", _account_row("A3", "Bad", "yesterday"))
    pg.load(ACCOUNT, tmp_path)
    _write_accounts(tmp_path / "crm/Account.2025-02-01.csv", _account_row("A4", "Bad", "never"))
    _write_accounts(
        tmp_path / "crm/Account.2025-03-01.csv", *(_account_row(f"B{i}", "Acme", f"{i} days ago") for i in range(12))
    )
    with pytest.raises(LandingFileError, match=r"Account.2025-03-01.csv, line 2, field 'SystemModstamp'"):
        pg.load(ACCOUNT, tmp_path)
    # The second file's quarantined row and its log line went with the rollback; the first load stays.
    assert pg.rows("select record_key from ingest_meta.quarantine") == [("A3",)]
    assert pg.rows("select count(*) from ingest_meta.loaded_files") == [(1,)]
    assert pg.rows("select count(*) from raw_crm.account") == [(0,)]


def test_workday_report_lands_typed(pg: Landing, tmp_path: Path) -> None:
    entries = [
        record(WORKER, Worker_ID="W1", Scheduled_Weekly_Hours="37.5", Hire_Date="2020-01-01", Termination_Date=None),
        record(WORKER, Worker_ID="W2", Hire_Date="2020-13-01"),
    ]
    landing_records.write(tmp_path, WORKER, entries)
    result = pg.load(WORKER, tmp_path)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert pg.rows(
        'select "Worker_ID", "Termination_Date", "Hire_Date"::text, "Scheduled_Weekly_Hours"::text from raw_hris.worker'
    ) == [("W1", None, "2020-01-01", "37.50")]
    assert pg.rows("select format_type(atttypid, atttypmod) from pg_attribute where attname = 'Scheduled_Weekly_Hours'"
                   " and attrelid = 'raw_hris.worker'::regclass") == [("numeric(9,2)",)]  # fmt: skip


def test_connector_relation_lands_in_postgres(pg: Landing) -> None:
    pg.engine.execute(
        """create table landed as select * from (values
            ('A1', 'Acme', '2025-01-02T00:00:00.000Z', 'x'), ('A2', 'Bad', 'not a date', 'y'))
            t("Id", "Name", "SystemModstamp", "NewField")"""
    )
    for name in ("CreatedDate", "Type", "Industry", "BillingCountry", "CurrencyIsoCode", "IsDeleted"):
        pg.engine.execute(f'alter table landed add column "{name}" varchar')
    result = load_relation(
        pg.engine, ACCOUNT, "landed", batch_id="api-1", source_label="salesforce:Account", target=PostgresTarget(pg.pg)
    )
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined, result.row_count) == (2, 1, 1, 1)
    assert pg.rows('select "Id", _source_file, _batch_id from raw_crm.account') == [
        ("A1", "salesforce:Account", "api-1")
    ]
    assert pg.rows("select source_file, source_row, record_key from ingest_meta.quarantine") == [
        ("salesforce:Account", 2, "A2")
    ]


def test_anaplan_composite_key_newest_file_wins(pg: Landing, tmp_path: Path) -> None:
    _write_two_target_batches(tmp_path)
    result = pg.load(TARGET, tmp_path)
    assert (result.rows_inserted, result.rows_updated) == (2, 1)
    assert pg.rows('select "Month", "Revenue Target"::text from raw_planning.target order by 1') == [
        ("Feb 26", "900.00"),
        ("Jan 26", "1250.50"),
    ]


def test_the_small_demo_lands_identically_in_duckdb_and_postgres(pg: Landing, small_landing, tmp_path) -> None:
    landing, _ = small_landing
    duck = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        for obj in contract.SOURCE_OBJECTS:
            on_duckdb = load_object(duck, obj, landing, batch_id="b")
            on_postgres = pg.load(obj, landing, batch_id="b")
            counts = ("rows_read", "rows_inserted", "rows_updated", "rows_unchanged", "duplicate_keys")
            counts += ("rows_quarantined", "row_count")
            assert [getattr(on_postgres, c) for c in counts] == [getattr(on_duckdb, c) for c in counts], obj.name
            assert on_postgres.quarantine_rules == on_duckdb.quarantine_rules and on_postgres.batch_rows_accounted
            columns = ", ".join(f'"{f.name}"' for f in obj.fields) + ", _source_file, _batch_id"
            ordered = f"select {columns} from {obj.schema}.{obj.name} order by " + ", ".join(
                f'"{k}"' for k in obj.primary_key
            )
            assert pg.rows(ordered) == duck.execute(ordered).fetchall(), obj.name  # every value, Decimal for Decimal
        quarantine = "select table_name, source_row, record_key, rule, field, value from ingest_meta.quarantine"
        quarantine += " order by 1, 3"
        assert pg.rows(quarantine) == duck.execute(quarantine).fetchall()
    finally:
        duck.close()


def test_absent_optional_field_keeps_stored_and_unstamped_changes_count_in_postgres(
    pg: Landing, tmp_path: Path
) -> None:
    stamp = "2025-06-01T09:00:00.000Z"
    landing_records.write(
        tmp_path, ACCOUNT, [record(ACCOUNT, Id="A1", Name="Acme", SystemModstamp=stamp, IsDeleted="true")]
    )
    pg.load(ACCOUNT, tmp_path)
    batch = tmp_path / "crm/Account.2025-07-01.csv"
    later = [
        record(ACCOUNT, Id="A1", Name="Acme Renamed", SystemModstamp=stamp, CreatedDate="2025-01-01T09:00:00-07:00")
    ]
    batch.write_bytes(landing_records.render(ACCOUNT, later, [f for f in ACCOUNT.field_names if f != "IsDeleted"]))
    result = pg.load(ACCOUNT, tmp_path)
    assert (result.rows_updated, result.rows_changed_same_stamp) == (1, 1)
    assert result.absent_fields == {str(batch): ["IsDeleted"]}
    assert pg.rows('select "Name", "IsDeleted", "CreatedDate"::text from raw_crm.account') == [
        ("Acme Renamed", True, "2025-01-01 16:00:00")
    ]
