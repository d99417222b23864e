"""End to end: the small demo firm through every ingest asset and dbt model, in a temporary warehouse."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from ingest.contract import SOURCE_OBJECTS
from orchestration.lib.ingest_assets import LandingConfig
from orchestration.lib.warehouse import DuckDBWarehouse
from tests.conftest import AS_OF

RAW_ASSETS = dg.AssetSelection.assets(*[dg.AssetKey([o.schema, o.name]) for o in SOURCE_OBJECTS])


def _materialize(warehouse: Path, landing: Path, selection: str | dg.AssetSelection = "*") -> dg.ExecuteInProcessResult:
    """Run the real definitions against a temporary warehouse and landing folder."""
    from orchestration.definitions import defs

    resources = {
        **defs.resources,
        "warehouse": DuckDBWarehouse(database=str(warehouse), memory_limit="2GB"),
        "landing": LandingConfig(landing_dir=str(landing)),
    }
    return dg.materialize(list(defs.assets), resources=resources, selection=selection, raise_on_error=False)


def _materialization(event: dg.DagsterEvent) -> dg.AssetMaterialization:
    return event.step_materialization_data.materialization


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        event.asset_key.to_user_string(): {k: v.value for k, v in _materialization(event).metadata.items()}
        for event in result.get_asset_materialization_events()
    }


@pytest.fixture(scope="module")
def demo_run(small_landing, tmp_path_factory, request):
    landing, counts = small_landing
    warehouse = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    mp = pytest.MonkeyPatch()
    mp.setenv("DUCKDB_DATABASE", str(warehouse))  # dbt's profiles.yml reads the same variable
    mp.setenv("AS_OF_DATE", AS_OF.isoformat())  # the marts are built as of the demo's date
    request.addfinalizer(mp.undo)
    first = _materialize(warehouse, landing)
    second = _materialize(warehouse, landing, selection=RAW_ASSETS)  # loading twice: ingest only
    return warehouse, counts, first, second


def _count(warehouse: Path, relation: str) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select count(*) from {relation}").fetchall()[0][0]


def test_full_materialization_succeeds(demo_run) -> None:
    _, _, first, second = demo_run
    assert first.success, [e.message for e in first.all_events if e.is_failure]
    assert second.success


@pytest.mark.parametrize("obj", SOURCE_OBJECTS, ids=lambda o: f"{o.schema}.{o.name}")
def test_every_raw_table_and_staging_model_has_every_landed_row(demo_run, obj) -> None:
    warehouse, counts, first, _ = demo_run
    landed = counts[f"{obj.system}/{obj.file_patterns[0]}"]
    assert landed > 0
    assert _count(warehouse, f"{obj.schema}.{obj.name}") == landed
    assert _count(warehouse, f"staging.{obj.staging_model}") == landed
    meta = _metadata(first)[f"{obj.schema}/{obj.name}"]
    assert (meta["rows_read"], meta["rows_inserted"], meta["dagster/row_count"]) == (landed, landed, landed)


def test_second_run_adds_nothing(demo_run) -> None:
    _warehouse, counts, _, second = demo_run
    metadata = _metadata(second)
    assert len(metadata) == len(SOURCE_OBJECTS)
    for obj in SOURCE_OBJECTS:
        meta = metadata[f"{obj.schema}/{obj.name}"]
        assert (meta["rows_read"], meta["rows_inserted"], meta["rows_updated"], meta["files_skipped"]) == (0, 0, 0, 1)
        assert meta["dagster/row_count"] == counts[f"{obj.system}/{obj.file_patterns[0]}"]


def test_truncated_file_fails_only_its_asset_and_loads_nothing(small_landing, tmp_path: Path, monkeypatch) -> None:
    source, _ = small_landing
    landing = tmp_path / "landing"
    for path in source.rglob("*.*"):
        (landing / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        (landing / path.relative_to(source)).write_bytes(path.read_bytes())
    timecards = landing / "psa" / "pse__Timecard_Header__c.csv"
    lines = timecards.read_text().splitlines()
    timecards.write_text("\n".join(lines[:40]) + "\n" + lines[40][:25])  # cut mid-row
    warehouse = tmp_path / "w.duckdb"
    monkeypatch.setenv("DUCKDB_DATABASE", str(warehouse))
    result = _materialize(warehouse, landing, selection="group:psa")

    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["raw_psa__timecard_header"]
    message = failures[0].step_failure_data.error.message
    assert str(timecards) in message and "line 41" in message and "Expected Number of Columns" in message
    assert _count(warehouse, "raw_psa.timecard_header") == 0
    assert _count(warehouse, "raw_psa.project") > 0
    assert timecards.exists()
