"""dbt transform: every dbt model as an asset, downstream of the raw tables it reads."""

import dagster as dg

from orchestration.defs.transform.assets import dbt_models, dbt_resource

defs = dg.Definitions(
    assets=[dbt_models],
    resources={"dbt": dbt_resource()},
)
