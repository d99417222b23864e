"""Reverse sync to the planning tool: the sync asset, its checks and gate, the diff and state, the Anaplan client."""

import dagster as dg

from orchestration.defs.reverse_sync.anaplan import ANAPLAN
from orchestration.defs.reverse_sync.assets import AnaplanImport, anaplan_forecast_inputs

defs = dg.Definitions(
    assets=[anaplan_forecast_inputs],
    resources={
        "anaplan": ANAPLAN,  # the model's connection (ANAPLAN_*), shared with the planning exports
        "anaplan_import": AnaplanImport(file_id=dg.EnvVar("ANAPLAN_FILE_ID"), import_id=dg.EnvVar("ANAPLAN_IMPORT_ID")),
    },
)
