"""Running the real Dagster definitions against a temporary warehouse, for the tests."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from orchestration.contract import SOURCE_OBJECTS
from orchestration.defs.ingest.files import LandingConfig
from orchestration.lib.warehouse import DuckDBWarehouse

RAW_ASSETS = dg.AssetSelection.assets(*[dg.AssetKey([o.schema, o.name]) for o in SOURCE_OBJECTS])


def materialize(
    warehouse: Path,
    landing: Path,
    selection: str | dg.AssetSelection = "*",
    instance: dg.DagsterInstance | None = None,
    run_config: dict | None = None,
    resources: dict | None = None,
) -> dg.ExecuteInProcessResult:
    """Run the real definitions against a temporary warehouse and landing folder."""
    from orchestration.definitions import defs

    resources = {
        **defs.resources,
        "warehouse": DuckDBWarehouse(database=str(warehouse), memory_limit="2GB"),
        # Tests write their files just before the run: nothing is still being written.
        "landing": LandingConfig(landing_dir=str(landing), settle_seconds=0),
        **(resources or {}),
    }
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        resources=resources,
        selection=selection,
        raise_on_error=False,
        instance=instance,
        run_config=run_config,
    )


def materialization_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """Metadata values of every materialization in a run, by asset key string."""
    return {
        event.asset_key.to_user_string(): {
            key: value.value for key, value in event.step_materialization_data.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }


def count_rows(warehouse: Path, relation: str) -> int:
    return query(warehouse, f"select count(*) from {relation}")[0][0]


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """Each failed step's error message, for assertion output."""
    return [
        f"{e.step_key}: {e.step_failure_data.error.message if e.step_failure_data.error else e.message}"
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
