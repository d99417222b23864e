"""Running it for real: jobs, schedules, sensors, alerts and recovery from killed runs."""

import dagster as dg

from orchestration.defs.automation.alerts import run_failure_webhook
from orchestration.defs.automation.jobs import (
    SCHEDULES,
    analytics_refresh,
    intraday_refresh,
    landing_ingest,
    nightly_full,
)
from orchestration.defs.ingest.sensor import build_landing_sensor

defs = dg.Definitions(
    jobs=[nightly_full, intraday_refresh, analytics_refresh, landing_ingest],
    schedules=SCHEDULES,
    sensors=[
        build_landing_sensor(landing_ingest),
        run_failure_webhook,
    ],
)
