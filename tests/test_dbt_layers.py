"""The dbt project flows one way (staging -> intermediate -> marts -> sync) and has one month spine.

Reads the manifest of a `dbt parse` (no warehouse is opened), so it runs in seconds.

Kind: integration (a `dbt parse`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
# A model may read models of its own layer or of an earlier one; restricted is intermediate.
LAYERS = {"staging": 0, "intermediate": 1, "restricted": 1, "marts": 2, "sync": 3}
SPINES = {"int_calendar_dates", "int_calendar_months"}  # the day spine and the month spine


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("dbt_parse")
    env = {**os.environ, "DUCKDB_DATABASE": str(work / "never_opened.duckdb"), "DO_NOT_TRACK": "1"}
    completed = subprocess.run(
        [
            sys.executable, "-m", "dbt.cli.main", "parse", "--no-partial-parse",
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
        ],
        env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return json.loads((work / "target" / "manifest.json").read_text())


@pytest.fixture(scope="module")
def models(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}


def _series_arguments(sql: str) -> list[str]:
    """The argument text of every generate_series(...) call, nested parentheses included."""
    found = []
    for match in re.finditer(r"generate_series\s*\(", sql, re.IGNORECASE):
        depth, end = 1, match.end()
        while depth and end < len(sql):
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        found.append(sql[match.end() : end - 1])
    return found


def _layer(model: dict[str, Any]) -> str:
    return Path(model["original_file_path"]).parts[1]  # models/<layer>/...


def test_every_model_is_in_a_known_layer(models) -> None:
    assert {_layer(m) for m in models.values()} == set(LAYERS)


def test_no_model_reads_a_later_layer(models) -> None:
    backwards = [
        f"{_layer(model)}.{model['name']} reads {_layer(models[parent])}.{models[parent]['name']}"
        for model in models.values()
        for parent in model["depends_on"]["nodes"]
        if parent in models and LAYERS[_layer(models[parent])] > LAYERS[_layer(model)]
    ]
    assert backwards == []


def test_month_and_day_series_come_from_the_calendar_spines(manifest, models) -> None:
    """A model that needs months joins int_calendar_months instead of generating its own."""
    own_series = sorted(
        model["name"]
        for model in models.values()
        if model["name"] not in SPINES
        and any("interval" in args.lower() for args in _series_arguments(model["raw_code"]))
    )
    assert own_series == []
    macros = [m for m in manifest["macros"].values() if m["package_name"] == "psa_pipeline"]
    series_macros = [m["name"] for m in macros if _series_arguments(m["macro_sql"])]
    assert series_macros == []  # no macro hands a model a series of its own either
    for spine in SPINES:
        (model,) = (m for m in models.values() if m["name"] == spine)
        assert _series_arguments(model["raw_code"]), spine
