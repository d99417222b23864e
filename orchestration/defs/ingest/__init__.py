"""Ingest: landing files, or with INGEST_SOURCE=api the source systems' APIs, into raw_<system>.<object>.

Both paths give the same asset keys, groups and checks: one asset per landing-contract object, loaded
all or nothing through `loader.py` (file reading in `staging.py`, PostgreSQL in `postgres_target.py`).
The landing-files sensor is built here too (`sensor.py`); the automation domain attaches it to its job.
"""

import dagster as dg

from orchestration.contract import SOURCE_OBJECTS
from orchestration.defs.ingest.files import build_ingest_asset, landing_resource


def build_definitions(source: str) -> dg.Definitions:
    """The ingest assets of one path: `files` (landing files) or `api`."""
    if source == "api":  # dlt is imported only when the API path is used
        from orchestration.defs.ingest.api.resources import api_definitions

        return api_definitions()
    return dg.Definitions(
        assets=[build_ingest_asset(obj) for obj in SOURCE_OBJECTS], resources={"landing": landing_resource()}
    )
