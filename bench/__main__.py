"""`python -m bench --scale medium`: generate the demo firm, time every run in its own process, write results.

Runs, in this order, on the same landing files:
  limit     the same work as plain SQL in one DuckDB connection (bench/limit.py)
  peer      pandas read_csv/read_json + DataFrame.to_sql, ingest only (bench/peer.py)
  pipeline  one Dagster run of the full job, as `make demo` runs it: a new warehouse's first build
  nightly   the nightly_full schedule's tick and its run, on the warehouse the pipeline run built: what
            a firm pays every night (every model rebuilt, incremental ones whole, every check)
  noop      nothing new since: the intraday_refresh schedule's tick, as the daemon makes it, and the
            run it requests if any (bench/tick.py): what an hourly refresh costs when nothing came
  noop_all  nothing new since: a run of everything anyway (`--select '*'`), the run's fixed overhead
  intraday  after a later export changing 1% of the timecards: the intraday_refresh tick and the run
            it requests (only what reads the changed export)
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import sys
from pathlib import Path
from typing import IO

from bench import pipeline, report
from bench.measure import Measurement, run_measured, wait_for_calm

REPO_ROOT = Path(__file__).resolve().parents[1]
RUNS = ("limit", "peer", "pipeline", "nightly", "noop", "noop_all", "intraday")
NEEDS_PIPELINE = ("nightly", "noop", "noop_all", "intraday")
MARKER = ".bench-work"  # only a folder the benchmark made is ever emptied by it
AS_OF = "2026-06-30"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "medium", "large"], default="medium")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", default=AS_OF, help="the demo's as-of date, fixed so runs compare")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated subset of {','.join(RUNS)}")
    parser.add_argument("--threads", type=int, default=2, help="DUCKDB_THREADS for every run")
    parser.add_argument("--memory-limit", default="4GB", help="DUCKDB_MEMORY_LIMIT for every run")
    parser.add_argument("--dbt-threads", type=int, default=2, help="DBT_THREADS for the pipeline runs")
    parser.add_argument(
        "--calm",
        type=float,
        metavar="CORES",
        help="on a shared machine: before each run, wait until others use at most CORES cores (see --calm-timeout)",
    )
    parser.add_argument("--calm-timeout", type=float, default=900, help="seconds to wait for calm at most")
    parser.add_argument("--work-dir", type=Path, help="default data/bench/<scale> (git-ignored)")
    parser.add_argument("--results-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = set(args.runs) - set(RUNS)
    if unknown:
        parser.error(f"unknown run(s): {', '.join(sorted(unknown))}")
    if any(r in args.runs for r in NEEDS_PIPELINE) and "pipeline" not in args.runs:
        parser.error("nightly, noop, noop_all and intraday run after the pipeline run: add 'pipeline' to --runs")
    args.work_dir = (args.work_dir or REPO_ROOT / "data" / "bench" / args.scale).resolve()
    return args


def require_fresh_manifest() -> None:
    """The pipeline runs on the prepared manifest, as `make demo` does: it must match the dbt project."""
    manifest = REPO_ROOT / "dbt_project" / "target" / "manifest.json"
    project = REPO_ROOT / "dbt_project"
    sources = [project / "dbt_project.yml", *(project / "models").rglob("*"), *(project / "macros").rglob("*")]
    newest = max(p.stat().st_mtime for p in sources if p.is_file())
    if not manifest.exists() or manifest.stat().st_mtime < newest:
        raise SystemExit("dbt_project/target/manifest.json is missing or older than the dbt project: make manifest")


def lock_work_dir(work: Path) -> IO:
    """One benchmark per work folder at a time: a second would empty the first one's folder."""
    work.parent.mkdir(parents=True, exist_ok=True)
    handle = (work.parent / f"{work.name}.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"another benchmark is running in {work}") from None
    return handle


def fresh_work_dir(work: Path) -> None:
    """Start from nothing: a previous bench's warehouse, instance or extra landing batch would skew runs."""
    if work.exists() and any(work.iterdir()):
        if not (work / MARKER).exists():
            raise SystemExit(f"{work} is not empty and was not made by the benchmark; choose another --work-dir")
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / MARKER).touch()


class Bench:
    """One benchmark invocation: its work folder, settings and the measurements taken so far."""

    def __init__(self, args: argparse.Namespace):
        self.args, self.work = args, args.work_dir
        self.settings = {
            "DUCKDB_THREADS": str(args.threads),
            "DUCKDB_MEMORY_LIMIT": args.memory_limit,
            "DBT_THREADS": str(args.dbt_threads),
        }
        self.env = {**os.environ, **pipeline.TELEMETRY_OFF, **self.settings}
        self.runs: dict[str, Measurement] = {}
        self.preparation: dict[str, Measurement] = {}

    def measure(self, name: str, command: list[str], env: dict[str, str] | None = None) -> Measurement:
        waited = wait_for_calm(self.args.calm, self.args.calm_timeout) if self.args.calm is not None else 0.0
        print(f"bench: {name} ..." + (f" (waited {waited:.0f} s for calm)" if waited else ""), flush=True)
        measurement = run_measured(name, command, self.work / "logs" / f"{name}.log", env or self.env, REPO_ROOT)
        measurement.waited_for_calm_seconds = waited
        print(f"bench: {name} took {measurement.wall_seconds:.1f} s (exit {measurement.returncode})", flush=True)
        if measurement.returncode != 0:
            print(f"bench: {name} failed; see {measurement.log}", file=sys.stderr)
        return measurement

    def python(self, module: str, *args: object) -> list[str]:
        return [sys.executable, "-m", module, *map(str, args)]

    def limits(self) -> list[str]:
        return ["--threads", self.settings["DUCKDB_THREADS"], "--memory-limit", self.settings["DUCKDB_MEMORY_LIMIT"]]

    def generate(self) -> dict:
        a = self.args
        command = self.python("demo.firm", "--scale", a.scale, "--seed", a.seed, "--out", self.work / "landing")
        self.preparation["generate"] = self.measure("generate", [*command, "--as-of", a.as_of, "--no-progress"])
        return json.loads((self.work / "landing" / "demo_manifest.json").read_text())["rows"]

    def run_limit(self) -> None:
        """dbt compiles the models against the limit's own file name (relations name the database)."""
        database = self.work / "bench_limit.duckdb"
        target = self.work / "dbt_compiled"
        dbt = [str(Path(sys.executable).parent / "dbt"), "compile", "--quiet", "--project-dir", "dbt_project"]
        dbt += ["--profiles-dir", "dbt_project", "--target-path", str(target), "--log-path", str(self.work / "logs")]
        dbt += ["--vars", json.dumps({"as_of_date": self.args.as_of})]
        compile_env = {**self.env, "DUCKDB_DATABASE": str(database)}
        self.preparation["dbt_compile"] = self.measure("dbt_compile", dbt, compile_env)
        for leftover in (database, database.with_name(database.name + ".wal")):
            leftover.unlink(missing_ok=True)  # compile opened the file; the limit starts from nothing
        out = self.work / "limit_report.json"
        command = self.python("bench.limit", "--landing", self.work / "landing", "--database", database)
        command += ["--manifest", str(target / "manifest.json"), *self.limits(), "--report", str(out)]
        self.runs["limit"] = self._with_report(self.measure("limit", command), out)

    def run_peer(self) -> None:
        out = self.work / "peer_report.json"
        command = self.python("bench.peer", "--landing", self.work / "landing", "--database", self.work / "peer.duckdb")
        self.runs["peer"] = self._with_report(self.measure("peer", [*command, *self.limits(), "--report", out]), out)

    def _with_report(self, measurement: Measurement, report_file: Path) -> Measurement:
        if report_file.exists():
            measurement.details = json.loads(report_file.read_text())
        return measurement

    def run_pipelines(self) -> None:
        port = pipeline.free_planning_port()
        env = pipeline.pipeline_env(self.work, self.args.as_of, self.settings, port)
        pipeline.prepare_instance(self.work / "dagster_home")
        # As a deploy prepares it (docs/operations.md): dbt's parse for the bench's own warehouse, so the
        # full run starts from it, as every nightly run after a first one does.
        parse = self.python("orchestration.defs.transform.parse_state")
        self.preparation["dbt_parse"] = self.measure("dbt_parse", parse, env)
        with pipeline.planning_server(self.work, port):
            self._pipeline_run("pipeline", pipeline.FULL_COMMAND, env)
            if "nightly" in self.args.runs:
                nightly = self._tick("nightly", pipeline.NIGHTLY_JOB)
                self._pipeline_run("nightly", nightly, env, report=self.work / "nightly_tick.json")
            if "noop" in self.args.runs:
                self._pipeline_run("noop", self._tick("noop"), env, report=self.work / "noop_tick.json")
            if "noop_all" in self.args.runs:
                self._pipeline_run("noop_all", pipeline.FULL_COMMAND, env)
            if "intraday" in self.args.runs:
                change = pipeline.write_timecard_change(self.work / "landing", self.args.as_of)
                out = self.work / "intraday_tick.json"
                self._pipeline_run("intraday", self._tick("intraday"), env, {"change": change}, out)

    def _tick(self, name: str, schedule: str = pipeline.INTRADAY_JOB) -> list[str]:
        return self.python("bench.tick", schedule, "--report", self.work / f"{name}_tick.json")

    def _pipeline_run(
        self, name: str, command: list[str], env: dict[str, str], extra: dict | None = None, report: Path | None = None
    ) -> None:
        home = self.work / "dagster_home"
        before = pipeline.latest_run_id(home)
        measurement = self.measure(name, command, env)
        tick = json.loads(report.read_text()) if report is not None and report.exists() else None
        measurement.details = {
            **(extra or {}),
            **({"tick": tick} if tick is not None else {}),
            "dagster": pipeline.run_summary(home, after=before),
        }
        self.runs[name] = measurement

    def context(self, rows_by_file: dict[str, int]) -> dict:
        return {
            "scale": self.args.scale,
            "rows": sum(rows_by_file.values()),
            "rows_by_file": rows_by_file,
            "seed": self.args.seed,
            "as_of": self.args.as_of,
            "settings": self.settings,
            "calm": {"max_other_cores": self.args.calm, "timeout_seconds": self.args.calm_timeout},
            "runs_requested": self.args.runs,
            "preparation": {name: m.to_json() for name, m in self.preparation.items()},
        }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if "pipeline" in args.runs:
        require_fresh_manifest()
    lock = lock_work_dir(args.work_dir)  # held until this process exits
    fresh_work_dir(args.work_dir)
    bench = Bench(args)
    rows = bench.generate()
    if "limit" in args.runs:
        bench.run_limit()
    if "peer" in args.runs:
        bench.run_peer()
    if "pipeline" in args.runs:
        bench.run_pipelines()
    result = report.results(bench.runs, bench.context(rows), args.work_dir)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{args.scale}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(report.table(result))
    print(f"bench: results in {out}")
    lock.close()
    return 0 if all(m.returncode == 0 for m in bench.runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
