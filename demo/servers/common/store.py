"""The demo firm as a source system holds it: every record of one system, in an in-memory DuckDB.

The store reads the landing files `demo.firm` wrote for a system (base export, then later
batches in name order, the newest version of each key winning, exactly as the loader merges
them) through the loader's own staging, so a local server serves the same firm as the files,
defects included. Values stay as the export's text; each server renders them in its protocol's
JSON. Tests change the source through `update`, `delete`, `add_field`, `drop_field` and
`retype_field` (the servers' `/_admin` endpoints), and the store's clock stamps every change
later than anything already in the data, as the source's own modified timestamp would be.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from orchestration.contract import SourceObject, objects_for
from orchestration.defs.ingest.loader import landing_files, q, stage_file


class StoreError(ValueError):
    """A change the store cannot make (unknown object, key or field); reported as HTTP 400/404."""


@dataclass
class ObjectState:
    """One source object: its contract, the fields the source has now, and their source types."""

    obj: SourceObject
    fields: dict[str, str] = field(default_factory=dict)  # field -> contract-style type (VARCHAR, DECIMAL(18,2), ...)

    @property
    def table(self) -> str:
        return q(self.obj.name)


class DemoStore:
    """Every object of one system; thread-safe (the HTTP server answers on many threads)."""

    def __init__(self, systems: tuple[str, ...], landing_dir: Path | None, timestamp_format: str) -> None:
        self.systems = systems
        self.timestamp_format = timestamp_format  # how this system prints its modified timestamps
        self.lock = threading.RLock()
        self.con = duckdb.connect()
        self.con.execute("set enable_progress_bar = false")
        self.objects: dict[str, ObjectState] = {}
        for obj in (o for system in systems for o in objects_for(system)):
            self.objects[obj.file_stem] = ObjectState(obj, {f.name: f.type for f in obj.fields})
            self._load(obj, landing_dir)
        self._clock = self._max_cursor()

    # --- loading ---------------------------------------------------------------------------------
    def _load(self, obj: SourceObject, landing_dir: Path | None) -> None:
        columns = ", ".join(f"{q(f.name)} varchar" for f in obj.fields)
        self.con.execute(f"create table {q(obj.name)} ({columns}, _seq bigint)")
        files = landing_files(obj, landing_dir) if landing_dir else []
        for number, path in enumerate(files):
            stage_file(self.con, obj, path)  # the loader's own reading of the export, as text
            names = ", ".join(q(f.name) for f in obj.fields)
            self.con.execute(f"insert into {q(obj.name)} select {names}, {number} * 1000000000 + rowid from _batch")
        order = f"try_cast({q(obj.cursor)} as timestamp) desc nulls last, _seq desc" if obj.cursor else "_seq desc"
        keys = ", ".join(q(k) for k in obj.primary_key)
        self.con.execute(
            f"create or replace table {q(obj.name)} as select * from {q(obj.name)} "
            f"qualify row_number() over (partition by {keys} order by {order}) = 1 order by _seq"
        )

    def _max_cursor(self) -> datetime:
        latest = datetime(2000, 1, 1)
        for state in self.objects.values():
            if state.obj.cursor:
                value = self.con.execute(
                    f"select max(try_cast({q(state.obj.cursor)} as timestamp)) from {state.table}"
                ).fetchall()[0][0]
                latest = max(latest, value or latest)
        return latest

    # --- reading ---------------------------------------------------------------------------------
    def state(self, name: str) -> ObjectState:
        try:
            return self.objects[name]
        except KeyError:
            raise StoreError(f"unknown object {name!r}; known: {', '.join(self.objects)}") from None

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with self.lock:
            return self.con.execute(sql, params or []).fetchall()

    def now(self) -> datetime:
        """The source's clock: wall time, but always after every timestamp already in the data."""
        with self.lock:
            wall = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
            self._clock = max(wall, self._clock + timedelta(seconds=1))
            return self._clock

    # --- changes (admin endpoints) -------------------------------------------------------------------
    def _where(self, state: ObjectState, key: dict[str, Any]) -> tuple[str, list[str]]:
        missing = [k for k in state.obj.primary_key if k not in key]
        if missing:
            raise StoreError(f"key needs {', '.join(state.obj.primary_key)}")
        return " and ".join(f"{q(k)} = ?" for k in state.obj.primary_key), [str(key[k]) for k in state.obj.primary_key]

    def update(self, name: str, key: dict[str, Any], values: dict[str, Any]) -> str | None:
        """Change fields of one record and stamp it modified now; returns the new cursor value."""
        state = self.state(name)
        unknown = [f for f in values if f not in state.fields]
        if unknown:
            raise StoreError(f"{name} has no field(s) {', '.join(unknown)}")
        with self.lock:
            values = dict(values)
            stamp = None
            if state.obj.cursor:
                stamp = self.now().strftime(self.timestamp_format)
                values[state.obj.cursor] = stamp
            where, params = self._where(state, key)
            sets = ", ".join(f"{q(f)} = ?" for f in values)
            args = [None if v is None else str(v) for v in values.values()]
            found = self.con.execute(f"select count(*) from {state.table} where {where}", params).fetchall()[0][0]
            if not found:
                raise StoreError(f"{name} has no record {key}")
            self.con.execute(f"update {state.table} set {sets} where {where}", args + params)
            return stamp

    def remove(self, name: str, key: dict[str, Any]) -> int:
        """Hard-delete one record (systems without a soft delete)."""
        state = self.state(name)
        with self.lock:
            where, params = self._where(state, key)
            return len(self.con.execute(f"delete from {state.table} where {where} returning 1", params).fetchall())

    def add_field(self, name: str, field_name: str, type_: str, value: Any) -> None:
        state = self.state(name)
        with self.lock:
            self.con.execute(f"alter table {state.table} add column {q(field_name)} varchar")
            self.con.execute(f"update {state.table} set {q(field_name)} = ?", [None if value is None else str(value)])
            state.fields[field_name] = type_

    def drop_field(self, name: str, field_name: str) -> None:
        state = self.state(name)
        if field_name not in state.fields:
            raise StoreError(f"{name} has no field {field_name}")
        with self.lock:
            state.fields.pop(field_name)  # the column stays in the table; the source no longer has it

    def retype_field(self, name: str, field_name: str, type_: str, value: Any) -> None:
        """The field now has another type at the source; every record carries `value` (text)."""
        state = self.state(name)
        if field_name not in state.fields:
            raise StoreError(f"{name} has no field {field_name}")
        with self.lock:
            state.fields[field_name] = type_
            self.con.execute(f"update {state.table} set {q(field_name)} = ?", [str(value)])
