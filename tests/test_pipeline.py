"""End to end: the small demo firm through every ingest asset and dbt model, in a temporary warehouse.

Kind: demo (on the shared demo build), except the last two tests: integration (a run of one
system's assets on a broken copy of the landing files).
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from demo.firm import MANIFEST
from orchestration.contract import SOURCE_OBJECTS
from orchestration.defs.ingest.files import FILES_CHECK, QUARANTINE_CHECK, STAMPS_CHECK
from tests.helpers import count_rows, failures, materialization_metadata, materialize, query, run_log

SECOND_RUN = pytest.mark.xdist_group("demo_sequence")  # with the demo's second run, on one worker


@SECOND_RUN
def test_a_full_run_materializes_everything_and_a_run_with_nothing_new_builds_and_publishes_nothing(
    demo_build, demo_rerun, demo_instance
) -> None:
    first, second = demo_build[2], demo_rerun.second
    assert first.success, failures(first)
    assert second.success, failures(second)
    from orchestration.definitions import defs
    from orchestration.defs.transform.assets import dbt_models

    graph = defs.resolve_asset_graph()
    every = {key for key in graph.get_all_asset_keys() if not graph.get(key).is_external}
    assert {e.asset_key for e in first.get_asset_materialization_events()} == every  # every asset, not a subset
    # The same files again: every ingest asset looks and loads nothing; no model is built, nothing published or sent.
    raw = {dg.AssetKey([o.schema, o.name]) for o in SOURCE_OBJECTS}
    assert {e.asset_key for e in second.get_asset_materialization_events()} == raw
    assert {e.asset_key for e in second.get_asset_check_evaluations()} <= raw  # no dbt test ran
    logged = run_log(demo_instance, second.run_id, "dbt_models")
    assert "dbt not run: no selected model has a changed input, so every table and check result stands" in logged
    assert f"dbt: 0 of {len(dbt_models.keys)} selected models to build" in logged
    checks = len(dbt_models.check_keys)  # each keeps its last result, and the log says so before Dagster's list
    assert f"{checks} of the {checks} selected dbt checks not evaluated in this run, on " in logged
    skipped = {e.step_key for e in second.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert {"reader__marts", "anaplan__forecast_inputs"} <= skipped  # Dagster: their inputs were not produced


def _files_of(counts: dict[str, int], obj) -> dict[str, int]:
    """Rows written per landing file of one object: its base export and any later batch."""
    return {f: n for f, n in counts.items() if f.startswith(f"{obj.system}/{obj.file_stem}.")}


@pytest.mark.parametrize("obj", SOURCE_OBJECTS, ids=lambda o: f"{o.schema}.{o.name}")
def test_every_raw_table_and_staging_model_has_every_landed_row(demo_build, obj) -> None:
    warehouse, counts, first = demo_build
    landed = counts[f"{obj.system}/{obj.file_patterns[0]}"]
    rows_in = sum(_files_of(counts, obj).values())  # the demo's malformed_hours batch adds one timecard row
    assert landed > 0
    assert count_rows(warehouse, f"{obj.schema}.{obj.name}") == landed
    assert count_rows(warehouse, f"staging.{obj.staging_model}") == landed
    meta = materialization_metadata(first)[f"{obj.schema}/{obj.name}"]
    assert (meta["rows_read"], meta["rows_loaded"], meta["rows_quarantined"]) == (rows_in, landed, rows_in - landed)
    assert (meta["rows_inserted"], meta["dagster/row_count"], meta["rows_accounted"]) == (landed, landed, True)


def test_malformed_row_is_quarantined_with_rule_and_reason_and_warns(demo_build, small_landing) -> None:
    warehouse, _, first = demo_build
    landing, _ = small_landing
    (malformed,) = json.loads((landing / MANIFEST).read_text())["defects"]["malformed_hours"]
    batch = next((landing / "psa").glob("pse__Timecard_Header__c.*.csv"))
    assert query(
        warehouse,
        "select table_name, source_file, source_row, record_key, rule, field, value, reason"
        " from ingest_meta.quarantine",
    ) == [
        (
            "raw_psa.timecard_header",
            str(batch),
            2,
            malformed,
            "type",
            "pse__Monday_Hours__c",
            "7,5",
            "cannot convert '7,5' to DECIMAL(9,2)",
        )
    ]
    checks = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in first.get_asset_check_evaluations()
        if e.check_name == QUARANTINE_CHECK
    }
    assert len(checks) == len(SOURCE_OBJECTS)
    failed = {key for key, e in checks.items() if not e.passed}
    assert failed == {("raw_psa/timecard_header", QUARANTINE_CHECK)}
    warn = checks[("raw_psa/timecard_header", QUARANTINE_CHECK)]
    assert warn.severity.value == "WARN" and warn.metadata["rows_quarantined"].value == 1


@SECOND_RUN
def test_second_run_adds_nothing(demo_build, demo_rerun) -> None:
    counts = demo_build[1]
    metadata = materialization_metadata(demo_rerun.second)
    for obj in SOURCE_OBJECTS:
        meta = metadata[f"{obj.schema}/{obj.name}"]
        assert (meta["rows_read"], meta["rows_inserted"], meta["rows_updated"]) == (0, 0, 0)
        assert meta["files_skipped"] == len(_files_of(counts, obj))
        assert meta["dagster/row_count"] == counts[f"{obj.system}/{obj.file_patterns[0]}"]


def test_every_file_is_accounted_for_and_every_stamp_advances_in_the_demo(demo_build) -> None:
    _, _, first = demo_build
    checks = [e for e in first.get_asset_check_evaluations() if e.check_name in (FILES_CHECK, STAMPS_CHECK)]
    assert len(checks) == 2 * len(SOURCE_OBJECTS)
    assert [e for e in checks if not e.passed] == []


def _copy_landing(source: Path, landing: Path) -> None:
    for path in source.rglob("*.*"):
        (landing / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        (landing / path.relative_to(source)).write_bytes(path.read_bytes())


def test_a_misspelled_export_is_named_by_a_warning_on_its_asset(small_landing, tmp_path: Path, monkeypatch) -> None:
    source, _ = small_landing
    landing = tmp_path / "landing"
    _copy_landing(source, landing)
    stray = landing / "crm" / "Opportunities.2026-11-20.csv"  # the contract's name is Opportunity
    stray.write_bytes((landing / "crm" / "Opportunity.csv").read_bytes())
    warehouse = tmp_path / "w.duckdb"
    monkeypatch.setenv("DUCKDB_DATABASE", str(warehouse))
    crm = [dg.AssetKey([obj.schema, obj.name]) for obj in SOURCE_OBJECTS if obj.system == "crm"]
    result = materialize(warehouse, landing, dg.AssetSelection.assets(*crm))  # the ingest assets and their checks
    assert result.success, failures(result)
    assert {e.asset_key for e in result.get_asset_materialization_events()} == set(crm)
    checks = {
        e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations() if e.check_name == FILES_CHECK
    }
    assert {key for key, e in checks.items() if not e.passed} == {"raw_crm/opportunity"}
    warning = checks["raw_crm/opportunity"]
    assert warning.severity.value == "WARN"
    (note,) = warning.metadata["files_unmatched"].value
    hint = "not a contract file name (names are case-sensitive): did you mean Opportunity.csv or Opportunity.*.csv?"
    assert note == f"{stray}: {hint}"
    assert materialization_metadata(result)["raw_crm/opportunity"]["files_unmatched"] == [note]


def test_truncated_file_fails_only_its_asset_and_loads_nothing(small_landing, tmp_path: Path, monkeypatch) -> None:
    source, _ = small_landing
    landing = tmp_path / "landing"
    _copy_landing(source, landing)
    timecards = landing / "psa" / "pse__Timecard_Header__c.csv"
    lines = timecards.read_text().splitlines()
    timecards.write_text("\n".join(lines[:40]) + "\n" + lines[40][:25])  # cut mid-row
    warehouse = tmp_path / "w.duckdb"
    monkeypatch.setenv("DUCKDB_DATABASE", str(warehouse))
    result = materialize(warehouse, landing, selection="group:psa")

    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["raw_psa__timecard_header"]
    message = failures[0].step_failure_data.error.message
    assert str(timecards) in message and "line 41: expected 19 fields (the header's), found" in message
    assert count_rows(warehouse, "raw_psa.timecard_header") == 0
    assert count_rows(warehouse, "raw_psa.project") > 0
    assert timecards.exists()
