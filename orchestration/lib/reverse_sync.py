"""Reverse-sync state in the warehouse: diff against the last synced snapshot, and the sync logs.

Schema `reverse_sync` holds, per sync: `sync_state` (what the target holds, as far as this
project sent it), `sync_runs`, `sync_changelog` and `sync_rejections`. State advances only after
the target confirmed an import, in the same transaction as the logs, so a kill at any point
leaves either the old state (the next run re-sends the same upserts) or the new one.
The same SQL runs on DuckDB and PostgreSQL (orchestration.lib.dialect for what differs).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from orchestration.lib.dialect import dialect_of, json_object

SCHEMA = "reverse_sync"
UTC_NOW = "(current_timestamp at time zone 'UTC')::timestamp"

DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.sync_runs (
        run_id varchar, sync_name varchar, started_at timestamp, finished_at timestamp, status varchar,
        rows_created integer, rows_updated integer, rows_deleted integer, rows_rejected integer,
        rows_invalid integer, failing_checks varchar, message varchar)""",
    f"""create table if not exists {SCHEMA}.sync_changelog (
        run_id varchar, sync_name varchar, change_type varchar, record_key varchar,
        old_value decimal(18, 2), new_value decimal(18, 2), is_dry_run boolean, logged_at timestamp)""",
    f"""create table if not exists {SCHEMA}.sync_rejections (
        run_id varchar, sync_name varchar, record_key varchar, reason varchar, payload varchar,
        rejected_at timestamp)""",
    f"""create table if not exists {SCHEMA}.sync_state (
        sync_name varchar, record_key varchar, payload varchar, value decimal(18, 2), run_id varchar,
        synced_at timestamp)""",
)


@dataclass(frozen=True)
class SyncSpec:
    """How one sync model maps onto the target's import file."""

    name: str
    model: str  # relation in the warehouse
    # target column -> SQL expression over the model, or a function of the dialect returning one
    key_columns: dict[str, str | Callable[[str], str]]
    value_column: tuple[str, str]  # target column, SQL expression
    audit_column: str  # target column carrying the Dagster run id

    def key_expressions(self, dialect: str = "duckdb") -> dict[str, str]:
        return {c: e(dialect) if callable(e) else e for c, e in self.key_columns.items()}

    def key_sql(self, dialect: str = "duckdb") -> str:
        return "concat_ws('|', " + ", ".join(self.key_expressions(dialect).values()) + ")"


@dataclass
class Diff:
    creates: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    deletes: list[dict] = field(default_factory=list)
    invalid: list[dict] = field(default_factory=list)
    desired_total: float = 0.0
    synced_total: float | None = None

    @property
    def changes(self) -> list[dict]:
        return self.creates + self.updates + self.deletes


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        con.execute(statement)


def compute_diff(con: duckdb.DuckDBPyConnection, spec: SyncSpec) -> Diff:
    """Compare the sync model with the last synced state, by key, set-based."""
    ensure_tables(con)
    dialect = dialect_of(con)
    payload = json_object(spec.key_expressions(dialect), dialect)
    value_expr = spec.value_column[1]
    for temp in ("_desired", "_state"):  # `create or replace` is DuckDB's only
        con.execute(f"drop table if exists {temp}")
    con.execute(
        f"""create temp table _desired as
            select {spec.key_sql(dialect)} as record_key, {payload} as payload,
                   {value_expr} as value from {spec.model}"""
    )
    con.execute(
        f"""create temp table _state as
            select record_key, payload, value from {SCHEMA}.sync_state where sync_name = ?""",
        [spec.name],
    )
    diff = Diff()
    diff.invalid = _rows(
        con, "select record_key, payload, value from _desired where value is null or record_key is null"
    )
    valid = "(select * from _desired where value is not null and record_key is not null)"
    missing = "not exists (select 1 from {} where {}.record_key = {}.record_key)"
    diff.creates = _rows(con, f"select d.* from {valid} d where {missing.format('_state s', 's', 'd')}")
    diff.updates = _rows(
        con,
        f"select d.*, s.value as old_value from {valid} d join _state s using (record_key)"
        " where d.value is distinct from s.value",
    )
    # A row still wanted but without a valid value is invalid, never a delete: it must not clear the cell.
    diff.deletes = _rows(
        con, f"select s.*, s.value as old_value from _state s where {missing.format('_desired d', 'd', 's')}"
    )
    diff.desired_total = float(con.execute(f"select coalesce(sum(value), 0) from {valid} d").fetchall()[0][0])
    synced = con.execute("select count(*), sum(value) from _state").fetchall()[0]
    diff.synced_total = float(synced[1]) if synced[0] else None
    return diff


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def import_csv(spec: SyncSpec, diff: Diff, run_id: str) -> bytes:
    """The import file: changed rows with their value, deleted rows with an empty value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*spec.key_columns, spec.value_column[0], spec.audit_column])
    for row in diff.creates + diff.updates:
        writer.writerow([*json.loads(row["payload"]).values(), f"{row['value']:.2f}", run_id])
    for row in diff.deletes:
        writer.writerow([*json.loads(row["payload"]).values(), "", run_id])
    return out.getvalue().encode()


def rejected_keys(spec: SyncSpec, rejected_rows: list[dict]) -> dict[str, str]:
    """record_key -> reason for the rows the target rejected (from its failure dump)."""
    return {
        "|".join(str(row.get(col, "")) for col in spec.key_columns): row.get("_Reason", "") for row in rejected_rows
    }


@dataclass
class RunRecord:
    run_id: str
    sync_name: str
    started_at: str
    status: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    rejected: int = 0
    invalid: int = 0
    failing_checks: list[str] = field(default_factory=list)
    message: str = ""


def record_run(con: duckdb.DuckDBPyConnection, run: RunRecord) -> None:
    ensure_tables(con)
    con.execute(
        f"insert into {SCHEMA}.sync_runs values (?, ?, ?::timestamp, {UTC_NOW}, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run.run_id,
            run.sync_name,
            run.started_at,
            run.status,
            run.created,
            run.updated,
            run.deleted,
            run.rejected,
            run.invalid,
            "; ".join(run.failing_checks),
            run.message,
        ],
    )


def log_changes(con: duckdb.DuckDBPyConnection, spec: SyncSpec, diff: Diff, run_id: str, dry_run: bool) -> None:
    rows = [("create", r["record_key"], None, r["value"]) for r in diff.creates]
    rows += [("update", r["record_key"], r["old_value"], r["value"]) for r in diff.updates]
    rows += [("delete", r["record_key"], r["old_value"], None) for r in diff.deletes]
    if rows:
        con.executemany(
            f"insert into {SCHEMA}.sync_changelog values (?, ?, ?, ?, ?, ?, ?, {UTC_NOW})",
            [(run_id, spec.name, kind, key, old, new, dry_run) for kind, key, old, new in rows],
        )


def commit_success(
    con: duckdb.DuckDBPyConnection, spec: SyncSpec, diff: Diff, run: RunRecord, rejected: dict[str, str]
) -> None:
    """Advance the state by what the target accepted, and log the run, in one transaction."""
    accepted_upserts = [r for r in diff.creates + diff.updates if r["record_key"] not in rejected]
    accepted_deletes = [r["record_key"] for r in diff.deletes if r["record_key"] not in rejected]
    all_rows = {r["record_key"]: r for r in diff.changes}
    con.execute("begin transaction")
    try:
        keys = [r["record_key"] for r in accepted_upserts] + accepted_deletes
        if keys:
            con.executemany(
                f"delete from {SCHEMA}.sync_state where sync_name = ? and record_key = ?",
                [(spec.name, key) for key in keys],
            )
        if accepted_upserts:
            con.executemany(
                f"insert into {SCHEMA}.sync_state values (?, ?, ?, ?, ?, {UTC_NOW})",
                [(spec.name, r["record_key"], r["payload"], r["value"], run.run_id) for r in accepted_upserts],
            )
        if rejected:
            con.executemany(
                f"insert into {SCHEMA}.sync_rejections values (?, ?, ?, ?, ?, {UTC_NOW})",
                [
                    (run.run_id, spec.name, key, reason, all_rows.get(key, {}).get("payload"))
                    for key, reason in rejected.items()
                ],
            )
        log_changes(con, spec, diff, run.run_id, dry_run=False)
        record_run(con, run)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
