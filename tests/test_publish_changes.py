"""Readers get what changed: the publish copies only the marts materialized since the readers' snapshot.

On a private copy of the session's demo build (`pristine_demo`: warehouse, reader file, Dagster
instance, landing files), so the shared build stays as it was. The runs are real runs of the real
definitions; the automation condition on reader/marts is evaluated with Dagster's public
`evaluate_automation_conditions` against the copy's instance, as the `publish_changed_marts` sensor
evaluates it.

Kind: demo, but the PostgreSQL test: integration (a server of its own database).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from bench.pipeline import write_timecard_change
from orchestration.defs.automation.jobs import SYNC, intraday_refresh
from orchestration.defs.publish import snapshot
from orchestration.defs.publish.assets import MART_KEYS, READER_MARTS
from orchestration.defs.publish.snapshot import RECORD_TABLE, Materialization
from orchestration.defs.transform.assets import FULL_REFRESH_TAG, dbt_models
from tests.conftest import AS_OF
from tests.helpers import REBUILD, THROUGH_THE_CALENDARS_ONLY, failures, materialization_metadata, materialize, run_log

MILESTONES = dg.AssetKey(["marts", "fct_milestones"])
TIMECARDS = dg.AssetKey(["raw_psa", "timecard_header"])
MARTS = set(MART_KEYS)
# A milestone less in raw_psa.milestone changes these two models, and no other mart.
MILESTONE_MODELS = [dg.AssetKey(["intermediate", "int_milestones_flagged"]), MILESTONES]


def _file_state(path: Path) -> tuple:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def _records(reader: Path) -> dict[str, tuple]:
    """The reader file's record: table -> (materialization storage id, its run, the run that copied the table)."""
    with duckdb.connect(str(reader), read_only=True) as con:
        rows = con.execute(
            "select table_name, materialization_storage_id, materialization_run_id, copied_by_run_id"
            f" from {RECORD_TABLE}"
        ).fetchall()
    return {table: tuple(rest) for table, *rest in rows}


def _differences(
    warehouse: Path, reader: Path, aside: dict[str, tuple[str, ...]] | None = None
) -> dict[str, tuple[int, int]]:
    """Per mart, the rows only in the warehouse and only in the readers' snapshot (EXCEPT ALL both ways), where any.

    `aside`: per mart, columns left out of the comparison (a build stamp)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute(f"attach '{reader}' as snapshot (read_only)")
        tables = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_catalog = current_database()"
                " and table_schema = 'marts' and table_type = 'BASE TABLE' order by 1"
            ).fetchall()
        ]
        published = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_catalog = 'snapshot'"
                " and table_schema = 'marts'"
            ).fetchall()
        }
        assert published == set(tables) and len(tables) >= 10
        found = {}
        for name in tables:
            mine, theirs = f"marts.{name}", f"snapshot.marts.{name}"
            rows = f"select * exclude ({', '.join(aside[name])})" if name in (aside or {}) else "select *"
            only = [
                con.execute(f"select count(*) from ({rows} from {a} except all {rows} from {b})").fetchall()[0][0]
                for a, b in ((mine, theirs), (theirs, mine))
            ]
            if any(only):
                found[name] = tuple(only)
    return found


def _run(
    warehouse: Path, landing: Path, selection, instance: dg.DagsterInstance, tags: dict[str, str] | None = None
) -> dg.ExecuteInProcessResult:
    run = materialize(warehouse, landing, selection, instance=instance, tags=tags)
    assert run.success, failures(run)
    return run


def _asset_job(warehouse: Path, landing: Path, selection: dg.AssetSelection) -> tuple[dg.JobDefinition, list]:
    """The real definitions' asset job on this warehouse and landing folder, and the keys `selection` names."""
    from orchestration.definitions import defs
    from orchestration.defs.ingest.files import LandingConfig
    from orchestration.lib.warehouse import DuckDBWarehouse

    resources = {
        **defs.resources,
        "warehouse": DuckDBWarehouse(database=str(warehouse), memory_limit="2GB"),
        "landing": LandingConfig(landing_dir=str(landing), settle_seconds=0),
    }
    job = dg.Definitions(assets=[*defs.assets, *defs.asset_checks], resources=resources)
    keys = sorted(selection.resolve(defs.resolve_asset_graph()), key=lambda k: k.to_user_string())
    return job.get_implicit_global_asset_job_def(), keys


def _launched(warehouse: Path, landing: Path, selection: dg.AssetSelection, instance: dg.DagsterInstance):
    """A run as the UI, `dagster asset materialize` or a sensor launch it: with its asset selection recorded on
    the run (`dg.materialize` records none, as a schedule's run of a whole job)."""
    job, keys = _asset_job(warehouse, landing, selection)
    run = job.execute_in_process(instance=instance, asset_selection=keys, raise_on_error=False)
    assert run.success, failures(run)
    assert instance.get_run_by_id(run.run_id).asset_selection == set(keys)
    return run


def _refreshed(meta: dict) -> set[str]:
    """The tables a publish brought to their latest materialization: copied, or carried as rebuilt alike."""
    return set(meta["copied"]) | {t for t, why in meta["carried_over"].items() if why.startswith("rebuilt (")}


def _skipped(run) -> set[str]:
    return {e.step_key for e in run.all_events if e.event_type_value == "STEP_SKIPPED"}


def test_with_no_newer_materialization_a_publish_copies_nothing_and_leaves_the_reader_file_untouched(
    pristine_demo,
) -> None:
    warehouse, landing, instance = pristine_demo
    reader = warehouse.with_name("reader.duckdb")
    before = _file_state(reader)
    run = _run(warehouse, landing, [READER_MARTS], instance)
    assert "reader/marts" not in materialization_metadata(run)  # no materialization: nothing was published
    logged = run_log(instance, run.run_id, "reader__marts")
    assert "nothing published: no mart was materialized since the readers' snapshot" in logged
    assert _file_state(reader) == before
    assert sorted(p.name for p in reader.parent.glob(".reader.duckdb*")) == []  # no new file was begun


def test_after_one_mart_is_rebuilt_only_its_table_is_copied_the_others_carried_over(pristine_demo) -> None:
    warehouse, landing, instance = pristine_demo
    reader = warehouse.with_name("reader.duckdb")
    earlier = _records(reader)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from raw_psa.milestone where rowid = (select min(rowid) from raw_psa.milestone)")
        milestones = con.execute("select count(*) from marts.fct_milestones").fetchall()[0][0]
    reading = duckdb.connect(str(reader), read_only=True)  # a BI tool connected throughout
    try:
        run = _run(warehouse, landing, [*MILESTONE_MODELS, READER_MARTS], instance)
        still = reading.execute("select count(*) from marts.fct_milestones").fetchall()[0][0]
    finally:
        reading.close()
    assert still == milestones  # the open connection keeps the snapshot it opened

    meta = materialization_metadata(run)["reader/marts"]
    latest = instance.fetch_materializations(MILESTONES, limit=1).records[0]
    assert latest.run_id == run.run_id
    assert list(meta["copied"]) == ["marts.fct_milestones"]
    assert f"materialization {latest.storage_id} (run {run.run_id[:8]}" in meta["copied"]["marts.fct_milestones"]
    assert set(meta["carried_over"]) == set(earlier) - {"marts.fct_milestones"}
    assert all(why.startswith("unchanged: readers hold its latest") for why in meta["carried_over"].values())
    # The snapshot records which materialization of each mart it holds, and which publish copied it.
    now = _records(reader)
    assert now["marts.fct_milestones"] == (latest.storage_id, run.run_id, run.run_id)
    assert {t: r for t, r in now.items() if t != "marts.fct_milestones"} == {
        t: r for t, r in earlier.items() if t != "marts.fct_milestones"
    }
    # What readers have is exactly the warehouse's marts, the milestone less included.
    assert _differences(warehouse, reader) == {}
    with duckdb.connect(str(reader), read_only=True) as con:
        assert con.execute("select count(*) from marts.fct_milestones").fetchall()[0][0] == milestones - 1
        assert con.execute("select run_id from published").fetchall() == [(run.run_id,)]
        described = con.execute(  # a carried table keeps the dbt docs
            "select comment from duckdb_tables() where table_name = 'fct_utilization'"
        ).fetchall()[0][0]
    assert described and described.startswith("Billable utilization per resource and month")


def _evaluate(instance: dg.DagsterInstance, cursor=None):
    from orchestration.definitions import defs

    return dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=dg.AssetSelection.assets(READER_MARTS), cursor=cursor
    )


def test_the_automation_condition_requests_the_publish_after_a_partial_rebuild_not_after_one_that_published(
    pristine_demo,
) -> None:
    warehouse, landing, instance = pristine_demo
    tick = _evaluate(instance)
    assert tick.total_requested == 0  # the first evaluation only starts the cursor

    # A timecard changed, and a run rebuilds every mart it selects (those below timecards but for what
    # reads them only through the calendars: the first timecard week stays): its publish step runs and
    # publishes them. Nothing is left to request.
    assert write_timecard_change(landing, AS_OF.isoformat(), share=0.0002)["rows_changed"] == 1
    calendars_only = [key for key in dbt_models.keys if key.path[-1] in THROUGH_THE_CALENDARS_ONLY]
    below_timecards = dg.AssetSelection.assets(TIMECARDS).downstream() - dg.AssetSelection.assets(SYNC, *calendars_only)
    whole = _run(warehouse, landing, below_timecards, instance)
    meta = materialization_metadata(whole)["reader/marts"]
    assert _refreshed(meta) == {
        f"marts.{e.asset_key.path[-1]}" for e in whole.get_asset_materialization_events() if e.asset_key in MARTS
    }
    assert "marts.fct_time_entries" in meta["copied"]  # the rows that changed: copied; the marts rebuilt alike: not
    # ... the time entries by patch: the changed card's days (up to seven) replaced, as the record counts
    replaced = meta["patched"]["marts.fct_time_entries"]
    assert meta["copied"]["marts.fct_time_entries"].endswith(f"; patched: {replaced} row(s) replaced, by timecard_id")
    assert 1 <= replaced <= 7 and _entries(warehouse.with_name("reader.duckdb"))[1] == replaced
    assert "(1 patched: only the rows of changed keys)" in run_log(instance, whole.run_id, "reader__marts")
    assert _differences(warehouse, warehouse.with_name("reader.duckdb")) == {}
    tick = _evaluate(instance, tick.cursor)
    assert tick.total_requested == 0

    # A run with nothing new for the marts it selects: dbt builds nothing, Dagster skips the publish step.
    quiet = _run(warehouse, landing, [*MILESTONE_MODELS, READER_MARTS], instance)
    assert "reader__marts" in _skipped(quiet) and not quiet.get_asset_materialization_events()
    tick = _evaluate(instance, tick.cursor)
    assert tick.total_requested == 0

    # Another timecard changed: the intraday job's assets, launched as from the UI (the run records its
    # selection, reader/marts in it), rebuild the marts below timecards, not the milestone ones, so
    # Dagster skips the publish step. (eager() would never request it: it ignores an update by a run
    # that planned reader/marts.)
    assert write_timecard_change(landing, AS_OF.isoformat(), share=0.0004)["rows_changed"] == 2
    partial = _launched(warehouse, landing, intraday_refresh.selection, instance)
    rebuilt = {e.asset_key for e in partial.get_asset_materialization_events()} & MARTS
    assert MILESTONES not in rebuilt and len(rebuilt) > 3
    assert "reader__marts" in _skipped(partial)
    # While another run of the marts (and the publish) has started, it may yet publish them: no request.
    job, keys = _asset_job(warehouse, landing, intraday_refresh.selection)
    going = instance.create_run_for_job(job, asset_selection=set(keys), status=dg.DagsterRunStatus.STARTED)
    tick = _evaluate(instance, tick.cursor)
    assert tick.total_requested == 0
    # Once it is over (here: canceled), the condition requests the publish, once.
    instance.report_run_canceled(going)
    tick = _evaluate(instance, tick.cursor)
    assert tick.get_num_requested(READER_MARTS) == 1
    tick = _evaluate(instance, tick.cursor)
    assert tick.total_requested == 0  # requested already

    # The run the sensor launches publishes what the intraday run rebuilt, and nothing else.
    published = _launched(warehouse, landing, dg.AssetSelection.assets(READER_MARTS), instance)
    meta = materialization_metadata(published)["reader/marts"]
    assert _refreshed(meta) == {f"marts.{key.path[-1]}" for key in rebuilt}
    assert "marts.fct_time_entries" in meta["copied"]
    assert _differences(warehouse, warehouse.with_name("reader.duckdb")) == {}
    tick = _evaluate(instance, tick.cursor)
    assert tick.total_requested == 0


@pytest.mark.unit
def test_the_publish_sensor_evaluates_reader_marts_alone_and_starts_off() -> None:
    from orchestration.definitions import defs

    sensor = defs.get_sensor_def("publish_changed_marts")
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.asset_selection.resolve(defs.resolve_asset_graph()) == {READER_MARTS}
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert "default_automation_condition_sensor" not in {s.name for s in defs.get_repository_def().sensor_defs}


@pytest.mark.integration
def test_on_postgresql_unchanged_tables_are_moved_into_the_new_snapshot_or_copied_when_a_reader_holds_them(
    postgres_database,
) -> None:
    from orchestration.defs.publish.snapshot import publish_schema
    from orchestration.lib.postgres import PgConnection, connect_raw

    config = postgres_database("publish_changes")
    con, reading = PgConnection(connect_raw(**config)), connect_raw(**config)
    made = dt.datetime(2026, 11, 16, 8)

    def publish(run_id: str, versions: dict[str, int], lock_timeout: str = "2s", stamps=None):
        latest = {f"marts.{t}": Materialization(v, f"run-{v}", made) for t, v in versions.items()}
        return publish_schema(con, run_id, {}, latest, lock_timeout=lock_timeout, stamps=stamps)

    def oid(table: str) -> int:
        return con.execute(f"select 'reader.{table}'::regclass::oid").fetchall()[0][0]

    try:
        con.execute("create schema marts")
        con.execute("create table marts.hours as select g as id from generate_series(1, 5) g")
        con.execute("create table marts.costs as select g as id from generate_series(1, 3) g")
        first = publish("first", {"hours": 1, "costs": 1})
        assert set(first.plan.copy) == {"marts.hours", "marts.costs"}
        kept = oid("hours")
        con.execute("insert into marts.costs values (4)")
        second = publish("second", {"hours": 1, "costs": 2})
        assert (list(second.plan.copy), list(second.plan.carry)) == (["marts.costs"], ["marts.hours"])
        assert oid("hours") == kept  # moved, not copied
        assert con.execute("select count(*) from reader.costs").fetchall()[0][0] == 4
        assert not publish("third", {"hours": 1, "costs": 2}).published  # nothing changed
        assert con.execute("select run_id from reader.published").fetchall() == [("second",)]
        # A reader's open transaction on `hours`: the publish does not wait for it, it copies the table.
        cursor = reading.cursor()
        cursor.execute("select count(*) from reader.hours")
        con.execute("insert into marts.costs values (5)")
        fourth = publish("fourth", {"hours": 1, "costs": 3}, lock_timeout="100ms")
        reading.rollback()
        assert list(fourth.plan.carry) == ["marts.hours"] and oid("hours") != kept
        records = con.execute(
            "select table_name, rows, materialization_storage_id, copied_by_run_id"
            " from reader.published_tables order by 1"
        ).fetchall()
        assert records == [("marts.costs", 5, 3, "fourth"), ("marts.hours", 5, 1, "first")]
        # A build stamp: a rebuild that changed only it is carried over, readers keep their stamp.
        stamps = {"hours": ("built_at",)}
        con.execute("alter table marts.hours add column built_at timestamp default timestamp '2026-11-16 02:00:00'")
        publish("fifth", {"hours": 2, "costs": 3}, stamps=stamps)
        con.execute("update marts.hours set built_at = timestamp '2026-11-17 02:00:00'")
        sixth = publish("sixth", {"hours": 3, "costs": 3}, stamps=stamps)
        assert "build stamp built_at aside" in sixth.plan.carry["marts.hours"] and not sixth.plan.copy
        assert con.execute("select distinct cast(built_at as date) from reader.hours").fetchall() == [
            (dt.date(2026, 11, 16),)
        ]
        con.execute("update marts.hours set id = 6 where id = 5")
        assert list(publish("seventh", {"hours": 4, "costs": 3}, stamps=stamps).plan.copy) == ["marts.hours"]
    finally:
        reading.close()
        con.raw.close()


def test_a_mart_rebuilt_with_the_same_rows_is_carried_over_and_its_record_follows(pristine_demo) -> None:
    warehouse, landing, instance = pristine_demo
    reader = warehouse.with_name("reader.duckdb")
    earlier = _records(reader)
    with duckdb.connect(str(reader), read_only=True) as con:
        recorded = dict(con.execute(f"select table_name, rows_fingerprint from {RECORD_TABLE}").fetchall())
    assert recorded.keys() == earlier.keys() and all(recorded.values())  # every copy records its rows' fingerprint

    rebuilt = materialize(warehouse, landing, [*MILESTONE_MODELS, READER_MARTS], instance=instance, tags=REBUILD)
    assert rebuilt.success, failures(rebuilt)
    latest = instance.fetch_materializations(MILESTONES, limit=1).records[0]
    assert latest.run_id == rebuilt.run_id  # the mart was built again, from the same rows
    meta = materialization_metadata(rebuilt)["reader/marts"]
    assert meta["copied"] == {}
    why = meta["carried_over"]["marts.fct_milestones"]
    assert why.startswith(f"rebuilt (materialization {latest.storage_id} (run {rebuilt.run_id[:8]}")
    assert "with the very rows readers hold (their fingerprint)" in why
    assert "fct_milestones: rebuilt with the very rows readers hold" in run_log(
        instance, rebuilt.run_id, "reader__marts"
    )
    # The record now names the latest materialization; the rows are still those the first publish copied.
    now = _records(reader)
    assert now["marts.fct_milestones"] == (latest.storage_id, rebuilt.run_id, earlier["marts.fct_milestones"][2])
    assert {t: r for t, r in now.items() if t != "marts.fct_milestones"} == {
        t: r for t, r in earlier.items() if t != "marts.fct_milestones"
    }
    assert _differences(warehouse, reader) == {}

    # A milestone less: other rows, copied.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("delete from raw_psa.milestone where rowid = (select min(rowid) from raw_psa.milestone)")
    changed = _run(warehouse, landing, [*MILESTONE_MODELS, READER_MARTS], instance)
    assert list(materialization_metadata(changed)["reader/marts"]["copied"]) == ["marts.fct_milestones"]
    assert _differences(warehouse, reader) == {}


def test_a_rebuild_that_changes_only_the_build_stamp_is_carried_over_and_any_other_change_is_copied(
    pristine_demo,
) -> None:
    warehouse, landing, instance = pristine_demo
    reader = warehouse.with_name("reader.duckdb")
    entries = dg.AssetKey(["marts", "fct_time_entries"])
    chain = [dg.AssetKey(["intermediate", "int_time_entries_unpivoted"]), entries, READER_MARTS]
    nightly = {FULL_REFRESH_TAG: "true"}  # as nightly_full builds them: whole, every row stamped anew

    rebuilt = _run(warehouse, landing, chain, instance, nightly)
    latest = instance.fetch_materializations(entries, limit=1).records[0]
    assert latest.run_id == rebuilt.run_id
    meta = materialization_metadata(rebuilt)["reader/marts"]
    assert meta["copied"] == {}
    why = meta["carried_over"]["marts.fct_time_entries"]
    assert why.startswith(f"rebuilt (materialization {latest.storage_id} (run {rebuilt.run_id[:8]}")
    assert "with the very rows readers hold (their fingerprint; build stamp refreshed_at aside)" in why
    assert _records(reader)["marts.fct_time_entries"][:2] == (latest.storage_id, rebuilt.run_id)
    # Readers keep the stamp of the build whose values they hold; every other column is the warehouse's.
    stamped = _differences(warehouse, reader)
    assert set(stamped) == {"fct_time_entries"} and stamped["fct_time_entries"][0] > 0
    assert _differences(warehouse, reader, aside={"fct_time_entries": ("refreshed_at",)}) == {}

    # One approved timecard submitted again: other values, so copied, stamps and all.
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "update raw_psa.timecard_header set pse__Status__c = 'Submitted' where Id = (select min(Id)"
            " from raw_psa.timecard_header where pse__Status__c = 'Approved' and pse__Monday_Hours__c > 0)"
        )
    changed = _run(warehouse, landing, chain, instance, nightly)
    assert list(materialization_metadata(changed)["reader/marts"]["copied"]) == ["marts.fct_time_entries"]
    assert _differences(warehouse, reader) == {}


def _entries(reader: Path) -> tuple[int, int]:
    """The readers' time entries and the rows patches replaced since their last whole copy, as recorded."""
    with duckdb.connect(str(reader), read_only=True) as con:
        return con.execute(
            f"select rows, patched_rows from {RECORD_TABLE} where table_name = 'marts.fct_time_entries'"
        ).fetchall()[0]


def test_a_patch_replaces_stamped_keys_and_gone_ones_and_else_the_table_is_copied_whole(tmp_path, monkeypatch) -> None:
    """publish_snapshot on a small warehouse: each way a patch serves, or why the table is copied whole."""
    warehouse, reader = tmp_path / "w.duckdb", tmp_path / "reader.duckdb"
    con = duckdb.connect(str(warehouse))
    rules = {"stamps": {"t": ("stamp",)}, "patch_keys": {"t": "k"}}
    published = {}

    def publish(version: int) -> snapshot.PublishPlan:
        latest = {"marts.t": Materialization(version, f"run-{version}", dt.datetime(2026, 12, 1, version))}
        published[version] = snapshot.publish_snapshot(con, reader, f"run-{version}", None, latest, **rules)
        return published[version].plan

    def change(key: str, hour: int, value: int = 0) -> None:  # as dbt's increment: the key's rows rewritten
        con.execute(f"delete from marts.t where k = '{key}'")
        stamp = f"timestamp '2026-12-01 {hour:02d}:30:00'"
        con.execute(f"insert into marts.t (k, v, stamp) select '{key}', v + {value}, {stamp} from range(3) r(v)")

    def same() -> bool:
        with duckdb.connect(str(reader), read_only=True) as r:
            theirs = sorted(r.execute("select k, v from marts.t").fetchall())
        return theirs == sorted(con.execute("select k, v from marts.t").fetchall())

    con.execute("create schema marts")
    con.execute(
        "create table marts.t as select chr(cast(97 + i // 3 as integer)) as k, i % 3 as v,"
        " timestamp '2026-12-01 00:30:00' as stamp from range(300) r(i)"
    )
    assert list(publish(1).copy) == ["marts.t"] and not published[1].plan.patched  # no snapshot yet

    change("a", 1, 10)  # one key restamped since the materialization readers hold
    plan = publish(2)
    assert plan.patched == {"marts.t": 3} and plan.copy["marts.t"].endswith("; patched: 3 row(s) replaced, by k")
    assert same()

    con.execute("delete from marts.t where k = 'b'")  # a key gone: no stamp tells, the rows still differ
    change("c", 2, 10)
    assert publish(3).patched == {"marts.t": 6} and same()

    with duckdb.connect(str(reader)) as r:  # readers' rows no patch mends
        r.execute("update marts.t set v = 99 where k = 'd'")
    change("e", 3, 10)
    plan = publish(4)
    assert not plan.patched and plan.copy["marts.t"].endswith(
        "; copied whole: the patched rows did not match the warehouse's (their fingerprint)"
    )
    assert same()

    monkeypatch.setattr(snapshot, "PATCH_SHARE", 0.01)  # 2 of 297 rows at most
    change("f", 4, 10)
    plan = publish(5)
    assert plan.copy["marts.t"].endswith(
        "; copied whole: patches would have replaced 3 of its 297 rows since its last whole copy (at most 1%, 2)"
    )
    assert same()

    con.execute("alter table marts.t add column note varchar")
    change("g", 5, 10)
    assert publish(6).copy["marts.t"].endswith("; copied whole: its columns changed") and same()
    with duckdb.connect(str(reader), read_only=True) as r:
        assert r.execute(f"select rows, patched_rows from {RECORD_TABLE}").fetchall() == [(297, 0)]

    con.execute("alter table marts.t drop column stamp")  # the same rows, less their stamp: carried over
    assert publish(7).same_rows == {"marts.t"}
    con.execute("update marts.t set v = v + 1 where k = 'h'")
    assert publish(8).copy["marts.t"].endswith("; copied whole: its columns changed") and same()
    con.execute("update marts.t set v = v + 1 where k = 'i'")  # nothing left to find the changed rows by
    assert publish(9).copy["marts.t"].endswith("; copied whole: it has no column stamp to find the changed rows by")
    assert same()
    con.close()
