"""Run-failure alerts: every failed run is POSTed as JSON to ALERT_WEBHOOK_URL.

The body has a `text` line (what Slack and Teams incoming webhooks display) and the fields a
pager or ticketing hook wants. The URL often carries a secret token, so it is never logged and
never part of an error message.
"""

from __future__ import annotations

import time

import dagster as dg
import requests

from orchestration.lib import settings
from orchestration.lib.http import RETRY_STATUS, CallStats, HttpSettings, Session


class AlertError(Exception):
    """The webhook could not be reached or refused the alert; the message never contains the URL."""


def failure_payload(context: dg.RunFailureSensorContext) -> dict:
    run = context.dagster_run
    failures = [e for e in context.get_step_failure_events()]
    steps = [e.step_key for e in failures]
    error = context.failure_event.message or ""
    first_step_error = failures[0].step_failure_data.error.message.strip() if failures else ""
    return {
        "text": f"Dagster run failed: {run.job_name} ({run.run_id[:8]}). {first_step_error or error}"[:3000],
        "job": run.job_name,
        "run_id": run.run_id,
        "failed_steps": steps,
        "error": (first_step_error or error)[:3000],
        "tags": {k: v for k, v in run.tags.items() if not k.startswith(".dagster")},
    }


def post_alert(url: str, payload: dict, attempts: int = 3, timeout: float = 10.0, sleep=time.sleep) -> int:
    """POST the payload, retried on network errors, 408, 429 and 5xx (orchestration.lib.http). Returns the status."""
    http = HttpSettings(timeout_seconds=timeout, max_attempts=attempts, backoff_seconds=1, max_retry_delay_seconds=5)
    try:
        response = Session(CallStats(), http, "alert webhook", sleep).post(url, json=payload)
    except requests.RequestException as exc:
        reason = type(exc).__name__  # requests puts the URL in its messages: keep only the kind
    else:
        if response.status_code < 400:
            return response.status_code
        reason = f"HTTP {response.status_code}"
        if response.status_code not in RETRY_STATUS:
            raise AlertError(f"alert webhook refused the alert: {reason}")
    raise AlertError(f"alert webhook unreachable after {attempts} attempts ({reason})")


@dg.run_failure_sensor(
    name="run_failure_webhook",
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="POSTs every failed run (job, run id, failed steps, error) to ALERT_WEBHOOK_URL.",
)
def run_failure_webhook(context: dg.RunFailureSensorContext) -> None:
    url = settings.setting("ALERT_WEBHOOK_URL")
    if not url:
        context.log.info("ALERT_WEBHOOK_URL is not set: no alert sent")
        return
    status = post_alert(url, failure_payload(context))
    context.log.info(f"alert for run {context.dagster_run.run_id} sent (HTTP {status})")
