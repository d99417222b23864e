"""The reverse sync alone, in a process of its own, as a schedule launches it: the kill tests run it.

usage: python -m tests.sync_process WAREHOUSE   (DAGSTER_HOME: the instance that holds the check history)
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

from tests.helpers import materialize

SYNC = dg.AssetKey(["anaplan", "forecast_inputs"])


def main(warehouse: Path) -> int:
    with dg.DagsterInstance.get() as instance:
        result = materialize(warehouse, warehouse.parent, dg.AssetSelection.assets(SYNC), instance)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
