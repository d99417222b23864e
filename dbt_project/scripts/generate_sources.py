"""Write models/staging/<system>/_<system>__sources.yml from the landing contract.

The contract (orchestration/contract/__init__.py) is the one declaration of every raw table; the source
YAML is generated from it so the two cannot drift (tests/test_dbt_project.py checks).
Usage: python dbt_project/scripts/generate_sources.py [--check]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere, not only as a package
    sys.path.insert(0, str(REPO_ROOT))

from orchestration.contract import SYSTEMS, SourceObject, objects_for  # noqa: E402

STAGING_DIR = Path(__file__).resolve().parents[1] / "models" / "staging"

SYSTEM_DESCRIPTIONS = {
    "crm": "Salesforce Sales Cloud, landed from the REST query API (`queryAll`, so "
    "soft-deleted rows arrive with `IsDeleted`).",
    "psa": "Certinia PSA objects in the same Salesforce org as the CRM, landed from the REST query API (`queryAll`).",
    "erp": "NetSuite, landed from SuiteQL query results (`items`, one JSON object per line).",
    "hris": "Workday custom reports (RaaS `Report_Entry`), landed as JSON.",
    "planning": "Anaplan exports of the planning model: header row with spaces, months as "
    "`Jan 26` (parsed in staging).",
}

FRESHNESS_NOTE = (
    "Freshness is measured on `_loaded_at` (when our loader landed the row), not on the "
    "source's own modified timestamp: the question is whether the pipeline still delivers, "
    "and a source cursor also depends on the source's clock and on whether anybody edited "
    "anything. Warn after 2 days (one missed daily load plus slack); error after 7 (a week "
    "with nothing landed from a system the firm uses every working day is a broken feed, "
    "not a quiet week)."
)

SNAPSHOT_NOTE = (
    "Objects without a cursor are full snapshots re-exported on their owner's schedule "
    "(monthly exchange rates, plan versions and targets), so they have no freshness check."
)

FRESHNESS = {
    "warn_after": {"count": 2, "period": "day"},
    "error_after": {"count": 7, "period": "day"},
}

LOAD_METADATA_COLUMNS = (
    ("_loaded_at", "TIMESTAMP", "When the loader landed this version of the row, UTC."),
    ("_source_file", "VARCHAR", "Landing file the row was read from."),
    ("_batch_id", "VARCHAR", "Loader batch that landed the row."),
)

_PLAIN_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def needs_quoting(name: str) -> bool:
    """Upper case or spaces: the raw column keeps the source spelling, so quote it."""
    return not _PLAIN_IDENTIFIER.match(name)


def column_entry(name: str, data_type: str, description: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "description": description, "data_type": data_type}
    if needs_quoting(name):
        entry["quote"] = True
    return entry


def field_description(obj: SourceObject, name: str, description: str) -> str:
    marks = []
    if name in obj.primary_key:
        marks.append("Primary key" if len(obj.primary_key) == 1 else "Part of the primary key")
    if name == obj.cursor:
        marks.append("incremental cursor")
    return f"{description}. {', '.join(marks).capitalize()}." if marks else description


def table_entry(obj: SourceObject, has_source_freshness: bool) -> dict[str, Any]:
    loading = (
        f"Incremental by `{obj.cursor}`, merged by key."
        if obj.cursor
        else "Full snapshot: the newest landing file replaces the table."
    )
    patterns = " or ".join(f"`{obj.system}/{p}`" for p in obj.file_patterns)
    config: dict[str, Any] = {
        "meta": {"primary_key": list(obj.primary_key), "cursor": obj.cursor, "format": obj.format}
    }
    if obj.cursor is None and has_source_freshness:
        config["freshness"] = None
    columns = [column_entry(f.name, f.type, field_description(obj, f.name, f.description)) for f in obj.fields]
    columns += [column_entry(*c) for c in LOAD_METADATA_COLUMNS]
    return {
        "name": obj.name,
        "description": f"{obj.description} {loading} Landing files {patterns}.",
        "config": config,
        "columns": columns,
    }


def source_document(system: str) -> dict[str, Any]:
    objects = objects_for(system)
    has_freshness = any(o.cursor for o in objects)
    source: dict[str, Any] = {
        "name": f"raw_{system}",
        "schema": f"raw_{system}",
        "description": " ".join(
            [SYSTEM_DESCRIPTIONS[system]]
            + ([FRESHNESS_NOTE] if has_freshness else [])
            + ([SNAPSHOT_NOTE] if not all(o.cursor for o in objects) else [])
        ),
    }
    if has_freshness:
        source["config"] = {"loaded_at_field": "_loaded_at", "freshness": FRESHNESS}
    source["tables"] = [table_entry(o, has_freshness) for o in objects]
    return {"sources": [source]}


class _IndentedDumper(yaml.SafeDumper):
    """Indent list items under their key, as dbt's own examples do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def render_sources(system: str) -> str:
    header = (
        "# Generated from orchestration/contract/__init__.py by dbt_project/scripts/generate_sources.py;\n"
        "# edit the contract and re-run the script instead of editing this file.\n"
    )
    body = yaml.dump(
        source_document(system),
        Dumper=_IndentedDumper,
        sort_keys=False,
        width=100,
        allow_unicode=True,
    )
    return header + body


def sources_path(system: str) -> Path:
    return STAGING_DIR / system / f"_{system}__sources.yml"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for system in SYSTEMS:
        path, text = sources_path(system), render_sources(system)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"{'stale' if check else 'wrote'} {path}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
