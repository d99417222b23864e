"""Write models/staging/<system>/_<system>__sources.yml from the landing contract.

The contract (orchestration/contract/__init__.py) is the one declaration of every raw table and its
rules; the source YAML, its column descriptions and its data tests are generated from it, so they
cannot drift (tests/test_dbt_project.py checks). The tests: `unique` and `not_null` on the primary
key, `not_null` on required fields (ERROR), and one test per rule the contract declares, named
`<raw table>__<check>` after the raw-layer check that enforces the same rule, with its severity.
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

from orchestration.contract import (  # noqa: E402
    KEY_SEVERITY,
    LOAD_COLUMNS,
    SOURCE_OBJECTS,
    SYSTEMS,
    Allowed,
    Field,
    Range,
    Ref,
    RuleCheck,
    Severity,
    SourceObject,
)

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

_PLAIN_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def needs_quoting(name: str) -> bool:
    """Upper case or spaces: the raw column keeps the source spelling, so quote it."""
    return not _PLAIN_IDENTIFIER.match(name)


def quoted(name: str) -> str:
    return f'"{name}"' if needs_quoting(name) else name


def column_entry(name: str, data_type: str, description: str, tests: list[Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "description": description, "data_type": data_type}
    if needs_quoting(name):
        entry["quote"] = True
    if tests:
        entry["data_tests"] = tests
    return entry


def field_description(obj: SourceObject, f: Field) -> str:
    """The contract's description, then its key and cursor role and its value rules."""
    marks = []
    if f.name in obj.primary_key:
        marks.append("Primary key" if len(obj.primary_key) == 1 else "Part of the primary key")
    if f.name == obj.cursor:
        marks.append("incremental cursor")
    notes = [", ".join(marks).capitalize()] if marks else []
    notes += [f.rules_text()[0].upper() + f.rules_text()[1:]] if f.rules else []
    return f"{f.description}. {'. '.join(notes)}." if notes else f.description


def data_test(test: str, severity: Severity, name: str | None = None, **arguments: Any) -> dict[str, Any] | str:
    """One dbt data test; `warn` unless the contract says ERROR (dbt's default)."""
    spec: dict[str, Any] = {"arguments": arguments} if arguments else {}
    if severity is not Severity.ERROR:
        spec["config"] = {"severity": severity.lower()}
    if name:
        return {"name": name, "test_name": test, **spec}
    return {test: spec} if spec else test


def _range_expression(check: RuleCheck, rule: Range) -> str:
    def bounds(column: str) -> str:
        low = f"{column} {'>' if rule.strict_min else '>='} {rule.min}" if rule.min is not None else None
        high = f"{column} <= {rule.max}" if rule.max is not None else None
        return " and ".join(b for b in (low, high) if b)

    return " and ".join(f"({quoted(c)} is null or ({bounds(quoted(c))}))" for c in check.fields)


def rule_test(obj: SourceObject, check: RuleCheck) -> dict[str, Any] | str:
    """The dbt test of one contract rule, named after the raw-layer check that enforces it too."""
    name, rule = f"{obj.schema}_{obj.name}__{check.name}", check.rule
    if isinstance(rule, Allowed):
        return data_test("accepted_values", rule.severity, name, values=list(rule.values))
    if isinstance(rule, Ref):
        system, target, field = rule.parts
        return data_test(
            "relationships", rule.severity, name, to=f"source('raw_{system}', '{target}')", field=quoted(field)
        )
    if isinstance(rule, Range):
        return data_test("expression_is_true", rule.severity, name, expression=_range_expression(check, rule))
    not_null = " and ".join(f"{quoted(c)} is not null" for c in check.fields)
    test = data_test(
        "unique_combination_of_columns", rule.severity, name, combination_of_columns=[quoted(c) for c in check.fields]
    )
    test.setdefault("config", {})["where"] = not_null  # rows with an empty key field are not compared
    return test


def on_a_column(check: RuleCheck) -> bool:
    """Allowed values and references are tests on their column; ranges and business keys on the table."""
    return isinstance(check.rule, (Allowed, Ref))


def column_tests(obj: SourceObject, f: Field) -> list[Any]:
    tests: list[Any] = []
    if obj.primary_key == (f.name,):
        tests.append(data_test("unique", KEY_SEVERITY))
    if f.required or f.name in obj.primary_key:
        tests.append(data_test("not_null", KEY_SEVERITY))
    return tests + [rule_test(obj, c) for c in obj.rule_checks if on_a_column(c) and c.fields == (f.name,)]


def table_tests(obj: SourceObject) -> list[Any]:
    """Tests over several columns: a composite primary key, ranges and business keys."""
    tests: list[Any] = []
    if len(obj.primary_key) > 1:
        key = [quoted(k) for k in obj.primary_key]
        tests.append(data_test("unique_combination_of_columns", KEY_SEVERITY, combination_of_columns=key))
    return tests + [rule_test(obj, c) for c in obj.rule_checks if not on_a_column(c)]


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
    columns = [column_entry(f.name, f.type, field_description(obj, f), column_tests(obj, f)) for f in obj.fields]
    columns += [column_entry(*c) for c in LOAD_COLUMNS]
    entry = {
        "name": obj.name,
        "description": f"{obj.description} {loading} Landing files {patterns}.",
        "config": config,
    }
    tests = table_tests(obj)
    return {**entry, **({"data_tests": tests} if tests else {}), "columns": columns}


def source_document(system: str, contract: tuple[SourceObject, ...] = SOURCE_OBJECTS) -> dict[str, Any]:
    objects = [o for o in contract if o.system == system]
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


def render_sources(system: str, contract: tuple[SourceObject, ...] = SOURCE_OBJECTS) -> str:
    """The YAML of one system's sources (from `contract`, the landing contract's objects unless given)."""
    header = (
        "# Generated from orchestration/contract/__init__.py by dbt_project/scripts/generate_sources.py;\n"
        "# edit the contract and re-run the script instead of editing this file.\n"
    )
    body = yaml.dump(
        source_document(system, contract),
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
