"""What the Dagster UI shows of the gate, read through Dagster's GraphQL API (what the UI itself reads).

Kind: demo (on the shared demo build, in the `demo_sequence` group: it blocks the sync, then puts
the sync model back and syncs again). The workspace is the repository's workspace.yaml, loaded in a
code server as `make ui` loads it, over the demo's instance.
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from tests.helpers import REBUILD, materialization_metadata, materialize, query
from tests.test_reverse_sync import BRISK, MODEL, SYNC, SYNC_MODEL, _restore_backup, _sync

pytestmark = [pytest.mark.demo, pytest.mark.xdist_group("demo_sequence")]

WORKSPACE = Path(__file__).parents[1] / "workspace.yaml"

ASSET_CHECKS = """
query AssetChecks($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            description
            blocking
            executionForLatestMaterialization {
              status
              evaluation {
                description
                severity
                metadataEntries {
                  label
                  ... on TextMetadataEntry { text }
                  ... on JsonMetadataEntry { jsonString }
                  ... on IntMetadataEntry { intValue }
                }
              }
            }
          }
        }
      }
    }
  }
}
"""


LATEST_OBSERVATION = """
query LatestObservation($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    ... on Asset {
      assetObservations(limit: 1) {
        runId
        metadataEntries { label ... on TextMetadataEntry { text } }
      }
    }
  }
}
"""


def _checks(context, *path: str) -> dict[str, dict]:
    result = execute_dagster_graphql(context, ASSET_CHECKS, {"key": {"path": list(path)}})
    node = result.data["assetNodeOrError"]
    return {check["name"]: check for check in node["assetChecksOrError"]["checks"]}


def _metadata(evaluation: dict) -> dict[str, object]:
    entries = {}
    for entry in evaluation["metadataEntries"]:
        if "jsonString" in entry:
            entries[entry["label"]] = json.loads(entry["jsonString"])
        else:
            entries[entry["label"]] = entry["intValue"] if "intValue" in entry else entry.get("text")
    return entries


def test_a_blocked_sync_shows_blocked_and_its_failing_checks_on_its_own_page(
    demo_build, demo_instance, planning_server
) -> None:
    warehouse = demo_build[0]
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create or replace table sync._backup as from {MODEL}")
        con.execute(f"delete from {MODEL}")
    try:
        blocked = _sync(warehouse, demo_instance)
        assert not blocked.success
        since = query(
            warehouse,
            "select min(started_at) from reverse_sync.sync_runs where run_id = ? and status = 'blocked'",
            [blocked.run_id],
        )[0][0]
        with define_out_of_process_context(str(WORKSPACE), None, demo_instance, read_only=True) as context:
            checks = _checks(context, "anaplan", "forecast_inputs")
            model_checks = _checks(context, "sync", "sync_planning__forecast_inputs")
            overview = execute_dagster_graphql(
                context, LATEST_OBSERVATION, {"key": {"path": ["anaplan", "forecast_inputs"]}}
            )
    finally:
        _restore_backup(warehouse)
    assert _sync(warehouse, demo_instance).success

    # The checks list marks which checks block, and says what each does.
    blocking = {name for name, check in checks.items() if check["blocking"]}
    assert blocking == {
        "gate",
        "no_unconverted_currency",
        "exception_share_under_threshold",
        "forecast_change_within_threshold",
        "sync_input_not_empty",
        "current_plan_version_exists",
        "no_members_dropped",
        "change_within_guard",
    }
    assert not checks["no_rows_rejected"]["blocking"]
    assert all(check["description"] for check in checks.values())
    # The verdict: blocked, which checks failed (their keys), since when; no log needed.
    verdict = checks["gate"]["executionForLatestMaterialization"]
    assert verdict["status"] == "FAILED" and verdict["evaluation"]["severity"] == "ERROR"
    # An empty model: nothing to send, every member the last sync sent dropped, the total down 100%.
    failing = [
        f"anaplan/forecast_inputs:{name}"
        for name in ("forecast_change_within_threshold", "no_members_dropped", "sync_input_not_empty")
    ]
    assert verdict["evaluation"]["description"] == (
        f"Blocked since {since} UTC: nothing sent. Failing blocking checks: {', '.join(failing)}"
    )
    shown = _metadata(verdict["evaluation"])
    assert shown["status"] == "blocked"
    assert shown["failing_checks"] == failing
    assert shown["blocked_since_utc"] == str(since)
    # The overview's metadata: blocked, since when, the failing checks, as text on the first screen.
    [observed] = overview.data["assetOrError"]["assetObservations"]
    assert observed["runId"] == blocked.run_id
    assert _metadata(observed) == {
        "sync_status": "blocked",
        "meaning": f"Nothing sent since {since} UTC: the planning tool keeps what the last sync sent.",
        "failing_checks": ", ".join(failing),
        "blocked_since_utc": str(since),
    }
    # The checks the blocked run never reached say so, rather than showing failed.
    for name in ("change_within_guard", "no_rows_rejected"):
        reached = checks[name]["executionForLatestMaterialization"]["evaluation"]["description"]
        assert reached == "Not reached: the gate blocked the sync; nothing was sent."
    # The failing aggregate check itself, evaluated on the (empty) rows about to be sent.
    empty = checks["sync_input_not_empty"]["executionForLatestMaterialization"]
    assert empty["status"] == "FAILED"
    assert empty["evaluation"]["description"] == f"{MODEL} is empty: there is no forecast to send"
    # The dbt tests the gate blocks on are marked blocking and say so, with what they test (the sync
    # model's feed the sync alone: reader/marts publishes the marts, not the sync model).
    not_null = model_checks["not_null_sync_planning__forecast_inputs_value"]
    assert not_null["blocking"]
    assert not_null["description"].startswith(
        "[ERROR] dbt test `not_null` on column `value` of `sync_planning__forecast_inputs`. Blocking (ERROR): "
        "while it fails, the gate of anaplan/forecast_inputs sends nothing to the planning tool. The dbt build "
        "goes on (it skips the models downstream of the test)"
    )


NOT_NULL_VALUE = "not_null_sync_planning__forecast_inputs_value"


def test_a_failing_error_dbt_test_is_blocking_yet_the_run_reaches_the_sync_which_records_the_block(
    demo_build, demo_instance, planning_server
) -> None:
    """One forecast amount that could not be valued: the sync model's not_null test (ERROR) fails in the run.

    The UI lists that test as blocking (a WARN test upstream as not), and yet the dbt step succeeds, so
    the same run reaches the sync, whose gate blocks and says so on the sync's own page.
    """
    warehouse = demo_build[0]
    both = dg.AssetSelection.assets(SYNC_MODEL, SYNC)  # the sync model's dbt build (with its tests), then the sync
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create or replace table marts._backup as from marts.fct_revenue_forecast")
        con.execute(
            f"update marts.fct_revenue_forecast f set scheduled_revenue = null from (select legal_entity_code, "
            f"practice, month_start_date from {MODEL} limit 1) s where (f.legal_entity_code, f.practice, "
            "f.month_start_date) = (s.legal_entity_code, s.practice, s.month_start_date)"
        )
    try:
        blocked = materialize(warehouse, warehouse.parent, both, demo_instance, resources=BRISK, tags=REBUILD)
        # The next run, nothing new: the model whose test failed is built and tested again, and blocks again.
        again = materialize(warehouse, warehouse.parent, both, demo_instance, resources=BRISK)
        with define_out_of_process_context(str(WORKSPACE), None, demo_instance, read_only=True) as context:
            model_checks = _checks(context, *SYNC_MODEL.path)
            fx_checks = _checks(context, "marts", "dim_fx_rate")
            overview = execute_dagster_graphql(context, LATEST_OBSERVATION, {"key": {"path": list(SYNC.path)}})
    finally:
        with duckdb.connect(str(warehouse)) as con:
            con.execute("delete from marts.fct_revenue_forecast")
            con.execute("insert into marts.fct_revenue_forecast from marts._backup")
            con.execute("drop table marts._backup")
    # The model built again from the restored forecast passes its tests, and the sync goes through again.
    assert materialize(warehouse, warehouse.parent, both, demo_instance, resources=BRISK, tags=REBUILD).success

    # The run: the dbt step succeeded despite the failed test; the sync step ran, and failed as blocked.
    assert {e.step_key for e in blocked.get_step_success_events()} == {"dbt_models"}
    assert {e.step_key for e in blocked.get_step_failure_events()} == {"anaplan__forecast_inputs"}
    assert {e.step_key for e in again.get_step_failure_events()} == {"anaplan__forecast_inputs"}
    assert query(warehouse, "select status from reverse_sync.sync_runs where run_id = ?", [again.run_id]) == [
        ("blocked",)
    ]
    # The checks list: ERROR dbt tests blocking, WARN ones not; a mart's hold back the sync and the publish.
    assert model_checks[NOT_NULL_VALUE]["blocking"]
    rate = fx_checks["not_null_dim_fx_rate_average_rate"]
    assert (
        rate["blocking"]
        and (
            "while it fails, the gate of anaplan/forecast_inputs sends nothing to the planning tool and reader/marts "
            "publishes nothing (readers keep the last snapshot)."
        )
        in rate["description"]
    )
    warn = fx_checks["fx_rate_for_every_entity_month_dim_fx_rate_ref_dim_legal_entity_"]
    assert not warn["blocking"] and "Reports only (WARN)" in warn["description"]
    # The failed test's evaluation: failed, ERROR, with dbt's count of failing rows.
    failed = model_checks[NOT_NULL_VALUE]["executionForLatestMaterialization"]
    assert failed["status"] == "FAILED" and failed["evaluation"]["severity"] == "ERROR"
    assert _metadata(failed["evaluation"])["dagster_dbt/failed_row_count"] == 1
    # The sync's first screen: blocked, by that test.
    [observed] = overview.data["assetOrError"]["assetObservations"]
    assert observed["runId"] == again.run_id  # the later run, with nothing new, said so on the sync's page too
    shown = _metadata(observed)
    assert shown["sync_status"] == "blocked"
    assert f"{'/'.join(SYNC_MODEL.path)}:{NOT_NULL_VALUE}" in shown["failing_checks"].split(", ")


def test_the_sync_says_what_it_sent_in_the_reporting_currency(demo_build) -> None:
    """The demo's first sync: totals per line item (Forecast Revenue alone is the forecast total), counts, ids."""
    warehouse, _, first = demo_build
    meta = materialization_metadata(first)["anaplan/forecast_inputs"]
    totals = dict(query(warehouse, f"select line_item, sum(value) from {MODEL} group by 1"))
    assert meta["reporting_currency"] == "USD"
    # Forecast Revenue = Scheduled Revenue + Weighted Pipeline: adding all three would count it twice.
    assert totals["Forecast Revenue"] == totals["Scheduled Revenue"] + totals["Weighted Pipeline"]
    assert meta["forecast_total_sent"] == f"{totals['Forecast Revenue']:,.2f} USD"
    assert meta["forecast_change_since_last_sync"] == "new"  # the first sync to this target
    table = {r.data["line_item"]: r.data for r in meta["totals_by_line_item"].records}
    assert {line: row["sent"] for line, row in table.items()} == {
        line: f"{total:,.2f}" for line, total in totals.items()
    }
    rows = query(warehouse, f"select count(*) from {MODEL}")[0][0]
    assert (meta["rows_created"], meta["rows_updated"], meta["rows_deleted"], meta["rows_rejected"]) == (rows, 0, 0, 0)
    ids = (meta["anaplan_workspace_id"], meta["anaplan_model_id"], meta["anaplan_import_id"])
    assert ids == ("demo-ws", "demo-model", "forecast_inputs")
    largest = meta["largest_changes"]
    assert [c.name for c in largest.schema.columns] == [
        "change",
        "Legal Entity",
        "Practice",
        "Month",
        "Line Item",
        "Version",
        "old",
        "new",
        "difference",
    ]
    biggest = max((value for (value,) in query(warehouse, f"select value from {MODEL}")), key=abs)
    assert largest.records[0].data["new"] == f"{biggest:,.2f}" and len(largest.records) == 20
