"""The warehouse as a Dagster resource (key `warehouse`): DuckDB by default, PostgreSQL with WAREHOUSE=postgres.

Connections are always closed, also when a step fails: a connection left open by a failed step
would hold DuckDB's file lock and block the dbt process that runs next in the same run.
Both resources offer `connect()`: a connection with DuckDB's `execute(sql, params)` API and a
`dialect` of `duckdb` or `postgres`.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
import psycopg2

from orchestration.lib import settings

# What a failed warehouse query raises, on either database (e.g. a model that was not built).
WAREHOUSE_ERRORS = (duckdb.Error, psycopg2.Error)

# Every step that opens the warehouse shares this concurrency pool, limited to 1 in the instance's
# dagster.yaml: DuckDB allows one writing process, and a reader in another process is locked out
# while it writes. Readers outside the pipeline use the published reader file (orchestration/defs/publish/snapshot.py).
WRITER_POOL = "duckdb_writer"


class Warehouse(dg.ConfigurableResource):
    """What every warehouse resource offers; assets annotate `warehouse: Warehouse` and get either kind."""

    @property
    def dialect(self) -> str:
        raise NotImplementedError

    def describe(self) -> str:
        """Where the warehouse is, for logs and the demo summary (never a password)."""
        raise NotImplementedError

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator:
        raise NotImplementedError
        yield


class DuckDBWarehouse(Warehouse):
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

    @property
    def dialect(self) -> str:
        return "duckdb"

    def describe(self) -> str:
        return self.database


class PostgresWarehouse(Warehouse):
    """A PostgreSQL database. Landing files are still read and checked by DuckDB, in memory, then copied in bulk."""

    host: str
    port: int = 5432
    user: str
    password: str = ""  # dg.EnvVar("POSTGRES_PASSWORD"): resolved at run time, never shown or logged
    database: str
    # The in-memory DuckDB that reads, checks and dedupes landing files before they are copied
    # (orchestration/defs/ingest/postgres_target.py).
    threads: int = 2
    memory_limit: str = "4GB"

    @property
    def dialect(self) -> str:
        return "postgres"

    def describe(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def raw_connection(self, read_only: bool = False, autocommit: bool = False):
        from orchestration.lib.postgres import connect_raw

        # Inside a run Dagster has resolved the EnvVar; outside one (the demo summary) resolve it here.
        password = self.password.get_value() if isinstance(self.password, dg.EnvVar) else self.password
        return connect_raw(
            self.host, self.port, self.user, password or "", self.database, read_only=read_only, autocommit=autocommit
        )

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator:
        from orchestration.lib.postgres import PgConnection

        con = PgConnection(self.raw_connection(read_only=read_only))
        try:
            yield con
        finally:
            con.close()


def warehouse_resource() -> Warehouse:
    """The `warehouse` resource chosen by WAREHOUSE, configured from the environment (settings)."""
    if settings.warehouse() == "postgres":
        # EnvVar keeps the secret out of the resource's config in the UI and the run's logs.
        password = dg.EnvVar("POSTGRES_PASSWORD") if settings.postgres_password() else ""
        return PostgresWarehouse(**settings.postgres_config(), password=password, **settings.duckdb_config())
    return DuckDBWarehouse(database=settings.duckdb_database(), **settings.duckdb_config())
