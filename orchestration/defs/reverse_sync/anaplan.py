"""The Anaplan Integration API v2, spoken once: the planning exports (INGEST_SOURCE=api) and the reverse sync.

`AnaplanResource` reads the model's connection from the six `ANAPLAN_*` variables (`anaplan_resource`);
its `client()` runs export actions (run the task, poll, download the file's chunks) and imports
(write a file in chunks, run the import, wait for the task, read the failure dump).

The failure dump is read as Anaplan documents it: the list of its chunks
(`GET .../imports/{importId}/tasks/{taskId}/dump/chunks`), then each chunk
(`.../dump/chunks/{chunkId}`), concatenated as bytes before decoding. It is a CSV whose first
column is `_Line_` (the rejected row's line in the import file), then `_Error_1_`, `_Error_2_`, ...
(one reason each), then the row's own columns as they were imported.

HTTP is `orchestration.lib.http`: retries (connection errors, timeouts, 408, 429, 5xx; capped
exponential backoff with jitter, or Retry-After), the token (authenticated, refreshed before it
expires, and on a 401 authenticated again and the call repeated once), call counts and redaction:
the password and the token only travel in headers, and no repr, log line or error message here
holds them. Other 4xx are not retried: the request itself is wrong.
"""

from __future__ import annotations

import csv
import io
import logging
import random as _random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import requests
from pydantic import Field

from orchestration.lib.http import AnaplanAuth, CallStats, ConnectorError, HttpSettings, Session, request_error

log = logging.getLogger(__name__)


class AnaplanResource(dg.ConfigurableResource):
    """An Anaplan model: the planning objects' exports are read from it, the forecast inputs imported into it."""

    api_url: str  # e.g. https://api.anaplan.com
    auth_url: str  # e.g. https://auth.anaplan.com
    workspace_id: str
    model_id: str
    username: str
    password: str = Field(repr=False)
    timeout_seconds: float = 30
    max_attempts: int = 6  # per request, the first included
    max_retry_delay_seconds: float = 30
    poll_interval_seconds: float = 0.5
    task_timeout_seconds: float = 600.0  # how long to wait for an import or export task before giving up

    def client(
        self,
        session: Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.time,
    ) -> AnaplanClient:
        """A client on `session` (the connectors' session of the run), or on its own session of these settings."""
        if session is None:
            http = HttpSettings(self.timeout_seconds, self.max_attempts, 0.5, self.max_retry_delay_seconds)
            session = Session(CallStats(), http, "Anaplan", sleep, random)
        return AnaplanClient(self, session, sleep, clock)


def anaplan_resource(**tuning: Any) -> AnaplanResource:
    """The model from the ANAPLAN_* environment; `tuning` for the other fields (tests shorten timeouts)."""
    return AnaplanResource(
        api_url=dg.EnvVar("ANAPLAN_API_URL"),
        auth_url=dg.EnvVar("ANAPLAN_AUTH_URL"),
        workspace_id=dg.EnvVar("ANAPLAN_WORKSPACE_ID"),
        model_id=dg.EnvVar("ANAPLAN_MODEL_ID"),
        username=dg.EnvVar("ANAPLAN_USERNAME"),
        password=dg.EnvVar("ANAPLAN_PASSWORD"),
        **tuning,
    )


ANAPLAN = anaplan_resource()  # one object, so every domain's Definitions can carry it (merge accepts the same one)


class AnaplanError(ConnectorError):
    """A call to Anaplan failed for good. The message names the call and the last status."""


LINE_COLUMN = "_Line_"
_ERROR_COLUMN = re.compile(r"_Error_(\d+)_")


@dataclass(frozen=True)
class RejectedRow:
    """One row of the failure dump: its line in the import file, its reasons, and its own values."""

    line: int | None
    errors: tuple[str, ...]
    values: dict[str, str]

    @property
    def reason(self) -> str:
        return "; ".join(self.errors) or "(the failure dump gives no reason)"


@dataclass
class ImportResult:
    """The outcome of one import task.

    `successful` is Anaplan's own flag: False as soon as any row was rejected, even though the
    other rows were imported. `rows_rejected` are the failure dump's rows; `details` are the task
    result's details, as Anaplan sent them.
    """

    task_id: str
    successful: bool
    rows_rejected: list[RejectedRow] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)


class AnaplanClient:
    """Anaplan calls under one model; `stats` (calls, retries, tokens) feed asset metadata. One per run."""

    def __init__(self, model: AnaplanResource, session: Session, sleep: Callable[[float], None], clock) -> None:
        self.session, self.stats, self._sleep = session, session.stats, sleep
        self.auth = AnaplanAuth(session, model.auth_url, model.username, model.password)
        self.auth.clock = clock
        self.base = f"{model.api_url.rstrip('/')}/2/0/workspaces/{model.workspace_id}/models/{model.model_id}"
        self.poll_interval, self.task_timeout = model.poll_interval_seconds, model.task_timeout_seconds

    def __repr__(self) -> str:
        return f"AnaplanClient(base={self.base!r}, calls={self.stats.calls}, retries={self.stats.retries})"

    # --- exports ------------------------------------------------------------------------------
    def exports(self) -> dict[str, str]:
        """The model's export actions: name (`Targets.csv`) -> id."""
        return {e["name"]: e["id"] for e in self._json("GET", "exports", "list exports", "exports")}

    def export_metadata(self, export_id: str) -> dict[str, Any]:
        return self._json("GET", f"exports/{export_id}", f"metadata of export {export_id}", "exportMetadata")

    def run_export(self, export_id: str) -> bytes:
        """Run the export action, wait for it, and download the file it wrote, chunk by chunk."""
        task_id = self.start_task("exports", export_id)
        result = self.wait_for_task("exports", export_id, task_id).get("result") or {}
        if not result.get("successful"):
            raise AnaplanError(f"Anaplan export {export_id} task {task_id} failed: {result}")
        return self._chunks(f"files/{export_id}/chunks", f"file of export {export_id}")

    # --- the import ---------------------------------------------------------------------------
    def import_csv(self, file_id: str, import_id: str, csv_bytes: bytes, chunk_size: int = 1_000_000) -> ImportResult:
        """Upload `csv_bytes` as the import's file, run the import, and wait for its result.

        Raises AnaplanError when a call fails for good, when the task does not complete within
        `task_timeout_seconds` (it may still complete on the server), or when the import failed
        as a whole (no failure dump: nothing, or an unknown part, was imported); AuthError when the
        auth service refuses the credentials.
        """
        self.upload_file(file_id, csv_bytes, chunk_size)
        task_id = self.start_task("imports", import_id)
        task = self.wait_for_task("imports", import_id, task_id)
        return self._import_result(import_id, task_id, task)

    def upload_file(self, file_id: str, content: bytes, chunk_size: int = 1_000_000) -> int:
        """Replace a file's content in chunks; returns the number of chunks.

        Each step is idempotent (the chunk count resets the upload, a chunk overwrites chunk n),
        so retrying any of them is safe.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        chunks = [content[i : i + chunk_size] for i in range(0, len(content), chunk_size)] or [b""]
        files = f"files/{file_id}"
        self._api("POST", files, f"start upload of file {file_id}", json={"chunkCount": len(chunks)})
        for n, chunk in enumerate(chunks):
            headers = {"Content-Type": "application/octet-stream"}
            self._api("PUT", f"{files}/chunks/{n}", f"upload chunk {n} of file {file_id}", data=chunk, headers=headers)
        self._api("POST", f"{files}/complete", f"complete upload of file {file_id}", json={"id": file_id})
        return len(chunks)

    def start_task(self, kind: str, action_id: str) -> str:
        """Start an import or export (`kind`: imports, exports) task; returns its task id.

        This POST is not idempotent: if a response is lost (timeout, 5xx after the server acted)
        the retry starts a second task. That is safe here: an export only writes its file again,
        and the import is an upsert, by the full key, of the same uploaded file, where an empty
        Value clears a cell, so running it twice leaves the same cells as running it once.
        """
        label = f"start {kind[:-1]} {action_id}"
        task_id = str(self._json("POST", f"{kind}/{action_id}/tasks", label, "task", "taskId", json=_LOCALE))
        log.info("Anaplan %s started as task %s", label[6:], task_id)
        return task_id

    def wait_for_task(self, kind: str, action_id: str, task_id: str) -> dict[str, Any]:
        """Poll the task until COMPLETE; returns the task object. Bounded by task_timeout_seconds."""
        label = f"{kind[:-1]} {action_id} task {task_id}"
        started, waited = time.monotonic(), 0.0
        while True:
            task = self._json("GET", f"{kind}/{action_id}/tasks/{task_id}", f"poll {label}", "task")
            state = task.get("taskState")
            if state == "COMPLETE":
                return task
            if state not in ("NOT_STARTED", "IN_PROGRESS"):
                raise AnaplanError(f"Anaplan {label} ended in state {state}")
            # an injected sleep returns at once, so count the intended waits as well as the clock
            if max(waited, time.monotonic() - started) >= self.task_timeout:
                raise AnaplanError(
                    f"Anaplan {label} still {state} after {self.task_timeout:g} s; it may "
                    "still complete on the server, and running it again is safe"
                )
            self._sleep(self.poll_interval)
            waited += self.poll_interval

    def failure_dump(self, import_id: str, task_id: str) -> list[RejectedRow]:
        """The rejected rows of a task, read chunk by chunk from its failure dump."""
        label = f"failure dump of import {import_id} task {task_id}"
        return parse_failure_dump(self._chunks(f"imports/{import_id}/tasks/{task_id}/dump/chunks", label), label)

    def _import_result(self, import_id: str, task_id: str, task: dict[str, Any]) -> ImportResult:
        result = task.get("result") or {}
        details = list(result.get("details") or [])
        successful = bool(result.get("successful"))
        if not successful and not result.get("failureDumpAvailable"):
            messages = "; ".join(str(d.get("localMessageText", "")) for d in details) or "no details"
            raise AnaplanError(self.auth.redact(f"Anaplan import {import_id} task {task_id} failed: {messages}"))
        rejected = self.failure_dump(import_id, task_id) if result.get("failureDumpAvailable") else []
        log.info("Anaplan import %s task %s complete: %d row(s) rejected", import_id, task_id, len(rejected))
        return ImportResult(task_id=task_id, successful=successful, rows_rejected=rejected, details=details)

    # --- HTTP ---------------------------------------------------------------------------------
    def _chunks(self, path: str, label: str) -> bytes:
        """A file listed in chunks (`{"chunks": [{"id": ...}, ...]}`), its chunks joined as bytes."""
        chunks = self._json("GET", path, f"list chunks of the {label}", "chunks")
        if not isinstance(chunks, list) or not all(isinstance(c, dict) and "id" in c for c in chunks):
            raise AnaplanError(f"Anaplan {label}: the chunk list is not a list of chunks with ids")
        return b"".join(
            self._api("GET", f"{path}/{c['id']}", f"chunk {c['id']} of the {label}").content for c in chunks
        )

    def _api(self, method: str, path: str, label: str, **kwargs: Any) -> requests.Response:
        """One call under the model: retried, re-authenticated once on a 401; a 2xx answer or AnaplanError."""
        what = f"Anaplan {label} ({method}) failed"
        try:
            response = self.session.request(method, f"{self.base}/{path}", **kwargs)
        except requests.RequestException as exc:
            raise request_error(what, exc, self.auth.redact, AnaplanError) from None
        if not response.ok:
            raise request_error(what, response, self.auth.redact, AnaplanError)
        return response

    def _json(self, method: str, path: str, label: str, *fields: str, **kwargs: Any) -> Any:
        """The answer's JSON object, or the value at `fields` in it."""
        response = self._api(method, path, label, **kwargs)
        try:
            value = response.json()
        except ValueError:
            raise AnaplanError(f"Anaplan {label}: response is not JSON (HTTP {response.status_code})") from None
        for name in fields:
            if not isinstance(value, dict) or name not in value:
                raise AnaplanError(f"Anaplan {label}: response has no {'.'.join(fields)}")
            value = value[name]
        return value


_LOCALE = {"localeName": "en_US"}


def parse_failure_dump(content: bytes, label: str = "failure dump") -> list[RejectedRow]:
    """Anaplan's failure dump (`_Line_`, `_Error_1_`, `_Error_2_`, ..., then the row's columns).

    Raises AnaplanError when the text is not UTF-8 CSV or has no `_Error_1_` column: a dump whose
    reasons cannot be read is an error, never rows rejected for no reason.
    """
    try:
        reader = csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""))
        header = next(reader, [])
        rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise AnaplanError(f"Anaplan {label} is not UTF-8 CSV: {exc}") from None
    errors = sorted(
        ((int(m[1]), i) for i, name in enumerate(header) if (m := _ERROR_COLUMN.fullmatch(name))),
    )
    if not errors or errors[0][0] != 1:
        shown = ", ".join(header[:8]) or "(empty)"
        raise AnaplanError(f"Anaplan {label} has no _Error_1_ column (header: {shown})")
    line_at = header.index(LINE_COLUMN) if LINE_COLUMN in header else None
    special = {i for _, i in errors} | ({line_at} if line_at is not None else set())
    data = [(i, name) for i, name in enumerate(header) if i not in special]
    rejected = []
    for number, row in enumerate(rows, start=2):
        if not any(row):
            continue
        if len(row) != len(header):
            raise AnaplanError(f"Anaplan {label}: line {number} has {len(row)} fields, the header {len(header)}")
        line = row[line_at].strip() if line_at is not None else ""
        rejected.append(
            RejectedRow(
                line=int(line) if line.isdigit() else None,
                errors=tuple(row[i] for _, i in errors if row[i].strip()),
                values={name: row[i] for i, name in data},
            )
        )
    return rejected
