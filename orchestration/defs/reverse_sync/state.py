"""Reverse-sync state in the warehouse: diff against the last synced snapshot, send, and the sync logs.

Schema `reverse_sync` holds, per sync and target: `sync_state` (what the target holds, as far as
this project sent it), `sync_runs`, `sync_changelog` and `sync_rejections`. State advances only
after the target confirmed an import, in the same transaction as the logs, so a kill at any point
leaves either the old state (the next run re-sends the same upserts) or the new one.

State is keyed by the target (`SyncTarget.key`: API URL, workspace, model and import; never the
user or password): pointed at another tenant, workspace, model or import, the sync finds no state
for it and sends the whole model. State recorded before it was keyed by target (column `target`
null) is adopted by the first target a sync runs against: that run re-sends every row (an upsert
of an unchanged cell changes nothing) and clears the rows that state holds and the model no longer
has, so the target ends up right whichever it is.

The same SQL runs on DuckDB and PostgreSQL (orchestration.lib.dialect for what differs).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import duckdb

from orchestration.defs.reverse_sync.anaplan import ImportResult, RejectedRow
from orchestration.lib.dialect import dialect_of, json_field, json_object, table_exists

SCHEMA = "reverse_sync"
UTC_NOW = "(current_timestamp at time zone 'UTC')::timestamp"

# The tables as a fresh warehouse gets them. Columns added since (at the end, so a migrated table
# has the same layout) are in ADDED_COLUMNS; every insert names its columns.
DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.sync_runs (
        run_id varchar, sync_name varchar, started_at timestamp, finished_at timestamp, status varchar,
        rows_created integer, rows_updated integer, rows_deleted integer, rows_rejected integer,
        rows_invalid integer, failing_checks varchar, message varchar, target varchar)""",
    f"""create table if not exists {SCHEMA}.sync_changelog (
        run_id varchar, sync_name varchar, change_type varchar, record_key varchar,
        old_value decimal(18, 2), new_value decimal(18, 2), is_dry_run boolean, logged_at timestamp,
        target varchar)""",
    f"""create table if not exists {SCHEMA}.sync_rejections (
        run_id varchar, sync_name varchar, record_key varchar, reason varchar, payload varchar,
        rejected_at timestamp, target varchar, import_line integer)""",
    f"""create table if not exists {SCHEMA}.sync_state (
        sync_name varchar, record_key varchar, payload varchar, value decimal(18, 2), run_id varchar,
        synced_at timestamp, target varchar)""",
    # A change above the guard stops the run and leaves a preview: one row per change it would send.
    f"""create table if not exists {SCHEMA}.sync_previews (
        preview_id varchar, sync_name varchar, target varchar, created_at timestamp, run_id varchar,
        diff_hash varchar, change_type varchar, record_key varchar, payload varchar,
        old_value decimal(18, 2), new_value decimal(18, 2))""",
    # What an operator decided of a preview (approved, rejected) and what became of it (sent, stale).
    f"""create table if not exists {SCHEMA}.sync_preview_decisions (
        preview_id varchar, decision varchar, run_id varchar, decided_at timestamp, message varchar)""",
)
ADDED_COLUMNS = {
    "sync_runs": (("target", "varchar"),),
    "sync_changelog": (("target", "varchar"),),
    "sync_rejections": (("target", "varchar"), ("import_line", "integer")),
    "sync_state": (("target", "varchar"),),
}


@dataclass(frozen=True)
class SyncTarget:
    """Where a sync writes: what its state is keyed by. Credentials are not part of it."""

    api_url: str
    workspace_id: str
    model_id: str
    import_id: str

    @property
    def key(self) -> str:
        """`https://api.anaplan.com/workspaces/<ws>/models/<model>/imports/<import>` (no user info)."""
        parts = urlsplit(self.api_url.strip())
        host = (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")
        base = urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/"), "", ""))
        return f"{base}/workspaces/{self.workspace_id}/models/{self.model_id}/imports/{self.import_id}"


@dataclass(frozen=True)
class SyncSpec:
    """How one sync model maps onto the target's import file."""

    name: str
    model: str  # relation in the warehouse
    # target column -> SQL expression over the model, or a function of the dialect returning one
    key_columns: dict[str, str | Callable[[str], str]]
    value_column: tuple[str, str]  # target column, SQL expression
    audit_column: str  # target column carrying the Dagster run id
    # key columns whose members the target must keep receiving: a model that drops one the last
    # sync sent (an entity, a practice, a line item) is hollow, and the sync refuses to send it
    required_members: tuple[str, ...] = ()
    # the key column the totals are reported by (a line item: summing across them counts an amount twice)
    total_by: str | None = None

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
    totals: dict[str, Decimal] = field(default_factory=dict)  # valid rows about to be held, by `total_by` member
    synced_totals: dict[str, Decimal] = field(default_factory=dict)  # the target's last synced state, the same way
    synced_rows: int = 0  # rows of this target's state (0 before its first sync)
    desired_rows: int = 0  # rows of the model: what the target holds after this sync (invalid ones included)
    legacy_adopted: int = 0  # state rows from before state was keyed by target, taken over by this run

    @property
    def changes(self) -> list[dict]:
        return self.creates + self.updates + self.deletes


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the tables, and add the columns a warehouse from an earlier version lacks."""
    for statement in DDL:
        con.execute(statement)
    for table, columns in ADDED_COLUMNS.items():
        present = _columns(con, table) or set()
        for name, kind in columns:
            if name not in present:
                con.execute(f"alter table {SCHEMA}.{table} add column {name} {kind}")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str] | None:
    """The columns of a reverse_sync table; None when it does not exist (read paths create nothing)."""
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [SCHEMA, table],
    ).fetchall()
    return {row[0] for row in rows} or None


_NO_STATE = (
    "select cast(null as varchar) as record_key, cast(null as varchar) as payload,"
    " cast(null as decimal(18, 2)) as value where 1 = 0"
)


def _state_sql(con: duckdb.DuckDBPyConnection, spec: SyncSpec, target: SyncTarget) -> tuple[str, list, bool]:
    """(select of this target's state as record_key, payload, value; its parameters; is it legacy state).

    A target without state rows reads the state recorded before state was keyed by target, if any
    (a table not migrated yet, read-only, has only such rows).
    """
    columns = _columns(con, "sync_state")
    select = f"select record_key, payload, value from {SCHEMA}.sync_state where sync_name = ?"
    if columns is None:
        return _NO_STATE, [], False
    if "target" not in columns:
        return select, [spec.name], True
    own = con.execute(
        f"select count(*) from {SCHEMA}.sync_state where sync_name = ? and target = ?", [spec.name, target.key]
    ).fetchall()[0][0]
    if own:
        return f"{select} and target = ?", [spec.name, target.key], False
    return f"{select} and target is null", [spec.name], True


def last_synced(con: duckdb.DuckDBPyConnection, spec: SyncSpec, target: SyncTarget) -> tuple[str, list]:
    """This target's last synced state as a subquery (record_key, payload, value) and its parameters.

    Read-only: on a warehouse without sync state it is empty.
    """
    sql, params, _legacy = _state_sql(con, spec, target)
    return f"({sql})", params


def compute_diff(con: duckdb.DuckDBPyConnection, spec: SyncSpec, target: SyncTarget) -> Diff:
    """Compare the sync model with the target's last synced state, by key, set-based."""
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
    state_sql, params, legacy = _state_sql(con, spec, target)
    con.execute(f"create temp table _state as {state_sql}", params)
    diff = Diff()
    synced = con.execute("select count(*) from _state").fetchall()[0]
    if legacy:
        diff.legacy_adopted = synced[0]
    else:
        diff.synced_rows = synced[0]
    diff.desired_rows = con.execute("select count(*) from _desired").fetchall()[0][0]
    diff.invalid = _rows(
        con, "select record_key, payload, value from _desired where value is null or record_key is null"
    )
    valid = "(select * from _desired where value is not null and record_key is not null)"
    missing = "not exists (select 1 from {} where {}.record_key = {}.record_key)"
    # Against adopted legacy state every valid row is sent again: the target may not be the one it was sent to.
    diff.creates = _rows(
        con, f"select d.* from {valid} d" + ("" if legacy else f" where {missing.format('_state s', 's', 'd')}")
    )
    if not legacy:
        diff.updates = _rows(
            con,
            f"select d.*, s.value as old_value from {valid} d join _state s using (record_key)"
            " where d.value is distinct from s.value",
        )
    # A row still wanted but without a valid value is invalid, never a delete: it must not clear the cell.
    diff.deletes = _rows(
        con, f"select s.*, s.value as old_value from _state s where {missing.format('_desired d', 'd', 's')}"
    )
    diff.totals = _totals(con, spec, valid)
    diff.synced_totals = _totals(con, spec, "_state")
    return diff


def _totals(con: duckdb.DuckDBPyConnection, spec: SyncSpec, relation: str) -> dict[str, Decimal]:
    """Sum of value per member of `spec.total_by` (one total under "" without it), exact decimals."""
    member = json_field("payload", spec.total_by) if spec.total_by else "''"
    rows = con.execute(
        f"select {member} as member, sum(value) from {relation} t where value is not null group by 1 order by 1"
    ).fetchall()
    return {str(name): Decimal(total) for name, total in rows}


def dropped_members(con: duckdb.DuckDBPyConnection, spec: SyncSpec, target: SyncTarget) -> dict[str, list[str]]:
    """Per required member column: the members the target's last sync holds and the model no longer has."""
    state, params = last_synced(con, spec, target)
    keys = spec.key_expressions(dialect_of(con))
    dropped: dict[str, list[str]] = {}
    for column in spec.required_members:
        rows = con.execute(
            f"select distinct {json_field('payload', column)} as member from {state} s"
            f" except select distinct cast({keys[column]} as varchar) from {spec.model} order by 1",
            params,
        ).fetchall()
        if rows:
            dropped[column] = [str(r[0]) for r in rows]
    return dropped


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


@dataclass(frozen=True)
class Rejection:
    """A row the target refused: its key, every reason the failure dump gives, its line in the import file."""

    record_key: str
    reason: str
    line: int | None


class UnmatchedRejection(Exception):
    """The failure dump names a row this sync did not send: its accounting cannot be trusted."""


def rejections(spec: SyncSpec, diff: Diff, rejected_rows: list[RejectedRow]) -> dict[str, Rejection]:
    """record_key -> Rejection for the rows of the failure dump, matched to the rows sent by key."""
    sent = {row["record_key"] for row in diff.changes}
    found: dict[str, Rejection] = {}
    for row in rejected_rows:
        key = "|".join(row.values.get(column, "") for column in spec.key_columns)
        if key not in sent:
            raise UnmatchedRejection(
                f"the failure dump rejects a row this sync did not send (line {row.line}, key {key!r}: {row.reason})"
            )
        found[key] = Rejection(key, row.reason, row.line)
    return found


@dataclass
class RunRecord:
    run_id: str
    sync_name: str
    started_at: str
    status: str
    target: str | None = None
    created: int = 0
    updated: int = 0
    deleted: int = 0
    rejected: int = 0
    invalid: int = 0
    failing_checks: list[str] = field(default_factory=list)
    message: str = ""
    preview_id: str | None = None  # the approved preview this run sends (recorded `sent` with its state)


def record_run(con: duckdb.DuckDBPyConnection, run: RunRecord) -> None:
    ensure_tables(con)
    con.execute(
        f"insert into {SCHEMA}.sync_runs (run_id, sync_name, started_at, finished_at, status, rows_created,"
        " rows_updated, rows_deleted, rows_rejected, rows_invalid, failing_checks, message, target)"
        f" values (?, ?, ?::timestamp, {UTC_NOW}, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            run.target,
        ],
    )


def log_changes(
    con: duckdb.DuckDBPyConnection, spec: SyncSpec, target: SyncTarget, diff: Diff, run_id: str, dry_run: bool
) -> None:
    rows = [("create", r["record_key"], None, r["value"]) for r in diff.creates]
    rows += [("update", r["record_key"], r["old_value"], r["value"]) for r in diff.updates]
    rows += [("delete", r["record_key"], r["old_value"], None) for r in diff.deletes]
    if rows:
        con.executemany(
            f"insert into {SCHEMA}.sync_changelog (run_id, sync_name, change_type, record_key, old_value,"
            f" new_value, is_dry_run, logged_at, target) values (?, ?, ?, ?, ?, ?, ?, {UTC_NOW}, ?)",
            [(run_id, spec.name, kind, key, old, new, dry_run, target.key) for kind, key, old, new in rows],
        )


@dataclass
class Accepted:
    """The rows of a diff the target took (all but the rejected ones)."""

    creates: list[dict]
    updates: list[dict]
    deletes: list[dict]

    @classmethod
    def of(cls, diff: Diff, rejected: dict[str, Rejection]) -> Accepted:
        def keep(rows: list[dict]) -> list[dict]:
            return [r for r in rows if r["record_key"] not in rejected]

        return cls(keep(diff.creates), keep(diff.updates), keep(diff.deletes))

    @property
    def rows(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)


def commit_success(
    con: duckdb.DuckDBPyConnection,
    spec: SyncSpec,
    target: SyncTarget,
    diff: Diff,
    run: RunRecord,
    rejected: dict[str, Rejection],
) -> None:
    """Advance the target's state by what it accepted, and log the run, in one transaction."""
    ensure_tables(con)
    accepted = Accepted.of(diff, rejected)
    upserts = accepted.creates + accepted.updates
    all_rows = {r["record_key"]: r for r in diff.changes}
    con.execute("begin transaction")
    try:
        if diff.legacy_adopted:
            # Rows sent again in this run leave the adopted state (the accepted ones come back below,
            # a rejected one is created again next run); the rest become this target's state.
            con.executemany(
                f"delete from {SCHEMA}.sync_state where sync_name = ? and target is null and record_key = ?",
                [(spec.name, r["record_key"]) for r in diff.creates],
            )
            con.execute(
                f"update {SCHEMA}.sync_state set target = ? where sync_name = ? and target is null",
                [target.key, spec.name],
            )
        keys = [r["record_key"] for r in upserts + accepted.deletes]
        if keys:
            con.executemany(
                f"delete from {SCHEMA}.sync_state where sync_name = ? and target = ? and record_key = ?",
                [(spec.name, target.key, key) for key in keys],
            )
        if upserts:
            con.executemany(
                f"insert into {SCHEMA}.sync_state (sync_name, record_key, payload, value, run_id, synced_at, target)"
                f" values (?, ?, ?, ?, ?, {UTC_NOW}, ?)",
                [(spec.name, r["record_key"], r["payload"], r["value"], run.run_id, target.key) for r in upserts],
            )
        if rejected:
            con.executemany(
                f"insert into {SCHEMA}.sync_rejections (run_id, sync_name, record_key, reason, payload, rejected_at,"
                f" target, import_line) values (?, ?, ?, ?, ?, {UTC_NOW}, ?, ?)",
                [
                    (
                        run.run_id,
                        spec.name,
                        r.record_key,
                        r.reason,
                        all_rows[r.record_key]["payload"],
                        target.key,
                        r.line,
                    )
                    for r in rejected.values()
                ],
            )
        log_changes(con, spec, target, diff, run.run_id, dry_run=False)
        record_run(con, run)
        if run.preview_id:
            decide(con, run.preview_id, "sent", run.run_id, run.message)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


Connect = Callable[[], AbstractContextManager]


def send(
    connect: Connect,
    spec: SyncSpec,
    target: SyncTarget,
    diff: Diff,
    run: RunRecord,
    importer: Callable[[bytes], ImportResult],
) -> dict[str, Rejection]:
    """Send every change of the diff (upserts, and deletes as empty values), then advance the state.

    `connect()` opens a warehouse connection; `importer(csv_bytes)` runs the import on the target.
    A diff of deletes only is sent like any other: its cells must be cleared before the state
    forgets them. Returns the rejected rows; `run` gets the accepted counts and is logged.
    """
    rejected: dict[str, Rejection] = {}
    if diff.changes:
        try:
            result = importer(import_csv(spec, diff, run.run_id))
            rejected = rejections(spec, diff, result.rows_rejected)
        except Exception as err:
            run.status, run.message = "failed", str(err)
            with connect() as con:
                record_run(con, run)
            raise
    accepted = Accepted.of(diff, rejected)
    run.status, run.rejected = "success", len(rejected)
    run.created, run.updated, run.deleted = len(accepted.creates), len(accepted.updates), len(accepted.deletes)
    run.message = (
        f"{accepted.rows} rows accepted ({run.created} created, {run.updated} updated, {run.deleted} deleted),"
        f" {len(rejected)} rejected"
    )
    if diff.legacy_adopted:
        run.message += f"; adopted {diff.legacy_adopted} state rows recorded before state was keyed by target"
    with connect() as con:
        commit_success(con, spec, target, diff, run, rejected)
    return rejected


def current_plan_versions(con: duckdb.DuckDBPyConnection) -> int | None:
    """Rows of raw_planning.plan_version marked `Is Current`; None when the table does not exist."""
    if not table_exists(con, "raw_planning", "plan_version"):
        return None
    return con.execute('select count(*) from raw_planning.plan_version where "Is Current"').fetchall()[0][0]


def blocked_since(con: duckdb.DuckDBPyConnection, spec: SyncSpec, target: SyncTarget) -> object | None:
    """When the sync to this target started being blocked: its first blocked run since its last success."""
    ensure_tables(con)
    runs = f"{SCHEMA}.sync_runs where sync_name = ? and target = ?"
    return con.execute(
        f"select min(started_at) from {runs} and status = 'blocked' and started_at >="
        f" coalesce((select max(started_at) from {runs} and status = 'success'), timestamp '1970-01-01')",
        [spec.name, target.key, spec.name, target.key],
    ).fetchall()[0][0]


# --- previews of large changes, and an operator's approval ------------------------------------------


def change_rows(diff: Diff) -> list[tuple[str, str, str, Decimal | None, Decimal | None]]:
    """(change type, record key, payload, old value, new value) of every row the diff would send, by key."""
    rows = [("create", r["record_key"], r["payload"], None, r["value"]) for r in diff.creates]
    rows += [("update", r["record_key"], r["payload"], r["old_value"], r["value"]) for r in diff.updates]
    rows += [("delete", r["record_key"], r["payload"], r["old_value"], None) for r in diff.deletes]
    return sorted(rows, key=lambda row: (row[1], row[0]))


def diff_hash(diff: Diff) -> str:
    """A fingerprint of exactly what the diff would send: every row's change, key, old and new value."""
    import hashlib

    def cents(value: Decimal | None) -> str:
        return "" if value is None else f"{Decimal(value):.2f}"

    lines = "\n".join(f"{kind}|{key}|{cents(old)}|{cents(new)}" for kind, key, _, old, new in change_rows(diff))
    return hashlib.sha256(lines.encode()).hexdigest()


@dataclass(frozen=True)
class Preview:
    preview_id: str
    target: str
    diff_hash: str
    created_at: object
    rows: int
    decision: str | None  # the latest decision: approved, rejected, sent, stale; None while pending
    decided_by: str | None  # the run that took it


def store_preview(
    con: duckdb.DuckDBPyConnection, spec: SyncSpec, target: SyncTarget, diff: Diff, run_id: str
) -> Preview:
    """The preview of this diff: a pending one of the same diff to the same target, or a new one (id = the run's)."""
    ensure_tables(con)
    fingerprint = diff_hash(diff)
    pending = con.execute(
        f"select distinct p.preview_id from {SCHEMA}.sync_previews p where p.sync_name = ? and p.target = ?"
        f" and p.diff_hash = ? and not exists (select 1 from {SCHEMA}.sync_preview_decisions d"
        " where d.preview_id = p.preview_id)",
        [spec.name, target.key, fingerprint],
    ).fetchall()
    if pending:
        return find_preview(con, spec, pending[0][0])
    con.executemany(
        f"insert into {SCHEMA}.sync_previews (preview_id, sync_name, target, created_at, run_id, diff_hash,"
        f" change_type, record_key, payload, old_value, new_value) values (?, ?, ?, {UTC_NOW}, ?, ?, ?, ?, ?, ?, ?)",
        [(run_id, spec.name, target.key, run_id, fingerprint, *row) for row in change_rows(diff)],
    )
    return find_preview(con, spec, run_id)


def find_preview(con: duckdb.DuckDBPyConnection, spec: SyncSpec, preview_id: str) -> Preview | None:
    ensure_tables(con)
    found = con.execute(
        f"select target, diff_hash, min(created_at), count(*) from {SCHEMA}.sync_previews"
        " where preview_id = ? and sync_name = ? group by 1, 2",
        [preview_id, spec.name],
    ).fetchall()
    if not found:
        return None
    decided = con.execute(
        f"select decision, run_id from {SCHEMA}.sync_preview_decisions where preview_id = ?"
        " order by decided_at desc limit 1",
        [preview_id],
    ).fetchall()
    decision, by = decided[0] if decided else (None, None)
    target, fingerprint, created_at, rows = found[0]
    return Preview(preview_id, target, fingerprint, created_at, rows, decision, by)


def decide(con: duckdb.DuckDBPyConnection, preview_id: str, decision: str, run_id: str, message: str) -> None:
    ensure_tables(con)
    con.execute(
        f"insert into {SCHEMA}.sync_preview_decisions (preview_id, decision, run_id, decided_at, message)"
        f" values (?, ?, ?, {UTC_NOW}, ?)",
        [preview_id, decision, run_id, message],
    )
