"""The sync's send and state on a hand-made model, against the local Anaplan server (no demo build).

Deletes-only diffs, state keyed by target, the migration of state recorded before it was keyed by
target, Anaplan-format rejections, and the members a hollow model drops.

Kind: unit (fast; `make test-fast`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from demo.servers.anaplan import read_cells, start_server
from demo.servers.anaplan.server import RunningServer
from orchestration.defs.reverse_sync.anaplan import AnaplanResource
from orchestration.defs.reverse_sync.state import (
    RunRecord,
    SyncSpec,
    SyncTarget,
    UnmatchedRejection,
    compute_diff,
    dropped_members,
    send,
)

pytestmark = pytest.mark.unit

SPEC = SyncSpec(
    name="forecast",
    model="m",
    key_columns={
        "Legal Entity": "entity",
        "Practice": "practice",
        "Month": "month",
        "Line Item": "line_item",
        "Version": "version",
    },
    value_column=("Value", "value"),
    audit_column="Audit Run Id",
    required_members=("Legal Entity", "Practice", "Line Item"),
)
MODEL = [
    ("US01", "Data", "Jan 27", "Forecast Revenue", "FY27", "100.00"),
    ("US01", "Data", "Feb 27", "Forecast Revenue", "FY27", "110.00"),
    ("US01", "Cloud", "Jan 27", "Forecast Revenue", "FY27", "50.00"),
    ("UK01", "Data", "Jan 27", "Forecast Revenue", "FY27", "70.25"),
    ("UK01", "Data", "Jan 27", "Weighted Pipeline", "FY27", "9.99"),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with start_server(tmp_path / "anaplan.sqlite") as running:
        yield running


def target_of(server: RunningServer, **changes: str) -> SyncTarget:
    ids = {"workspace_id": "demo-ws", "model_id": "demo-model", "import_id": "forecast_inputs", **changes}
    return SyncTarget(server.url, ids["workspace_id"], ids["model_id"], ids["import_id"])


def importer(server: RunningServer, workspace_id: str = "demo-ws", model_id: str = "demo-model"):
    where = {"api_url": server.url, "auth_url": server.url, "workspace_id": workspace_id, "model_id": model_id}
    model = AnaplanResource(**where, username="demo", password=server.config.password, poll_interval_seconds=0.02)
    client = model.client(sleep=lambda s: None)
    return lambda content: client.import_csv("forecast_inputs", "forecast_inputs", content)


class Warehouse:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(str(self.path))
        try:
            yield con
        finally:
            con.close()

    def set_model(self, rows: list[tuple]) -> None:
        with self.connect() as con:
            con.execute(
                "create or replace table m (entity varchar, practice varchar, month varchar, line_item varchar,"
                " version varchar, value decimal(18, 2))"
            )
            if rows:
                con.executemany("insert into m values (?, ?, ?, ?, ?, ?)", rows)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with self.connect() as con:
            return con.execute(sql, params or []).fetchall()


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.set_model(MODEL)
    return wh


def sync(warehouse: Warehouse, server: RunningServer, target: SyncTarget, run_id: str) -> RunRecord:
    """One sync run as the asset does it after its gate: diff, send, advance the state."""
    with warehouse.connect() as con:
        diff = compute_diff(con, SPEC, target)
    run = RunRecord(run_id=run_id, sync_name=SPEC.name, started_at="2026-11-16 02:00:00", status="", target=target.key)
    send(warehouse.connect, SPEC, target, diff, run, importer(server))
    return run


def cells(server: RunningServer) -> dict[tuple, Decimal]:
    return {
        tuple(c[k] for k in ("Legal Entity", "Practice", "Month", "Line Item", "Version")): Decimal(
            str(c["Value"])
        ).quantize(Decimal("0.01"))
        for c in read_cells(server.db_path)
    }


def model_cells(rows: list[tuple]) -> dict[tuple, Decimal]:
    return {row[:5]: Decimal(row[5]) for row in rows}


def counts(run: RunRecord) -> tuple:
    return (run.status, run.created, run.updated, run.deleted, run.rejected)


def test_a_diff_of_deletes_only_clears_the_cells_before_the_state_forgets_them(warehouse, server) -> None:
    target = target_of(server)
    assert counts(sync(warehouse, server, target, "run-1")) == ("success", 5, 0, 0, 0)
    assert cells(server) == model_cells(MODEL)

    kept = MODEL[:3]  # two rows removed from the model, nothing else changed
    warehouse.set_model(kept)
    assert counts(sync(warehouse, server, target, "run-2")) == ("success", 0, 0, 2, 0)
    assert cells(server) == model_cells(kept)  # the removed rows' cells are cleared in the planning tool
    state = warehouse.query("select record_key from reverse_sync.sync_state where target = ? order by 1", [target.key])
    assert state == sorted(("|".join(row[:5]),) for row in kept)
    assert counts(sync(warehouse, server, target, "run-3")) == ("success", 0, 0, 0, 0)  # nothing left to send


def test_state_is_kept_per_target_and_a_new_target_receives_the_whole_model(warehouse, server, tmp_path) -> None:
    first = target_of(server)
    assert counts(sync(warehouse, server, first, "run-1")) == ("success", 5, 0, 0, 0)
    with start_server(tmp_path / "tenant2.sqlite", workspace_id="ws-2", model_id="model-2") as other:
        second = SyncTarget(other.url, "ws-2", "model-2", "forecast_inputs")
        settings_importer = importer(other, "ws-2", "model-2")
        with warehouse.connect() as con:
            diff = compute_diff(con, SPEC, second)
        run = RunRecord(run_id="run-2", sync_name=SPEC.name, started_at="2026-11-16 02:00:00", status="")
        send(warehouse.connect, SPEC, second, diff, run, settings_importer)
        assert counts(run) == ("success", 5, 0, 0, 0)
        assert cells(other) == model_cells(MODEL)  # the whole model, though the first target is up to date
    assert counts(sync(warehouse, server, first, "run-3")) == ("success", 0, 0, 0, 0)  # its own state intact
    # the same target however its URL is written; credentials in it are not part of the key
    assert SyncTarget(server.url.upper() + "/", "demo-ws", "demo-model", "forecast_inputs").key == first.key
    with_user = server.url.replace("http://", "http://someone:secret@")
    assert SyncTarget(with_user, "demo-ws", "demo-model", "forecast_inputs").key == first.key
    assert "secret" not in SyncTarget(with_user, "w", "m", "i").key
    keys = warehouse.query("select distinct target from reverse_sync.sync_state order by 1")
    assert keys == sorted([(first.key,), (second.key,)])


def test_state_recorded_before_it_was_keyed_by_target_is_adopted_and_everything_resent(
    warehouse, server, tmp_path
) -> None:
    """An existing warehouse: sync_state without a target column, holding a row the model no longer has."""
    gone = ("DE01", "Data", "Jan 27", "Forecast Revenue", "FY27", "5.00")
    with warehouse.connect() as con:  # the layout of the earlier version, as its DDL created it
        con.execute("create schema reverse_sync")
        con.execute(
            "create table reverse_sync.sync_state (sync_name varchar, record_key varchar, payload varchar,"
            " value decimal(18, 2), run_id varchar, synced_at timestamp)"
        )
        for row in [*MODEL, gone]:
            payload = dict(zip(SPEC.key_columns, row[:5], strict=True))
            con.execute(
                "insert into reverse_sync.sync_state values (?, ?, to_json(?::map(varchar, varchar))::varchar, ?,"
                " 'old-run', now())",
                [SPEC.name, "|".join(row[:5]), payload, row[5]],
            )
    target = target_of(server)
    run = sync(warehouse, server, target, "run-1")
    assert counts(run) == ("success", 5, 0, 1, 0)  # every row sent again, the row no longer wanted cleared
    assert "adopted 6 state rows" in run.message
    assert cells(server) == model_cells(MODEL)
    state = warehouse.query("select count(*), count(distinct target), min(target) from reverse_sync.sync_state")
    assert state == [(5, 1, target.key)]
    assert counts(sync(warehouse, server, target, "run-2")) == ("success", 0, 0, 0, 0)


def test_rejected_rows_keep_their_reasons_and_are_not_counted_as_sent(warehouse, server) -> None:
    target = target_of(server)
    sync(warehouse, server, target, "run-1")
    warehouse.set_model([(*row[:5], str(Decimal(row[5]) + 1)) for row in MODEL])  # every value changes
    server.set_faults([{"match": "tasks$", "reject": {"column": "Practice", "equals": "Cloud"}}])
    run = sync(warehouse, server, target, "run-2")
    assert counts(run) == ("success", 0, 4, 0, 1)  # the rejected row is not counted as updated
    assert "4 rows accepted (0 created, 4 updated, 0 deleted), 1 rejected" in run.message
    rejections = warehouse.query("select record_key, reason, import_line, target from reverse_sync.sync_rejections")
    assert rejections == [
        ("US01|Cloud|Jan 27|Forecast Revenue|FY27", "rejected by injected fault: Practice = Cloud", 4, target.key)
    ]
    logged = warehouse.query("select rows_updated, rows_rejected from reverse_sync.sync_runs where run_id = 'run-2'")
    assert logged == [(4, 1)]
    server.set_faults([])
    assert counts(sync(warehouse, server, target, "run-3")) == ("success", 0, 1, 0, 0)  # sent again, accepted


def test_a_dump_naming_a_row_not_sent_fails_the_sync_and_keeps_the_state(warehouse, server) -> None:
    from orchestration.defs.reverse_sync.anaplan import ImportResult, RejectedRow

    target = target_of(server)
    sync(warehouse, server, target, "run-1")
    warehouse.set_model([(*MODEL[0][:5], "101.00"), *MODEL[1:]])
    stranger = RejectedRow(line=2, errors=("bad",), values={"Legal Entity": "ZZ99", "Practice": "Data"})
    with warehouse.connect() as con:
        diff = compute_diff(con, SPEC, target)
    run = RunRecord(run_id="run-2", sync_name=SPEC.name, started_at="2026-11-16 02:00:00", status="")
    with pytest.raises(UnmatchedRejection, match=r"did not send.*line 2.*ZZ99"):
        send(warehouse.connect, SPEC, target, diff, run, lambda content: ImportResult("t", False, [stranger]))
    assert warehouse.query("select status from reverse_sync.sync_runs where run_id = 'run-2'") == [("failed",)]
    assert warehouse.query("select max(value) from reverse_sync.sync_state where record_key like 'US01|Data|Jan%'") == [
        (Decimal("100.00"),)
    ]


def test_dropped_members_are_those_the_last_sync_to_this_target_sent(warehouse, server) -> None:
    target = target_of(server)
    with warehouse.connect() as con:
        assert dropped_members(con, SPEC, target) == {}  # before any sync: nothing to drop
    sync(warehouse, server, target, "run-1")
    warehouse.set_model([row for row in MODEL if row[0] != "UK01" and row[1] != "Cloud"])
    with warehouse.connect() as con:
        dropped = dropped_members(con, SPEC, target)
        other = dropped_members(con, SPEC, target_of(server, model_id="another-model"))
    assert dropped == {"Legal Entity": ["UK01"], "Practice": ["Cloud"], "Line Item": ["Weighted Pipeline"]}
    assert other == {}  # another target never received them
