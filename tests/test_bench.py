"""The benchmark works: it measures the child process, and at small scale writes its figures.

A smoke test, not the benchmark: it runs the limit and the peer only (about 20 s); the pipeline
runs are what `make bench` adds, and the demo build tests cover the pipeline itself.

Kind: integration (child processes measured), except the checks of the timecard change, of dbt's log
and of the targets: unit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from bench.measure import run_measured
from bench.pipeline import dbt_log_marks, write_timecard_change
from bench.report import table, target_status
from orchestration.contract import SOURCE_OBJECTS
from orchestration.defs.ingest.loader import load_object

pytestmark = pytest.mark.xdist_group("bench")  # one worker measures at a time

REPO_ROOT = Path(__file__).resolve().parents[1]
KEYS = {
    "full_vs_limit",
    "nightly_vs_limit",
    "noop_seconds",
    "intraday_vs_full",
    "peak_rss_mib",
    "ingest_vs_peer",
    "scale",
    "rows",
}
ALLOCATE = "import time; block = bytearray({mib} * 1024 * 1024); sum(range(3_000_000)); time.sleep(0.5)"


def _measure(tmp_path: Path, code: str):
    command = [sys.executable, "-c", code]
    return run_measured("probe", command, tmp_path / "probe.log", dict(os.environ), tmp_path)


def test_measurement_covers_the_child_not_the_parent(tmp_path: Path) -> None:
    measured = _measure(tmp_path, ALLOCATE.format(mib=300))
    assert measured.returncode == 0
    assert 300 <= measured.max_process_rss_mib < 600  # the child's 300 MiB block, not this pytest process
    assert 300 <= measured.tree_rss_peak_mib < 600
    assert measured.cpu_seconds > 0.05
    assert measured.wall_seconds >= 0.5


def test_a_large_parent_is_not_counted(tmp_path: Path) -> None:
    """Linux starts a child with its parent's high-water mark (ru_maxrss): a measuring process that
    is itself large (a pytest worker, a Dagster run) must still see only the child's memory."""
    parent = f"""
import os, sys
from pathlib import Path
from bench.measure import run_measured
ballast = bytearray(500 * 1024 * 1024)
m = run_measured("probe", [sys.executable, "-c", {ALLOCATE.format(mib=100)!r}], Path({str(tmp_path / "p.log")!r}),
                 dict(os.environ), Path({str(tmp_path)!r}))
print(round(m.max_process_rss_mib), round(m.peak_rss_mib))
"""
    out = subprocess.run([sys.executable, "-c", parent], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    max_process, peak = map(int, out.stdout.split())
    assert 100 <= max_process < 200 and 100 <= peak < 200  # the child's 100 MiB, not the parent's 500


def test_measurement_covers_grandchildren(tmp_path: Path) -> None:
    """dbt runs as a subprocess of Dagster: its memory and CPU must count."""
    grandchild = ALLOCATE.format(mib=250)
    measured = _measure(tmp_path, f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])")
    assert measured.max_process_rss_mib >= 250
    assert len(measured.rss_at_peak_mib) == 2 and max(measured.rss_at_peak_mib.values()) >= 250
    assert measured.cpu_seconds > 0.05


def _dbt_log(folder: Path, events: list[tuple[str, str, str]]) -> Path:
    folder.mkdir()
    lines = [json.dumps({"info": {"name": n, "ts": ts, "level": level, "msg": n}}) for n, ts, level in events]
    (folder / "dbt.log").write_text("\n".join(lines) + "\n")
    return folder


@pytest.mark.unit
def test_dbt_times_come_from_its_log_at_debug_and_at_info_level(tmp_path: Path) -> None:
    """The pipeline writes dbt's log at info level, without the debug CommandCompleted: its last event ends it."""
    start, found = (
        ("MainReportVersion", "2026-12-07T10:00:00.000Z", "info"),
        ("FoundStats", "2026-12-07T10:00:02.500Z", "info"),
    )
    summary = ("StatsLine", "2026-12-07T10:00:20.000Z", "info")
    info = dbt_log_marks(_dbt_log(tmp_path / "info", [start, found, summary]))
    assert info == {"command_seconds": 20.0, "startup_and_parse_seconds": 2.5, "full_reparse": None}
    debug = [start, found, summary, ("CommandCompleted", "2026-12-07T10:00:20.400Z", "debug")]
    assert dbt_log_marks(_dbt_log(tmp_path / "debug", debug))["command_seconds"] == 20.4


@pytest.mark.unit
def test_timecard_change_rewrites_one_percent_newer(small_landing, tmp_path: Path) -> None:
    source, counts = small_landing
    psa = tmp_path / "psa"
    psa.mkdir()
    base = psa / "pse__Timecard_Header__c.csv"
    shutil.copy(source / "psa" / base.name, base)

    change = write_timecard_change(tmp_path, "2026-11-16")

    timecards = counts["psa/pse__Timecard_Header__c.csv"]
    assert change["rows_changed"] == round(timecards / 100) > 0
    with duckdb.connect() as con:
        batch = f"read_csv('{tmp_path / change['file']}', all_varchar = true)"
        before = f"read_csv('{base}', all_varchar = true)"
        rows = con.execute(
            f"""select count(*), count(*) filter (where n."SystemModstamp" > o."SystemModstamp"),
                       count(*) filter (where n."pse__Monday_Hours__c"::decimal(9,2)
                                        = o."pse__Monday_Hours__c"::decimal(9,2) + 0.25
                                        and n."pse__Total_Hours__c"::decimal(9,2)
                                        = o."pse__Total_Hours__c"::decimal(9,2) + 0.25)
                from {batch} n join {before} o using ("Id")"""
        ).fetchall()[0]
    assert rows == (change["rows_changed"],) * 3


@pytest.mark.unit
def test_each_figure_is_judged_against_the_target_of_its_scale() -> None:
    """The nightly's target is 1.5 x the limit at large and 3 x at medium; the intraday's is at large only."""
    figures = {"full_vs_limit": 6.15, "nightly_vs_limit": 2.9, "noop_seconds": 3.5, "intraday_vs_full": 0.46}
    figures |= {"peak_rss_mib": 1004.5, "ingest_vs_peer": 10.3}
    medium = target_status({**figures, "scale": "medium"})
    assert medium["nightly_vs_limit"] == {"target": "<= 3", "measured": 2.9, "met": True}
    assert medium["full_vs_limit"]["met"] is False
    assert medium["intraday_vs_full"] == {
        "target": None,
        "measured": 0.46,
        "met": None,
        "note": "a target at large only",
    }
    assert medium["ingest_vs_peer"] == {"target": ">= 20", "measured": 10.3, "met": False}
    large = target_status({**figures, "scale": "large"})
    assert large["nightly_vs_limit"] == {"target": "<= 1.5", "measured": 2.9, "met": False}
    assert large["intraday_vs_full"]["met"] is False and large["peak_rss_mib"]["met"] is True
    small = target_status({**figures, "scale": "small"})
    assert [name for name, s in small.items() if s["target"]] == ["peak_rss_mib", "ingest_vs_peer"]
    lines = table({"scale": "medium", "rows": 1, "runs": {}, "targets": medium}).splitlines()
    assert "nightly_vs_limit        2.90      <= 3  yes" in lines
    assert "intraday_vs_full        0.46         -  a target at large only" in lines


def test_bench_writes_its_figures_at_small_scale(tmp_path: Path) -> None:
    results, work = tmp_path / "results", tmp_path / "work"
    command = [sys.executable, "-m", "bench", "--scale", "small", "--runs", "limit,peer"]
    command += ["--work-dir", str(work), "--results-dir", str(results)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    text = (results / "small.json").read_text()
    result = json.loads(text)
    assert result.keys() >= KEYS
    landed = json.loads((work / "landing" / "demo_manifest.json").read_text())["rows"]
    assert result["scale"] == "small" and result["rows"] == sum(landed.values())
    assert result["settings"] == {"DUCKDB_THREADS": "2", "DUCKDB_MEMORY_LIMIT": "4GB", "DBT_THREADS": "2"}
    for name in ("limit", "peer"):
        run = result["runs"][name]
        assert run["returncode"] == 0 and run["peak_rss_mib"] > 50
        assert run["wall_seconds"] > 0 and run["cpu_seconds"] > 0
    limit, peer = result["runs"]["limit"]["details"], result["runs"]["peer"]["details"]
    assert limit["rows_read"] == peer["rows_loaded"] == result["rows"]
    assert limit["models"] > 50 and limit["dbt_tests"] > 200 and limit["raw_checks"] > 150
    assert result["ingest_vs_peer"] > 0 and result["ingest_vs_peer_basis"].startswith("limit")
    assert result["full_vs_limit"] is None and result["nightly_vs_limit"] is None  # the pipeline did not run
    assert result["noop_seconds"] is None
    assert str(REPO_ROOT) not in text and str(tmp_path) not in text  # no machine paths in a results file
    _limit_loads_what_the_loader_loads(work, limit["rows_by_table"], tmp_path / "loader.duckdb")


def _limit_loads_what_the_loader_loads(work: Path, limit_rows: dict[str, int], database: Path) -> None:
    """Same raw tables as the loader, row for row: the limit does the loader's work, not less."""
    with duckdb.connect(str(database)) as con:
        loaded = {f"{o.schema}.{o.name}": load_object(con, o, work / "landing").row_count for o in SOURCE_OBJECTS}
        quarantined = con.execute("select count(*) from ingest_meta.quarantine").fetchall()[0][0]
    assert limit_rows == loaded
    with duckdb.connect(str(work / "bench_limit.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from ingest_meta.quarantine").fetchall()[0][0] == quarantined
