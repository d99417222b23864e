"""Dagster's SQLite storage with its connections kept (orchestration/lib/dagster_sqlite.py).

A run on the local instance (deploy/dagster.local.yaml), in a process that loaded the definitions,
is read back by a process with Dagster's storage as it ships (what the UI shows comes from those
files), while the run's process built one engine per database file for hundreds of events. A wiped
event log is written again to a file a reader sees, the engines kept stay bounded, and a forked
child leaves its parent's connections alone.

Kind: unit (in-process runs on temporary instances, child processes without the pipeline).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

import orchestration.definitions  # noqa: F401  # what every pipeline process does: keep_connections()
from orchestration.lib import dagster_sqlite
from tests.helpers import local_dagster_home

pytestmark = pytest.mark.unit

CHECKS = 40

# A process with Dagster's storage as it ships (no definitions loaded): the run's events as it reads them.
READ_BACK = """
import json, sys
import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
assert SqliteEventLogStorage._connect.__module__.startswith("dagster."), "storage not as Dagster ships it"
with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
    run_id = sys.argv[2]
    run = instance.get_run_by_id(run_id)
    events = instance.all_logs(run_id)
    checks = {e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data.passed
              for e in events if e.dagster_event and e.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    latest = instance.get_latest_materialization_event(dg.AssetKey("ledger"))
    print(json.dumps({"status": run.status.value if run else None, "events": len(events), "checks": checks,
                      "messages": [e.message for e in events], "latest": latest.run_id if latest else None}))
"""


@dg.asset(check_specs=[dg.AssetCheckSpec(f"rule_{i}", asset="ledger") for i in range(CHECKS)])
def ledger():
    yield dg.Output(1)
    for i in range(CHECKS):
        yield dg.AssetCheckResult(check_name=f"rule_{i}", passed=i != 7, metadata={"rule": i})


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    """A DAGSTER_HOME as `make demo` and `make ui` set it up, this process's."""
    home = local_dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _read_back(home: Path, run_id: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", READ_BACK, str(home), run_id], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_run_is_in_dagsters_own_files_written_on_one_engine_per_file(home) -> None:
    assert SqliteEventLogStorage._connect.__module__ == dagster_sqlite.__name__  # the definitions applied it
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([ledger], instance=instance, raise_on_error=False)
        events = len(instance.all_logs(result.run_id))
        assert events > 2 * CHECKS
        # Hundreds of units of work: one engine for the run's own event log and one for the index.
        assert dagster_sqlite.engines_of(instance.event_log_storage).created == 2
        assert dagster_sqlite.engines_of(instance.run_storage).created == 1
        # Their connections write ahead and commit without waiting for the disk (SQLite's 1: NORMAL).
        kept = [*dagster_sqlite.engines_of(instance.event_log_storage)._engines.values()]
        kept += dagster_sqlite.engines_of(instance.run_storage)._engines.values()
        assert len(kept) == 3
        for engine in kept:
            with engine.connect() as conn:
                modes = (
                    conn.exec_driver_sql("pragma journal_mode").scalar(),
                    conn.exec_driver_sql("pragma synchronous").scalar(),
                )
            assert modes == ("wal", 1), engine.url
    assert (home / "history" / "runs" / f"{result.run_id}.db").exists()  # where Dagster's default puts it

    seen = _read_back(home, result.run_id)
    assert seen["status"] == "SUCCESS" and seen["events"] == events
    assert len(seen["checks"]) == CHECKS and [name for name, ok in seen["checks"].items() if not ok] == ["rule_7"]
    assert seen["latest"] == result.run_id


def test_after_a_wipe_a_run_log_is_written_to_a_file_readers_see(home) -> None:
    """wipe() deletes the event log files: a kept connection would go on writing to the deleted one."""
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([ledger], instance=instance, raise_on_error=False)
        run = instance.get_run_by_id(result.run_id)
        instance.event_log_storage.wipe()
        assert not (home / "history" / "runs" / f"{result.run_id}.db").exists()
        instance.report_engine_event("written after the wipe", run)
    assert _read_back(home, result.run_id)["messages"] == ["written after the wipe"]


def test_disposing_an_instance_closes_the_connections_it_kept(home) -> None:
    instance = dg.DagsterInstance.get()
    dg.materialize([ledger], instance=instance)
    kept = dagster_sqlite.engines_of(instance.event_log_storage)
    assert len(kept) == 2
    instance.dispose()
    assert len(kept) == 0 and len(dagster_sqlite.engines_of(instance.run_storage)) == 0


def test_the_engines_kept_are_the_most_recently_used_and_no_more(tmp_path) -> None:
    engines = dagster_sqlite.Engines(keep=2)
    urls = [f"sqlite:///{tmp_path / name}.db" for name in ("a", "b", "c")]
    first = engines.get(urls[0])
    for url in urls:
        with engines.get(url).connect() as conn:
            conn.exec_driver_sql("create table t (x integer)")
    assert engines.get(urls[1]) is engines.get(urls[1])  # kept, and b is now the most recent
    assert len(engines) == 2 and engines.created == 3
    assert first.pool.checkedin() == 0  # a's engine left, its idle connection closed
    assert engines.get(urls[2]) is not None and engines.created == 3
    assert engines.get(urls[0]) is not first and engines.created == 4  # a again: a new engine, c's kept
    engines.dispose()
    assert len(engines) == 0


def test_a_forked_child_leaves_its_parents_connections_alone(tmp_path) -> None:
    engines = dagster_sqlite.Engines()
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with engines.get(url).connect() as conn, conn.begin():
        conn.exec_driver_sql("create table t (x integer)")
    pid = os.fork()
    if pid == 0:  # the child: the parent's engines are forgotten, not closed
        os._exit(0 if len(engines) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with engines.get(url).connect() as conn, conn.begin():  # the parent's pooled connection still works
        conn.exec_driver_sql("insert into t values (1)")
    assert sqlite3.connect(tmp_path / "runs.db").execute("select count(*) from t").fetchone() == (1,)


def test_asking_for_the_check_tables_builds_no_engine_and_a_table_added_later_is_found(home, monkeypatch) -> None:
    """Dagster asks `has_table` before every check event; it built an engine (and a connection) per question."""
    from dagster._core.storage.event_log.sqlite import sqlite_event_log

    built = []
    original = sqlite_event_log.create_engine
    monkeypatch.setattr(sqlite_event_log, "create_engine", lambda *a, **k: built.append(a) or original(*a, **k))
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage  # made now: Dagster makes the index file with an engine of its own
        before = len(built)
        result = dg.materialize([ledger], instance=instance, raise_on_error=False)
        assert len(_read_back(home, result.run_id)["checks"]) == CHECKS  # every check event stored and read back
        assert len(built) == before  # 2 * CHECKS check events, each asking whether the check tables exist
        assert storage.has_table("asset_check_executions")
        assert not storage.has_table("written_later")
        with sqlite3.connect(home / "history" / "runs" / "index.db") as other:  # a migration in another process
            other.execute("create table written_later (id integer)")
        assert storage.has_table("written_later")
