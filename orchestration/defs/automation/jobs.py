"""The jobs and schedules that run the pipeline for real (freshness: policies on the marts, transform/assets.py).

- `nightly_full`: everything. Within the run, step priorities put the revenue-critical path first
  (ingest, dbt, the raw checks, the gate and the reverse sync), then the publish to readers.
- `intraday_refresh`: hourly in working hours (FIRM_TIMEZONE): the PSA timecards, milestones and
  assignments and every model downstream of them, then the publish; not the reverse sync. Ingest
  reads only new landing files and the time-entry models are incremental (only changed timecards
  are rebuilt), so their cost follows the new data; nightly_full rebuilds them whole. Its schedule
  requests a run of only what has something to do at the tick, or none (pending.py).
- `analytics_refresh`: the utilization and operational marts, at a lower run priority and in its
  own lane (`pipeline/lane: analytics`, limited to one run by the run queue in dagster.yaml); its
  schedule too asks first what has something to do.
- `landing_ingest`: the ingest assets; the `landing_files` sensor starts it for the objects whose
  files changed in LANDING_DIR.
- `run_failure_webhook`: POSTs every failed run to ALERT_WEBHOOK_URL.

Every step that opens the warehouse shares the `duckdb_writer` pool (limit 1 in dagster.yaml), so
runs of different jobs take turns on DuckDB instead of failing on its file lock.
"""

from __future__ import annotations

import dagster as dg
from dagster_dbt import build_dbt_asset_selection

from orchestration.contract import SOURCE_OBJECTS
from orchestration.defs.automation.pending import OBJECTS, pending
from orchestration.defs.publish.assets import READER_MARTS
from orchestration.defs.reverse_sync.assets import anaplan_forecast_inputs
from orchestration.defs.transform.assets import FULL_REFRESH_TAG, dbt_models
from orchestration.lib import settings
from orchestration.lib.warehouse import Warehouse

RAW_KEYS = [dg.AssetKey([o.schema, o.name]) for o in SOURCE_OBJECTS]
INTRADAY_SOURCES = [dg.AssetKey(["raw_psa", name]) for name in ("timecard_header", "milestone", "assignment")]
SYNC = anaplan_forecast_inputs.key
REVENUE_LANE = {"pipeline/lane": "revenue"}
TICK_TAG = "pipeline/tick"  # what the refresh schedule's tick found to do


nightly_full = dg.define_asset_job(
    "nightly_full",
    selection=dg.AssetSelection.all(),
    tags={"dagster/priority": "10", FULL_REFRESH_TAG: "true", **REVENUE_LANE},
    description="Everything, revenue-critical path first: ingest, marts, checks, gate, reverse sync, publish. "
    "dbt rebuilds the incremental models whole.",
)

intraday_refresh = dg.define_asset_job(
    "intraday_refresh",
    selection=dg.AssetSelection.assets(*INTRADAY_SOURCES).downstream() - dg.AssetSelection.assets(SYNC),
    tags={"dagster/priority": "5", **REVENUE_LANE},
    description="PSA timecards, milestones and assignments and the marts that depend on them, then the publish.",
)

analytics_refresh = dg.define_asset_job(
    "analytics_refresh",
    selection=build_dbt_asset_selection([dbt_models], dbt_select="marts.utilization marts.operations")
    | dg.AssetSelection.assets(READER_MARTS),
    tags={"dagster/priority": "-10", "pipeline/lane": "analytics"},
    description="Utilization and operational marts, at low priority and apart from the revenue path.",
)

landing_ingest = dg.define_asset_job(
    "landing_ingest",
    selection=dg.AssetSelection.assets(*RAW_KEYS),
    tags={"dagster/priority": "5", **REVENUE_LANE},
    description="Load new landing files (started by the landing_files sensor for the objects that changed).",
)


def _schedule(job: dg.UnresolvedAssetJobDefinition, cron_setting: str) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=job.name,
        job=job,
        cron_schedule=settings.setting(cron_setting),
        execution_timezone=settings.setting("FIRM_TIMEZONE"),
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"{job.description} Cron from {cron_setting}, in FIRM_TIMEZONE.",
    )


def _refresh_schedule(job: dg.UnresolvedAssetJobDefinition, cron_setting: str) -> dg.ScheduleDefinition:
    """A schedule that requests, at each tick, a run of only the job's assets with something to do (pending.py)."""

    @dg.schedule(
        name=job.name,
        job=job,
        cron_schedule=settings.setting(cron_setting),
        execution_timezone=settings.setting("FIRM_TIMEZONE"),
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"{job.description} Cron from {cron_setting}, in FIRM_TIMEZONE. Each tick requests a run of "
        "only what has something to do (new landing files, models whose inputs changed), or no run when nothing does.",
    )
    def _tick(context: dg.ScheduleEvaluationContext, warehouse: Warehouse):
        graph = context.repository_def.asset_graph
        job_keys = job.selection.resolve(graph)
        found = pending(job_keys, warehouse, context.instance)
        selection = found.selection(job_keys, graph)
        if not selection:
            raw = sorted(".".join(k.path) for k in job_keys if k in OBJECTS)
            models = len(found.planned.plan.selected) if found.planned else 0
            return dg.SkipReason(
                "Nothing to do, so no run: "
                + (f"no new landing file for {', '.join(raw)}; " if raw else "")
                + f"none of the job's {models} dbt models has an input changed since its last build."
            )
        return dg.RunRequest(
            asset_selection=sorted(selection, key=dg.AssetKey.to_user_string),
            tags={TICK_TAG: found.summary()},
        )

    return _tick


SCHEDULES = [
    _schedule(nightly_full, "NIGHTLY_CRON"),
    _refresh_schedule(intraday_refresh, "INTRADAY_CRON"),
    _refresh_schedule(analytics_refresh, "ANALYTICS_CRON"),
]
