"""Demo-firm generator: a realistic, internally consistent professional-services firm.

Writes every landing file of the contract (orchestration/contract/__init__.py) for CRM, PSA, ERP, HRIS and
planning, deterministic for a seed and as_of date, with a few deliberate data-quality
defects (see DEFECTS) for the pipeline's checks to catch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import SCALES
from .defects import DEFECTS
from .generator import MANIFEST, Result, run

__all__ = ["DEFECTS", "MANIFEST", "SCALES", "Result", "generate", "run"]


def generate(out_dir: Path, **options: Any) -> dict[str, int]:
    """Generate the demo firm into out_dir; returns rows written per file (`psa/pse__Proj__c.csv`).

    options are run()'s (scale, seed, as_of, defects, progress, known_on), with its defaults; the same
    (scale, seed, as_of, defects) gives byte-identical files, as_of defaulting to today.
    Use run() to also get the keys of the injected defects.
    """
    return run(out_dir, **options).rows
