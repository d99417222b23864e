"""The local instance's SQLite storage (orchestration/lib/dagster_sqlite.py): Dagster's files, connections kept.

A run on an instance configured by deploy/dagster.local.yaml is read back by an instance with Dagster's
own SQLite storage on the same folder (what the UI shows comes from those files), while the run
process built one engine per database file for hundreds of events. A wiped event log is written
again to a file a reader sees, and the engines kept stay bounded.

Kind: unit (in-process runs on a temporary instance, no warehouse).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from orchestration.lib import dagster_sqlite

pytestmark = pytest.mark.unit

LOCAL_YAML = Path(__file__).parents[1] / "deploy" / "dagster.local.yaml"
CHECKS = 40


@dg.asset(check_specs=[dg.AssetCheckSpec(f"rule_{i}", asset="ledger") for i in range(CHECKS)])
def ledger():
    yield dg.Output(1)
    for i in range(CHECKS):
        yield dg.AssetCheckResult(check_name=f"rule_{i}", passed=i != 7, metadata={"rule": i})


def _home(tmp_path: Path, name: str, config: str | None = None) -> Path:
    home = tmp_path / name
    home.mkdir(exist_ok=True)
    if config is None:
        shutil.copy(LOCAL_YAML, home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text(config)
    return home


def _stock_reader(home: Path) -> dg.DagsterInstance:
    """An instance with Dagster's own SQLite storage on `home`'s files, as another process would open it."""
    config = f"storage:\n  sqlite:\n    base_dir: {home}\ntelemetry:\n  enabled: false\n"
    return dg.DagsterInstance.from_config(str(_home(home.parent, f"{home.name}_reader", config)))


def _evaluations(instance: dg.DagsterInstance, run_id: str) -> dict[str, bool]:
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return {e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data.passed for e in events}


def test_a_run_on_the_local_instance_is_in_dagsters_files_with_one_engine_per_file(tmp_path, monkeypatch) -> None:
    home = _home(tmp_path, "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, dagster_sqlite.EventLogStorage)
        assert isinstance(instance.run_storage, dagster_sqlite.RunStorage)
        assert isinstance(instance.schedule_storage, dagster_sqlite.ScheduleStorage)
        result = dg.materialize([ledger], instance=instance, raise_on_error=False)
        events = len(instance.all_logs(result.run_id))
        assert events > 2 * CHECKS
        # Hundreds of units of work, one engine each for the run's own event log and the index.
        assert instance.event_log_storage.engines.created == 2
        assert instance.run_storage.engines.created == 1
    assert (home / "history" / "runs" / f"{result.run_id}.db").exists()  # where Dagster's default puts it

    with _stock_reader(home) as reader:
        assert type(reader.event_log_storage).__module__.startswith("dagster.")
        run = reader.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert len(reader.all_logs(result.run_id)) == events
        evaluations = _evaluations(reader, result.run_id)
        assert len(evaluations) == CHECKS and [name for name, ok in evaluations.items() if not ok] == ["rule_7"]
        latest = reader.get_latest_materialization_event(dg.AssetKey("ledger"))
        assert latest is not None and latest.run_id == result.run_id


def test_after_a_wipe_a_run_log_is_written_to_a_file_readers_see(tmp_path, monkeypatch) -> None:
    """wipe() deletes the event log files: a kept connection would go on writing to the deleted one."""
    home = _home(tmp_path, "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([ledger], instance=instance, raise_on_error=False)
        run = instance.get_run_by_id(result.run_id)
        instance.event_log_storage.wipe()
        assert not (home / "history" / "runs" / f"{result.run_id}.db").exists()
        instance.report_engine_event("written after the wipe", run)
    with _stock_reader(home) as reader:
        messages = [e.message for e in reader.all_logs(result.run_id)]
    assert messages == ["written after the wipe"]


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
