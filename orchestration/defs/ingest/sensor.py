"""The landing-files sensor: new or changed files in LANDING_DIR start ingest for their objects.

The cursor holds each file's size and modification time as last seen. A file modified within the
last LANDING_SETTLE_SECONDS may still be being written and waits for the next tick. The loader
itself skips files it already loaded, so a repeated request is harmless.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import dagster as dg

from orchestration.contract import SOURCE_OBJECTS, SourceObject
from orchestration.defs.ingest.loader import landing_files
from orchestration.lib import settings


def landing_state(landing: Path, settle_seconds: float, now: float | None = None) -> dict[str, tuple[str, str]]:
    """Settled landing files: relative path -> (object's asset key string, "size:mtime_ns")."""
    now = time.time() if now is None else now
    state: dict[str, tuple[str, str]] = {}
    for obj in SOURCE_OBJECTS:
        for path in landing_files(obj, landing):
            stat = path.stat()
            if now - stat.st_mtime < settle_seconds:
                continue
            state[path.relative_to(landing).as_posix()] = (
                _key(obj).to_user_string(),
                f"{stat.st_size}:{stat.st_mtime_ns}",
            )
    return state


def _key(obj: SourceObject) -> dg.AssetKey:
    return dg.AssetKey([obj.schema, obj.name])


def changed_files(state: dict[str, tuple[str, str]], cursor: str | None) -> dict[str, tuple[str, str]]:
    seen = json.loads(cursor) if cursor else {}
    return {path: value for path, value in state.items() if seen.get(path) != value[1]}


def build_landing_sensor(job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_files",
        job=job,
        minimum_interval_seconds=int(settings.setting("LANDING_SENSOR_INTERVAL_SECONDS")),
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Starts ingest of the source objects whose files are new or changed in LANDING_DIR.",
    )
    def landing_files_sensor(context: dg.SensorEvaluationContext):
        landing = settings.landing_dir()
        if not landing.is_dir():
            return dg.SkipReason(f"LANDING_DIR {landing} does not exist")
        state = landing_state(landing, float(settings.setting("LANDING_SETTLE_SECONDS")))
        changed = changed_files(state, context.cursor)
        context.update_cursor(json.dumps({path: value[1] for path, value in state.items()}, sort_keys=True))
        if not changed:
            return dg.SkipReason("no new or changed landing files")
        keys = sorted({value[0] for value in changed.values()})
        run_key = hashlib.sha256(json.dumps(sorted(changed.items())).encode()).hexdigest()[:16]
        return dg.RunRequest(
            run_key=run_key,
            asset_selection=[dg.AssetKey.from_user_string(k) for k in keys],
            tags={"trigger": "landing_files", "landing/files": str(len(changed))},
        )

    return landing_files_sensor
