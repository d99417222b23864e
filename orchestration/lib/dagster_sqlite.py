"""Dagster's SQLite instance storage, its connections kept open (the local instance's `storage`).

Dagster's SQLite storages (runs, the per-run event logs and their index, schedules and ticks) build
a new SQLAlchemy engine without a connection pool for every unit of work, open a SQLite connection,
commit, and close both. A run writes an event for every output, check result and materialization,
about 4.6 such units per event, and about 2,240 events in a full run at large scale: the cost was
the opening and closing, not the writing. A new engine compiles every statement again (its cache of
compiled statements is empty), and closing the last connection to a database in WAL mode (every
one of Dagster's is) checkpoints the log into the file and removes it.

The storages here are Dagster's own with one change: each keeps an engine per database file, with
SQLAlchemy's default pool for a SQLite file (`QueuePool`), so connections stay open between units
of work and statements compile once per process. A unit of work is still one transaction,
committed or rolled back before its connection goes back to the pool, so other processes (the UI,
the daemon, other runs) see the same files, locks and commits as before; an open connection between
transactions holds no lock. The write-ahead log is checkpointed as SQLite does by default (every
1,000 pages) and when the process closes its connections.

Bounds and edges:
- a run's event log is a file of its own, so the event log storage keeps the engines of the `KEEP`
  files used last and closes the others' connections: a UI that reads thousands of runs holds no
  more than that open;
- `wipe()` deletes event log files: their connections are closed first, so nothing writes to a
  deleted file afterwards;
- a process forked after connections were opened does not use its parent's (os.register_at_fork).

Measured on 914 events of one run (docs/performance.md): 14.3 ms of CPU per event with Dagster's
storage, 3.4-4.5 ms with this one.

deploy/dagster.local.yaml selects it (`storage: custom:`). The production instance stores in
PostgreSQL (deploy/dagster.yaml), whose storage keeps a pool of connections already.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine

KEEP = 16  # engines kept per storage: the index, the runs in progress and the runs the UI shows
_ALL: weakref.WeakSet[Engines] = weakref.WeakSet()


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


def _after_fork_in_child() -> None:
    for engines in list(_ALL):
        engines.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def _unit_of_work(engine: Engine) -> Iterator[Connection]:
    """One transaction on a pooled connection, as Dagster's SQLite storages open one on a new connection."""
    with engine.connect() as conn, conn.begin():
        yield conn


class EventLogStorage(SqliteEventLogStorage):
    """Dagster's per-run SQLite event logs and their index, each file's engine and connection kept."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self.engines = Engines(connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        super().__init__(base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:  # Dagster's own, with the shard's engine kept
        with self._db_lock:
            engine = self.engines.get(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with _unit_of_work(engine) as conn:
                yield conn

    def wipe(self) -> None:
        with self._db_lock:  # no unit of work in progress; the files' connections closed before they go
            self.engines.dispose()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self.engines.dispose()


class _OneFileKept:
    """A storage in one SQLite file (`_conn_string`: Dagster's runs and schedules), its engine and connections kept."""

    _conn_string: str

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None) -> None:
        self.engines = Engines(keep=1)
        super().__init__(conn_string, inst_data)  # type: ignore[call-arg]  # the Dagster storage after this in the MRO

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with _unit_of_work(self.engines.get(self._conn_string)) as conn:
            yield conn

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self.engines.dispose()


class RunStorage(_OneFileKept, SqliteRunStorage):
    """Dagster's SQLite run storage (`runs.db`), its engine and connections kept."""


class ScheduleStorage(_OneFileKept, SqliteScheduleStorage):
    """Dagster's SQLite schedule and sensor storage (`schedules.db`, the ticks), its engine and connections kept."""


class SqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage under `base_dir` (the files where Dagster's default puts them), connections kept.

    deploy/dagster.local.yaml: `storage: {custom: {module: orchestration.lib.dagster_sqlite, class:
    SqliteStorage, config: {base_dir: {env: DAGSTER_HOME}}}}`.
    """

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        # Dagster's __init__ without the three stock storages it would build (and migrate) first.
        self.base_dir = base_dir
        self._run_storage = RunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = EventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = ScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Any) -> SqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
