"""Dagster's SQLite instance storage with its connections kept open, in the processes that run the pipeline.

Dagster's SQLite storages (runs, the per-run event logs and their index, schedules and ticks) build
a new SQLAlchemy engine without a connection pool for every unit of work, open a SQLite connection,
commit, and close both. A run writes an event for every output, check result and materialization,
about 4.6 such units per event, and about 2,240 events in a full run at large scale: the cost was
the opening and closing, not the writing. A new engine compiles every statement again (its cache of
compiled statements is empty), and closing the last connection to a database in WAL mode (every
one of Dagster's is) checkpoints the log into the file and removes it.

`keep_connections()` changes one thing in those storages, for the process that calls it: each
storage keeps an engine per database file, with SQLAlchemy's default pool for a SQLite file
(`QueuePool`), so connections stay open between units of work and statements compile once per
process. A unit of work is still one transaction, committed or rolled back before its connection
goes back to the pool, so other processes (the UI, the daemon, other runs) see the same files, locks
and commits as before; a connection open between transactions holds no lock. The write-ahead log
is checkpointed as SQLite does by default (every 1,000 pages) and when the connections close.

The kept connections also commit without waiting for the disk (`pragma synchronous=normal` in
write-ahead-log mode, which Dagster sets on every one of its files; here from a file's first
connection on). SQLite then syncs the log at each checkpoint, not at each commit: the files stay
consistent whatever happens, and a process that dies loses nothing it committed, but an operating
system crash or power cut may undo the last commits before the checkpoint (SQLite's "WAL mode
with synchronous=NORMAL"). For the run history of a local instance that trade is the usual one:
300 asset checks' events took 1.6-1.8 s to write instead of 2.1-2.6 s (914 events, 2026-12-07).
A production instance stores in PostgreSQL (below).

Dagster asks the event log whether its index has a table (`has_table`) before it stores each asset
check event, and answered on a new engine and connection each time; here it asks on the index's kept
engine and remembers a table it found: 0.6 s of a medium nightly run's 1,300 check events.

Every process that loads the definitions calls it (`orchestration/definitions.py`): a run's worker,
`dagster asset materialize` (`make demo`), the benchmark's ticks. The instance configuration is
Dagster's own (deploy/dagster.local.yaml names no storage), so any process, with or without this,
opens the same files under the same DAGSTER_HOME. The production instance stores in PostgreSQL
(deploy/dagster.yaml), whose storage keeps a pool of connections already; nothing changes there.

Bounds and edges:
- a run's event log is a file of its own, so an event log storage keeps the engines of the `KEEP`
  files used last and closes the others' connections;
- `wipe()` deletes event log files: their connections are closed first, so nothing writes to a
  deleted file afterwards; `dispose()` closes them all;
- a process forked after connections were opened does not use its parent's (os.register_at_fork).

The methods replaced are Dagster 1.13's (pinned in requirements.txt); tests/test_dagster_sqlite.py
checks that what they write is what Dagster's own storage reads.
"""

from __future__ import annotations

import functools
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sql import create_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

KEEP = 16  # engines kept per event log storage: the index, the runs in progress and the runs read last
# SQLite's `synchronous` on the kept connections (write-ahead log): NORMAL syncs the log at checkpoints, not at
# every commit (`full`: at every commit, as SQLite's default).
SYNCHRONOUS = "normal"
_ALL: weakref.WeakSet[Engines] = weakref.WeakSet()
_applied = False


class Engines:
    """SQLAlchemy engines, pooled, by connection string; the `keep` most recently used kept (thread-safe)."""

    def __init__(self, keep: int = KEEP, **engine_args: Any) -> None:
        self.keep = keep
        self.engine_args = engine_args
        self.created = 0  # engines built so far (tests read it)
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._lock = threading.Lock()
        _ALL.add(self)

    def get(self, conn_string: str) -> Engine:
        with self._lock:
            engine = self._engines.get(conn_string)
            if engine is None:
                engine = create_engine(conn_string, **self.engine_args)  # a SQLite file: SQLAlchemy's QueuePool
                event.listen(engine, "connect", _write_ahead)
                self._engines[conn_string] = engine
                self.created += 1
                while len(self._engines) > self.keep:
                    _, old = self._engines.popitem(last=False)
                    old.dispose()  # closes its idle connections
            else:
                self._engines.move_to_end(conn_string)
            return engine

    def __len__(self) -> int:
        return len(self._engines)

    def dispose(self, close: bool = True) -> None:
        """Forget every engine; `close`: close their idle connections (not in a forked child: the parent's)."""
        with self._lock:
            for engine in self._engines.values():
                engine.dispose(close=close)
            self._engines.clear()


def _write_ahead(dbapi_connection: Any, _record: Any) -> None:
    """A new connection: the write-ahead log, as Dagster sets on every one of its files (here before its first
    write, not after), with commits that do not wait for the disk (SYNCHRONOUS)."""
    dbapi_connection.execute("pragma journal_mode=wal")
    dbapi_connection.execute(f"pragma synchronous={SYNCHRONOUS}")


def _after_fork_in_child() -> None:
    for engines in list(_ALL):
        engines.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def engines_of(storage: Any) -> Engines:
    """The engines a storage object keeps (made on first use)."""
    kept = storage.__dict__.get("_kept_engines")
    if kept is None:
        if isinstance(storage, SqliteEventLogStorage):
            kept = Engines(connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        else:
            kept = Engines(keep=1)
        kept = storage.__dict__.setdefault("_kept_engines", kept)
    return kept


@contextmanager
def _unit_of_work(engine: Engine) -> Iterator[Connection]:
    """One transaction on a pooled connection, as Dagster's SQLite storages open one on a new connection."""
    with engine.connect() as conn, conn.begin():
        yield conn


@contextmanager
def _event_log_connect(self: SqliteEventLogStorage, shard: str) -> Iterator[Connection]:
    # Dagster's SqliteEventLogStorage._connect, with the shard's engine kept.
    with self._db_lock:
        engine = engines_of(self).get(self.conn_string_for_shard(shard))
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        with _unit_of_work(engine) as conn:
            yield conn


@contextmanager
def _one_file_connect(self: SqliteRunStorage | SqliteScheduleStorage) -> Iterator[Connection]:
    # Dagster's SqliteRunStorage.connect and SqliteScheduleStorage.connect, with the file's engine kept.
    with _unit_of_work(engines_of(self).get(self._conn_string)) as conn:
        yield conn


def _has_table(self: SqliteEventLogStorage, table_name: str) -> bool:
    """Dagster's SqliteEventLogStorage.has_table on the index's kept engine; a table found is remembered.

    Dagster asks it before storing every asset check event (whether the index has the check tables yet)
    and every materialization with tags, and built a new engine and connection to answer each time:
    0.6 s of the medium nightly's 1,300 check events. Dagster drops none of the index's tables (`wipe()`
    empties them, and forgets what was found anyway); one not there is asked again (a migration in
    another process may add it).
    """
    found: set[str] = self.__dict__.setdefault("_tables_found", set())
    if table_name not in found:
        engine = engines_of(self).get(self.conn_string_for_shard(INDEX_SHARD_NAME))
        with engine.connect() as conn:
            if not engine.dialect.has_table(conn, table_name):
                return False
        found.add(table_name)
    return True


def _closed_before_wipe(wipe):
    """The event log's wipe (it deletes files), after closing the connections it keeps to them."""

    @functools.wraps(wipe)
    def closed_before_wipe(self: SqliteEventLogStorage) -> None:
        with self._db_lock:  # no unit of work in progress while they close
            engines_of(self).dispose()
            self.__dict__.pop("_tables_found", None)
        wipe(self)

    return closed_before_wipe


def _closed_after_dispose(dispose):
    """A storage's dispose, then closing the connections it keeps."""

    @functools.wraps(dispose)
    def closed_after_dispose(self) -> None:
        try:
            dispose(self)
        finally:
            engines_of(self).dispose()

    return closed_after_dispose


def keep_connections() -> None:
    """Make Dagster's SQLite storages keep their engines and connections in this process (once per process)."""
    global _applied
    if _applied:
        return
    SqliteEventLogStorage._connect = _event_log_connect
    SqliteEventLogStorage.has_table = _has_table
    SqliteEventLogStorage.wipe = _closed_before_wipe(SqliteEventLogStorage.wipe)
    for storage_class in (SqliteEventLogStorage, SqliteRunStorage, SqliteScheduleStorage):
        storage_class.dispose = _closed_after_dispose(storage_class.dispose)
    SqliteRunStorage.connect = _one_file_connect
    SqliteScheduleStorage.connect = _one_file_connect
    _applied = True
