"""A process that loaded the definitions ends without the collector's last walk over its heap.

Kind: unit (one short child process).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from orchestration.lib import settings

pytestmark = pytest.mark.unit

CHILD = textwrap.dedent(
    """
    import atexit, gc
    from orchestration.lib import process

    cycles = []
    for i in range(1000):  # objects in reference cycles, alive at exit
        node = {"i": i}
        node["self"] = node
        cycles.append(node)
    handlers = atexit._ncallbacks()
    process.skip_final_collection()
    process.skip_final_collection()  # once per process, however often the definitions load
    registered = atexit._ncallbacks() - handlers
    before = gc.get_freeze_count()
    atexit._run_exitfuncs()  # what the interpreter runs at exit, before its last collection
    print(registered, before, gc.get_freeze_count())
    """
)


def test_the_heap_is_frozen_at_exit_so_the_last_collection_skips_it() -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, cwd=settings.REPO_ROOT
    )
    registered, before, after = map(int, child.stdout.split())
    assert registered == 1
    assert before == 0  # nothing frozen while the process works: its garbage is still collected
    assert after > 1000  # at exit every object alive, the cycles among them, is out of the collector's reach


def test_loading_the_definitions_registers_it() -> None:
    import orchestration.definitions  # noqa: F401
    from orchestration.lib import process

    assert process._registered
