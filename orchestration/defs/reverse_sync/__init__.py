"""Reverse sync to the planning tool: the sync asset, its checks and gate, the diff and state, the Anaplan client."""

import dagster as dg

from orchestration.defs.reverse_sync.assets import (
    AGGREGATE_CHECKS,
    _as_asset_check,
    anaplan_forecast_inputs,
    anaplan_resource,
)

defs = dg.Definitions(
    assets=[anaplan_forecast_inputs],
    asset_checks=[_as_asset_check(name, check) for name, check in AGGREGATE_CHECKS.items()],
    resources={"anaplan": anaplan_resource()},
)
