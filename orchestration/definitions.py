"""Entry point: merges the per-domain definitions; nothing else lives here."""

import dagster as dg

from orchestration.defs import automation, ingest, publish, quality, reverse_sync, transform
from orchestration.lib import settings
from orchestration.lib.warehouse import warehouse_resource


def build_definitions(ingest_source: str) -> dg.Definitions:
    """The whole pipeline, ingesting from landing files (`files`) or the source systems' APIs (`api`)."""
    return dg.Definitions.merge(
        ingest.build_definitions(ingest_source),
        quality.defs,
        transform.defs,
        reverse_sync.defs,
        publish.defs,
        automation.defs,
        dg.Definitions(resources={"warehouse": warehouse_resource()}, executor=dg.in_process_executor),
    )


defs = build_definitions(settings.ingest_source())
