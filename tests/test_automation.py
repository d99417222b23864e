"""Running it for real: schedules and sensors load and switch on, the landing sensor, failure alerts, freshness.

Kind: integration (runs, the dagster CLI), except the definitions and webhook tests: unit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.automation.alerts import AlertError, post_alert
from tests.helpers import count_rows, local_dagster_home, materialize

REPO = Path(__file__).parents[1]
TIMECARDS = dg.AssetKey(["raw_psa", "timecard_header"])


def _defs():
    from orchestration.definitions import defs

    return defs


@pytest.mark.unit
def test_schedules_and_sensors_are_defined_switched_off_in_the_firm_time_zone() -> None:
    repo = _defs().get_repository_def()
    schedules = {s.name: s for s in repo.schedule_defs}
    assert set(schedules) == {"nightly_full", "intraday_refresh", "analytics_refresh"}
    assert schedules["intraday_refresh"].cron_schedule == "0 8-18 * * 1-5"
    assert all(s.execution_timezone == "UTC" and s.default_status.value == "STOPPED" for s in schedules.values())
    sensors = {"landing_files", "run_failure_webhook", "publish_changed_marts"}  # freshness needs none
    assert {s.name for s in repo.sensor_defs} == sensors
    intraday = repo.get_job("intraday_refresh").asset_layer.selected_asset_keys
    assert TIMECARDS in intraday and dg.AssetKey(["marts", "fct_utilization"]) in intraday
    assert dg.AssetKey(["anaplan", "forecast_inputs"]) not in intraday  # the planning tool gets the nightly run
    assert dg.AssetKey(["raw_erp", "transaction"]) not in intraday  # only the PSA objects that move intraday
    assert repo.get_job("analytics_refresh").tags["dagster/priority"] == "-10"


def test_schedules_and_sensors_switch_on_from_the_cli(tmp_path: Path) -> None:
    """What the UI's toggles do, through the same instance storage."""
    home = local_dagster_home(tmp_path)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    dagster = [str(Path(sys.executable).parent / "dagster")]
    module = ["-m", "orchestration.definitions"]
    for command in (["schedule", "start", "nightly_full"], ["sensor", "start", "landing_files"]):
        done = subprocess.run([*dagster, *command, *module], env=env, capture_output=True, text=True, cwd=REPO)
        assert done.returncode == 0, done.stderr[-2000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:  # what the UI and the daemon read
        states = {(s.instigator_type.value, s.name): s.status.value for s in instance.all_instigator_state()}
    assert states == {("SCHEDULE", "nightly_full"): "RUNNING", ("SENSOR", "landing_files"): "RUNNING"}


def _tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=_defs())
    result = sensor.evaluate_tick(context)
    return result, context.cursor if context.cursor is not None else result.cursor


def test_dropping_a_file_starts_ingest_of_its_object_only(small_landing, tmp_path: Path, monkeypatch) -> None:
    source, _ = small_landing
    landing = tmp_path / "landing"
    shutil.copytree(source, landing)
    monkeypatch.setenv("LANDING_DIR", str(landing))
    monkeypatch.setenv("LANDING_SETTLE_SECONDS", "0")
    sensor = next(s for s in _defs().get_repository_def().sensor_defs if s.name == "landing_files")
    with dg.DagsterInstance.ephemeral() as instance:
        first, cursor = _tick(sensor, instance, None)
        assert len(first.run_requests) == 1 and len(first.run_requests[0].asset_selection) == 22  # all, once
        idle, cursor = _tick(sensor, instance, cursor)
        assert idle.run_requests == [] and "no new or changed landing files" in idle.skip_message

        batch = landing / "psa" / "pse__Timecard_Header__c.2026-11-20.csv"
        rows = (landing / "psa" / "pse__Timecard_Header__c.csv").read_text().splitlines()
        batch.write_text("\n".join([rows[0], rows[1].replace(",Approved,", ",Submitted,")]) + "\n")
        dropped, cursor = _tick(sensor, instance, cursor)
        (request,) = dropped.run_requests
        assert request.asset_selection == [TIMECARDS] and request.tags["trigger"] == "landing_files"

        monkeypatch.setenv("LANDING_SETTLE_SECONDS", "3600")  # a file still being written waits
        (landing / "psa" / "pse__Milestone__c.2026-11-21.csv").write_text("Id\n")
        assert _tick(sensor, instance, cursor)[0].run_requests == []

        warehouse = tmp_path / "w.duckdb"
        run = materialize(warehouse, landing, dg.AssetSelection.assets(*request.asset_selection), instance)
    assert run.success
    assert count_rows(warehouse, "raw_psa.timecard_header where \"pse__Status__c\" = 'Submitted'") >= 1


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []
    answers: list[int] = []  # statuses to answer first, in order; then 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append({"path": self.path, "body": json.loads(body)})
        self.send_response(_Hook.answers.pop(0) if _Hook.answers else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received, _Hook.answers = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_failed_run_is_posted_to_the_webhook(small_landing, tmp_path: Path, monkeypatch, webhook) -> None:
    source, _ = small_landing
    landing = tmp_path / "landing"
    shutil.copytree(source, landing)
    cards = landing / "psa" / "pse__Timecard_Header__c.csv"
    cards.write_text(cards.read_text()[:2000])  # cut mid-row
    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"{webhook}/hooks/T000/secret-token")
    sensor = next(s for s in _defs().get_repository_def().sensor_defs if s.name == "run_failure_webhook")
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize(tmp_path / "w.duckdb", landing, dg.AssetSelection.assets(TIMECARDS), instance)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(
            e for e in instance.all_logs(result.run_id) if e.dagster_event_type == dg.DagsterEventType.RUN_FAILURE
        )
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name, dagster_instance=instance, dagster_run=run, dagster_event=failure.dagster_event
        ).for_run_failure()
        sensor(context)
    (alert,) = _Hook.received
    assert alert["path"] == "/hooks/T000/secret-token"
    body = alert["body"]
    assert body["run_id"] == result.run_id and body["failed_steps"] == ["raw_psa__timecard_header"]
    assert str(cards) in body["error"] and "expected 19 fields (the header's), found" in body["error"]
    assert body["text"].startswith(f"Dagster run failed: {run.job_name} ({result.run_id[:8]}).")


@pytest.mark.unit
def test_an_unreachable_webhook_never_reveals_its_url() -> None:
    with pytest.raises(AlertError) as err:
        post_alert("http://127.0.0.1:9/hooks/T000/secret-token", {"text": "x"}, attempts=1, timeout=1)
    assert "secret-token" not in str(err.value) and "127.0.0.1" not in str(err.value)
    assert "unreachable after 1 attempts (ConnectionError)" in str(err.value)


@pytest.mark.unit
def test_a_failing_webhook_is_retried_and_a_refusal_is_not(webhook) -> None:
    url = f"{webhook}/hooks/T000/secret-token"
    sleeps: list[float] = []
    _Hook.answers = [503, 502]
    assert post_alert(url, {"text": "x"}, attempts=3, sleep=sleeps.append) == 200
    assert len(_Hook.received) == 3 and len(sleeps) == 2 and all(0 <= s <= 5 for s in sleeps)
    _Hook.answers = [503] * 3
    with pytest.raises(AlertError, match=r"^alert webhook unreachable after 3 attempts \(HTTP 503\)$"):
        post_alert(url, {"text": "x"}, attempts=3, sleep=sleeps.append)
    _Hook.answers = [404]
    with pytest.raises(AlertError, match=r"^alert webhook refused the alert: HTTP 404$"):
        post_alert(url, {"text": "x"}, attempts=3, sleep=sleeps.append)
    assert len(_Hook.received) == 7 and len(sleeps) == 4  # the 404 was sent once, never retried
