"""Schema drift between what a source system says it has and the landing contract.

A new source field is landed and reported. A contract field the source no longer has, or now
holds as an incompatible type, fails the object when its staging model uses the field (the
message names field and object), and is only reported when staging does not use it. Each
connector tells its source's field types (Salesforce describe, Workday report XSD, Anaplan export
metadata); NetSuite has no such catalogue, so there a removed field is the query's own error and a
retyped one shows in the data (`retyped_in_data`: every value of a field fails its contract type).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

import duckdb

from orchestration.contract import SourceObject
from orchestration.defs.ingest.loader import q
from orchestration.lib.settings import DBT_PROJECT_DIR

# Source type families each contract type accepts.
_FAMILIES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "datetime",
    "INTEGER": "number",
}


def family(contract_type: str) -> str:
    return "number" if contract_type.startswith("DECIMAL") else _FAMILIES.get(contract_type, "text")


class SchemaDriftError(Exception):
    """A field staging needs is gone or retyped at the source; names the field(s) and the object."""


@dataclass
class Drift:
    obj: SourceObject
    new: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    retyped: dict[str, str] = field(default_factory=dict)  # field -> what the source has now

    def breaking(self) -> list[str]:
        return [f for f in [*self.removed, *self.retyped] if staging_uses(self.obj, f)]

    def message(self) -> str:
        where = f"{self.obj.system}.{self.obj.name} (source object {self.obj.file_stem!r}, {self.obj.staging_model})"
        parts = [f"field {f!r} was removed at the source" for f in self.removed if staging_uses(self.obj, f)]
        parts += [
            f"field {f!r} changed type at the source: the contract has {self._type(f)}, the source now {what}"
            for f, what in self.retyped.items()
            if staging_uses(self.obj, f)
        ]
        return f"schema drift in {where}: " + "; ".join(parts)

    def _type(self, name: str) -> str:
        return next(f.type for f in self.obj.fields if f.name == name)

    def metadata(self) -> dict[str, list[str]]:
        return {
            "new_source_fields": sorted(self.new),
            "removed_source_fields": sorted(self.removed),
            "retyped_source_fields": sorted(f"{k}: {v}" for k, v in self.retyped.items()),
        }


def compare(obj: SourceObject, source_fields: dict[str, str], protocol_fields: tuple[str, ...] = ()) -> Drift:
    """`source_fields`: field -> type family (text, number, boolean, date, datetime) at the source."""
    drift = Drift(obj)
    contract = {f.name: f for f in obj.fields}
    drift.new = [name for name in source_fields if name not in contract and name not in protocol_fields]
    for name, f in contract.items():
        if name not in source_fields:
            drift.removed.append(name)
        elif source_fields[name] != family(f.type):
            drift.retyped[name] = source_fields[name]
    return drift


@cache
def _staging_sql(obj: SourceObject) -> str | None:
    path = DBT_PROJECT_DIR / "models" / "staging" / obj.system / f"{obj.staging_model}.sql"
    return path.read_text().lower() if path.exists() else None


def staging_uses(obj: SourceObject, name: str) -> bool:
    """Does the object's staging model read the field? (Unknown: assume it does.)"""
    sql = _staging_sql(obj)
    if sql is None:
        return True
    identifier = re.escape(name.lower())
    return bool(re.search(rf'(?<![\w"])({identifier}|"{identifier}")(?![\w"])', sql))


def retyped_in_data(con: duckdb.DuckDBPyConnection, obj: SourceObject, relation: str) -> dict[str, str]:
    """Contract fields where every value of this batch fails the contract type (a type change, not row defects)."""
    checks = ", ".join(
        f"count({q(f.name)}), count({q(f.name)}) filter (where try_cast({q(f.name)} as {f.type}) is null), "
        f"any_value({q(f.name)}::varchar) filter (where try_cast({q(f.name)} as {f.type}) is null)"
        for f in obj.fields
        if f.type != "VARCHAR"
    )
    if not checks:
        return {}
    typed = [f for f in obj.fields if f.type != "VARCHAR"]
    row = con.execute(f"select {checks} from {relation}").fetchall()[0]
    found = {}
    for i, f in enumerate(typed):
        present, bad, example = row[3 * i : 3 * i + 3]
        if present >= 3 and bad == present:
            found[f.name] = f"values such as {example!r}, not {f.type}"
    return found
