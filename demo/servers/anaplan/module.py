"""The one Anaplan module the local server holds: the forecast inputs, stored as cells in SQLite.

An import is planned first (parse, validate, last row per key wins) and then applied in one
SQLite transaction, so a reader never sees half an import. Import semantics follow what the
pipeline configures in Anaplan: each row upserts the cell at its key, and a row with an empty
Value clears (deletes) the cell.
"""

from __future__ import annotations

import csv
import io
import math
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

COLUMNS = ("Legal Entity", "Practice", "Month", "Line Item", "Version", "Value", "Audit Run Id")
KEY_COLUMNS = COLUMNS[:5]
VALUE_COLUMN = "Value"
AUDIT_COLUMN = "Audit Run Id"
LINE_ITEMS = frozenset({"Scheduled Revenue", "Weighted Pipeline", "Forecast Revenue"})
# The failure dump as Anaplan writes it: the row's line in the import file, one column per reason
# (`_Error_1_`, `_Error_2_`, ... as many as the row with most reasons has), then the row's columns.
LINE_COLUMN = "_Line_"
MONTH_LABEL = re.compile(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{2}")

# SQLite column for each CSV column: the CSV headers have spaces, the table does not.
_DB_COLUMNS = dict(
    zip(COLUMNS, ("legal_entity", "practice", "month", "line_item", "version", "value", "audit_run_id"), strict=True)
)
_KEY_DB = [_DB_COLUMNS[c] for c in KEY_COLUMNS]
_SCHEMA = f"""
create table if not exists cells (
    {", ".join(f"{c} text not null" for c in _KEY_DB)},
    value real not null,
    audit_run_id text not null,
    primary key ({", ".join(_KEY_DB)})
);
create table if not exists imports (
    task_id text primary key,
    finished_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    rows integer not null, created integer not null, updated integer not null,
    deleted integer not null, unchanged integer not null, rejected integer not null
);
"""

Key = tuple[str, ...]
RowFilter = Callable[[dict[str, str]], str | None]  # returns a rejection reason, or None


@dataclass(frozen=True)
class Rejected:
    """A row the import refused: its line in the file (the header is line 1), its values, every reason."""

    line: int
    row: dict[str, str]
    reasons: tuple[str, ...]


@dataclass
class ImportPlan:
    """What one import file asks for, after validation: the last operation per key wins."""

    operations: dict[Key, tuple[float, str] | None] = field(default_factory=dict)  # None clears the cell
    rejected: list[Rejected] = field(default_factory=list)
    rows: int = 0
    error: str | None = None  # the whole file was unusable (e.g. a missing column)


def create_store(db_path: str | Path) -> None:
    """Create the SQLite file and its tables if they do not exist yet."""
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    with _connect(db_path) as con:
        con.executescript(_SCHEMA)


def plan_import(content: bytes, extra_rejection: RowFilter | None = None) -> ImportPlan:
    """Parse and validate an uploaded file; never raises on bad data, which becomes rejections."""
    plan = ImportPlan()
    try:
        reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline=""))
        header = reader.fieldnames or []
    except (UnicodeDecodeError, csv.Error) as exc:
        plan.error = f"file is not UTF-8 CSV: {exc}"
        return plan
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        plan.error = f"file is missing column(s): {', '.join(missing)}"
        return plan
    end = reader.line_num  # the header's last line
    for row in reader:
        start, end = end + 1, reader.line_num  # a quoted newline makes a record span lines
        plan.rows += 1
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        reasons = _rejections(row) + ([r] if extra_rejection and (r := extra_rejection(row)) else [])
        if reasons:
            plan.rejected.append(Rejected(start, row, tuple(reasons)))
            continue
        value = row[VALUE_COLUMN]
        plan.operations[tuple(row[c] for c in KEY_COLUMNS)] = (float(value), row[AUDIT_COLUMN]) if value else None
    return plan


def _rejections(row: dict[str, str]) -> list[str]:
    """Every reason Anaplan would refuse this row for (empty: it imports)."""
    reasons = [f"{column} is empty" for column in ("Legal Entity", "Practice", "Version") if not row[column]]
    if not MONTH_LABEL.fullmatch(row["Month"]):
        reasons.append(f"Month '{row['Month']}' is not a time period label like 'Jan 26'")
    if row["Line Item"] not in LINE_ITEMS:
        reasons.append(f"Line Item '{row['Line Item']}' is not in the module")
    if row[VALUE_COLUMN] and not _is_number(row[VALUE_COLUMN]):
        reasons.append(f"Value '{row[VALUE_COLUMN]}' is not a number")
    return reasons


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def apply_import(db_path: str | Path, task_id: str, plan: ImportPlan) -> dict[str, int]:
    """Apply every accepted row in one transaction; returns the counts by kind of change."""
    counts = {"created": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    with _connect(db_path) as con:
        for key, operation in plan.operations.items():
            counts[_apply_one(con, key, operation)] += 1
        con.execute(
            "insert or replace into imports (task_id, rows, created, updated, deleted, unchanged, rejected)"
            " values (?, ?, ?, ?, ?, ?, ?)",
            (task_id, plan.rows, *counts.values(), len(plan.rejected)),
        )
    return counts


def _apply_one(con: sqlite3.Connection, key: Key, operation: tuple[float, str] | None) -> str:
    where = " and ".join(f"{c} = ?" for c in _KEY_DB)
    current = con.execute(f"select value, audit_run_id from cells where {where}", key).fetchone()
    if operation is None:
        if current is None:
            return "unchanged"  # clearing an empty cell is a no-op, as in Anaplan
        con.execute(f"delete from cells where {where}", key)
        return "deleted"
    if current == operation:
        return "unchanged"
    con.execute(
        f"insert into cells ({', '.join(_KEY_DB)}, value, audit_run_id) values (?, ?, ?, ?, ?, ?, ?)"
        f" on conflict ({', '.join(_KEY_DB)}) do update set value = excluded.value,"
        " audit_run_id = excluded.audit_run_id",
        (*key, *operation),
    )
    return "created" if current is None else "updated"


def read_cells(db_path: str | Path) -> list[dict[str, object]]:
    """Every stored cell, keyed by the import's CSV column names, sorted by key (read-only)."""
    db_columns = list(_DB_COLUMNS.values())
    with _connect(db_path, read_only=True) as con:
        rows = con.execute(f"select {', '.join(db_columns)} from cells order by {', '.join(_KEY_DB)}").fetchall()
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def read_imports(db_path: str | Path) -> list[dict[str, object]]:
    """One row per applied import task with its change counts, oldest first (read-only)."""
    with _connect(db_path, read_only=True) as con:
        con.row_factory = sqlite3.Row
        rows = con.execute("select * from imports order by finished_at, task_id").fetchall()
    return [dict(row) for row in rows]


def dump_csv(rejected: list[Rejected]) -> str:
    """The failure dump in Anaplan's layout: `_Line_`, `_Error_1_` ... `_Error_n_`, then the row's columns."""
    errors = max((len(r.reasons) for r in rejected), default=1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([LINE_COLUMN, *(f"_Error_{n}_" for n in range(1, errors + 1)), *COLUMNS])
    for r in rejected:
        reasons = [*r.reasons, *[""] * (errors - len(r.reasons))]
        writer.writerow([r.line, *reasons, *(r.row.get(c, "") for c in COLUMNS)])
    return out.getvalue()


@contextmanager
def _connect(db_path: str | Path, read_only: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection that commits on success and is always closed (sqlite3's `with` only commits)."""
    target = f"file:{Path(db_path).resolve()}?mode=ro" if read_only else str(db_path)
    with closing(sqlite3.connect(target, uri=read_only, timeout=10)) as con, con:
        yield con
