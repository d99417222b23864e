"""How a process of the pipeline ends: without the garbage collector's last walk over its whole heap.

Every process that loads the definitions (a run's worker, `dagster asset materialize`, `make demo`,
the code server, the benchmark's ticks) ends with CPython's finalization, whose last cyclic garbage
collection visits every object still alive. After a run that is most of the process: about 2 s at
the end of an intraday run at large scale (docs/performance.md), spent freeing memory the operating
system takes back anyway a moment later.

`skip_final_collection()` registers `gc.freeze()` to run at exit: the objects alive then move to
the permanent generation, which that last collection leaves alone. Objects still go away with the
process; what no longer runs is the finalizer of an object left in a reference cycle. Python does not
promise those at exit either (the language reference, `object.__del__`), so nothing of the pipeline
relies on them: warehouse connections, files and Dagster's storage are closed by the code that
opened them (context managers), and the logging module flushes its handlers in an exit handler of
its own, which runs after this one (exit handlers run last registered, first called).
"""

from __future__ import annotations

import atexit
import gc

_registered = False


def skip_final_collection() -> None:
    """Freeze the heap at exit, so the interpreter's final collection does not walk it (once per process)."""
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True
