"""Entry point: merges the per-domain definitions (and sets how their processes store events and end)."""

import dagster as dg

from orchestration.defs import automation, ingest, publish, quality, reverse_sync, transform
from orchestration.defs.reverse_sync.gate import PipelineGraph
from orchestration.lib import dagster_sqlite, process, settings
from orchestration.lib.warehouse import warehouse_resource


def build_definitions(ingest_source: str) -> dg.Definitions:
    """The whole pipeline, ingesting from landing files (`files`) or the source systems' APIs (`api`).

    Every run gets the pipeline's whole asset graph (resource `pipeline_graph`), so the gates of
    the sync and the publish judge every upstream check, also in a run that executes only them.
    """
    pipeline = dg.Definitions.merge(
        ingest.build_definitions(ingest_source),
        quality.defs,
        transform.defs,
        reverse_sync.defs,
        publish.defs,
        automation.defs,
    )
    graph = PipelineGraph()
    shared = {"warehouse": warehouse_resource(), "pipeline_graph": graph}
    defs = dg.Definitions.merge(pipeline, dg.Definitions(resources=shared, executor=dg.in_process_executor))
    graph.resolve_with(defs.resolve_asset_graph)
    return defs


defs = build_definitions(settings.ingest_source())
process.skip_final_collection()  # a run's process ends without a last walk over its heap (lib/process.py)
dagster_sqlite.keep_connections()  # a local instance's events written on kept connections (lib/dagster_sqlite.py)
