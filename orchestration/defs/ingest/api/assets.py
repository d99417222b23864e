"""API ingest assets: one multi-asset per source system, with the file path's asset keys and checks.

A run of a system's asset: discover each selected object's fields at the source and check them
against the contract (schema drift); extract the objects that pass with dlt into the landing
dataset `api_<system>` of the warehouse (merge on the primary key; the incremental cursors are
dlt state stored there, so they survive restarts); then hand each object's rows of every dlt load
not yet merged (this run's, and any an earlier run landed but did not merge) to
`orchestration.defs.ingest.loader.load_relation`, which checks, quarantines, dedupes and merges them into
`raw_<system>.<object>` exactly like landing files, and records those loads as merged in
`api_<system>._merged_loads` inside its transaction: exactly once into raw, whatever stops a run
between extract and merge. Objects that drifted fail the step after the others are materialized,
with a message naming field and object; refused credentials or the org's request limit stop
the system's extract at once, in the vendor's words (`extract_error`), never with a secret.

Plain dlt inside our own multi-asset, not `@dlt_assets`: the asset's work goes on after the dlt
load (drift, contract checks, quarantine and merge into the raw table, whose metadata the asset
reports), the destination is the run's warehouse connection, and the resources (Salesforce field
lists) are only known after discovery at run time. See docs/api-connectors.md.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
import dlt
import duckdb
import requests
from dlt.extract.exceptions import ResourceExtractionError
from dlt.extract.source import DltSource

from orchestration.contract import SourceObject, objects_for
from orchestration.defs.ingest.api import drift as drift_lib
from orchestration.defs.ingest.api.sources import (
    AnaplanExportsConnector,
    Discovery,
    NetSuiteConnector,
    SalesforceConnector,
    WorkdayConnector,
)
from orchestration.defs.ingest.files import (
    RAW_OWNERS,
    _result_metadata,
    data_version,
    quarantine_check_result,
    quarantine_check_spec,
    raw_table_metadata,
)
from orchestration.defs.ingest.loader import UTC_NOW, LandingFileError, Target, load_relation, q, sql_str
from orchestration.defs.ingest.postgres_target import ingest_session
from orchestration.defs.reverse_sync.anaplan import AnaplanResource
from orchestration.lib import settings
from orchestration.lib.http import (
    CallStats,
    ConnectorError,
    HttpSettings,
    NetSuiteAuth,
    SalesforceAuth,
    Session,
    WorkdayAuth,
    vendor_error,
)
from orchestration.lib.warehouse import WRITER_POOL

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

    def connector(self, session: Session) -> SalesforceConnector:
        auth = SalesforceAuth(session, self.login_url, self.client_id, self.client_secret)
        return SalesforceConnector(auth, self.api_version, self.batch_size)


class NetSuiteApi(dg.ConfigurableResource):
    """NetSuite account: OAuth 2.0 machine-to-machine (certificate-signed JWT) and SuiteQL."""

    account_url: str
    client_id: str
    certificate_id: str
    private_key: str
    page_size: int = 1000

    def connector(self, session: Session) -> NetSuiteConnector:
        auth = NetSuiteAuth(session, self.account_url, self.client_id, self.certificate_id, self.private_key)
        return NetSuiteConnector(auth, self.page_size)


class WorkdayApi(dg.ConfigurableResource):
    """Workday tenant: RaaS reports owned by an integration system user, OAuth refresh-token grant."""

    base_url: str
    tenant: str
    report_owner: str
    client_id: str
    client_secret: str
    refresh_token: str
    window_days: float = 366

    def connector(self, session: Session) -> WorkdayConnector:
        auth = WorkdayAuth(session, self.base_url, self.tenant, self.client_id, self.client_secret, self.refresh_token)
        return WorkdayConnector(auth, self.base_url, self.tenant, self.report_owner, self.window_days)


API_RESOURCE = {
    "crm": "salesforce_api",
    "psa": "salesforce_api",
    "erp": "netsuite_api",
    "hris": "workday_api",
    "planning": "anaplan",  # the model the reverse sync writes to (orchestration.defs.reverse_sync.anaplan)
}


def landing_table(obj: SourceObject) -> str:
    return f"api_{obj.system}.{q(obj.name)}"


# --- the landing dataset ---------------------------------------------------------------------------------------
MERGED_LOADS = "_merged_loads"  # api_<system>._merged_loads: (object_name, load_id, run_id, merged_at)


class Landing:
    """Where dlt lands one system's rows (`api_<system>`), and how the loader reads and merges them.

    `con` queries the landing dataset; `engine` is the DuckDB connection the loader checks in;
    `target` is where raw tables live (None: `engine` itself). Which dlt loads of an object have
    reached raw is recorded in `api_<system>._merged_loads`, written by `record_merged` inside the
    loader's transaction, so the record commits or rolls back with the merge into raw.
    """

    con: Any
    engine: duckdb.DuckDBPyConnection
    target: Target | None = None

    def __init__(self, system: str) -> None:
        self.system, self.schema = system, f"api_{system}"

    def destination(self) -> Any:
        raise NotImplementedError

    def stage(self, obj: SourceObject, columns: list[str], load_ids: list[str]) -> str:
        """A relation on `engine` with the object's landed rows of `load_ids` (`columns` and `_dlt_load_id`)."""
        raise NotImplementedError

    def record_merged(self, obj: SourceObject, load_ids: list[str], run_id: str) -> None:
        """Mark `load_ids` merged for `obj`; called by the loader inside the load's transaction."""
        raise NotImplementedError

    def prepare(self) -> None:
        self.con.execute(f"create schema if not exists {self.schema}")
        self.con.execute(
            f"create table if not exists {self.schema}.{MERGED_LOADS} "
            "(object_name varchar, load_id varchar, run_id varchar, merged_at timestamp)"
        )

    def pending_loads(self, obj: SourceObject) -> list[str]:
        """dlt loads that completed (`_dlt_loads.status = 0`) and whose rows of `obj` have not reached raw yet.

        A load dlt did not complete has no `_dlt_loads` row and never advanced the cursors (dlt
        restores its state from completed loads only), so its rows are extracted again."""
        if "_dlt_loads" not in _tables(self.con, self.schema):
            return []
        rows = self.con.execute(
            f"select load_id from {self.schema}._dlt_loads l where status = 0 and not exists "
            f"(select 1 from {self.schema}.{MERGED_LOADS} m where m.object_name = ? and m.load_id = l.load_id) "
            "order by load_id",
            [obj.name],
        ).fetchall()
        return [r[0] for r in rows]

    def _merged_rows(self, obj: SourceObject, load_ids: list[str], run_id: str) -> list[list[str]]:
        return [[obj.name, load_id, run_id] for load_id in load_ids]


class DuckDBLanding(Landing):
    """`api_<system>` in the DuckDB warehouse: dlt writes through the run's connection, the loader reads it there."""

    def __init__(self, system: str, con: duckdb.DuckDBPyConnection) -> None:
        super().__init__(system)
        self.con = self.engine = con

    def destination(self) -> Any:
        return dlt.destinations.duckdb(self.con)

    def stage(self, obj: SourceObject, columns: list[str], load_ids: list[str]) -> str:
        select = ", ".join(q(c) for c in [*columns, "_dlt_load_id"])
        ids = ", ".join(sql_str(i) for i in load_ids) or "null"
        return f"(select {select} from {landing_table(obj)} where _dlt_load_id in ({ids}))"

    def record_merged(self, obj: SourceObject, load_ids: list[str], run_id: str) -> None:
        if not load_ids:
            return
        self.engine.executemany(  # the loader's connection: its open transaction covers this insert
            f"insert into {self.schema}.{MERGED_LOADS} values (?, ?, ?, {UTC_NOW})",
            self._merged_rows(obj, load_ids, run_id),
        )


class PostgresLanding(Landing):
    """`api_<system>` in the PostgreSQL warehouse (dlt's postgres destination, its state there too).

    The pending rows are copied in bulk (`COPY ... TO STDOUT`, CSV) into the in-memory DuckDB that
    checks them, as landing files are read; the merge and the `_merged_loads` record share the
    loader's PostgreSQL transaction."""

    def __init__(self, system: str, con: Any, engine: duckdb.DuckDBPyConnection, target: Any, credentials: dict):
        super().__init__(system)
        self.con, self.engine, self.target, self._credentials = con, engine, target, credentials
        self._folder = tempfile.TemporaryDirectory(prefix=f"api_{system}_pending_")

    def destination(self) -> Any:
        return dlt.destinations.postgres(credentials=self._credentials)

    def stage(self, obj: SourceObject, columns: list[str], load_ids: list[str]) -> str:
        names = [*columns, "_dlt_load_id"]
        ids = ", ".join(sql_str(i) for i in load_ids) or "null"
        select = ", ".join(f"{q(c)}::text as {q(c)}" for c in names)
        path = Path(self._folder.name) / "pending.csv"
        with path.open("wb") as handle, self.con.raw.cursor() as cur:
            cur.copy_expert(
                f"copy (select {select} from {landing_table(obj)} where _dlt_load_id in ({ids})) "
                "to stdout with (format csv, header true)",
                handle,
            )
        types = "{" + ", ".join(f"{sql_str(c)}: 'VARCHAR'" for c in names) + "}"
        # PostgreSQL's CSV: NULL is an empty field, an empty string is "" (kept as '' here).
        self.engine.execute(
            f"create or replace temp table _api_pending as select * from read_csv({sql_str(str(path))}, "
            f"header = true, columns = {types}, quote = '\"', escape = '\"', allow_quoted_nulls = false)"
        )
        return "_api_pending"

    def record_merged(self, obj: SourceObject, load_ids: list[str], run_id: str) -> None:
        if not load_ids:
            return
        with self.target.pg.cursor() as cur:  # the loader's open PostgreSQL transaction
            cur.executemany(
                f"insert into {self.schema}.{MERGED_LOADS} values (%s, %s, %s, {UTC_NOW})",
                self._merged_rows(obj, load_ids, run_id),
            )

    def close(self) -> None:
        self._folder.cleanup()


@contextmanager
def open_landing(warehouse: Any, system: str) -> Iterator[Landing]:
    """The system's landing dataset in the run's warehouse (DuckDB or PostgreSQL)."""
    if getattr(warehouse, "dialect", "duckdb") == "postgres":
        password = warehouse.password.get_value() if isinstance(warehouse.password, dg.EnvVar) else warehouse.password
        credentials = {
            "host": warehouse.host,
            "port": int(warehouse.port),
            "username": warehouse.user,
            "password": password or "",
            "database": warehouse.database,
        }
        with ingest_session(warehouse) as (engine, target), warehouse.connect() as con:
            landing = PostgresLanding(system, con, engine, target, credentials)
            try:
                yield landing
            finally:
                landing.close()
    else:
        with warehouse.connect() as con:
            yield DuckDBLanding(system, con)


# --- the load ----------------------------------------------------------------------------------------------------
def run_dlt(landing: Landing, system: str, resources: list[Any], workers: int) -> list[str]:
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
            destination=landing.destination(),
            dataset_name=f"api_{system}",
        )
        info = pipeline.run(source)
        info.raise_on_failed_jobs()
        return list(info.loads_ids)


def _columns(con: Any, obj: SourceObject) -> list[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [f"api_{obj.system}", obj.name],
    ).fetchall()
    return [r[0] for r in rows]


def batch_relation(landing: Landing, obj: SourceObject, load_ids: list[str], protocol: tuple) -> tuple:
    """The object's landed rows of `load_ids` as a relation of contract fields plus new source fields."""
    columns = _columns(landing.con, obj)
    new = [c for c in columns if c not in obj.field_names and not c.startswith("_") and c not in protocol]
    if not columns:  # nothing ever loaded: an empty batch
        empty = ", ".join(f"null::varchar as {q(f)}" for f in [*obj.field_names, "_dlt_load_id"])
        return f"(select {empty} where false)", []
    return landing.stage(obj, [*obj.field_names, *new], load_ids), new


def flag_deleted(landing: Landing, obj: SourceObject, system: str, load_ids: list[str]) -> int:
    """Mark landing rows the source deleted (NetSuite's DeletedRecord; rows an Anaplan export no longer has).

    Returns the rows newly marked by this run."""
    con = landing.con
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
        params: list[str] = []
    elif system == "planning" and load_ids and _loaded(con, table, load_ids):
        ids = ", ".join(sql_str(i) for i in load_ids)
        sql = f"update {table} set _source_deleted_at = ? where _dlt_load_id not in ({ids})"
        sql += " and _source_deleted_at is null"
        params = [datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")]
    else:
        return 0
    return len(con.execute(sql + " returning 1", params).fetchall())


def _tables(con: Any, schema: str) -> set[str]:
    rows = con.execute("select table_name from information_schema.tables where table_schema = ?", [schema]).fetchall()
    return {r[0] for r in rows}


def _loaded(con: Any, table: str, load_ids: list[str]) -> bool:
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
        owners=RAW_OWNERS,
        skippable=True,
        description=f"{obj.description}\n\nFrom the {obj.system} API (source object `{obj.file_stem}`), landed in "
        f"`api_{obj.system}.{obj.name}`, then checked and merged like a landing file. "
        f"Key: {', '.join(obj.primary_key)}.",
        metadata=raw_table_metadata(obj, "(none: the whole export, merged by key)"),
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
        check_specs=[quarantine_check_spec(obj) for obj in objects],
        can_subset=True,
        required_resource_keys={"warehouse", "api_tuning", resource_key},
        op_tags={"ingest_source": "api"},
        pool=WRITER_POOL,  # it writes the warehouse, like every ingest step
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
    warehouse: Any,
) -> Iterator[dg.MaterializeResult]:
    """Discover, extract and merge one system's selected objects; fail the step, naming each failure, at the end.

    Every run merges every landed load not yet merged (`Landing.pending_loads`), this run's and
    those an earlier run extracted but could not merge (a merge refused, a crash or a kill between
    extract and merge), also when this run's extract fails."""
    stats = CallStats()
    session = Session(stats, tuning.http(), f"{system} API")
    connector = (
        AnaplanExportsConnector(api.client(session)) if isinstance(api, AnaplanResource) else api.connector(session)
    )
    redact = connector.auth.redact
    found, drifts, failures = {}, {}, {}
    stopped = ""  # why nothing of this system can be extracted this run
    for obj in selected:
        try:
            found[obj.name] = connector.discover(obj)
        except ConnectorError as err:
            if err.stops_system:  # credentials refused, the org's limit reached: no other object can do better
                stopped = f"{system} API: {redact(str(err))} (nothing of {system} was extracted)"
                break
            failures[obj.name] = f"{obj.system}.{obj.name}: {redact(str(err))}"
            continue
        drifts[obj.name] = drift_lib.compare(obj, found[obj.name].fields, connector.protocol_fields)
        if drifts[obj.name].breaking():
            failures[obj.name] = drifts[obj.name].message()
    good = [] if stopped else [o for o in selected if o.name not in failures]
    with open_landing(warehouse, system) as landing:
        load_ids: list[str] = []
        if good:
            try:
                load_ids = run_dlt(
                    landing, system, connector.resources(good, found, tuning.lookback_seconds), tuning.max_concurrency
                )
            except Exception as err:  # whatever stopped dlt, the pending loads still merge below
                stopped = redact(extract_error(system, err))
        landing.prepare()
        for obj in selected:
            if obj.name in failures:
                continue
            pending = landing.pending_loads(obj)
            if stopped and not pending:
                continue  # nothing new and nothing left over: no materialization
            drift = drifts.get(obj.name) or drift_lib.Drift(obj)
            discovery = found.get(obj.name)
            try:
                yield _load_object(context, landing, obj, connector, drift, pending, load_ids, stats, discovery)
            except (drift_lib.SchemaDriftError, LandingFileError) as err:
                failures[obj.name] = str(err)
    messages = [stopped] if stopped else []
    messages += list(failures.values())
    if messages:
        for message in messages:
            context.log.error(message)
        failed = sorted(failures) if not stopped else sorted(o.name for o in selected)
        raise dg.Failure(
            description="; ".join(messages),
            metadata={"failed_objects": dg.MetadataValue.json(failed), **stats.metadata()},
        )


def extract_error(system: str, err: BaseException) -> str:
    """What stopped dlt, in the vendor's words: the resource, the request and the vendor's error code and message."""
    chain, seen = [], set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    resource = next((e.pipe_name for e in chain if isinstance(e, ResourceExtractionError)), None)
    where = f"{system}.{resource}" if resource else system
    for cause in chain:
        if isinstance(cause, ConnectorError):
            return f"{system} API extract failed ({where}): {cause}"
        if isinstance(cause, requests.HTTPError) and cause.response is not None:
            request = cause.response.request
            path = urlsplit(request.url or "").path if request is not None else ""
            method = request.method if request is not None else ""
            return f"{system} API extract failed ({where}): {method} {path}: {vendor_error(cause.response)}"
    root = chain[-1]
    return f"{system} API extract failed ({where}): {type(root).__name__}: {root}"


def _load_object(
    context,
    landing: Landing,
    obj: SourceObject,
    connector,
    drift,
    pending: list[str],
    run_load_ids: list[str],
    stats: CallStats,
    discovery: Discovery | None,
):
    """Merge the object's rows of every pending load into raw; the loads are marked merged in the same transaction."""
    relation, new_fields = batch_relation(landing, obj, pending, connector.protocol_fields)
    engine = landing.engine
    retyped = drift_lib.retyped_in_data(engine, obj, relation)
    if retyped:
        drift.retyped.update(retyped)
        if drift.breaking():
            raise drift_lib.SchemaDriftError(drift.message())
    this_run = ", ".join(sql_str(i) for i in run_load_ids) or "''"  # not "null": `x not in (null)` is never true
    extracted, earlier = engine.execute(
        f"select count(*), count(*) filter (where _dlt_load_id not in ({this_run})) from {relation}"
    ).fetchall()[0]
    soft_deleted = _soft_deleted(engine, obj, relation)
    result = load_relation(
        engine,
        obj,
        relation,
        batch_id=context.run.run_id,
        source_label=f"{obj.system} API {obj.file_stem}",
        max_quarantine_share=settings.ingest_max_quarantine_share(),
        target=landing.target,
        on_commit=lambda _con: landing.record_merged(obj, pending, context.run.run_id),
    )
    flagged = flag_deleted(landing, obj, obj.system, run_load_ids)
    drift.new = sorted(set(drift.new) | set(new_fields))
    not_landed = list(discovery.not_landed) if discovery else []
    context.log.info(
        f"{obj.schema}.{obj.name}: merged {extracted} landed row(s) ({earlier} from earlier runs' loads), inserted "
        f"{result.rows_inserted}, updated {result.rows_updated}, quarantined {result.rows_quarantined}; "
        f"new source fields {drift.new or 'none'}"
    )
    if earlier:
        context.log.warning(
            f"{obj.schema}.{obj.name}: {earlier} row(s) landed by earlier runs but not merged then (a refused "
            f"merge or an interrupted run) were merged now, from dlt load(s) {', '.join(pending)}"
        )
    if not_landed:
        context.log.warning(
            f"{obj.schema}.{obj.name}: {len(not_landed)} source field(s) outside the contract were not landed: "
            f"the query selecting them would pass Salesforce's URI limit ({', '.join(not_landed[:10])}, ...)"
        )
    metadata = {
        **_result_metadata(result),
        **{k: dg.MetadataValue.json(v) for k, v in drift.metadata().items()},
        "rows_extracted": extracted,
        "rows_from_earlier_loads": earlier,
        "rows_soft_deleted_in_batch": soft_deleted,
        "rows_deleted_at_source": flagged,
        "landing_table": landing_table(obj),
        "dlt_load_ids": dg.MetadataValue.json(pending),
        "source_fields_not_landed": dg.MetadataValue.json(not_landed),
        **stats.metadata(),
    }
    return dg.MaterializeResult(
        asset_key=dg.AssetKey([obj.schema, obj.name]),
        metadata=metadata,
        check_results=[_check_result(obj, result)],
        data_version=data_version(landing.con, obj),
    )


def build_api_definitions(systems: tuple[str, ...], resources: dict[str, Any]) -> dg.Definitions:
    return dg.Definitions(assets=[build_api_assets(s) for s in systems], resources=resources)
