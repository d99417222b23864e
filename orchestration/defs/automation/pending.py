"""What a refresh tick finds to do, so the schedule requests a run of only that, or none.

A refresh run of the whole job plans every asset and check of it before its first step knows what
changed, and then mostly leaves them alone: ingest finds no new file, the raw checks keep their
verdicts, dbt builds only what reads a changed input (transform/changes.py). The refresh schedules
(`intraday_refresh`, `analytics_refresh`) ask first, at their tick:

- which of the job's source objects have a settled landing file the load log does not hold (the
  loader's own test: path, size and modification time; a file still settling waits, as in the run);
- which of the job's dbt models the dbt step would build now (`plan_builds`: the same plan it makes,
  from the warehouse as it is): a raw table loaded since their last build (by the landing_files
  sensor's ingest runs), a new as-of day, a changed project, a failed or missing build.

The run requested holds the objects with new files, the models to build, and whatever of the job
lies downstream of them (the models reading those raw tables and the load log, the publish) other
than through a cutoff view's rows, which only the run's load can move (and then the dbt step holds
what reads the view's readers for the next tick); its checks are those of the assets selected, so
Dagster plans no event for the rest. With nothing to do
the tick requests no run and says why (the tick's skip reason in the UI). Where the tick cannot tell,
the run holds the whole job, as before: ingest from the source systems' APIs (only a call tells
what is new), a run in progress (the tick does not open DuckDB while a run may write it) or a
warehouse that cannot be read. nightly_full never asks: it rebuilds everything, the safety net, and
evaluates every check (the raw freshness checks among them) every night.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from orchestration.contract import SOURCE_OBJECTS
from orchestration.defs.ingest.loader import LOADED_FILES, FileStamp, ready_files
from orchestration.defs.transform.assets import Planned, plan_builds
from orchestration.lib import settings
from orchestration.lib.dialect import table_exists
from orchestration.lib.warehouse import WAREHOUSE_ERRORS, Warehouse

OBJECTS = {dg.AssetKey([o.schema, o.name]): o for o in SOURCE_OBJECTS}
IN_PROGRESS = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
TICK_RUN_ID = "schedule-tick"  # names a cutoff view the tick could not read (a change: its readers are built)


@dataclass
class Pending:
    """What a run of the job would have to do now; `whole` (a reason) when the tick cannot tell."""

    new_files: dict[dg.AssetKey, list[str]] = field(default_factory=dict)  # source object -> its new files
    planned: Planned | None = None
    whole: str | None = None

    @property
    def models(self) -> list[dg.AssetKey]:
        return sorted(self.planned.plan.build, key=dg.AssetKey.to_user_string) if self.planned else []

    def selection(self, job_keys: Collection[dg.AssetKey], graph) -> set[dg.AssetKey]:
        """The job's assets a run needs: those with something to do and what of the job lies below them.

        Of the dbt models below, only those the dbt step would build: the planned ones and what reads
        a raw table with new files (or the load log their loads move) other than through a cutoff
        view's rows; the others would be left alone. A cutoff view's readers are selected when its rows
        moved since they read them (they are then among the planned models): the new files' load can
        move them only in the run, and then the dbt step holds what reads them for the next tick.
        """
        if self.whole:
            return set(job_keys)
        loaded = set(self.new_files)
        if loaded and self.planned:  # every file loaded moves the load log its readers read
            loaded |= set(self.planned.readers.get(LOADED_FILES, []))
        start = loaded | set(self.models)
        if not start:
            return set()
        below = dg.AssetSelection.assets(*start).downstream().resolve(graph) & set(job_keys)
        models = set(self.planned.plan.selected) if self.planned else set()
        reads = self.planned.graph if self.planned else graph  # without the cutoff views' edges
        built = set(self.models) | (dg.AssetSelection.assets(*loaded).downstream().resolve(reads) if loaded else set())
        return {key for key in below if key not in models or key in built}

    def summary(self) -> str:
        """One line for the run's tag and the tick's skip reason."""
        if self.whole:
            return f"the whole job: {self.whole}"
        parts = [
            f"{'.'.join(key.path)}: {len(files)} new file(s)"
            for key, files in sorted(self.new_files.items(), key=lambda kv: kv[0].to_user_string())
        ]
        if self.planned and self.planned.plan.build:
            parts += [f"{len(names)} model(s) to build because {why}" for why, names in self.planned.plan.why.items()]
        return "; ".join(parts) or "nothing to do"


def pending(
    job_keys: Collection[dg.AssetKey],
    warehouse: Warehouse,
    instance: dg.DagsterInstance,
    landing: Path | None = None,
    settle_seconds: float | None = None,
    now: float | None = None,
) -> Pending:
    """What a run of the job whose assets are `job_keys` would do now (see the module's docstring)."""
    objects = [OBJECTS[key] for key in job_keys if key in OBJECTS]
    if objects and settings.ingest_source() == "api":
        return Pending(whole="ingest reads the source systems' APIs, and only a call tells what is new there")
    busy = instance.get_run_records(dg.RunsFilter(statuses=IN_PROGRESS), limit=1)
    if busy:
        run = busy[0].dagster_run
        return Pending(
            whole=f"run {run.run_id[:8]} ({run.job_name}) is {run.status.value.lower()}, so the "
            "warehouse is not read at the tick"
        )
    landing = settings.landing_dir() if landing is None else landing
    settle = settings.landing_settle_seconds() if settle_seconds is None else settle_seconds
    try:
        with warehouse.connect(read_only=True) as con:
            loaded = _loaded_files(con)
            planned = plan_builds(con, job_keys, TICK_RUN_ID)
    except WAREHOUSE_ERRORS as err:  # e.g. DuckDB's file lock, held by a writer outside Dagster
        return Pending(whole=f"the warehouse could not be read at the tick ({type(err).__name__})")
    new_files = {}
    for obj in objects:
        ready, _ = ready_files(obj, landing, settle, now)
        table = f"{obj.schema}.{obj.name}"
        new = [str(p) for p in ready if _stamp(table, p) not in loaded]
        if new:
            new_files[dg.AssetKey([obj.schema, obj.name])] = new
    return Pending(new_files=new_files, planned=planned)


def _loaded_files(con) -> set[tuple[str, str, int, float]]:
    """The load log's files as the loader compares them: (table, path, size, modification time)."""
    if not table_exists(con, *LOADED_FILES.split(".")):
        return set()
    rows = con.execute(
        f"select table_name, source_file, file_size, file_mtime from {LOADED_FILES} where file_size is not null"
    ).fetchall()
    return {(table, source, int(size), float(mtime)) for table, source, size, mtime in rows}


def _stamp(table: str, path: Path) -> tuple[str, str, int, float]:
    stamp = FileStamp.of(path)
    return (table, str(path), stamp.size, stamp.mtime)
