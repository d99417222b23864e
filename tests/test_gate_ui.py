"""What the Dagster UI shows of the gate, read through Dagster's GraphQL API (what the UI itself reads).

Kind: demo (on the shared demo build, in the `demo_sequence` group: it blocks the sync, then puts
the sync model back and syncs again). The workspace is the repository's workspace.yaml, loaded in a
code server as `make ui` loads it, over the demo's instance.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

from tests.helpers import materialization_metadata, query
from tests.test_reverse_sync import MODEL, _restore_backup, _sync

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
        entries[entry["label"]] = json.loads(entry["jsonString"]) if "jsonString" in entry else entry.get("text")
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
    # The dbt tests the gate blocks on say so, with what they test.
    not_null = model_checks["not_null_sync_planning__forecast_inputs_value"]["description"]
    assert not_null.startswith(
        "[ERROR] dbt test `not_null` on column `value` of `sync_planning__forecast_inputs`. Blocking (ERROR): "
        "while it fails, the gate of anaplan/forecast_inputs sends nothing to the planning tool and reader/marts "
        "publishes nothing. Dagster lists it as non-blocking only because the dbt build goes on"
    )


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
