"""Valid landing records for any contract object, written in the object's own export format.

Tests state only the fields that matter to them; every other contract field gets a valid value of
its type, so a file is well-formed unless a test breaks it on purpose.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from orchestration import contract
from orchestration.contract import ANAPLAN_CSV, CSV, JSONL, WORKDAY_JSON, SourceObject

# The contract objects the loader tests write landing files of, one of every landing format.
ACCOUNT = contract.get("crm", "account")
TIMECARD = contract.get("psa", "timecard_header")
CUSTOMER = contract.get("erp", "customer")
TRANSACTION = contract.get("erp", "transaction")
LINE = contract.get("erp", "transaction_line")
FX = contract.get("erp", "consolidated_exchange_rate")
WORKER = contract.get("hris", "worker")
TARGET = contract.get("planning", "target")

_SAMPLES = {
    "VARCHAR": "x",
    "INTEGER": "1",
    "BOOLEAN": "false",
    "DATE": "2025-01-01",
}
_TIMESTAMPS = {
    CSV: "2025-01-01T00:00:00.000Z",
    ANAPLAN_CSV: "2025-01-01T00:00:00.000Z",
    JSONL: "2025-01-01 00:00:00",
    WORKDAY_JSON: "2025-01-01T00:00:00",
}


def sample(obj: SourceObject, type_: str) -> str:
    if type_ == "TIMESTAMP":
        return _TIMESTAMPS[obj.format]
    if type_.startswith("DECIMAL"):
        return "1.00"
    return _SAMPLES[type_]


def record(obj: SourceObject, **values: object) -> dict[str, object]:
    """Every contract field with a valid value, then `values` (None: no value; pass names with spaces via **{})."""
    row: dict[str, object] = {f.name: sample(obj, f.type) for f in obj.fields}
    row.update(values)
    return row


def render(obj: SourceObject, records: list[dict[str, object]], fields: list[str] | None = None) -> bytes:
    """The records as the object's landing file: CSV with header, JSONL lines, or a Workday report."""
    names = fields or list(obj.field_names)
    if obj.format in (CSV, ANAPLAN_CSV):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([["" if r.get(n) is None else r.get(n) for n in names] for r in records])
        return out.getvalue().encode()
    rows = [{n: r[n] for n in names if n in r} for r in records]
    if obj.format == JSONL:
        return "".join(json.dumps(r) + "\n" for r in rows).encode()
    # Workday RaaS leaves out empty fields and writes every value as a string
    entries = [{k: str(v) for k, v in r.items() if v is not None} for r in rows]
    return json.dumps({"Report_Entry": entries}, indent=0).encode()


def write(landing: Path, obj: SourceObject, records: list[dict[str, object]], batch: str | None = None) -> Path:
    """Write the object's base export (or batch `<stem>.<batch>.<ext>`) under `landing`."""
    name = f"{obj.file_stem}.{batch}.{obj.extension}" if batch else f"{obj.file_stem}.{obj.extension}"
    path = landing / obj.system / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render(obj, records))
    return path
