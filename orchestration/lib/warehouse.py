"""The DuckDB warehouse as a Dagster resource.

Connections are always closed, also when a step fails: a connection left open by a failed step
would hold DuckDB's file lock and block the dbt process that runs next in the same run.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

# Every step that opens the warehouse shares this concurrency pool, limited to 1 in the instance's
# dagster.yaml: DuckDB allows one writing process, and a reader in another process is locked out
# while it writes. Readers outside the pipeline use the published reader file (orchestration/lib/publish.py).
WRITER_POOL = "duckdb_writer"


class DuckDBWarehouse(dg.ConfigurableResource):
    """One DuckDB file, with explicit thread and memory limits."""

    database: str
    threads: int = 2
    memory_limit: str = "4GB"

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        config = {"threads": self.threads, "memory_limit": self.memory_limit}
        con = duckdb.connect(self.database, read_only=read_only, config=config)
        try:
            yield con
        finally:
            con.close()
