"""A client for the subset of the Anaplan Integration API v2 the reverse sync uses: write a file
in chunks, run an import on it, wait for the task, and read the failure dump.

The failure dump is read as Anaplan documents it: the list of its chunks
(`GET .../imports/{importId}/tasks/{taskId}/dump/chunks`), then each chunk
(`.../dump/chunks/{chunkId}`), concatenated as bytes before decoding. It is a CSV whose first
column is `_Line_` (the rejected row's line in the import file), then `_Error_1_`, `_Error_2_`, ...
(one reason each), then the row's own columns as they were imported.

Secrets: the password and the token only ever travel in request headers. They are not logged,
not in any exception message (server text quoted in a message is scrubbed of both), and the
`__repr__`s here redact them, so a Dagster log, run metadata or a traceback cannot leak them.

Retries: every HTTP call is retried on connection errors, timeouts, 429 and 5xx, at most
`max_retries` times, with capped exponential backoff and full jitter, or after Retry-After when
the server sends one. Other 4xx are not retried: the request itself is wrong. A 401 on an API
call re-authenticates once and repeats the call. The client is not thread-safe: one per sync.
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
from email.utils import parsedate_to_datetime
from typing import Any

import requests

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_SECONDS = 600.0  # a server asking for longer than this is treated as asking for this
_REDACTED = "***"


@dataclass
class AnaplanSettings:
    """Where and as whom to connect, and how patient to be. `password` is redacted in repr."""

    api_url: str  # e.g. https://api.anaplan.com
    auth_url: str  # e.g. https://auth.anaplan.com
    workspace_id: str
    model_id: str
    username: str
    password: str
    timeout_seconds: float = 30
    max_retries: int = 5
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30
    poll_interval_seconds: float = 0.5
    task_timeout_seconds: float = 600
    token_refresh_margin_seconds: float = 300  # refresh this long before expiry (tokens live 35 min)

    def __repr__(self) -> str:
        return (
            f"AnaplanSettings(api_url={self.api_url!r}, auth_url={self.auth_url!r}, "
            f"workspace_id={self.workspace_id!r}, model_id={self.model_id!r}, username={self.username!r}, "
            f"password={_REDACTED!r})"
        )


class AnaplanError(Exception):
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


@dataclass
class _Token:
    value: str
    expires_at: float  # epoch seconds, from the auth service's expiresAt (epoch ms)

    def __repr__(self) -> str:
        return f"_Token(value={_REDACTED!r}, expires_at={self.expires_at})"


@dataclass
class _Failure:
    """Why one attempt failed, in words safe to log: a status (None: no response) and a short text."""

    status: int | None
    text: str
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status in (408, 429) or self.status >= 500


class AnaplanClient:
    """Anaplan calls with token handling and retries; `calls` and `retries` feed asset metadata."""

    def __init__(
        self,
        settings: AnaplanSettings,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._random = random
        self._session = requests.Session()
        self._token: _Token | None = None
        self.calls = 0  # HTTP requests sent, token requests included
        self.retries = 0  # of those, repeats of a failed attempt

    def __repr__(self) -> str:
        token = "set" if self._token else "none"
        return f"AnaplanClient(settings={self.settings!r}, token={token}, calls={self.calls}, retries={self.retries})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> AnaplanClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- the import ---------------------------------------------------------------------------
    def import_csv(self, file_id: str, import_id: str, csv_bytes: bytes, chunk_size: int = 1_000_000) -> ImportResult:
        """Upload `csv_bytes` as the import's file, run the import, and wait for its result.

        Raises AnaplanError when a call fails for good, when the task does not complete within
        `task_timeout_seconds` (it may still complete on the server), or when the import failed
        as a whole (no failure dump: nothing, or an unknown part, was imported).
        """
        self.upload_file(file_id, csv_bytes, chunk_size)
        task_id = self.start_import(import_id)
        task = self.wait_for_task(import_id, task_id)
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

    def start_import(self, import_id: str) -> str:
        """Start the import task; returns its task id.

        This POST is not idempotent: if a response is lost (timeout, 5xx after the server acted)
        the retry starts a second task. That is safe here because the import is an upsert, by the
        full key, of the same uploaded file, where an empty Value clears a cell: running it twice
        leaves the same cells as running it once.
        """
        response = self._api("POST", f"imports/{import_id}/tasks", f"start import {import_id}", json=_LOCALE)
        task_id = _field(_json(response, f"start import {import_id}"), "task", "taskId")
        log.info("Anaplan import %s started as task %s", import_id, task_id)
        return str(task_id)

    def wait_for_task(self, import_id: str, task_id: str) -> dict[str, Any]:
        """Poll the task until COMPLETE; returns the task object. Bounded by task_timeout_seconds."""
        label = f"import {import_id} task {task_id}"
        started, waited = time.monotonic(), 0.0
        while True:
            response = self._api("GET", f"imports/{import_id}/tasks/{task_id}", f"poll {label}")
            task = _field(_json(response, f"poll {label}"), "task")
            state = task.get("taskState")
            if state == "COMPLETE":
                return task
            if state not in ("NOT_STARTED", "IN_PROGRESS"):
                raise AnaplanError(f"Anaplan {label} ended in state {state}")
            # an injected sleep returns at once, so count the intended waits as well as the clock
            if max(waited, time.monotonic() - started) >= self.settings.task_timeout_seconds:
                raise AnaplanError(
                    f"Anaplan {label} still {state} after {self.settings.task_timeout_seconds:g} s; it may "
                    "still complete on the server, and running the import again is safe"
                )
            self._sleep(self.settings.poll_interval_seconds)
            waited += self.settings.poll_interval_seconds

    def failure_dump(self, import_id: str, task_id: str) -> list[RejectedRow]:
        """The rejected rows of a task, read chunk by chunk from its failure dump."""
        label = f"failure dump of import {import_id} task {task_id}"
        path = f"imports/{import_id}/tasks/{task_id}/dump/chunks"
        chunks = _field(_json(self._api("GET", path, f"list chunks of the {label}"), label), "chunks")
        if not isinstance(chunks, list) or not all(isinstance(c, dict) and "id" in c for c in chunks):
            raise AnaplanError(f"Anaplan {label}: the chunk list is not a list of chunks with ids")
        content = b"".join(
            self._api("GET", f"{path}/{chunk['id']}", f"chunk {chunk['id']} of the {label}").content for chunk in chunks
        )
        return parse_failure_dump(content, label)

    def _import_result(self, import_id: str, task_id: str, task: dict[str, Any]) -> ImportResult:
        result = task.get("result") or {}
        details = list(result.get("details") or [])
        successful = bool(result.get("successful"))
        if not successful and not result.get("failureDumpAvailable"):
            messages = "; ".join(self._scrub(str(d.get("localMessageText", ""))) for d in details) or "no details"
            raise AnaplanError(f"Anaplan import {import_id} task {task_id} failed: {messages}")
        rejected = self.failure_dump(import_id, task_id) if result.get("failureDumpAvailable") else []
        log.info("Anaplan import %s task %s complete: %d row(s) rejected", import_id, task_id, len(rejected))
        return ImportResult(task_id=task_id, successful=successful, rows_rejected=rejected, details=details)

    # --- tokens -------------------------------------------------------------------------------
    def _auth_header(self) -> dict[str, str]:
        """A header with a token valid for a while yet: authenticate or refresh when needed."""
        if self._token is None:
            self._token = self._authenticate()
        elif time.time() >= self._token.expires_at - self.settings.token_refresh_margin_seconds:
            self._token = self._refresh(self._token) or self._authenticate()
        return {"Authorization": f"AnaplanAuthToken {self._token.value}"}

    def _authenticate(self) -> _Token:
        auth = (self.settings.username, self.settings.password)
        response = self._call("POST", self._auth_path("authenticate"), "authenticate", auth=auth)
        return self._parse_token(response, "authenticate")

    def _refresh(self, token: _Token) -> _Token | None:
        """A renewed token, or None when the old one was already refused (then authenticate)."""
        headers = {"Authorization": f"AnaplanAuthToken {token.value}"}
        response = self._call("POST", self._auth_path("refresh"), "refresh token", headers=headers, passthrough=(401,))
        return None if response.status_code == 401 else self._parse_token(response, "refresh token")

    def _parse_token(self, response: requests.Response, label: str) -> _Token:
        info = _field(_json(response, label), "tokenInfo")
        try:
            return _Token(value=str(info["tokenValue"]), expires_at=float(info["expiresAt"]) / 1000)
        except (KeyError, TypeError, ValueError):
            raise AnaplanError(f"Anaplan {label}: response has no usable tokenInfo") from None

    def _auth_path(self, action: str) -> str:
        return f"{self.settings.auth_url.rstrip('/')}/token/{action}"

    # --- HTTP with retries --------------------------------------------------------------------
    def _api(self, method: str, path: str, label: str, **kwargs: Any) -> requests.Response:
        """An Integration API call under the model; a 401 re-authenticates once and repeats it."""
        s = self.settings
        url = f"{s.api_url.rstrip('/')}/2/0/workspaces/{s.workspace_id}/models/{s.model_id}/{path}"
        headers = kwargs.pop("headers", {})
        response = self._call(method, url, label, headers=headers | self._auth_header(), passthrough=(401,), **kwargs)
        if response.status_code == 401:
            log.warning("Anaplan %s: HTTP 401, authenticating again", label)
            self._token = None
            self.retries += 1
            response = self._call(method, url, label, headers=headers | self._auth_header(), **kwargs)
        return response

    def _call(
        self, method: str, url: str, label: str, passthrough: tuple[int, ...] = (), **kwargs: Any
    ) -> requests.Response:
        """One call, retried on transient failures; returns a 2xx (or passthrough) response."""
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            response, failure = self._attempt(method, url, label, **kwargs)
            if response is not None and (response.ok or response.status_code in passthrough):
                return response
            assert failure is not None
            if not failure.retryable or attempt + 1 == attempts:
                tries = f" after {attempt + 1} attempts" if attempt else ""
                raise AnaplanError(f"Anaplan {label} ({method}) failed: {failure.text}{tries}")
            delay = self._backoff(attempt, failure)
            log.warning(
                "Anaplan %s: %s; retry %d of %d in %.2f s", label, failure.text, attempt + 1, attempts - 1, delay
            )
            self.retries += 1
            self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    def _attempt(
        self, method: str, url: str, label: str, **kwargs: Any
    ) -> tuple[requests.Response | None, _Failure | None]:
        self.calls += 1
        try:
            response = self._session.request(method, url, timeout=self.settings.timeout_seconds, **kwargs)
        except requests.Timeout:
            return None, _Failure(None, f"no response within {self.settings.timeout_seconds:g} s")
        except requests.RequestException as exc:
            # the exception text names host and path only, but scrub it anyway and do not chain it
            return None, _Failure(None, f"{type(exc).__name__}: {self._scrub(str(exc))[:300]}")
        if response.ok:
            return response, None
        text = f"HTTP {response.status_code}{self._server_message(response)}"
        return response, _Failure(response.status_code, text, _retry_after(response))

    def _backoff(self, attempt: int, failure: _Failure) -> float:
        """Retry-After when the server sent one, else full jitter over a capped exponential."""
        if failure.retry_after is not None:
            return min(failure.retry_after, MAX_RETRY_AFTER_SECONDS)
        s = self.settings
        return self._random() * min(s.backoff_max_seconds, s.backoff_base_seconds * 2**attempt)

    def _server_message(self, response: requests.Response) -> str:
        """The server's own error message, short and scrubbed, for the exception text."""
        try:
            payload = response.json()
        except ValueError:
            return ""
        if not isinstance(payload, dict):
            return ""
        status = payload.get("status")  # the API nests it; the auth service uses statusMessage
        message = status.get("message") if isinstance(status, dict) else payload.get("statusMessage")
        return f": {self._scrub(str(message))[:200]}" if message else ""

    def _scrub(self, text: str) -> str:
        for secret in (self.settings.password, self._token.value if self._token else ""):
            if secret:
                text = text.replace(secret, _REDACTED)
        return text


_LOCALE = {"localeName": "en_US"}


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), on 429 and 503 only."""
    value = response.headers.get("Retry-After")
    if response.status_code not in (429, 503) or not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


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


def _json(response: requests.Response, label: str) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        raise AnaplanError(f"Anaplan {label}: response is not JSON (HTTP {response.status_code})") from None
    if not isinstance(payload, dict):
        raise AnaplanError(f"Anaplan {label}: response is not a JSON object")
    return payload


def _field(payload: dict[str, Any], *path: str) -> Any:
    value: Any = payload
    for name in path:
        if not isinstance(value, dict) or name not in value:
            raise AnaplanError(f"Anaplan response has no {'.'.join(path)}")
        value = value[name]
    return value
