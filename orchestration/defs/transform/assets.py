"""The dbt project as Dagster assets, one `dbt build` per run, grouped by source system."""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.lib import settings
from orchestration.lib.valuation_exceptions import EXCEPTION_OUTPUTS, with_exception_counts
from orchestration.lib.warehouse import DuckDBWarehouse

settings.export_for_dbt()

dbt_project = DbtProject(project_dir=settings.DBT_PROJECT_DIR, profiles_dir=settings.DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()

SYSTEMS = ("crm", "psa", "erp", "hris", "planning")


class PipelineTranslator(DagsterDbtTranslator):
    """Staging models sit in their source system's group, so each raw table and its model are side by side."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if len(fqn) > 2 and fqn[1] == "staging" and fqn[2] in SYSTEMS:
            return fqn[2]
        return fqn[1] if len(fqn) > 2 else "transform"


def dbt_build_args() -> list[str]:
    """`dbt build`, pinned to AS_OF_DATE when set so a past run can be reproduced."""
    as_of = settings.as_of_date()
    return ["build", "--vars", json.dumps({"as_of_date": as_of})] if as_of else ["build"]


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=PipelineTranslator())
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: DuckDBWarehouse):
    # From the first finance mart on, events wait for the end of the build, when the exceptions
    # model exists and DuckDB's file is free to read, so the marts carry their exception counts.
    # Everything after that point waits with them: Dagster needs outputs in dependency order.
    held: list = []
    try:
        for event in dbt.cli(dbt_build_args(), context=context).stream():
            if held or (isinstance(event, dg.Output) and event.output_name in EXCEPTION_OUTPUTS):
                held.append(event)
            else:
                yield event
    except Exception:
        yield from with_exception_counts(held, warehouse, context)
        raise
    yield from with_exception_counts(held, warehouse, context)


defs = dg.Definitions(
    assets=[dbt_models],
    resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=settings.dbt_executable())},
)
