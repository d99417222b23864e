"""Command line of the demo-firm generator.

python -m demo.firm --scale small|medium|large --seed N --out DIR [--as-of YYYY-MM-DD] [--known-on YYYY-MM-DD]
    [--no-defects]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from .config import SCALES
from .defects import DEFECTS
from .generator import MANIFEST, run


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo.firm", description="Generate the demo firm's landing files.")
    parser.add_argument("--scale", choices=tuple(SCALES), default="small")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True, help="landing directory (DIR/<system>/<file>)")
    parser.add_argument("--as-of", type=date.fromisoformat, help="snapshot date YYYY-MM-DD (default today)")
    parser.add_argument(
        "--known-on",
        type=date.fromisoformat,
        help="write the exports as they stood at the start of this earlier day YYYY-MM-DD (same firm)",
    )
    parser.add_argument("--no-defects", dest="defects", action="store_false", help="inject no data defects")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Generate, then print rows per file and the injected defects."""
    args = _parse(argv)
    started = time.perf_counter()
    result = run(
        args.out,
        scale=args.scale,
        seed=args.seed,
        as_of=args.as_of,
        defects=args.defects,
        progress=args.progress,
        known_on=args.known_on,
    )
    width = max(len(k) for k in result.rows)
    for name, rows in result.rows.items():
        print(f"{name:<{width}}  {rows:>12,}")
    print(f"{'total':<{width}}  {sum(result.rows.values()):>12,}")
    if result.defects:
        print("defects injected:")
        for name, keys in result.defects.items():
            print(f"  {name:<22} {len(keys):>4}  {DEFECTS[name]}")
    else:
        print("defects injected: none")
    print(f"wrote {args.out} (manifest: {MANIFEST}) in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
