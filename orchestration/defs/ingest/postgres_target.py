"""Land checked batches in PostgreSQL: DuckDB reads, checks and dedupes the files, PostgreSQL keeps them.

`PostgresTarget` is the loader's target for WAREHOUSE=postgres. Each typed batch, and at the end
the object's quarantined rows, leave DuckDB as CSV (`COPY ... TO` a temporary file) and enter
PostgreSQL with `COPY ... FROM STDIN` (psycopg2 `copy_expert`, streamed from that file). The merge
runs in PostgreSQL: a temp table, `delete ... using` the changed keys, `insert`, with the DuckDB
merge's rule (an existing key is replaced only by a newer modified timestamp; without a cursor the
newest file wins where a value differs) and its counts. Raw table, quarantine and load log change
in one PostgreSQL transaction per object. No row passes through Python on its own, and no DuckDB
extension is needed (extensions download at run time).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from orchestration.contract import SourceObject
from orchestration.defs.ingest.loader import (
    LOADED_FILES,
    META_SCHEMA,
    QUARANTINE,
    UTC_NOW,
    FileStamp,
    MergeCounts,
    Target,
    changed_rows_sql,
    q,
    raw_columns,
    sql_str,
)
from orchestration.lib.warehouse import PostgresWarehouse, Warehouse

LOAD_METADATA = ("_loaded_at timestamp", "_source_file varchar", "_batch_id varchar")
# Serialises the DDL of concurrent loads: `create ... if not exists` can still race in PostgreSQL.
DDL_LOCK = "select pg_advisory_xact_lock(hashtext('psa-pipeline ingest ddl'))"


def table_ddl(obj: SourceObject) -> list[str]:
    """The raw table (contract types are valid PostgreSQL types) and the load log, as in DuckDB.

    The primary key is declared here (DuckDB's raw tables have none): the merge keeps keys unique
    anyway, and the index makes merging a small batch into a large table cheap.
    """
    columns = [f"{q(f.name)} {f.type}" for f in obj.fields] + list(LOAD_METADATA)
    key = ", ".join(q(k) for k in obj.primary_key)
    return [
        f"create schema if not exists {obj.schema}",
        f"create table if not exists {obj.schema}.{obj.name} ({', '.join(columns)}, primary key ({key}))",
        f"create schema if not exists {META_SCHEMA}",
        f"""create table if not exists {LOADED_FILES} (
            table_name varchar, source_file varchar, file_size bigint, file_mtime double precision,
            batch_id varchar, rows_read bigint, rows_inserted bigint, rows_updated bigint,
            loaded_at timestamp)""",
        f"alter table {LOADED_FILES} add column if not exists rows_quarantined bigint default 0",
        # jsonb, not json: the quarantine keeps a record once, and json has no equality.
        f"""create table if not exists {QUARANTINE} (
            table_name varchar, source_file varchar, source_row bigint, record_key varchar,
            rule varchar, field varchar, value varchar, reason varchar, failures jsonb, record jsonb,
            batch_id varchar, quarantined_at timestamp)""",
    ]


QUARANTINE_COLUMNS = (
    "table_name, source_file, source_row, record_key, rule, field, value, reason, failures, record,"
    " batch_id, quarantined_at"
)


class PostgresTarget:
    """The loader's target on a PostgreSQL connection (psycopg2, autocommit off), used by one load at a time."""

    def __init__(self, pg_connection):
        self.pg = pg_connection

    # --- transaction ------------------------------------------------------------------------

    def prepare(self, con: duckdb.DuckDBPyConnection, obj: SourceObject) -> None:
        """Create the tables (committed on their own) and empty DuckDB's scratch quarantine."""
        con.execute(f"delete from {QUARANTINE}")
        with self.pg.cursor() as cur:
            cur.execute(DDL_LOCK)
            for statement in table_ddl(obj):
                cur.execute(statement)
        self.pg.commit()

    def begin(self) -> None:
        pass  # psycopg2 opens the transaction at the first statement

    def commit(self) -> None:
        self.pg.commit()

    def rollback(self) -> None:
        self.pg.rollback()

    # --- reads --------------------------------------------------------------------------------

    def _scalar(self, sql: str, params: list | None = None):
        with self.pg.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchone()[0]

    def already_loaded(self, table: str, source: str, stamp: FileStamp) -> bool:
        return bool(
            self._scalar(
                f"select count(*) from {LOADED_FILES} where table_name = %s and source_file = %s"
                " and file_size = %s and file_mtime = %s",
                [table, source, stamp.size, stamp.mtime],
            )
        )

    def row_count(self, table: str) -> int:
        count = self._scalar(f"select count(*) from {table}")
        self.pg.commit()  # end the read's transaction: the connection may stay open
        return count

    # --- bulk moves -------------------------------------------------------------------------------

    def _copy(self, con: duckdb.DuckDBPyConnection, select: str, temp_table: str, like: str, columns: str) -> None:
        """DuckDB query -> CSV file -> PostgreSQL temp table shaped like `like`, all in bulk."""
        with tempfile.TemporaryDirectory(prefix="psa_ingest_") as folder:
            path = Path(folder) / f"{temp_table}.csv"
            # CSV: NULL is an empty field, an empty string is "" (DuckDB writes, PostgreSQL reads, both ways).
            con.execute(f"copy ({select}) to {sql_str(str(path))} (format csv, header false)")
            with self.pg.cursor() as cur:
                cur.execute(f"drop table if exists pg_temp.{temp_table}")
                cur.execute(f"create temp table {temp_table} (like {like}) on commit drop")
                with path.open("rb") as handle:
                    cur.copy_expert(f"copy {temp_table} ({columns}) from stdin with (format csv)", handle)
                cur.execute(f"analyze {temp_table}")  # temp tables get no statistics otherwise

    def merge(self, con: duckdb.DuckDBPyConnection, obj: SourceObject, absent: list[str]) -> MergeCounts:
        """Upsert DuckDB's `_typed` into the raw table by key, by the DuckDB merge's rule and counts."""
        target = f"{obj.schema}.{obj.name}"
        self._copy(con, "select * from _typed", "_typed", target, raw_columns(obj))
        keys = " and ".join(f"c.{q(k)} = t.{q(k)}" for k in obj.primary_key)
        with self.pg.cursor() as cur:
            cur.execute("drop table if exists pg_temp._changed")
            cur.execute(f"create temp table _changed on commit drop as {changed_rows_sql(obj, target, absent)}")
            cur.execute(
                "select count(*) filter (where _existing), count(*) filter (where _same_stamp), count(*) from _changed"
            )
            updated, same, total = cur.fetchone()
            cur.execute(f"delete from {target} t using _changed c where c._existing and {keys}")
            cur.execute(f"insert into {target} select {raw_columns(obj)} from _changed")
            return MergeCounts(total - updated, updated, same)

    def store_quarantine(self, con: duckdb.DuckDBPyConnection) -> None:
        """Move the rows quarantined in DuckDB's scratch table; a record already quarantined is kept once."""
        if not con.execute(f"select count(*) from {QUARANTINE}").fetchall()[0][0]:
            return
        self._copy(con, f"select {QUARANTINE_COLUMNS} from {QUARANTINE}", "_quarantine", QUARANTINE, QUARANTINE_COLUMNS)
        with self.pg.cursor() as cur:
            cur.execute(
                f"""insert into {QUARANTINE} ({QUARANTINE_COLUMNS})
                    select {QUARANTINE_COLUMNS} from _quarantine q
                    where not exists (
                        select 1 from {QUARANTINE} seen
                        where seen.table_name = q.table_name and seen.record = q.record)"""
            )

    def log_file(self, table: str, source: str, stamp: FileStamp | None, batch_id: str, counts: tuple) -> None:
        with self.pg.cursor() as cur:
            cur.execute(
                f"insert into {LOADED_FILES} (table_name, source_file, file_size, file_mtime, batch_id, rows_read,"
                f" rows_inserted, rows_updated, rows_quarantined, loaded_at)"
                f" values (%s, %s, %s, %s, %s, %s, %s, %s, %s, {UTC_NOW})",
                [table, source, stamp.size if stamp else None, stamp.mtime if stamp else None, batch_id, *counts],
            )


@contextmanager
def ingest_session(warehouse: Warehouse) -> Iterator[tuple[duckdb.DuckDBPyConnection, Target | None]]:
    """(DuckDB connection that stages and checks landing files, the loader's target; None: that connection).

    On PostgreSQL the files are read and checked by an in-memory DuckDB (spilling to a temporary
    folder) and land in PostgreSQL through `PostgresTarget`.
    """
    if not isinstance(warehouse, PostgresWarehouse):
        with warehouse.connect() as con:
            yield con, None
        return
    with tempfile.TemporaryDirectory(prefix="psa_duckdb_") as spill:
        config = {"threads": warehouse.threads, "memory_limit": warehouse.memory_limit, "temp_directory": spill}
        engine = duckdb.connect(":memory:", config=config)
        pg = warehouse.raw_connection()
        try:
            yield engine, PostgresTarget(pg)
        finally:
            pg.close()
            engine.close()
