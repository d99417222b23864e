"""The dbt project builds on an empty warehouse and mirrors the landing contract.

One `dbt build` per module against raw tables created (empty) from orchestration/contract/__init__.py in a
DuckDB file under tmp_path; the assertions read dbt's manifest and the warehouse catalog.

Kind: integration (a `dbt build`), except the generated-sources check: unit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.contract import SOURCE_OBJECTS, SYSTEMS
from tests.helpers import load_script

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
LOAD_METADATA = ["_loaded_at", "_source_file", "_batch_id"]
SALESFORCE_SYSTEMS = {"crm", "psa"}


create_empty_raw = load_script(DBT_PROJECT_DIR / "scripts" / "create_empty_raw.py")
generate_sources = load_script(DBT_PROJECT_DIR / "scripts" / "generate_sources.py")


@dataclass(frozen=True)
class DbtRun:
    returncode: int
    output: str
    outcomes: dict[str, tuple[str, int | None]]  # unique_id -> (status, failures)


def run_dbt(args: list[str], database: Path, work_dir: Path, env: dict[str, str] | None = None) -> DbtRun:
    """Run the dbt CLI in its own process, so its DuckDB connection is closed afterwards.

    `env`: more variables for dbt's process (WAREHOUSE=postgres and POSTGRES_* build on PostgreSQL).
    """
    env = {**os.environ, "DUCKDB_DATABASE": str(database), "DO_NOT_TRACK": "1", **(env or {})}
    target = work_dir / "target"
    completed = subprocess.run(
        [
            sys.executable, "-m", "dbt.cli.main", *args,
            "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(target),
            "--log-path", str(work_dir / "logs"),
        ],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    run_results = target / "run_results.json"
    results = json.loads(run_results.read_text())["results"] if run_results.exists() else []
    outcomes = {r["unique_id"]: (r["status"], r["failures"]) for r in results}
    return DbtRun(completed.returncode, completed.stdout + completed.stderr, outcomes)


@dataclass(frozen=True)
class Build:
    database: Path
    work_dir: Path  # holds target/ (manifest, partial-parse state) and logs/
    manifest: dict[str, Any]
    outcomes: dict[str, tuple[str, int | None]]

    def nodes(self, resource_type: str) -> list[dict[str, Any]]:
        return [n for n in self.manifest["nodes"].values() if n["resource_type"] == resource_type]

    @property
    def staging_models(self) -> dict[str, dict[str, Any]]:
        return {n["name"]: n for n in self.nodes("model") if n["fqn"][1] == "staging"}


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    work_dir = tmp_path_factory.mktemp("dbt_build")
    database = work_dir / "warehouse.duckdb"
    create_empty_raw.create_empty_raw_tables(database)
    run = run_dbt(["build"], database, work_dir)
    assert run.returncode == 0, f"dbt build failed:\n{run.output[-5000:]}"
    manifest = json.loads((work_dir / "target" / "manifest.json").read_text())
    return Build(database, work_dir, manifest, run.outcomes)


def test_build_runs_every_node_and_an_empty_warehouse_raises_no_warning(build: Build) -> None:
    expected = {
        *(n["unique_id"] for n in build.nodes("model")),
        *(n["unique_id"] for n in build.nodes("test")),
        *build.manifest["unit_tests"],
    }
    assert set(build.outcomes) == expected
    assert len(build.staging_models) == len(SOURCE_OBJECTS)
    assert len(build.manifest["unit_tests"]) >= 2
    not_clean = {k: v for k, v in build.outcomes.items() if v[0] not in ("success", "pass")}
    assert not_clean == {}


def test_every_contract_object_is_one_source_table_with_its_fields(build: Build) -> None:
    sources = {(s["source_name"], s["name"]): s for s in build.manifest["sources"].values()}
    assert set(sources) == {(o.schema, o.name) for o in SOURCE_OBJECTS}
    for obj in SOURCE_OBJECTS:
        source = sources[(obj.schema, obj.name)]
        assert source["schema"] == obj.schema
        assert list(source["columns"]) == [*obj.field_names, *LOAD_METADATA], obj.name
        has_freshness = source["freshness"] is not None and source["freshness"]["error_after"]["count"]
        assert bool(has_freshness) == (obj.cursor is not None), obj.name
        if obj.cursor:
            assert source["loaded_at_field"] == "_loaded_at"


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.unit
def test_sources_yaml_is_the_generated_one(system: str) -> None:
    path = generate_sources.sources_path(system)
    assert path.read_text() == generate_sources.render_sources(system), (
        f"{path.name} drifted from orchestration/contract/__init__.py: run dbt_project/scripts/generate_sources.py"
    )


def test_every_contract_object_has_exactly_one_staging_model(build: Build) -> None:
    readers: dict[str, list[str]] = {}
    for model in build.nodes("model"):
        for parent in model["depends_on"]["nodes"]:
            readers.setdefault(parent, []).append(model["name"])
    for obj in SOURCE_OBJECTS:
        source_id = f"source.psa_pipeline.{obj.schema}.{obj.name}"
        assert readers.get(source_id) == [obj.staging_model], source_id
    assert sorted(build.staging_models) == sorted(o.staging_model for o in SOURCE_OBJECTS)


def test_only_staging_calls_source_and_staging_reads_one_source_only(build: Build) -> None:
    for model in build.nodes("model"):
        parents = model["depends_on"]["nodes"]
        reads_source = any(p.startswith("source.") for p in parents)
        is_staging = model["original_file_path"].startswith("models/staging/")
        assert reads_source == is_staging, f"{model['name']} reads {parents}"
        if is_staging:
            assert model["name"].startswith("stg_") and len(parents) == 1, model["name"]


def test_staging_models_are_views_in_staging_with_the_documented_columns(build: Build) -> None:
    with duckdb.connect(str(build.database), read_only=True) as con:
        rows = con.execute(
            "select t.table_name, t.table_type, c.column_name"
            " from information_schema.tables as t"
            " inner join information_schema.columns as c"
            "   on t.table_schema = c.table_schema and t.table_name = c.table_name"
            " where t.table_schema = 'staging'"
        ).fetchall()
    assert {table_type for _, table_type, _ in rows} == {"VIEW"}
    actual: dict[str, set[str]] = {}
    for table, _, column in rows:
        actual.setdefault(table, set()).add(column)
    assert set(actual) == set(build.staging_models)
    for name, model in build.staging_models.items():
        documented = set(model["columns"])
        assert actual[name] == documented, (
            f"{name}: undocumented {actual[name] - documented}, missing {documented - actual[name]}"
        )
        assert {"loaded_at", "batch_id"} <= actual[name], name
        if model["fqn"][2] in SALESFORCE_SYSTEMS:
            assert "is_deleted" in actual[name], name


def test_every_model_and_column_is_described(build: Build) -> None:
    undescribed = []
    for node in [*build.nodes("model"), *build.manifest["sources"].values()]:
        if not node["description"].strip():
            undescribed.append(node["name"])
        undescribed += [f"{node['name']}.{c}" for c, spec in node["columns"].items() if not spec["description"].strip()]
    assert undescribed == []


def test_unit_test_names_fit_a_postgresql_identifier(build: Build) -> None:
    # dbt names a unit test's fixture relation after the test; PostgreSQL refuses names over 63 bytes.
    too_long = [u["name"] for u in build.manifest["unit_tests"].values() if len(u["name"].encode()) > 63]
    assert too_long == []


def test_every_source_table_has_primary_key_tests_that_error(build: Build) -> None:
    tested: dict[str, dict[str, set[str | None]]] = {f"{o.schema}.{o.name}": {} for o in SOURCE_OBJECTS}
    for test in build.nodes("test"):
        attached = test.get("attached_node") or test["depends_on"]["nodes"][0]
        if test["config"]["severity"].lower() != "error" or not attached.startswith("source."):
            continue
        columns = test["test_metadata"]["kwargs"].get("combination_of_columns") or [test["column_name"]]
        names = {c.strip('"') for c in columns}  # quoted in the YAML where the raw spelling needs it
        tested[attached.split(".", 2)[2]].setdefault(test["test_metadata"]["name"], set()).update(names)
    for obj in SOURCE_OBJECTS:
        tests, key = tested[f"{obj.schema}.{obj.name}"], set(obj.primary_key)
        assert key <= tests["not_null"], obj.name
        unique = tests.get("unique_combination_of_columns" if len(key) > 1 else "unique", set())
        assert key <= unique, obj.name


def test_key_violations_fail_and_unknown_projects_only_warn(build: Build) -> None:
    # Same warehouse and target path as the build, so dbt re-uses its parse; rows removed after.
    with duckdb.connect(str(build.database)) as con:
        con.execute(
            'insert into raw_planning.target ("Version", "Legal Entity", "Practice", "Month")'
            " values ('FY26', 'US01', 'Data', 'Jan 26'), ('FY26', 'US01', 'Data', 'Jan 26')"
        )
        con.execute(
            'insert into raw_psa.timecard_header ("Id", "pse__Resource__c", "pse__Project__c", "pse__Start_Date__c",'
            " \"SystemModstamp\") values ('tc1', 'r1', 'unknown', date '2026-01-05', now())"
        )
        con.execute("""insert into raw_psa.contact ("Id", "SystemModstamp") values ('r1', now())""")
    try:
        run = run_dbt(
            [
                "test",
                "--select",
                "source:raw_planning.target",
                "source:raw_psa.timecard_header",
                "stg_planning__targets",
            ],
            build.database,
            build.work_dir,
        )
    finally:
        with duckdb.connect(str(build.database)) as con:
            for table in ("raw_planning.target", "raw_psa.timecard_header", "raw_psa.contact"):
                con.execute(f"delete from {table}")
    outcomes = {uid.split(".")[2]: outcome for uid, outcome in run.outcomes.items()}
    source_key = next(k for k in outcomes if k.startswith("source_unique_combination_of_columns_raw_planning_target"))
    staging_key = next(k for k in outcomes if k.startswith("unique_combination_of_columns_stg_planning__targets"))
    assert run.returncode == 1
    assert outcomes[source_key] == outcomes[staging_key] == ("fail", 1)
    assert outcomes["raw_psa_timecard_header__pse__Project__c_references_project"] == ("warn", 1)
    # the targets' plan version and legal entity are unknown too (the warehouse holds neither)
    warned = {k for k, (status, _) in outcomes.items() if status == "warn"}
    assert warned == {
        "raw_psa_timecard_header__pse__Project__c_references_project",
        "raw_planning_target__Version_references_plan_version",
        "raw_planning_target__Legal_Entity_references_subsidiary",
    }
    failing = {k for k, (status, _) in outcomes.items() if status not in ("pass", "warn")}
    assert failing == {source_key, staging_key}
