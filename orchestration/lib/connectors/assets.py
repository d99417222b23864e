"""API ingest assets: one multi-asset per source system, with the file path's asset keys and checks.

A run of a system's asset: discover each selected object's fields at the source and check them
against the contract (schema drift); extract the objects that pass with dlt into the landing
dataset `api_<system>` of the warehouse (merge on the primary key; the incremental cursors are
dlt state stored there, so they survive restarts); then hand each object's rows of this load to
`ingest.loader.load_relation`, which checks, quarantines, dedupes and merges them into
`raw_<system>.<object>` exactly like landing files. Objects that drifted fail the step after the
others are materialized, with a message naming field and object.

Plain dlt inside our own multi-asset, not `@dlt_assets`: the asset's work goes on after the dlt
load (drift, contract checks, quarantine and merge into the raw table, whose metadata the asset
reports), the destination is the run's warehouse connection, and the resources (Salesforce field
lists) are only known after discovery at run time. See the README, "API connectors".
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any

import dagster as dg
import dlt
import duckdb
from dlt.extract.source import DltSource
from dlt.pipeline.exceptions import PipelineStepFailed

from ingest.contract import SourceObject, objects_for
from ingest.loader import LandingFileError, load_relation, q, sql_str
from orchestration.lib.connectors import drift as drift_lib
from orchestration.lib.connectors.http import (
    AnaplanAuth,
    CallStats,
    ConnectorError,
    HttpSettings,
    NetSuiteAuth,
    SalesforceAuth,
    WorkdayAuth,
    make_session,
)
from orchestration.lib.connectors.sources import (
    AnaplanExportsConnector,
    NetSuiteConnector,
    SalesforceConnector,
    WorkdayConnector,
)
from orchestration.lib.ingest_assets import QUARANTINE_CHECK, _column_schema, _result_metadata, quarantine_check_result
from orchestration.lib.warehouse import DuckDBWarehouse

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


class ApiTuning(dg.ConfigurableResource):
    """How hard the connectors lean on the APIs; shared by every system."""

    lookback_seconds: float = 300  # re-read this much before the last cursor (late commits)
    max_concurrency: int = 4  # objects of one system extracted at the same time
    max_attempts: int = 6  # per request, the first included (429, 5xx, connection errors)
    max_retry_delay_seconds: float = 60  # longest wait between attempts (Retry-After is capped here)
    timeout_seconds: float = 60

    def http(self) -> HttpSettings:
        return HttpSettings(
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            max_retry_delay_seconds=self.max_retry_delay_seconds,
            max_connections=max(2, self.max_concurrency * 2),
        )


class SalesforceApi(dg.ConfigurableResource):
    """Salesforce org (CRM and Certinia PSA): OAuth 2.0 client credentials of a connected app."""

    login_url: str
    client_id: str
    client_secret: str
    api_version: str = "v61.0"
    batch_size: int = 2000

    def connector(self, session, stats: CallStats) -> SalesforceConnector:
        auth = SalesforceAuth(session, stats, self.login_url, self.client_id, self.client_secret)
        return SalesforceConnector(auth, session, self.api_version, self.batch_size)


class NetSuiteApi(dg.ConfigurableResource):
    """NetSuite account: OAuth 2.0 machine-to-machine (certificate-signed JWT) and SuiteQL."""

    account_url: str
    client_id: str
    certificate_id: str
    private_key: str
    page_size: int = 1000

    def connector(self, session, stats: CallStats) -> NetSuiteConnector:
        auth = NetSuiteAuth(session, stats, self.account_url, self.client_id, self.certificate_id, self.private_key)
        return NetSuiteConnector(auth, session, self.page_size)


class WorkdayApi(dg.ConfigurableResource):
    """Workday tenant: RaaS reports owned by an integration system user, OAuth refresh-token grant."""

    base_url: str
    tenant: str
    report_owner: str
    client_id: str
    client_secret: str
    refresh_token: str
    window_days: float = 366

    def connector(self, session, stats: CallStats) -> WorkdayConnector:
        auth = WorkdayAuth(
            session, stats, self.base_url, self.tenant, self.client_id, self.client_secret, self.refresh_token
        )
        return WorkdayConnector(auth, session, self.base_url, self.tenant, self.report_owner, self.window_days)


class AnaplanExportsApi(dg.ConfigurableResource):
    """Anaplan model whose export actions `Plan_Versions.csv` and `Targets.csv` the planning objects read."""

    api_url: str
    auth_url: str
    workspace_id: str
    model_id: str
    username: str
    password: str

    def connector(self, session, stats: CallStats) -> AnaplanExportsConnector:
        auth = AnaplanAuth(session, stats, self.auth_url, self.username, self.password)
        return AnaplanExportsConnector(auth, session, self.api_url, self.workspace_id, self.model_id)


API_RESOURCE = {
    "crm": "salesforce_api",
    "psa": "salesforce_api",
    "erp": "netsuite_api",
    "hris": "workday_api",
    "planning": "anaplan_exports_api",
}


def landing_table(obj: SourceObject) -> str:
    return f"api_{obj.system}.{q(obj.name)}"


# --- the load ----------------------------------------------------------------------------------------------------
def run_dlt(con: duckdb.DuckDBPyConnection, system: str, resources: list[Any], workers: int) -> list[str]:
    """Extract into `api_<system>`; dlt restores its state (the cursors) from there every run."""
    dlt.config["extract.workers"] = max(1, workers)
    if workers > 1:  # each resource's pages are fetched in dlt's thread pool, `workers` at a time
        resources = [resource.parallelize() for resource in resources]
    schema = dlt.Schema(f"api_{system}", normalizers={"names": "direct"})  # keep the vendors' field names
    source = DltSource(schema, f"api_{system}", resources)
    source.max_table_nesting = 0
    with tempfile.TemporaryDirectory(prefix=f"dlt_api_{system}_") as workdir:
        pipeline = dlt.pipeline(
            pipeline_name=f"api_{system}",
            pipelines_dir=workdir,
            destination=dlt.destinations.duckdb(con),
            dataset_name=f"api_{system}",
        )
        info = pipeline.run(source)
        info.raise_on_failed_jobs()
        return list(info.loads_ids)


def _columns(con: duckdb.DuckDBPyConnection, obj: SourceObject) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [f"api_{obj.system}", obj.name],
    ).fetchall()
    return [r[0] for r in rows]


def batch_relation(con: duckdb.DuckDBPyConnection, obj: SourceObject, load_ids: list[str], protocol: tuple) -> tuple:
    """This load's rows of the object as a relation of contract fields plus new source fields."""
    columns = _columns(con, obj)
    new = [c for c in columns if c not in obj.field_names and not c.startswith("_") and c not in protocol]
    if not columns:  # nothing ever loaded: an empty batch
        empty = ", ".join(f"null::varchar as {q(f)}" for f in obj.field_names)
        return f"(select {empty} where false)", []
    select = ", ".join(q(c) for c in [*obj.field_names, *new])
    ids = ", ".join(sql_str(i) for i in load_ids) or "null"
    return f"(select {select} from {landing_table(obj)} where _dlt_load_id in ({ids}))", new


def flag_deleted(con: duckdb.DuckDBPyConnection, obj: SourceObject, system: str, load_ids: list[str]) -> int:
    """Mark landing rows the source deleted (NetSuite's DeletedRecord; rows an Anaplan export no longer has).

    Returns the rows newly marked by this run."""
    if not _columns(con, obj):
        return 0
    table = landing_table(obj)
    con.execute(f"alter table {table} add column if not exists _source_deleted_at varchar")
    if system == "erp" and "deleted_record" in _tables(con, "api_erp"):
        key = q(obj.primary_key[0])
        sql = (
            f"update {table} t set _source_deleted_at = d.deleteddate from api_erp.deleted_record d "
            f"where d.recordtype = {sql_str(obj.file_stem.lower())} and d.recordid = t.{key}::varchar "
            "and t._source_deleted_at is null"
        )
    elif system == "planning" and load_ids and _loaded(con, table, load_ids):
        ids = ", ".join(sql_str(i) for i in load_ids)
        sql = (
            f"update {table} set _source_deleted_at = strftime(now(), '%Y-%m-%d %H:%M:%S') "
            f"where _dlt_load_id not in ({ids}) and _source_deleted_at is null"
        )
    else:
        return 0
    return len(con.execute(sql + " returning 1").fetchall())


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    rows = con.execute("select table_name from information_schema.tables where table_schema = ?", [schema]).fetchall()
    return {r[0] for r in rows}


def _loaded(con: duckdb.DuckDBPyConnection, table: str, load_ids: list[str]) -> bool:
    ids = ", ".join(sql_str(i) for i in load_ids)
    return con.execute(f"select count(*) from {table} where _dlt_load_id in ({ids})").fetchall()[0][0] > 0


def _soft_deleted(con: duckdb.DuckDBPyConnection, obj: SourceObject, relation: str) -> int:
    if "IsDeleted" not in obj.field_names:
        return 0
    return con.execute(f"select count(*) from {relation} where lower(\"IsDeleted\") = 'true'").fetchall()[0][0]


# --- the asset ----------------------------------------------------------------------------------------------------
def _spec(obj: SourceObject) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=dg.AssetKey([obj.schema, obj.name]),
        group_name=obj.system,
        kinds={"dlt", "duckdb", obj.system},
        skippable=True,
        description=f"{obj.description}\n\nFrom the {obj.system} API (source object `{obj.file_stem}`), landed in "
        f"`api_{obj.system}.{obj.name}`, then checked and merged like a landing file. "
        f"Key: {', '.join(obj.primary_key)}.",
        metadata={
            "dagster/table_name": f"{obj.schema}.{obj.name}",
            "dagster/column_schema": _column_schema(obj),
            "primary_key": ", ".join(obj.primary_key),
            "cursor": obj.cursor or "(none: the whole export, merged by key)",
        },
    )


def _check_result(obj: SourceObject, result) -> dg.AssetCheckResult:
    base = quarantine_check_result(result)
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey([obj.schema, obj.name]),
        check_name=base.check_name,
        passed=base.passed,
        severity=base.severity,
        metadata=base.metadata,
    )


def build_api_assets(system: str) -> dg.AssetsDefinition:
    """Every object of one source system from its API, as assets keyed like the file path's."""
    objects = objects_for(system)
    resource_key = API_RESOURCE[system]

    @dg.multi_asset(
        name=f"api_{system}",
        specs=[_spec(obj) for obj in objects],
        check_specs=[
            dg.AssetCheckSpec(
                QUARANTINE_CHECK,
                asset=dg.AssetKey([obj.schema, obj.name]),
                description="Every row of this load met the contract's row-level rules (WARN); "
                "the others are in ingest_meta.quarantine.",
            )
            for obj in objects
        ],
        can_subset=True,
        required_resource_keys={"warehouse", "api_tuning", resource_key},
        op_tags={"ingest_source": "api"},
    )
    def _api_assets(context) -> Iterator[dg.MaterializeResult]:
        selected = [o for o in objects if dg.AssetKey([o.schema, o.name]) in context.selected_asset_keys]
        resources = context.resources
        yield from load_system(
            context, system, selected, getattr(resources, resource_key), resources.api_tuning, resources.warehouse
        )

    return _api_assets


def load_system(
    context: dg.AssetExecutionContext,
    system: str,
    selected: list[SourceObject],
    api: Any,
    tuning: ApiTuning,
    warehouse: DuckDBWarehouse,
) -> Iterator[dg.MaterializeResult]:
    stats = CallStats()
    connector = api.connector(make_session(stats, tuning.http()), stats)
    found, drifts, failures = {}, {}, {}
    for obj in selected:
        try:
            found[obj.name] = connector.discover(obj)
        except ConnectorError as err:
            failures[obj.name] = f"{obj.system}.{obj.name}: {err}"
            continue
        drifts[obj.name] = drift_lib.compare(obj, found[obj.name].fields, connector.protocol_fields)
        if drifts[obj.name].breaking():
            failures[obj.name] = drifts[obj.name].message()
    good = [o for o in selected if o.name not in failures]
    with warehouse.connect() as con:
        load_ids = _extract(context, con, system, connector, good, found, tuning) if good else []
        for obj in good:
            try:
                yield _load_object(context, con, obj, connector, drifts[obj.name], load_ids, stats)
            except (drift_lib.SchemaDriftError, LandingFileError) as err:
                failures[obj.name] = str(err)
    if failures:
        for message in failures.values():
            context.log.error(message)
        raise dg.Failure(
            description="; ".join(failures.values()),
            metadata={"failed_objects": dg.MetadataValue.json(sorted(failures)), **stats.metadata()},
        )


def _extract(context, con, system: str, connector, good: list[SourceObject], found, tuning: ApiTuning) -> list[str]:
    try:
        return run_dlt(con, system, connector.resources(good, found, tuning.lookback_seconds), tuning.max_concurrency)
    except (PipelineStepFailed, ConnectorError) as err:
        cause = err.__cause__ or err
        raise dg.Failure(description=f"{system} API extract failed: {cause}") from err


def _load_object(context, con, obj: SourceObject, connector, drift, load_ids: list[str], stats: CallStats):
    relation, new_fields = batch_relation(con, obj, load_ids, connector.protocol_fields)
    retyped = drift_lib.retyped_in_data(con, obj, relation)
    if retyped:
        drift.retyped.update(retyped)
        if drift.breaking():
            raise drift_lib.SchemaDriftError(drift.message())
    extracted = con.execute(f"select count(*) from {relation}").fetchall()[0][0]
    soft_deleted = _soft_deleted(con, obj, relation)
    result = load_relation(
        con, obj, relation, batch_id=context.run.run_id, source_label=f"{obj.system} API {obj.file_stem}"
    )
    flagged = flag_deleted(con, obj, obj.system, load_ids)
    drift.new = sorted(set(drift.new) | set(new_fields))
    context.log.info(
        f"{obj.schema}.{obj.name}: extracted {extracted}, inserted {result.rows_inserted}, updated "
        f"{result.rows_updated}, quarantined {result.rows_quarantined}; new source fields {drift.new or 'none'}"
    )
    metadata = {
        **_result_metadata(result),
        **{k: dg.MetadataValue.json(v) for k, v in drift.metadata().items()},
        "rows_extracted": extracted,
        "rows_soft_deleted_in_batch": soft_deleted,
        "rows_deleted_at_source": flagged,
        "landing_table": landing_table(obj),
        "dlt_load_ids": dg.MetadataValue.json(load_ids),
        **stats.metadata(),
    }
    return dg.MaterializeResult(
        asset_key=dg.AssetKey([obj.schema, obj.name]), metadata=metadata, check_results=[_check_result(obj, result)]
    )


def build_api_definitions(systems: tuple[str, ...], resources: dict[str, Any]) -> dg.Definitions:
    return dg.Definitions(assets=[build_api_assets(s) for s in systems], resources=resources)
