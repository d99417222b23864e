"""dbt's unit tests run once per project code in a warehouse, not in every rebuild of unchanged code.

Kind: integration (the pipeline's dbt step, real dbt, on a DuckDB file with one raw table).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_a_rebuild_of_tested_code_leaves_the_unit_tests_out_and_new_code_runs_them(
    small_landing, tmp_path: Path, monkeypatch
) -> None:
    import dagster as dg
    import duckdb

    from orchestration.contract import SOURCE_OBJECTS
    from orchestration.defs.ingest.loader import load_object
    from orchestration.defs.transform import changes
    from orchestration.defs.transform.assets import dbt_models, dbt_project, dbt_resource
    from orchestration.lib.warehouse import DuckDBWarehouse
    from tests.helpers import REBUILD, dbt_step_folder, run_log

    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:  # the one raw table the model reads
        target = next(o for o in SOURCE_OBJECTS if o.schema == "raw_planning" and o.name == "target")
        load_object(con, target, small_landing[0])
    monkeypatch.setenv("DUCKDB_DATABASE", str(warehouse))
    monkeypatch.setenv("AS_OF_DATE", "2026-06-30")
    model = next(key for key in dbt_models.keys if key.path[-1] == "stg_planning__targets")
    resources = {"dbt": dbt_resource(), "warehouse": DuckDBWarehouse(database=str(warehouse))}

    def rebuild() -> tuple[dict[str, str], str]:
        """Every selected model rebuilt, as the nightly does: dbt's result per node, and the step's log."""
        instance = dg.DagsterInstance.ephemeral()
        run = dg.materialize([dbt_models], selection=[model], resources=resources, tags=REBUILD, instance=instance)
        assert run.success
        results = json.loads((dbt_step_folder(run.run_id) / "run_results.json").read_text())["results"]
        return {r["unique_id"]: r["status"] for r in results}, run_log(instance, run.run_id, "dbt_models")

    manifest = json.loads(dbt_project.manifest_path.read_text())
    unit_tests = {uid for uid, test in manifest["unit_tests"].items() if test["model"] == "stg_planning__targets"}
    assert unit_tests  # the model has unit tests to leave out

    first, first_log = rebuild()  # a new warehouse: nothing on record, the unit tests run
    assert {uid: first[uid] for uid in unit_tests} == dict.fromkeys(unit_tests, "pass")
    assert first["model.psa_pipeline.stg_planning__targets"] == "success"
    assert "unit tests left out" not in first_log

    second, second_log = rebuild()  # the same code, rebuilt: its unit tests passed on it
    assert second["model.psa_pipeline.stg_planning__targets"] == "success"
    assert not unit_tests & set(second)
    assert "dbt's unit tests left out: they check the formulas on fixed rows" in second_log

    real = changes._installed  # an upgraded DuckDB is new code: its first rebuild runs them again
    monkeypatch.setattr(changes, "_installed", lambda p: "9.9.9" if p == "duckdb" else real(p))
    third, _ = rebuild()
    assert {uid: third[uid] for uid in unit_tests} == dict.fromkeys(unit_tests, "pass")
