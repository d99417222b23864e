"""Running the real Dagster definitions against a temporary warehouse, for the tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import dagster as dg
import duckdb

from orchestration.contract import SOURCE_OBJECTS
from orchestration.defs.ingest.files import LandingConfig
from orchestration.defs.transform.changes import REBUILD_TAG
from orchestration.lib.postgres import connect_raw
from orchestration.lib.warehouse import DuckDBWarehouse, PostgresWarehouse

REBUILD = {REBUILD_TAG: "all"}  # build every selected dbt model, changed inputs or not
# The models that read timecards only through the calendars (which read the first timecard week through
# the cutoff view int_calendar_first_timecard_week), read off the dbt graph by hand: the calendars,
# dim_calendar, and the models laid out on a calendar without reading time entries. A timecard change
# that leaves the first week builds none of them.
THROUGH_THE_CALENDARS_ONLY = {
    "int_calendar_dates",
    "int_calendar_months",
    "dim_calendar",
    "int_scheduled_hours_spread",
    "fct_scheduled_hours",
    "int_resource_days",
    "int_retainer_fees_spread",
    "int_opportunity_months_weighted",
    "fct_revenue_forecast_version_assignments",
}
RAW_ASSETS = dg.AssetSelection.assets(*[dg.AssetKey([o.schema, o.name]) for o in SOURCE_OBJECTS])


def materialize(
    warehouse: Path,
    landing: Path,
    selection: str | dg.AssetSelection = "*",
    instance: dg.DagsterInstance | None = None,
    run_config: dict | None = None,
    resources: dict | None = None,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Run the real definitions against a temporary warehouse and landing folder.

    Tests that edit a model's table in place (not through the loader) pass `tags=REBUILD`: the dbt step
    cannot see such an edit, and would otherwise leave the model as it is (orchestration/defs/transform/changes.py).
    """
    from orchestration.definitions import defs

    resources = {
        **defs.resources,
        "warehouse": DuckDBWarehouse(database=str(warehouse), memory_limit="2GB"),
        # Tests write their files just before the run: nothing is still being written.
        "landing": LandingConfig(landing_dir=str(landing), settle_seconds=0),
        **(resources or {}),
    }
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        resources=resources,
        selection=selection,
        raise_on_error=False,
        instance=instance,
        run_config=run_config,
        tags=tags,
    )


class RecordedRun:
    """A finished run read back from the Dagster instance it ran on, as the UI reads it.

    Offers what the tests read of an `ExecuteInProcessResult` (`run_id`, `success`, `all_events`,
    its materializations and check evaluations), from the events the instance stored, so a run
    made in another process (the session's demo build) is asserted on like one made here.
    """

    def __init__(self, instance: dg.DagsterInstance, run_id: str) -> None:
        run = instance.get_run_by_id(run_id)
        assert run is not None, f"no run {run_id} in the instance at {instance.root_directory}"
        self.run_id = run_id
        self.success = run.status == dg.DagsterRunStatus.SUCCESS
        self.all_events = [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event is not None]

    def get_asset_materialization_events(self) -> list[dg.DagsterEvent]:
        return [e for e in self.all_events if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION]

    def get_asset_check_evaluations(self) -> list[dg.AssetCheckEvaluation]:
        return [
            e.asset_check_evaluation_data
            for e in self.all_events
            if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        ]


def local_dagster_home(folder: Path) -> Path:
    """`folder`/dagster_home as `make demo` and `make ui` set DAGSTER_HOME up (the benchmark's own set-up)."""
    from bench.pipeline import prepare_instance

    home = folder / "dagster_home"
    prepare_instance(home)
    return home


def materialization_metadata(result: dg.ExecuteInProcessResult | RecordedRun) -> dict[str, dict]:
    """Metadata values of every materialization in a run, by asset key string."""
    return {
        event.asset_key.to_user_string(): {
            key: value.value for key, value in event.step_materialization_data.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }


def dbt_step_folder(run_id: str) -> Path:
    """The target folder of a run's dbt step (dagster-dbt's naming, under the project's target path)."""
    from orchestration.defs.transform.assets import dbt_project

    [folder] = (Path(dbt_project.project_dir) / dbt_project.target_path).glob(f"dbt_models-{run_id[:7]}-*")
    return folder


def run_log(instance: dg.DagsterInstance, run_id: str, step_key: str | None = None) -> str:
    """The messages of a run's log as the UI lists them (of one step, if given), one per line."""
    return "\n".join(
        entry.user_message
        for entry in instance.all_logs(run_id)
        if entry.user_message and (step_key is None or entry.step_key == step_key)
    )


def count_rows(warehouse: Path, relation: str) -> int:
    return query(warehouse, f"select count(*) from {relation}")[0][0]


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def pg_query(config: dict, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query (`%s` parameters) on the PostgreSQL database `config` names (host, port, user, password,
    database: the `postgres_database` fixture's dict)."""
    con = connect_raw(**config, autocommit=True)
    try:
        with con.cursor() as cur:
            cur.execute(sql, params or None)
            return cur.fetchall()
    finally:
        con.close()


def pg_env(config: dict) -> dict[str, str]:
    """The environment that points the pipeline and dbt's profile at the PostgreSQL database of `config`."""
    return {
        "WAREHOUSE": "postgres",
        "POSTGRES_HOST": config["host"],
        "POSTGRES_PORT": str(config["port"]),
        "POSTGRES_USER": config["user"],
        "POSTGRES_PASSWORD": config.get("password") or "",
        "POSTGRES_DB": config["database"],
    }


def pg_warehouse(config: dict, memory_limit: str = "1GB") -> PostgresWarehouse:
    """The warehouse resource on the PostgreSQL database of `config`."""
    return PostgresWarehouse(
        host=config["host"],
        port=int(config["port"]),
        user=config["user"],
        password=config.get("password") or "",
        database=config["database"],
        memory_limit=memory_limit,
    )


def failures(result: dg.ExecuteInProcessResult | RecordedRun) -> list[str]:
    """Each failed step's error message, for assertion output."""
    return [
        f"{e.step_key}: {e.step_failure_data.error.message if e.step_failure_data.error else e.message}"
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]


def load_script(path: Path) -> ModuleType:
    """Import a script by its path (dbt_project/scripts and deploy are folders, not packages)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
