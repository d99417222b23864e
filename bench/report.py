"""The benchmark's results: the headline figures against the targets, the JSON file and a short table."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench.measure import Measurement

REPO_ROOT = Path(__file__).resolve().parents[1]
PIPELINE_RUNS = ("pipeline", "nightly", "intraday", "noop", "noop_all")
PACKAGES = ("duckdb", "dagster", "dagster-dbt", "dbt-core", "dbt-duckdb", "great-expectations", "pandas")
PACKAGES += ("sqlalchemy", "duckdb-engine")
# figure: (comparison, {scale: target}), from the issue "Runs that cost what changed" (which
# tightened the benchmark issue's no-op <= 15 s and intraday <= 0.15), on 2 cores. A target holds
# at the scales it names: the first build and the nightly <= 1.5 x the limit at large but <= 3 x at
# medium, where fixed costs weigh more; the intraday at large only. Memory and ingest name no scale.
EVERY_SCALE = "every scale"
TARGETS: dict[str, tuple[str, dict[str, float]]] = {
    "full_vs_limit": ("<=", {"large": 1.5, "medium": 3.0}),
    "nightly_vs_limit": ("<=", {"large": 1.5, "medium": 3.0}),
    "noop_seconds": ("<=", {"large": 10.0, "medium": 10.0}),
    "intraday_vs_full": ("<=", {"large": 0.10}),
    "peak_rss_mib": ("<=", {EVERY_SCALE: 4096.0}),
    "ingest_vs_peer": (">=", {EVERY_SCALE: 20.0}),
}


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator is not None and denominator else None


def _wall(runs: dict[str, Measurement], name: str) -> float | None:
    return runs[name].wall_seconds if name in runs else None


def _pipeline_ingest(runs: dict[str, Measurement]) -> tuple[float | None, int | None]:
    """Seconds of the pipeline's ingest steps (one per source object) and the rows they read."""
    dagster = runs["pipeline"].details.get("dagster", {}) if "pipeline" in runs else {}
    return dagster.get("step_seconds", {}).get("ingest"), dagster.get("ingest_rows_read")


def ingest_seconds(runs: dict[str, Measurement]) -> tuple[float | None, str | None]:
    """The pipeline's ingest (its ingest steps); the limit's bulk load when the pipeline did not run."""
    if "pipeline" in runs:
        return _pipeline_ingest(runs)[0], "pipeline ingest steps"
    if "limit" in runs:
        return runs["limit"].details.get("load_seconds"), "limit bulk load (the pipeline did not run)"
    return None, None


def ingest_rates(runs: dict[str, Measurement]) -> dict[str, float | None]:
    """Landing rows read per second of ingest, for each run that ingests."""
    pipeline_seconds, pipeline_rows = _pipeline_ingest(runs)
    rates = {"pipeline": _ratio(pipeline_rows, pipeline_seconds)}
    for name, rows in (("limit", "rows_read"), ("peer", "rows_loaded")):
        details = runs[name].details if name in runs else {}
        rates[name] = _ratio(details.get(rows), details.get("load_seconds"))
    return {name: round(rate) if rate else None for name, rate in rates.items()}


def figures(runs: dict[str, Measurement]) -> dict:
    """The headline figures; None where the runs behind one were not part of this invocation."""
    pipeline_runs = [runs[n] for n in PIPELINE_RUNS if n in runs] or list(runs.values())
    peak = max(pipeline_runs, key=lambda m: m.peak_rss_mib) if pipeline_runs else None
    ingest, basis = ingest_seconds(runs)
    peer = runs["peer"].details.get("load_seconds") if "peer" in runs else None
    return {
        "full_vs_limit": _ratio(_wall(runs, "pipeline"), _wall(runs, "limit")),
        # The nightly_full schedule's run on the warehouse the pipeline run built, as every night after
        # a warehouse's first: its models rebuilt whole and every check evaluated, dbt's unit tests left
        # out when they passed on this code (the full nightly the target names).
        "nightly_vs_limit": _ratio(_wall(runs, "nightly"), _wall(runs, "limit")),
        "noop_seconds": round(runs["noop"].wall_seconds, 3) if "noop" in runs else None,
        # Not a target: a run of everything with nothing new, which no schedule starts (the refresh
        # ticks request only what has something to do): the run's own fixed cost.
        "noop_all_seconds": round(runs["noop_all"].wall_seconds, 3) if "noop_all" in runs else None,
        "intraday_vs_full": _ratio(_wall(runs, "intraday"), _wall(runs, "pipeline")),
        "peak_rss_mib": round(peak.peak_rss_mib, 1) if peak else None,
        "peak_rss_run": peak.name if peak else None,
        "ingest_vs_peer": _ratio(peer, ingest),
        "ingest_vs_peer_basis": basis,
        "ingest_rows_per_second": ingest_rates(runs),
    }


def target_status(result: dict) -> dict:
    """Each figure against its target at the result's scale; `target` None where none is set at it."""
    status = {}
    for name, (comparison, by_scale) in TARGETS.items():
        value = result[name]
        target = by_scale.get(result["scale"], by_scale.get(EVERY_SCALE))
        if target is None:
            named = ", ".join(by_scale)
            status[name] = {"target": None, "measured": value, "met": None, "note": f"a target at {named} only"}
            continue
        met = None if value is None else (value <= target if comparison == "<=" else value >= target)
        status[name] = {"target": f"{comparison} {target:g}", "measured": value, "met": met}
    return status


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": {p: importlib.metadata.version(p) for p in PACKAGES},
    }


def git_state() -> dict:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True).stdout

    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return {"commit": git("rev-parse", "HEAD").strip(), "uncommitted_changes": changed}


def portable(value: object, work: Path) -> object:
    """Paths relative to the repository (or `<work>`), so no machine path lands in a committed file."""
    if isinstance(value, dict):
        return {k: portable(v, work) for k, v in value.items()}
    if isinstance(value, list):
        return [portable(v, work) for v in value]
    if isinstance(value, str):
        if not work.is_relative_to(REPO_ROOT):
            value = value.replace(str(work), "<work>")
        return value.replace(f"{REPO_ROOT}{os.sep}", "")
    return value


def results(runs: dict[str, Measurement], context: dict, work: Path) -> dict:
    """Everything the results file holds: the figures first, then how they were measured."""
    result = {**figures(runs), "scale": context["scale"], "rows": context["rows"]}
    result["targets"] = target_status(result)
    result.update(
        {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            **{k: v for k, v in context.items() if k not in ("scale", "rows")},
            "git": git_state(),
            "machine": machine(),
            "runs": {name: m.to_json() for name, m in runs.items()},
        }
    )
    return portable(result, work)


def _cell(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(result: dict) -> str:
    """The runs and the figures against the targets, for the terminal."""
    lines = [
        f"benchmark, scale {result['scale']}, {result['rows']:,} landing rows",
        f"{'run':<10}{'wall s':>10}{'CPU s':>10}{'peak RSS MiB':>14}{'others CPU s':>14}  exit",
    ]
    for name, run in result["runs"].items():
        lines.append(
            f"{name:<10}{_cell(run['wall_seconds']):>10}{_cell(run['cpu_seconds']):>10}"
            f"{_cell(run['peak_rss_mib'], 0):>14}{_cell(run['other_cpu_seconds']):>14}  {run['returncode']}"
        )
    lines.append(f"{'figure':<18}{'measured':>10}{'target':>10}  met")
    for name, status in result["targets"].items():
        met = {True: "yes", False: "NO", None: "-"}[status["met"]]
        met = status.get("note", met)
        lines.append(f"{name:<18}{_cell(status['measured'], 2):>10}{status['target'] or '-':>10}  {met}")
    return "\n".join(lines)
