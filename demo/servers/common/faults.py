"""Failure injection for the local servers: what a test can make the next requests do.

A fault is a JSON object with `match` (a regex searched in "METHOD /path", e.g.
"PUT .*/chunks/1$"), `times` (how many requests it affects, default 1) and exactly one effect:

- `{"status": 429, "retry_after": 2}` answer with that status (any 4xx/5xx; `retry_after` sets
  the Retry-After header in seconds) instead of handling the request; optional `code` and
  `message` are the vendor error code and text the server's error body carries (e.g.
  `{"status": 403, "code": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}`;
  default `INJECTED_FAULT` / `injected fault`);
- `{"delay": 1.5}` wait that long, then handle the request normally: a slow server still does
  the work, so a client that timed out must not assume the request was not carried out;
- `{"hang": 30}` answer nothing until the client hangs up (its timeout), at most that long, then
  handle the request normally (the answer goes nowhere): a timeout, whatever the machine's speed;
- `{"expire_tokens": true}` every access token issued so far expires just before this request is
  handled (a session that times out mid-run, whatever the machine's speed): it answers 401 and the
  client must renew its token and send the request again;
- `{"stall_task": 3}` (import task starts only) the task stays IN_PROGRESS that long, or until
  `POST /_admin/tasks/release` (so a test, not the clock, decides when it completes);
- `{"reject": {"column": "Practice", "equals": "X"}}` (import task starts only) rows whose
  column equals the value are rejected into the failure dump.

Each request consumes at most one fault: the first in the list whose regex matches, that applies
to that kind of request, and whose `times` is not used up. So a list is a script, in order.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

_EFFECTS = ("status", "delay", "hang", "expire_tokens", "stall_task", "reject")
_TASK_ONLY = ("stall_task", "reject")


class FaultError(ValueError):
    """A fault definition the server cannot use; reported to the caller as HTTP 400."""


@dataclass
class Fault:
    """One parsed fault; `remaining` counts down as requests consume it."""

    match: re.Pattern[str]
    remaining: int
    effect: str
    status: int = 0
    retry_after: float | None = None
    seconds: float = 0.0
    reject_column: str = ""
    reject_equals: str = ""
    code: str = ""  # status faults: the vendor error code and message of the error body
    message: str = ""

    def describe(self) -> dict[str, Any]:
        return {"match": self.match.pattern, "remaining": self.remaining, "effect": self.effect}


def parse_fault(spec: Any) -> Fault:
    """Validate one fault object (see the module docstring)."""
    if not isinstance(spec, dict):
        raise FaultError("each fault must be a JSON object")
    effects = [e for e in _EFFECTS if e in spec]
    if len(effects) != 1:
        raise FaultError(f"a fault needs exactly one of {', '.join(_EFFECTS)}")
    try:
        fault = Fault(
            match=re.compile(str(spec.get("match", ""))), remaining=int(spec.get("times", 1)), effect=effects[0]
        )
    except re.error as exc:
        raise FaultError(f"bad match regex: {exc}") from exc
    if fault.remaining < 1:
        raise FaultError("times must be at least 1")
    _set_effect(fault, spec)
    return fault


def _set_effect(fault: Fault, spec: dict[str, Any]) -> None:
    if fault.effect == "status":
        fault.status = int(spec["status"])
        if not 400 <= fault.status <= 599:
            raise FaultError("status must be a 4xx or 5xx code")
        fault.retry_after = float(spec["retry_after"]) if "retry_after" in spec else None
        fault.code, fault.message = str(spec.get("code", "")), str(spec.get("message", ""))
    elif fault.effect == "expire_tokens":
        if spec["expire_tokens"] is not True:
            raise FaultError("expire_tokens must be true")
    elif fault.effect == "reject":
        reject = spec["reject"]
        if not isinstance(reject, dict) or not {"column", "equals"} <= reject.keys():
            raise FaultError('reject needs {"column": ..., "equals": ...}')
        fault.reject_column, fault.reject_equals = str(reject["column"]), str(reject["equals"])
    else:
        fault.seconds = float(spec[fault.effect])
        if fault.seconds < 0:
            raise FaultError(f"{fault.effect} must be >= 0 seconds")


class FaultPlan:
    """The faults in force, shared by the request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def replace(self, specs: Any) -> int:
        if not isinstance(specs, list):
            raise FaultError("the body must be a JSON list of faults")
        faults = [parse_fault(spec) for spec in specs]
        with self._lock:
            self._faults = faults
        return len(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults = []

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults]

    def take(self, request_line: str, starts_task: bool) -> Fault | None:
        """Consume and return the fault for this request, if any."""
        with self._lock:
            for fault in self._faults:
                applies = starts_task or fault.effect not in _TASK_ONLY
                if fault.remaining > 0 and applies and fault.match.search(request_line):
                    fault.remaining -= 1
                    return fault
        return None
