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

from tests.helpers import query
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
        "while it fails, the gate of anaplan/forecast_inputs sends nothing"
    )
