"""The Dagster graph: it loads without side effects, its shape is reviewed through a snapshot, and lineage is wired.

Kind: unit (fast; `make test-fast`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration.contract import SOURCE_OBJECTS

pytestmark = pytest.mark.unit

SNAPSHOTS = {
    "files": Path(__file__).parent / "snapshots" / "definitions.txt",
    "api": Path(__file__).parent / "snapshots" / "definitions_api.txt",
}
REPO_ROOT = Path(__file__).resolve().parents[1]


def _defs() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


def _graph_lines(defs: dg.Definitions) -> list[str]:
    graph = defs.resolve_asset_graph()
    lines = [f"asset {key.to_user_string()} group={graph.get(key).group_name}" for key in graph.get_all_asset_keys()]
    lines += [f"check {check.asset_key.to_user_string()}:{check.name}" for check in graph.asset_check_keys]
    repo = defs.get_repository_def()
    lines += [f"job {job.name}" for job in repo.get_all_jobs() if not job.name.startswith("__")]
    lines += [f"schedule {s.name} {s.cron_schedule}" for s in repo.schedule_defs]
    lines += [f"sensor {s.name}" for s in repo.sensor_defs]
    return sorted(lines)


@pytest.mark.parametrize("source", SNAPSHOTS)
def test_definitions_load_and_match_the_snapshot(source: str) -> None:
    """Both ingest graphs (landing files, and INGEST_SOURCE=api) against their reviewed snapshots."""
    from orchestration.definitions import build_definitions

    defs = build_definitions(source)
    defs.validate_loadable(defs)
    lines = _graph_lines(defs)
    snapshot = SNAPSHOTS[source]
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text("\n".join(lines) + "\n")
    expected = snapshot.read_text().splitlines()
    assert lines == expected, (
        "graph changed: review, then regenerate with UPDATE_SNAPSHOTS=1 pytest tests/test_definitions.py"
    )


def test_importing_the_definitions_loads_no_demo_code_and_changes_no_environment() -> None:
    """The product stands alone: no module of package `demo`, nor dlt for the file path, and os.environ untouched."""
    code = (
        "import json, os, sys; before = dict(os.environ); import orchestration.definitions; "
        "print(json.dumps({'demo': sorted(m for m in sys.modules if m == 'demo' or m.startswith('demo.')), "
        "'dlt': 'dlt' in sys.modules, 'environment_changed': sorted(set(os.environ.items()) ^ set(before.items()))}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("INGEST_SOURCE", "DUCKDB_DATABASE")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"demo": [], "dlt": False, "environment_changed": []}


def test_every_source_object_has_an_ingest_asset_in_its_system_group() -> None:
    graph = _defs().resolve_asset_graph()
    for obj in SOURCE_OBJECTS:
        node = graph.get(dg.AssetKey([obj.schema, obj.name]))
        assert node.group_name == obj.system
        assert not node.is_external, f"{obj.schema}.{obj.name} must be materializable"


def test_every_staging_model_reads_its_raw_asset_and_sits_in_its_group() -> None:
    graph = _defs().resolve_asset_graph()
    staging = sorted(k.path[-1] for k in graph.get_all_asset_keys() if k.path[-1].startswith("stg_"))
    assert staging == sorted(o.staging_model for o in SOURCE_OBJECTS)
    for obj in SOURCE_OBJECTS:
        node = graph.get(dg.AssetKey(["staging", obj.staging_model]))
        assert dg.AssetKey([obj.schema, obj.name]) in node.parent_keys, obj.staging_model
        assert node.group_name == obj.system
