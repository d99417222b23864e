"""Entry point: merges the per-domain definitions; nothing else lives here."""

import os

import dagster as dg

from orchestration.defs import automation, crm, erp, hris, planning, psa, publish, quality, reverse_sync, transform
from orchestration.lib.ingest_assets import shared_resources

# INGEST_SOURCE=api reads the source systems' APIs instead of landing files: same asset keys and groups.
if os.environ.get("INGEST_SOURCE", "files") == "api":
    from orchestration.defs import api_ingest

    ingest = [api_ingest.defs]
else:
    ingest = [crm.defs, psa.defs, erp.defs, hris.defs, planning.defs]

defs = dg.Definitions.merge(
    *ingest,
    quality.defs,
    transform.defs,
    reverse_sync.defs,
    publish.defs,
    automation.defs,
    dg.Definitions(resources=shared_resources(), executor=dg.in_process_executor),
)
