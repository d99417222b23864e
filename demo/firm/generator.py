"""Orchestration of one demo-firm generation: build every domain, inject defects, write files.

The order matters because each domain is derived from the previous ones: workforce ->
staffing -> commercials -> timecards -> sales -> billing, then the landing frames.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from tqdm import tqdm

from orchestration.contract import SOURCE_OBJECTS

from .billing import build_ledger
from .config import SCALES
from .contracts import build_milestones, price_projects
from .crm import Sales, build_sales, crm_frames
from .defects import Frames, inject_defects, write_malformed_timecard_batch
from .erp import build_customers, erp_frames
from .hris import Workforce, build_workforce, hris_frames
from .ids import record_ids
from .known_on import as_known_on
from .planning import planning_frames
from .psa import internal_projects, psa_frames
from .staffing import Staffing, build_staffing
from .timecards import Timecards, build_timecards
from .timeline import Timeline
from .writers import write_object

MANIFEST = "demo_manifest.json"
_BUILD_STEPS = 8


@dataclass
class Result:
    """Rows written per landing file (`system/file`) and the keys of every injected defect."""

    rows: dict[str, int] = field(default_factory=dict)
    defects: dict[str, list[str]] = field(default_factory=dict)


@contextmanager
def _progress(enabled: bool) -> Iterator[tqdm]:
    """A stage progress bar on stderr; tqdm hides it by itself when stderr is not a terminal."""
    bar = tqdm(
        total=_BUILD_STEPS + len(SOURCE_OBJECTS),
        disable=None if enabled else True,
        file=sys.stderr,
        unit="step",
        leave=False,
    )
    try:
        yield bar
    finally:
        bar.close()


def _step(bar: tqdm, label: str) -> None:
    """Advance the bar and name the stage that starts now."""
    bar.set_description(label)
    bar.update()


def _ids(
    seed: int,
    wf: Workforce,
    staffing: Staffing,
    projects: pd.DataFrame,
    internal: pd.DataFrame,
    cards: Timecards,
    milestones: pd.DataFrame,
    sales: Sales,
) -> dict[str, np.ndarray]:
    """Salesforce ids for every CRM and PSA record, sized from what was generated."""
    counts = {
        "account": len(sales.accounts),
        "contact": len(wf.workers),
        "opportunity": len(sales.opportunities),
        "project": len(projects) + len(internal),
        "assignment": len(staffing.assignments),
        "schedule": len(staffing.assignments),
        "timecard": len(cards.rows),
        "milestone": len(milestones),
    }
    return record_ids(seed, counts)


def build_frames(
    scale: str, seed: int, tl: Timeline, bar: tqdm, planning_tl: Timeline | None = None
) -> tuple[Frames, dict[str, np.ndarray]]:
    """Every landing frame keyed by (system, object name), plus the record ids they use.

    planning_tl: the timeline whose as-of date the planning tool's exports are written for (default tl).
    """
    cfg = SCALES[scale]
    bar.set_description("workforce")
    wf = build_workforce(cfg, tl, seed)
    _step(bar, "staffing")
    staffing = build_staffing(wf, tl, seed)
    _step(bar, "contracts")
    projects = price_projects(staffing, tl, seed)
    milestones = build_milestones(projects, tl, seed)
    internal = internal_projects(wf, cfg, tl, first=len(projects))
    _step(bar, "timecards")
    cards = build_timecards(wf, staffing, tl, seed, first_internal=len(projects))
    _step(bar, "sales")
    sales = build_sales(projects, cfg, tl, seed)
    ids = _ids(seed, wf, staffing, projects, internal, cards, milestones, sales)
    _step(bar, "billing")
    customers = build_customers(sales, projects, ids, tl, seed)
    ledger = build_ledger(
        cards, projects, staffing.assignments, wf.workers, milestones, customers.project_terms_days, tl, seed
    )
    _step(bar, "landing frames")
    frames: Frames = {}
    for system, built in (
        ("hris", hris_frames(wf, tl, seed)),
        ("crm", crm_frames(sales, ids)),
        ("psa", psa_frames(wf, staffing, projects, internal, sales, cards, milestones, ids, tl, seed)),
        ("erp", erp_frames(cfg, tl, customers, ledger, projects, ids, seed)),
        ("planning", planning_frames(wf, cfg, planning_tl or tl, seed)),
    ):
        frames.update({(system, name): frame for name, frame in built.items()})
    return frames, ids


def run(
    out_dir: Path,
    scale: str = "small",
    seed: int = 42,
    as_of: date | None = None,
    defects: bool = True,
    progress: bool = False,
    known_on: date | None = None,
) -> Result:
    """Generate the firm into out_dir/<system>/<file> and a manifest; see generate() for the contract.

    known_on: write the exports of the same firm as they stood at the start of that earlier day
    (known_on.py): only what was known then. The defects are the firm's: those that had happened.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    out_dir = Path(out_dir)
    years = SCALES[scale].history_years
    tl = Timeline.build(as_of or date.today(), years)
    if known_on is not None and known_on >= tl.as_of:
        raise ValueError(f"--known-on {known_on} must be before the as-of date {tl.as_of}")
    result = Result()
    with _progress(progress) as bar:
        planning_tl = Timeline.build(known_on, years) if known_on else None
        frames, ids = build_frames(scale, seed, tl, bar, planning_tl)
        _step(bar, "defects")
        if defects:
            result.defects = inject_defects(frames, ids, seed, tl.as_of)
        if known_on is not None:
            frames = as_known_on(frames, tl.as_of, known_on)
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")  # DuckDB's own bar would go to stdout
        try:
            for obj in SOURCE_OBJECTS:
                _step(bar, f"write {obj.system}/{obj.file_stem}")
                frame = frames.pop((obj.system, obj.name))
                path = write_object(con, obj, frame, out_dir)
                result.rows[path.relative_to(out_dir).as_posix()] = len(frame)
                if defects and known_on is None and (obj.system, obj.name) == ("psa", "timecard_header"):
                    batch, keys = write_malformed_timecard_batch(
                        path, ids["timecard"][len(frame)], tl.as_of.isoformat()
                    )
                    result.rows[batch.relative_to(out_dir).as_posix()] = 1
                    result.defects["malformed_hours"] = keys
        finally:
            con.close()
    _write_manifest(out_dir, scale, seed, tl, result, known_on)
    return result


def _write_manifest(
    out_dir: Path, scale: str, seed: int, tl: Timeline, result: Result, known_on: date | None = None
) -> None:
    """What was generated, for tests and data-quality checks that want to know the injected defects."""
    manifest = {
        "generator": "demo.firm",
        "scale": scale,
        "seed": seed,
        "as_of": tl.as_of.isoformat(),
        "known_on": known_on.isoformat() if known_on else None,
        "history_start": tl.history_start.isoformat(),
        "horizon_end": tl.horizon_end.isoformat(),
        "rows": result.rows,
        "defects": result.defects,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
