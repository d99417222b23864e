"""Asset factory: one Dagster asset per landing-contract object, loading `raw_<system>.<object>`."""

from pathlib import Path

import dagster as dg

from orchestration.contract import SourceObject
from orchestration.defs.ingest.loader import LandingFileError, LoadResult, load_object, table_versions
from orchestration.defs.ingest.postgres_target import ingest_session
from orchestration.lib import settings
from orchestration.lib.warehouse import WRITER_POOL, Warehouse


class LandingConfig(dg.ConfigurableResource):
    """Where source-system exports land (one folder per system), and how long a file must rest before it is read."""

    landing_dir: str
    # A file modified more recently may still be being written: it (and its object's later batches)
    # waits for the next run, as the landing sensor waits (LANDING_SETTLE_SECONDS).
    settle_seconds: float = 30.0

    def path(self) -> Path:
        return Path(self.landing_dir)


def _column_schema(obj: SourceObject) -> dg.TableSchema:
    columns = [dg.TableColumn(f.name, f.type, description=f.description) for f in obj.fields]
    columns += [
        dg.TableColumn("_loaded_at", "TIMESTAMP", description="When the row was loaded"),
        dg.TableColumn("_source_file", "VARCHAR", description="Landing file the row came from"),
        dg.TableColumn("_batch_id", "VARCHAR", description="Load batch (Dagster run id)"),
    ]
    return dg.TableSchema(columns=columns)


# Who answers for the raw tables (Dagster asset owners): data engineering runs the ingest, whichever path.
RAW_OWNERS = ["team:data-engineering"]


def raw_table_metadata(obj: SourceObject, no_cursor: str) -> dict[str, object]:
    """What the UI shows of a raw table, whichever path loads it (`no_cursor`: how it merges without one)."""
    return {
        "dagster/table_name": f"{obj.schema}.{obj.name}",
        "dagster/column_schema": _column_schema(obj),
        "primary_key": ", ".join(obj.primary_key),
        "cursor": obj.cursor or no_cursor,
    }


QUARANTINE_CHECK = "no_rows_quarantined"
FILES_CHECK = "landing_files_accounted"
STAMPS_CHECK = "no_changes_without_new_stamp"


def _result_metadata(result: LoadResult) -> dict[str, dg.MetadataValue | int | str]:
    return {
        "dagster/row_count": result.row_count,
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "rows_accounted": dg.MetadataValue.bool(result.batch_rows_accounted),
        "quarantine_rules": dg.MetadataValue.json(result.quarantine_rules),
        "rows_inserted": result.rows_inserted,
        "rows_updated": result.rows_updated,
        "rows_unchanged": result.rows_unchanged,
        "duplicate_keys_in_batch": result.duplicate_keys,
        "rows_changed_same_stamp": result.rows_changed_same_stamp,
        "files_loaded": dg.MetadataValue.json(result.files_loaded),
        "files_skipped": len(result.files_skipped),
        "files_waiting": dg.MetadataValue.json(result.files_waiting),
        "files_changed_while_read": dg.MetadataValue.json(result.files_changed_while_read),
        "files_unmatched": dg.MetadataValue.json(result.files_unmatched),
        "new_source_fields": dg.MetadataValue.json(result.extra_fields),
        "optional_fields_absent": dg.MetadataValue.json(result.absent_fields),
    }


def build_ingest_asset(obj: SourceObject) -> dg.AssetsDefinition:
    """The asset that loads one source object's landing files, all or nothing."""

    @dg.asset(
        key=dg.AssetKey([obj.schema, obj.name]),
        group_name=obj.system,
        kinds={"duckdb", obj.system},
        owners=RAW_OWNERS,
        description=f"{obj.description}\n\nLanding files: `{obj.system}/{obj.file_patterns[0]}` "
        f"(or `{obj.file_patterns[1]}`). Key: {', '.join(obj.primary_key)}.",
        metadata=raw_table_metadata(obj, "(none: newest file wins)"),
        pool=WRITER_POOL,
        op_tags={"dagster/priority": "30"},  # the revenue-critical path starts with ingest
        # A file that breaks the contract raises Failure(allow_retries=False); retries are for I/O hiccups.
        retry_policy=dg.RetryPolicy(
            max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
        ),
        check_specs=[
            quarantine_check_spec(obj),
            dg.AssetCheckSpec(
                FILES_CHECK,
                asset=dg.AssetKey([obj.schema, obj.name]),
                description=f"Every file in {obj.system}/ was read or is waiting to settle: none is named like no "
                "contract object, and none changed while it was read (WARN; such a file is read whole next run).",
            ),
            dg.AssetCheckSpec(
                STAMPS_CHECK,
                asset=dg.AssetKey([obj.schema, obj.name]),
                description="No record changed while its modified timestamp stayed the same (WARN: the later "
                "export is loaded, but the source changed a record without stamping it, so incremental readers "
                "may miss such changes).",
            ),
        ],
    )
    def _ingest(context: dg.AssetExecutionContext, warehouse: Warehouse, landing: LandingConfig):
        # DuckDB reads and checks the files; `target` is where they land (None: that same DuckDB file).
        with ingest_session(warehouse) as (con, target):
            try:
                result = load_object(
                    con,
                    obj,
                    landing.path(),
                    batch_id=context.run.run_id,
                    max_quarantine_share=settings.ingest_max_quarantine_share(),
                    target=target,
                    settle_seconds=landing.settle_seconds,
                )
            except LandingFileError as err:
                raise dg.Failure(
                    description=str(err),
                    metadata={"file": err.path, "line": err.line or 0, "field": err.field or "", "reason": err.reason},
                    allow_retries=False,
                ) from err
        log_load(context, obj, result)
        return dg.MaterializeResult(
            metadata=_result_metadata(result),
            check_results=[quarantine_check_result(result), files_check_result(result), stamps_check_result(result)],
            data_version=_after_load(warehouse, obj),
        )

    return _ingest


def data_version(con, obj: SourceObject) -> dg.DataVersion:
    """The raw table's version after the load (loader.table_versions): the same when the load changed no row.

    Dagster then shows what reads the table as up to date, and the dbt step and the raw checks skip it.
    """
    table = f"{obj.schema}.{obj.name}"
    return dg.DataVersion(table_versions(con, [table])[table])


def _after_load(warehouse: Warehouse, obj: SourceObject) -> dg.DataVersion:
    with warehouse.connect() as con:
        return data_version(con, obj)


def log_load(context: dg.AssetExecutionContext, obj: SourceObject, result: LoadResult) -> None:
    """What the load did, and a warning for everything a user must look at."""
    context.log.info(
        f"{obj.schema}.{obj.name}: read {result.rows_read}, inserted {result.rows_inserted}, "
        f"updated {result.rows_updated}, quarantined {result.rows_quarantined} "
        f"from {len(result.files_loaded)} file(s)"
    )
    if result.rows_quarantined:
        context.log.warning(
            f"{obj.schema}.{obj.name}: {result.rows_quarantined} row(s) quarantined in ingest_meta.quarantine "
            f"(batch_id = '{context.run.run_id}'): {result.quarantine_rules}"
        )
    if result.files_waiting:
        context.log.info(f"{len(result.files_waiting)} file(s) still settling, read next run: {result.files_waiting}")
    if result.files_changed_while_read:
        context.log.warning(
            f"{result.files_changed_while_read[0]} changed while it was read: not loaded; it and the later "
            f"batches ({len(result.files_changed_while_read)} file(s)) are read whole next run"
        )
    for note in result.files_unmatched:
        context.log.warning(f"not read: {note}")
    if result.rows_changed_same_stamp:
        context.log.warning(
            f"{obj.schema}.{obj.name}: {result.rows_changed_same_stamp} record(s) changed while their "
            f"{obj.cursor} stayed the same (the later export was loaded)"
        )


def files_check_result(result: LoadResult) -> dg.AssetCheckResult:
    """WARN when a file in the system's folder was not read for a reason other than its settle time."""
    return dg.AssetCheckResult(
        check_name=FILES_CHECK,
        passed=result.files_accounted,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "files_unmatched": dg.MetadataValue.json(result.files_unmatched),
            "files_changed_while_read": dg.MetadataValue.json(result.files_changed_while_read),
            "files_waiting": dg.MetadataValue.json(result.files_waiting),
        },
    )


def stamps_check_result(result: LoadResult) -> dg.AssetCheckResult:
    """WARN when the source changed records without advancing their modified timestamp."""
    return dg.AssetCheckResult(
        check_name=STAMPS_CHECK,
        passed=result.rows_changed_same_stamp == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rows_changed_same_stamp": result.rows_changed_same_stamp},
    )


def quarantine_check_spec(obj: SourceObject) -> dg.AssetCheckSpec:
    """The quarantine check of a raw table, whichever path (files or API) loads it."""
    return dg.AssetCheckSpec(
        QUARANTINE_CHECK,
        asset=dg.AssetKey([obj.schema, obj.name]),
        description="Every row of this load met the contract's row-level rules (required values, exact "
        "types, no rounding). Rows that did not are in ingest_meta.quarantine with the rule and reason (WARN).",
    )


def quarantine_check_result(result: LoadResult) -> dg.AssetCheckResult:
    """WARN when this load quarantined rows: they are kept, not loaded, until a corrected file arrives."""
    return dg.AssetCheckResult(
        check_name=QUARANTINE_CHECK,
        passed=result.rows_quarantined == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rows_in": result.rows_read,
            "rows_loaded": result.rows_loaded,
            "rows_quarantined": result.rows_quarantined,
            "by_rule": dg.MetadataValue.json(result.quarantine_rules),
        },
    )


def landing_resource() -> LandingConfig:
    """LANDING_DIR and LANDING_SETTLE_SECONDS from the environment."""
    return LandingConfig(landing_dir=str(settings.landing_dir()), settle_seconds=settings.landing_settle_seconds())
