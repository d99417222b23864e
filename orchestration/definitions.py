"""Entry point: merges the per-domain definitions; nothing else lives here."""

import dagster as dg

from orchestration.defs import automation, crm, erp, hris, planning, psa, publish, quality, reverse_sync, transform
from orchestration.lib.ingest_assets import shared_resources

defs = dg.Definitions.merge(
    crm.defs,
    psa.defs,
    erp.defs,
    hris.defs,
    planning.defs,
    quality.defs,
    transform.defs,
    reverse_sync.defs,
    publish.defs,
    automation.defs,
    dg.Definitions(resources=shared_resources(), executor=dg.in_process_executor),
)
