"""The dbt project as Dagster assets, one `dbt build` per run, grouped by source system."""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtProjectPreparer, DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.defs.transform.exceptions import with_exception_counts
from orchestration.defs.transform.insights import is_mart_output, with_mart_insights
from orchestration.lib import settings
from orchestration.lib.warehouse import WRITER_POOL, Warehouse

dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)


def dbt_resource() -> DbtCliResource:
    """The venv's dbt, whether or not the venv is on PATH."""
    return DbtCliResource(project_dir=dbt_project, dbt_executable=settings.dbt_executable())


if DagsterDbtProjectPreparer().using_dagster_dev():  # `make ui`: the manifest follows the models as they change
    dbt_resource().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()

SYSTEMS = ("crm", "psa", "erp", "hris", "planning")


class PipelineTranslator(DagsterDbtTranslator):
    """Staging models sit in their source system's group, so each raw table and its model are side by side."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if len(fqn) > 2 and fqn[1] == "staging" and fqn[2] in SYSTEMS:
            return fqn[2]
        return fqn[1] if len(fqn) > 2 else "transform"

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """dbt tests never stop the dbt step: the reverse sync's gate decides, and records why it blocked."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        return dg.AssetCheckSpec(
            name=spec.name,
            asset=spec.asset_key,
            description=spec.description,
            additional_deps=spec.additional_deps,
            metadata=spec.metadata,
            automation_condition=spec.automation_condition,
            blocking=False,
        )


FULL_REFRESH_TAG = "dbt/full_refresh"


def dbt_build_args(full_refresh: bool = False) -> list[str]:
    """`dbt build`, pinned to AS_OF_DATE when set so a past run can be reproduced.

    Runs tagged dbt/full_refresh=true (the nightly job) rebuild the incremental models whole.
    """
    as_of = settings.as_of_date()
    args = ["build", "--vars", json.dumps({"as_of_date": as_of})] if as_of else ["build"]
    return [*args, "--full-refresh"] if full_refresh else args


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
    # From the first mart on, events wait for the end of the build, when DuckDB's file is free to
    # read, so each mart carries its row count, a preview, a chart and (finance marts) its
    # valuation-exception counts. Everything after that point waits with them: Dagster needs
    # outputs in dependency order.
    # Failing dbt tests do not fail the step: they are failed asset checks, and the reverse sync's
    # own gate blocks on them (and records why). A model that fails to build does fail the step.
    full_refresh = context.run.tags.get(FULL_REFRESH_TAG, "").lower() == "true"
    with settings.dbt_environment():  # dbt's process inherits it; this one's environment is left as it was
        invocation = dbt.cli(dbt_build_args(full_refresh), context=context, raise_on_error=False)
    held: list = []
    try:
        for event in invocation.stream():
            if held or is_mart_output(context, event):
                held.append(event)
            else:
                yield event
    except Exception:
        yield from _enriched(held, warehouse, context)
        raise
    yield from _enriched(held, warehouse, context)
    # dbt exits 1 when a node fails (tests included) and 2 when it could not run at all.
    if invocation.process.wait() >= 2:
        raise dg.Failure(
            description=f"dbt build could not run (exit {invocation.process.returncode}); see its log above"
        )
    failed_models = model_build_errors(invocation.get_artifact("run_results.json"))
    if failed_models:
        raise dg.Failure(description="dbt models failed to build: " + "; ".join(failed_models))


def _enriched(held: list, warehouse: Warehouse, context: dg.AssetExecutionContext):
    return with_mart_insights(list(with_exception_counts(held, warehouse, context)), warehouse, context)


def model_build_errors(run_results: Mapping[str, Any]) -> list[str]:
    """Models (not tests) that dbt could not build, with dbt's message."""
    return [
        f"{result['unique_id'].split('.')[-1]}: {(result.get('message') or '').strip()}"
        for result in run_results.get("results", [])
        if result.get("status") == "error" and not result.get("unique_id", "").startswith(("test.", "unit_test."))
    ]
