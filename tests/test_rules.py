"""A quality rule is declared once, in the landing contract, and every check that enforces it follows.

Each test changes one rule on a copy of a contract object and regenerates, in memory, everything
derived from the contract: the Great Expectations suite, the dbt sources YAML with its tests, the
README's landing contract and the quality README's check table. Exactly the checks of that rule
change, everywhere; a real GX run shows the verdict moving with the rule.

Kind: unit (fast; `make test-fast`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from orchestration.contract import (
    SOURCE_OBJECTS,
    SYSTEMS,
    Range,
    Ref,
    Severity,
    SourceObject,
    Unique,
    get,
    one_of,
)
from orchestration.contract import docs as contract_docs
from orchestration.defs.quality import docs as quality_docs
from orchestration.defs.quality.gx_runner import run_suite
from orchestration.defs.quality.suites import CheckSpec, suite_for
from tests.helpers import load_script

pytestmark = pytest.mark.unit

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
STAGING_DIR = DBT_PROJECT_DIR / "models" / "staging"
STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost")


generate_sources = load_script(DBT_PROJECT_DIR / "scripts" / "generate_sources.py")
create_empty_raw = load_script(DBT_PROJECT_DIR / "scripts" / "create_empty_raw.py")


def with_field_rules(obj: SourceObject, field: str, *rules: Any) -> SourceObject:
    fields = tuple(replace(f, rules=rules) if f.name == field else f for f in obj.fields)
    return replace(obj, fields=fields)


def contract_with(changed: SourceObject) -> tuple[SourceObject, ...]:
    return tuple(changed if (o.system, o.name) == (changed.system, changed.name) else o for o in SOURCE_OBJECTS)


def gx_checks(obj: SourceObject) -> dict[str, CheckSpec]:
    return {c.name: c for c in suite_for(obj).checks}


def dbt_tests(obj: SourceObject, objects: tuple[SourceObject, ...]) -> dict[str, Any]:
    """The named dbt tests of one source table, from the generated YAML (as dbt reads it)."""
    document = yaml.safe_load(generate_sources.render_sources(obj.system, objects))
    [table] = [t for t in document["sources"][0]["tables"] if t["name"] == obj.name]
    tests = [*table.get("data_tests", []), *(t for c in table["columns"] for t in c.get("data_tests", []))]
    return {t["name"]: t for t in tests if isinstance(t, dict) and "name" in t}


def changed_lines(before: str, after: str) -> set[str]:
    return set(after.splitlines()) - set(before.splitlines())


def derived(objects: tuple[SourceObject, ...], obj: SourceObject) -> dict[str, Any]:
    """Everything the contract generates that carries `obj`'s rules."""
    return {
        "gx": gx_checks(obj),
        "dbt": dbt_tests(obj, objects),
        "sources": {s: generate_sources.render_sources(s, objects) for s in SYSTEMS},
        "landing_docs": contract_docs.render(objects=objects),
        "check_docs": quality_docs.render(tuple(suite_for(o) for o in objects)),
    }


def assert_only_check_changed(before: SourceObject, after: SourceObject, check: str) -> dict[str, Any]:
    """The GX check and the dbt test named after `check` changed, nothing else did; both docs moved."""
    old, new = derived(SOURCE_OBJECTS, before), derived(contract_with(after), after)
    assert {n for n in old["gx"].keys() | new["gx"].keys() if old["gx"].get(n) != new["gx"].get(n)} == {check}
    dbt_name = f"{before.schema}_{before.name}__{check}"
    assert {n for n in old["dbt"].keys() | new["dbt"].keys() if old["dbt"].get(n) != new["dbt"].get(n)} == {dbt_name}
    assert {s for s in SYSTEMS if old["sources"][s] != new["sources"][s]} == {before.system}
    check_rows = changed_lines(old["check_docs"], new["check_docs"])
    assert check_rows and all(f"`{before.schema}.{before.name}` | `{check}` |" in row for row in check_rows)
    assert changed_lines(old["landing_docs"], new["landing_docs"])
    return {
        "gx": new["gx"][check],
        "dbt": new["dbt"][dbt_name],
        "landing_docs": new["landing_docs"],
        "rows": check_rows,
    }


# --- one rule of each kind, changed once -----------------------------------------------------------


def test_changing_the_allowed_stages_changes_the_gx_check_the_dbt_test_and_both_docs() -> None:
    before = get("crm", "opportunity")
    stages = ("Prospecting", "Discovery", "Proposal", "Closed Won", "Closed Lost")
    after = with_field_rules(before, "StageName", one_of(*stages))
    assert [r.values for f in before.fields for r in f.rules if f.name == "StageName"] == [STAGES]

    new = assert_only_check_changed(before, after, "StageName_in_allowed_values")

    [expectation] = new["gx"].expectations
    assert (expectation.column, expectation.values) == ("StageName", stages)
    assert new["dbt"]["test_name"] == "accepted_values"
    assert new["dbt"]["arguments"]["values"] == list(stages)
    assert (
        "| `StageName` | VARCHAR | required | one of `Prospecting`, `Discovery`, `Proposal`, `Closed Won`, "
        in (new["landing_docs"])
    )
    [row] = new["rows"]
    assert "StageName is one of: Prospecting \\| Discovery \\| Proposal \\| Closed Won \\| Closed Lost" in row


def test_changing_a_range_changes_its_check_everywhere() -> None:
    before = get("hris", "time_off")
    after = with_field_rules(before, "Hours", Range(0, 12))

    old, new = derived(SOURCE_OBJECTS, before), derived(contract_with(after), after)
    # the check is named after its bounds, so the new bounds give it a new name in both layers
    assert set(old["gx"]) - set(new["gx"]) == {"Hours_between_0_and_24"}
    assert set(new["gx"]) - set(old["gx"]) == {"Hours_between_0_and_12"}
    [between] = new["gx"]["Hours_between_0_and_12"].expectations
    assert (between.min_value, between.max_value) == (0, 12)
    expression = new["dbt"]["raw_hris_time_off__Hours_between_0_and_12"]["arguments"]["expression"]
    assert expression == '("Hours" is null or ("Hours" >= 0 and "Hours" <= 12))'
    assert "raw_hris_time_off__Hours_between_0_and_24" not in new["dbt"]
    assert "| `Hours` | DECIMAL(9,2) | required | 0 to 12 | Hours off that day |" in new["landing_docs"]


def test_changing_a_reference_changes_its_check_everywhere() -> None:
    before = get("psa", "project")
    after = with_field_rules(before, "pse__Project_Manager__c", Ref("hris.worker.Worker_ID"))
    new = derived(contract_with(after), after)
    assert "pse__Project_Manager__c_references_contact" not in new["gx"]
    check = new["gx"]["pse__Project_Manager__c_references_worker"]
    assert check.reads == ("raw_hris.worker",)
    assert 'left join raw_hris.worker as target on target."Worker_ID" = checked."pse__Project_Manager__c"' in (
        check.expectations[0].query
    )
    test = new["dbt"]["raw_psa_project__pse__Project_Manager__c_references_worker"]
    assert test["arguments"] == {"to": "source('raw_hris', 'worker')", "field": '"Worker_ID"'}
    assert "| exists in `raw_hris.worker.Worker_ID` | Project manager (a resource) |" in new["landing_docs"]


def test_changing_a_business_key_changes_its_check_everywhere() -> None:
    before = get("hris", "holiday")
    key = Unique("one_holiday_per_country_date", ("Country", "Date", "Holiday_Name"), "One holiday per name.")
    new = assert_only_check_changed(before, replace(before, unique=(key,)), "one_holiday_per_country_date")
    assert 'group by "Country", "Date", "Holiday_Name" having count(*) > 1' in new["gx"].expectations[0].query
    assert new["dbt"]["arguments"]["combination_of_columns"] == ['"Country"', '"Date"', '"Holiday_Name"']
    assert "Unique: `Country`, `Date`, `Holiday_Name` (`one_holiday_per_country_date`, WARN)." in new["landing_docs"]


def test_raising_a_rule_to_error_makes_its_check_blocking_in_both_layers() -> None:
    before = get("crm", "opportunity")
    after = with_field_rules(before, "Probability", Range(0, 100, severity=Severity.ERROR))
    new = assert_only_check_changed(before, after, "Probability_between_0_and_100")
    assert (new["gx"].severity, new["gx"].blocking) == (Severity.ERROR, True)
    assert "config" not in new["dbt"]  # dbt's default severity is error
    [row] = new["rows"]
    assert "| ranges | ERROR | yes |" in row
    assert "| `Probability` | DECIMAL(9,2) | required | 0 to 100 (ERROR) |" in new["landing_docs"]


# --- the verdict follows the rule ---------------------------------------------------------------


def test_the_gx_verdict_follows_the_allowed_values(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    create_empty_raw.create_empty_raw_tables(database)
    with duckdb.connect(str(database)) as con:
        con.execute(
            'insert into raw_crm.opportunity ("Id", "AccountId", "StageName", "SystemModstamp", _loaded_at) '
            "values ('006A', '001A', 'Discovery', now(), now())"
        )
    opportunity = get("crm", "opportunity")
    widened = with_field_rules(opportunity, "StageName", one_of(*STAGES, "Discovery"))
    names = {"StageName_in_allowed_values"}
    [today] = run_suite(str(database), suite_for(opportunity).only(names))
    [after] = run_suite(str(database), suite_for(widened).only(names))
    assert (today.passed, today.unexpected_count, today.sample) == (False, 1, ("006A (StageName=Discovery)",))
    assert (after.passed, after.unexpected_count) == (True, 0)


# --- nothing else declares them ---------------------------------------------------------------------

RENAME = re.compile(r'^\s*("?)([A-Za-z_][\w ]*)\1 as (\w+),?$')


def _renames(obj: SourceObject) -> dict[str, str]:
    """staging column -> raw field, for the contract fields a staging model selects as they are."""
    sql = next(STAGING_DIR.glob(f"*/{obj.staging_model}.sql")).read_text()
    return {m[3]: m[2] for m in map(RENAME.match, sql.splitlines()) if m and m[2] in obj.field_names}


def _declared(obj: SourceObject, field_name: str) -> bool:
    field = next(f for f in obj.fields if f.name == field_name)
    return bool(field.rules or field.required or field_name in obj.primary_key)


def test_staging_models_repeat_no_rule_of_the_contract() -> None:
    by_model = {o.staging_model: o for o in SOURCE_OBJECTS}
    repeated = []
    for path in sorted(STAGING_DIR.glob("*/_*__models.yml")):
        for model in yaml.safe_load(path.read_text())["models"]:
            obj = by_model[model["name"]]
            renames = _renames(obj)
            for column in model.get("columns", []):
                raw = renames.get(column["name"])
                if column.get("data_tests") and raw and _declared(obj, raw):
                    repeated.append(f"{model['name']}.{column['name']} ({obj.schema}.{obj.name}.{raw})")
            for test in model.get("data_tests", []):
                columns = next(iter(test.values()))["arguments"]["combination_of_columns"]
                if all(c in renames for c in columns):
                    repeated.append(f"{model['name']}: {columns}")
    assert repeated == []
    # the guard sees the staging columns it judges: a plain rename, and a computed column left alone
    assert _renames(get("crm", "opportunity"))["opportunity_stage"] == "StageName"
    assert "billing_type" not in _renames(get("psa", "project"))
    assert "month_start_date" not in _renames(get("planning", "target"))
