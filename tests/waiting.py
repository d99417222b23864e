"""Waiting for an event a test caused, never for a length of time.

`wait_until(condition, what)` polls `condition` until it returns something truthy and returns it.
Every wait in the suite is for something the test itself set in motion: a local server taking an
injected fault, a process reaching a point, a server finishing what it was doing, a stalled task
released. On a slow machine that only takes longer. The guard is no timing expectation: it turns a
broken build (an event that never comes) into a failure instead of a hung suite, and is far above
any machine's time for these events.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import requests

T = TypeVar("T")
GUARD_SECONDS = 600.0


def wait_until(
    condition: Callable[[], T],
    what: str,
    process: subprocess.Popen | None = None,
    guard_seconds: float = GUARD_SECONDS,
) -> T:
    """Poll `condition` until it holds; fail at once if `process` (whose work is awaited) died."""
    guard = time.monotonic() + guard_seconds
    while True:
        result = condition()
        if result:
            return result
        if process is not None and process.poll() is not None:
            stderr = process.stderr.read().decode()[-3000:] if process.stderr else ""
            raise AssertionError(f"the process ended (exit {process.returncode}) before {what}:\n{stderr}")
        if time.monotonic() > guard:
            raise AssertionError(f"{what}: still not the case after {guard_seconds:g} s (a hung build?)")
        time.sleep(0.05)


def activity(url: str) -> dict:
    """A local Anaplan server's requests in flight and import tasks not yet complete."""
    return requests.get(f"{url}/_admin/activity", timeout=30).json()


def wait_until_idle(url: str) -> None:
    """Until the local Anaplan server answers nothing and runs no task (held requests, released stalls)."""
    wait_until(lambda: activity(url) == {"in_flight": 0, "unfinished_tasks": 0}, "the server is idle")


def release_stalled_tasks(url: str) -> int:
    """End every `stall_task` fault of a local Anaplan server now; how many tasks it released."""
    response = requests.post(f"{url}/_admin/tasks/release", timeout=30)
    response.raise_for_status()
    return response.json()["released"]
