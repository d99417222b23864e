"""The session's demo build: `make demo` on the small demo firm, once per test session, in the background.

usage: python -m tests.demo_build_process FOLDER ANAPLAN_URL

Materializes every asset of the real definitions on FOLDER/landing (the session's small demo
firm) into FOLDER/build/ (warehouse.duckdb, the readers' reader.duckdb, the Dagster instance in
dagster_home/), syncing to the session's local Anaplan server at ANAPLAN_URL, and writes
FOLDER/build/done.json last: the run's id, or the error that stopped the build.

tests/conftest.py starts it as soon as a session has collected a demo test, so it runs while the
first tests do; each worker that runs a demo test then copies FOLDER/build and reads the run back
from the copied instance (`RecordedRun`), as the Dagster UI reads a run.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

AS_OF = "2026-11-16"  # tests.conftest.AS_OF
ANAPLAN_ENV = {  # tests.conftest.ANAPLAN_ENV
    "ANAPLAN_WORKSPACE_ID": "demo-ws",
    "ANAPLAN_MODEL_ID": "demo-model",
    "ANAPLAN_FILE_ID": "forecast_inputs",
    "ANAPLAN_IMPORT_ID": "forecast_inputs",
    "ANAPLAN_USERNAME": "demo",
    "ANAPLAN_PASSWORD": "demo-password",
}


def build(folder: Path, anaplan_url: str) -> dict:
    """The build itself; what done.json holds."""
    out = folder / "build"
    warehouse = out / "warehouse.duckdb"
    (out / "dagster_home").mkdir(parents=True)
    os.environ.update({**ANAPLAN_ENV, "ANAPLAN_API_URL": anaplan_url, "ANAPLAN_AUTH_URL": anaplan_url})
    os.environ["DUCKDB_DATABASE"] = str(warehouse)  # dbt's profiles.yml reads the same variable
    os.environ["AS_OF_DATE"] = AS_OF  # the marts are built as of the demo's date

    import dagster as dg

    from tests.helpers import materialize

    with dg.DagsterInstance.local_temp(tempdir=str(out / "dagster_home")) as instance:
        run = materialize(warehouse, folder / "landing", instance=instance)
    return {"run_id": run.run_id, "success": run.success}


def main(folder: Path, anaplan_url: str) -> int:
    try:
        outcome = build(folder, anaplan_url)
    except BaseException:  # the waiting tests report it rather than wait
        outcome = {"error": traceback.format_exc()}
    done = folder / "build" / "done.json"
    done.parent.mkdir(parents=True, exist_ok=True)
    done.with_suffix(".tmp").write_text(json.dumps(outcome))
    done.with_suffix(".tmp").rename(done)  # whole or not at all: the waiting workers read it at once
    return 0 if outcome.get("success") else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2]))
