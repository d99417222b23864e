"""A run in a process of its own, as a schedule launches it: the kill tests run it and kill it.

usage: python -m tests.sync_process WAREHOUSE      the reverse sync alone (DAGSTER_HOME: the instance
                                                  that holds the check history)
       python -m tests.sync_process --hold-slot MARKER
                                                  a warehouse step (pool duckdb_writer) that writes its
                                                  pid to MARKER once it holds the slot, then waits
                                                  until the process is killed
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import dagster as dg

from orchestration.lib.warehouse import WRITER_POOL
from tests.helpers import materialize

SYNC = dg.AssetKey(["anaplan", "forecast_inputs"])


def main(warehouse: Path) -> int:
    with dg.DagsterInstance.get() as instance:
        result = materialize(warehouse, warehouse.parent, dg.AssetSelection.assets(SYNC), instance)
    return 0 if result.success else 1


def hold_slot(marker: Path) -> int:
    @dg.asset(pool=WRITER_POOL)
    def slot_holder() -> None:
        marker.write_text(str(os.getpid()))
        threading.Event().wait()  # until the process is killed

    with dg.DagsterInstance.get() as instance:
        dg.materialize([slot_holder], instance=instance)
    return 1


if __name__ == "__main__":
    if sys.argv[1] == "--hold-slot":
        sys.exit(hold_slot(Path(sys.argv[2])))
    sys.exit(main(Path(sys.argv[1])))
