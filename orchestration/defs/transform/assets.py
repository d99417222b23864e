"""The dbt project as Dagster assets, one `dbt build` per run, grouped by source system."""

import datetime as dt
import importlib.metadata
import json
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtProjectPreparer, DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets
from packaging import version

from orchestration.contract import SOURCE_OBJECTS
from orchestration.defs.ingest.loader import LOADED_FILES, load_log_version, table_versions
from orchestration.defs.transform import changes, parse_state
from orchestration.defs.transform.exceptions import with_exception_counts
from orchestration.defs.transform.insights import is_mart_output, with_mart_insights
from orchestration.lib import settings
from orchestration.lib.warehouse import WRITER_POOL, Warehouse

dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)


class PipelineDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI resource, without the two things it does in this process before each dbt step.

    - dagster-dbt 0.29 builds a dbt adapter (importing dbt's adapter stack, loading the project and the
      profile) only for `fetch_row_counts()` and `fetch_column_metadata()`, which the pipeline does not
      call: the marts' row counts and previews come from insights.py. It cost 1-3 s of every dbt step.
    - It runs `dbt --version` in a subprocess to learn the version (dbt-core or the Fusion engine),
      which imports dbt: about 2 s. The venv's dbt is the dbt-core package installed beside this
      Python, whose version its metadata gives; any other executable is still asked.

    dbt itself runs as before, in its own process (docs/performance.md).
    """

    def _initialize_dbt_core_adapter(self, args):  # dagster-dbt checks for None before using it
        return None

    @cached_property
    def _cli_version(self) -> version.Version:
        beside_python = Path(sys.executable).parent / "dbt"
        if beside_python.exists() and Path(self.dbt_executable).resolve() == beside_python.resolve():
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version


def dbt_resource() -> DbtCliResource:
    """The venv's dbt, whether or not the venv is on PATH."""
    return PipelineDbtCli(project_dir=dbt_project, dbt_executable=settings.dbt_executable())


if DagsterDbtProjectPreparer().using_dagster_dev():  # `make ui`: the manifest follows the models as they change
    dbt_resource().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()

SYSTEMS = ("crm", "psa", "erp", "hris", "planning")


def _freshness_policies() -> dict[str, dg.FreshnessPolicy]:
    """How fresh the marts people act on must be (Dagster's freshness policies, evaluated by the daemon).

    The forecast marts and the sync model: rebuilt at least nightly (26 hours, a warning after 25).
    The time-entry marts: rebuilt within the hour before each intraday tick (INTRADAY_CRON, FIRM_TIMEZONE).
    """
    nightly = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=26), warn_window=dt.timedelta(hours=25))
    intraday = dg.FreshnessPolicy.cron(
        deadline_cron=settings.setting("INTRADAY_CRON"),
        lower_bound_delta=dt.timedelta(hours=1),
        timezone=settings.setting("FIRM_TIMEZONE"),
    )
    forecast = ("fct_revenue_forecast", "fct_backlog", "fct_project_margin", "sync_planning__forecast_inputs")
    return {
        **dict.fromkeys(forecast, nightly),
        **dict.fromkeys(("fct_time_entries", "fct_utilization", "fct_milestones"), intraday),
    }


FRESHNESS = _freshness_policies()


class PipelineTranslator(DagsterDbtTranslator):
    """Staging models sit in their source system's group, so each raw table and its model are side by side."""

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        policy = FRESHNESS.get(manifest["nodes"].get(unique_id, {}).get("name", ""))
        return spec.replace_attributes(freshness_policy=policy) if policy else spec

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if len(fqn) > 2 and fqn[1] == "staging" and fqn[2] in SYSTEMS:
            return fqn[2]
        return fqn[1] if len(fqn) > 2 else "transform"

    def get_tags(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, str]:
        """dbt's tags, and tag `domain` from the folder's `meta: {domain: ...}` (dbt_project.yml), as the sync's."""
        tags = dict(super().get_tags(dbt_resource_props))
        domain = (dbt_resource_props.get("meta") or {}).get("domain")
        return {**tags, "domain": domain} if domain else tags

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """A dbt test as a check whose description says what it tests and what the gates do when it fails.

        ERROR tests are blocking checks (dagster-dbt's default), so the UI marks them blocking; WARN tests
        are not. A failing one does not fail the dbt step (see `recorded`): the gates of the reverse sync
        and the publish block on it, and the sync records on its own page why.
        """
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        return dg.AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=test_description(manifest, unique_id),
            additional_deps=spec.additional_deps,
            metadata=spec.metadata,
            automation_condition=spec.automation_condition,
            blocking=spec.blocking,
        )


SYNC_MODEL_NAME = "sync_planning__forecast_inputs"
SYNC_MODEL_ID = f"model.psa_pipeline.{SYNC_MODEL_NAME}"


def test_description(manifest: Mapping[str, Any], unique_id: str) -> str:
    """`[ERROR] not_null on column value of sync_planning__forecast_inputs. Blocks: ...` from the manifest."""
    test = manifest["nodes"][unique_id]
    described = (test.get("description") or "").strip()
    metadata = test.get("test_metadata") or {}
    name = metadata.get("name") or test.get("name", unique_id.split(".")[-1])
    column = test.get("column_name") or (metadata.get("kwargs") or {}).get("column_name")
    attached = test.get("attached_node") or next(iter(test.get("depends_on", {}).get("nodes", [])), "")
    model = attached.split(".")[-1]
    severity = str((test.get("config") or {}).get("severity", "error")).upper()
    what = f"dbt test `{name}`" + (f" on column `{column}`" if column else "") + f" of `{model}`"
    if severity != "ERROR":
        effect = "Reports only (WARN): never blocks the sync or the publish."
    else:
        gated = [
            "the gate of anaplan/forecast_inputs sends nothing to the planning tool"
            if _reaches(manifest, attached, lambda node: node == SYNC_MODEL_ID)
            else "",
            "reader/marts publishes nothing (readers keep the last snapshot)"
            if _reaches(manifest, attached, lambda node: _is_mart(manifest, node))
            else "",
        ]
        blocked = (
            " and ".join(filter(None, gated))
            or "no gate holds anything back: neither the sync nor the publish reads it"
        )
        effect = (
            f"Blocking (ERROR): while it fails, {blocked}. The dbt build goes on (it skips the models "
            "downstream of the test): the gates stop what follows and say why."
        )
    return f"[{severity}] {what}. {effect}" + (f" {described}" if described else "")


def _is_mart(manifest: Mapping[str, Any], node: str) -> bool:
    """A model in models/marts: reader/marts publishes it."""
    fqn = manifest["nodes"].get(node, {}).get("fqn", [])
    return len(fqn) > 2 and fqn[1] == "marts"


def _reaches(manifest: Mapping[str, Any], node: str, is_target: Callable[[str], bool]) -> bool:
    """Whether `node`, or a model downstream of it in the dbt graph, is a target."""
    children = manifest.get("child_map", {})
    seen, todo = set(), [node]
    while todo:
        current = todo.pop()
        if is_target(current):
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(c for c in children.get(current, []) if c.startswith("model."))
    return False


FULL_REFRESH_TAG = settings.FULL_REFRESH_TAG


def dbt_build_args(full_refresh: bool = False) -> list[str]:
    """`dbt build`; runs tagged dbt/full_refresh=true (the nightly job) rebuild the incremental models whole.

    The as-of date reaches dbt as env var AS_OF_DATE (`settings.dbt_environment`), not as `--vars`:
    dbt parses the whole project again whenever its command-line vars differ from its last parse's.
    """
    return ["build", "--full-refresh"] if full_refresh else ["build"]


# The source tests (generated from the landing contract's rules) repeat what the raw layer's GX
# checks already enforce, blocking and visible on the raw assets: a plain `dbt build` runs them for
# dbt users, the pipeline's build leaves them out instead of running every rule twice.
@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude="source:*",
    dagster_dbt_translator=PipelineTranslator(),
    pool=WRITER_POOL,
    op_tags={"dagster/priority": "20"},
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
    # Only the selected models whose inputs changed are built (changes.py); the rest keep their
    # tables, and a run in which nothing changed does not start dbt at all.
    # From the first mart on, events wait for the end of the build, when DuckDB's file is free to
    # read, so each mart carries its row count, a preview, a chart and (finance marts) its
    # valuation-exception counts. Everything after that point waits with them: Dagster needs
    # outputs in dependency order.
    # Failing dbt tests do not fail the step (`recorded`): they are failed asset checks, and the
    # reverse sync's own gate blocks on them (and records why). A model that fails to build does fail it.
    full_refresh = context.run.tags.get(FULL_REFRESH_TAG, "").lower() == "true"
    args = dbt_build_args(full_refresh)
    rebuild = (
        "the run rebuilds everything (tag dbt/full_refresh: nightly_full)"
        if full_refresh
        else "the run rebuilds everything (tag pipeline/rebuild: all)"
        if context.run.tags.get(changes.REBUILD_TAG, "").lower() == "all"
        else None
    )
    keys_by_id = {spec.metadata["dagster_dbt/unique_id"]: spec.key for spec in context.assets_def.specs}
    with warehouse.connect() as con:
        planned = plan_builds(con, context.selected_asset_keys, context.run_id, rebuild, keys_by_id)
    manifest, plan, versions, cut, built = planned.manifest, planned.plan, planned.versions, planned.cut, planned.built
    selected = plan.selected
    behind = [] if rebuild else changes.readers_left_behind(cut, built, versions, context.selected_asset_keys)
    if behind:  # a cutoff view's rows moved (the run's own load, in a tick's run), its readers not selected
        below = dg.AssetSelection.assets(*behind).downstream().resolve([dbt_models])
        held = plan.hold(below)
        views = sorted({c.key.path[-1] for c in cut if set(c.readers) & set(behind)})
        context.log.warning(
            f"the rows of {', '.join(views)} moved since {', '.join(k.path[-1] for k in behind)} last read them,"
            f" and those are not in this run: {len(held)} model(s) below them are left for the next run,"
            " which builds them all"
            + (f" ({', '.join(k.path[-1] for k in held[:12])}{' ...' if len(held) > 12 else ''})" if held else "")
        )
    context.log.info(plan.summary())
    if not rebuild:  # a run that rebuilds everything does not ask the cutoff views
        for line in changes.cutoff_summary([c for c in cut if set(c.readers) & set(selected)], built, versions):
            context.log.info(line)
    if not plan.build:
        context.log.info("dbt not run: no selected model has a changed input, so every table and check result stands")
        log_checks_not_evaluated(context, set())
        return
    names = {key: manifest["nodes"][uid]["name"] for uid, key in keys_by_id.items()}
    # dagster-dbt keeps the run's own selection; dbt leaves these out of it, with their tests. dbt's unit
    # tests check formulas on fixed rows: they passed on this code before every clean build on record.
    excluded = sorted(names[k] for k in plan.skip) + (["resource_type:unit_test"] if plan.code_tested else [])
    if plan.code_tested:
        context.log.info(
            "dbt's unit tests left out: they check the formulas on fixed rows, and passed on this project's"
            " code, dbt and engine before the last clean build of every model this run builds"
        )
    if excluded:
        args += ["--exclude", " ".join(excluded)]
    project_target = Path(dbt_project.project_dir) / dbt_project.target_path  # dagster-dbt's own resolution
    # The incremental models built for a change their increments do not follow are built whole.
    whole = sorted(names[k] for k in plan.whole(changes.increments(manifest, keys_by_id)))
    if whole and not full_refresh:
        context.log.info(f"built whole, their increments do not follow what changed: {', '.join(whole)}")
    # The as-of day the plan recorded (AS_OF_DATE, or today when the plan was made), so a run across
    # midnight builds every model for the day it planned.
    dbt_env = {"DBT_REBUILD_WHOLE": ",".join(whole), "AS_OF_DATE": versions[changes.AS_OF]}
    if plan.skip:  # a test between a model built and one left out still runs (dbt's buildable mode)
        dbt_env["DBT_INDIRECT_SELECTION"] = "buildable"
    with settings.dbt_environment(dbt_env):  # dbt's process inherits it; this one's environment is left as it was
        parsed = parse_state.state_key(args)  # the partial parse kept for this warehouse and these vars
        target = parse_state.seeded_target_path(project_target, parsed, context.run_id)
        invocation = dbt.cli(args, context=context, raise_on_error=False, target_path=target)
    # A cutoff view's data version is its rows: when they did not move, Dagster shows its readers in sync.
    # A view that could not be read before the build (a new warehouse: it did not exist) is read after
    # it, its output held till then, so the next run's version compares with its rows, not with nothing.
    rows = {c.key: dg.DataVersion(versions[c.input]) for c in cut if not versions[c.input].startswith("unread")}
    unread = [c for c in cut if c.key not in rows]

    def read_unread() -> None:
        with warehouse.connect(read_only=True) as con:
            after = changes.cutoff_versions(con, unread, context.run_id)
        rows.update({c.key: dg.DataVersion(after[c.input]) for c in unread if not after[c.input].startswith("unread")})

    held_from = {c.key for c in unread}
    evaluated: set[dg.AssetCheckKey] = set()
    for event in _in_order(invocation, warehouse, context, held_from, read_unread if unread else None):
        for out in recorded(_versioned(event, rows, context), context):
            if isinstance(out, dg.AssetCheckResult | dg.AssetCheckEvaluation) and out.asset_key and out.check_name:
                evaluated.add(dg.AssetCheckKey(out.asset_key, out.check_name))
            yield out
    log_checks_not_evaluated(context, evaluated)
    not_kept = parse_state.keep_state(project_target, target, parsed)
    if not_kept:
        context.log.warning(not_kept)
    # dbt exits 1 when a node fails (tests included) and 2 when it could not run at all.
    if invocation.process.wait() >= 2:
        raise dg.Failure(
            description=f"dbt build could not run (exit {invocation.process.returncode}); see its log above"
        )
    run_results = invocation.get_artifact("run_results.json")
    with warehouse.connect() as con:
        # The rows the build read of each cutoff view (a view built for the first time had none before it).
        versions.update(changes.cutoff_versions(con, cut, context.run_id))
        kept, forgotten = changes.record(
            con, run_results.get("results", []), keys_by_id, manifest, planned.fingerprint, versions, context.run_id
        )
    context.log.info(f"recorded {kept} clean model build(s); {forgotten} to build again next run (failed or tested)")
    failed_models = model_build_errors(run_results)
    if failed_models:
        raise dg.Failure(description="dbt models failed to build: " + "; ".join(failed_models))


def log_checks_not_evaluated(context: dg.AssetExecutionContext, evaluated: Collection[dg.AssetCheckKey]) -> None:
    """Say which selected dbt checks this step leaves as they were, before Dagster lists them in its own words.

    Dagster logs the selected checks a step did not evaluate as "did not yield or return expected
    outputs", which reads like an error; here they are tests dbt did not run (their model, or one they
    read, left as it is, or skipped after a failure upstream), and each keeps its last result, which
    the gates judge by.
    """
    selected = context.selected_asset_check_keys
    left = sorted((key for key in selected if key not in evaluated), key=lambda k: k.to_user_string())
    if not left:
        return
    models = sorted({key.asset_key.path[-1] for key in left})
    named = ", ".join(models[:12]) + (" ..." if len(models) > 12 else "")
    context.log.info(
        f"{len(left)} of the {len(selected)} selected dbt checks not evaluated in this run, on {len(models)} model(s)"
        f" ({named}): dbt did not run their tests (the model, or one a test reads, left as it is, or a failure"
        " upstream), so each keeps its last result, which the gates of the publish and the sync judge by."
        " Dagster lists them next as expected outputs not yielded; that is not an error."
    )


RAW_TABLES = [f"{o.schema}.{o.name}" for o in SOURCE_OBJECTS]


@dataclass(frozen=True)
class Planned:
    """Which selected models a build would build now, and what that answer read (changes.py)."""

    plan: changes.BuildPlan
    versions: dict[str, str]  # each input's version now: raw tables, the load log, the as-of date, cutoff views
    cut: list[changes.Cutoff]
    built: dict[dg.AssetKey, changes.Built]
    readers: dict[str, list[dg.AssetKey]]  # the models reading each input that is not a raw table
    fingerprint: str
    manifest: dict[str, Any]
    graph: Any  # the dbt models' asset graph without the cutoff views' edges (changes.cut_graph)


def plan_builds(
    con,
    selected: Collection[dg.AssetKey],
    run_id: str,
    rebuild: str | None = None,
    keys_by_id: Mapping[str, dg.AssetKey] | None = None,
) -> Planned:
    """The plan of the dbt step (changes.plan) for the models among `selected`, from the warehouse `con` now.

    The dbt step makes it before dbt starts; the refresh schedules make it at their tick, to request
    a run of only what has something to do (orchestration/defs/automation/pending.py).
    `keys_by_id`: dbt unique id -> asset key (default: every model of the project).
    """
    manifest = json.loads(dbt_project.manifest_path.read_text())
    if keys_by_id is None:
        keys_by_id = {spec.metadata["dagster_dbt/unique_id"]: spec.key for spec in dbt_models.specs}
    current = changes.fingerprint(manifest, {})
    cut = changes.cutoffs(manifest, keys_by_id)
    # The raw tables, the loader's log (two operational marts read it: every file loaded), the
    # as-of date every model may read (AS_OF_DATE, or today: a new day moves it) and the rows of
    # the cutoff views (a view not read is a change: its readers are built).
    versions = {
        **table_versions(con, RAW_TABLES),
        LOADED_FILES: load_log_version(con),
        changes.AS_OF: settings.effective_as_of_date(),
        **changes.cutoff_versions(con, cut, run_id),
    }
    built = changes.read_state(con)
    models = set(keys_by_id.values())
    readers = {
        **changes.log_readers(manifest, keys_by_id, [LOADED_FILES]),
        changes.AS_OF: list(models),
        **{c.input: list(c.readers) for c in cut},
    }
    graph = changes.cut_graph(dbt_models, cut)  # the whole project, without the cutoff views' edges
    plan = changes.plan([k for k in selected if k in models], graph, built, versions, current, rebuild, readers)
    return Planned(plan, versions, cut, built, readers, current, manifest, graph)


def _in_order(
    invocation,
    warehouse: Warehouse,
    context: dg.AssetExecutionContext,
    held_from: Collection[dg.AssetKey] = (),
    after_build: Callable[[], None] | None = None,
) -> Iterator:
    """dbt's events without noise; from the first mart (or model in `held_from`) on, held to the end of
    the build and enriched. `after_build` runs once the build is over, before the held events are yielded."""
    held: list = []
    try:
        for event in invocation.stream():
            event = without_noise(event)
            if held or is_mart_output(context, event) or _output_of(event, held_from, context):
                held.append(event)
            else:
                yield event
    except Exception:
        yield from _enriched(held, warehouse, context)
        raise
    if after_build is not None:
        after_build()
    yield from _enriched(held, warehouse, context)


def _output_of(event: object, keys: Collection[dg.AssetKey], context: dg.AssetExecutionContext) -> bool:
    return bool(keys) and isinstance(event, dg.Output) and context.asset_key_for_output(event.output_name) in keys


def _versioned(event: object, versions: Mapping[dg.AssetKey, dg.DataVersion], context) -> object:
    """The output of a model in `versions` with that data version; any other event as it is."""
    if not isinstance(event, dg.Output) or event.data_version is not None:
        return event
    version = versions.get(context.asset_key_for_output(event.output_name))
    if version is None:
        return event
    return dg.Output(event.value, event.output_name, metadata=event.metadata, data_version=version, tags=event.tags)


def recorded(event: object, context: dg.AssetExecutionContext) -> list:
    """A failed ERROR dbt test as Dagster records it, without failing the dbt step.

    The check is blocking (the UI says so), and Dagster fails a step in which a blocking check fails:
    that would skip the sync in the same run, so it could not record on its own page that it is
    blocked. What Dagster itself makes of the result is yielded instead: the check's output (the
    sync's step waits for it) and its evaluation (failed, ERROR, dbt's metadata), marked not
    enforced in this step. The gates of the sync and the publish enforce it. Dagster's own
    conversion also names the materialization checked, from its private step context: the UI pairs
    this evaluation with the model's materialization of the same run instead.
    """
    if not isinstance(event, dg.AssetCheckResult) or event.passed or event.severity != dg.AssetCheckSeverity.ERROR:
        return [event]
    key = dg.AssetCheckKey(event.asset_key, event.check_name)
    return [
        dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(key)),
        dg.AssetCheckEvaluation(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=False,
            metadata=event.metadata,
            severity=event.severity,
            description=event.description,
            blocking=False,
        ),
    ]


# dagster-dbt's per-model metadata a reader has no use for: the model's id is on the asset's definition,
# the invocation id in the run's logs, and a model that did not build fails the step.
DBT_NOISE = ("unique_id", "invocation_id", "status")


def without_noise(event: object) -> object:
    """A model's output without DBT_NOISE, and its build time with a unit (`dbt_build_seconds`)."""
    if not isinstance(event, dg.Output):
        return event
    metadata = {key: value for key, value in event.metadata.items() if key not in DBT_NOISE}
    duration = metadata.pop("Execution Duration", None)
    if duration is not None:
        seconds = duration.value if isinstance(duration, dg.MetadataValue) else duration
        metadata["dbt_build_seconds"] = dg.MetadataValue.float(round(float(seconds), 2))
    return dg.Output(
        value=event.value,
        output_name=event.output_name,
        metadata=metadata,
        data_version=event.data_version,
        tags=event.tags,
    )


def _enriched(held: list, warehouse: Warehouse, context: dg.AssetExecutionContext):
    return with_mart_insights(list(with_exception_counts(held, warehouse, context)), warehouse, context)


def model_build_errors(run_results: Mapping[str, Any]) -> list[str]:
    """Models (not tests) that dbt could not build, with dbt's message."""
    return [
        f"{result['unique_id'].split('.')[-1]}: {(result.get('message') or '').strip()}"
        for result in run_results.get("results", [])
        if result.get("status") == "error" and not result.get("unique_id", "").startswith(("test.", "unit_test."))
    ]
