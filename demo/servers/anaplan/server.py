"""A local server speaking the Anaplan Integration API v2 subset the reverse sync uses.

Anaplan endpoints (same shapes as Anaplan; the auth service and the API share one base URL here):

- `POST /token/authenticate` (HTTP Basic) and `POST /token/refresh` (`AnaplanAuthToken`): a token
  that expires after `token_ttl_seconds`; a refresh retires the old token.
- under `/2/0/workspaces/{ws}/models/{model}`, with `Authorization: AnaplanAuthToken <token>`:
  `POST /files/{id}`, `PUT /files/{id}/chunks/{n}`, `POST /files/{id}/complete`,
  `POST /imports/{id}/tasks`, `GET /imports/{id}/tasks/{taskId}`, and a task's failure dump:
  `GET .../tasks/{taskId}/dump` (whole) or, as Anaplan recommends, `GET .../tasks/{taskId}/dump/chunks`
  (`{"meta": {"paging": ...}, "status": ..., "chunks": [{"id": "0", "name": "Chunk 0"}, ...]}`) and
  `GET .../tasks/{taskId}/dump/chunks/{chunkId}` (the bytes, `dump_chunk_bytes` a chunk; Anaplan's are
  at most 10 MB, and a chunk may end mid-row or mid-character).

Exports (the planning connector reads the demo firm's plan versions and targets this way), same base:
`GET /exports` (`{"exports": [{"id", "name": "Plan_Versions.csv", ...}]}`), `GET /exports/{id}`
(`exportMetadata`: `headerNames`, `dataTypes`, `rowCount`, ...), `POST /exports/{id}/tasks`
(`{"localeName": "en_US"}`), `GET /exports/{id}/tasks/{taskId}` (COMPLETE with `result`), then the
file it wrote: `GET /files/{id}/chunks` (`{"chunks": [{"id": "0", "name": "Chunk 0"}, ...]}`) and
`GET /files/{id}/chunks/{n}` (the bytes, `export_chunk_bytes` a chunk). The exported data are the
landing files' Plan_Versions and Targets given as `landing_dir`.

Import tasks run in a background worker, one at a time in start order, and each applies its
file (as it was when the task started) in one transaction; see `module.py` for the semantics.
The failure dump has Anaplan's layout: `_Line_` (the rejected row's line in the import file, the
header being line 1), `_Error_1_`, `_Error_2_`, ... (one reason each, as many columns as the row
with most reasons needs), then the row's own columns as uploaded.

Local, non-Anaplan endpoints (no authentication; the server binds to 127.0.0.1 only):

- `GET /_local/cells`: `{"cells": [...]}`, the stored cells, as `read_cells` returns them;
- `GET /_local/imports`: `{"imports": [...]}`, one row per applied import with change counts;
- `GET /_local/health`: `{"status": "ok"}`;
- `POST /_admin/faults` (a JSON list, see `faults.py`) replaces the faults in force,
  `GET /_admin/faults` lists them with what is left, `DELETE /_admin/faults` clears them;
- `GET /_admin/requests`: `{"requests": {"METHOD /path": count}}` of every request except the
  `/_admin` ones, counted on arrival (also the ones a fault answered), so tests can see retries;
- `GET /_admin/activity`: `{"in_flight": n, "unfinished_tasks": m}`: requests still being answered
  (e.g. held by a `delay` fault) and import tasks not yet COMPLETE, so a test can wait until the
  server is idle instead of sleeping;
- `POST /_admin/tasks/release` ends every `stall_task` fault now (tasks stalled or still queued):
  `{"released": n}`; a test stalls a task "forever" and decides itself when it completes;
- `POST /_admin/tokens/expire` expires every token; `POST /_admin/records/update|delete` and
  `POST /_admin/fields` change the exported data, as on the other local servers
  (`demo.servers.common.base`); a deleted row is simply no longer exported.
"""

from __future__ import annotations

import base64
import hmac
import json
import queue
import re
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo.servers.anaplan import module
from demo.servers.anaplan.faults import Fault, FaultPlan
from demo.servers.common.base import HttpError, JsonResponses, QuietServer, Tokens, apply_change
from demo.servers.common.base import RunningServer as BaseRunningServer
from demo.servers.common.store import DemoStore, StoreError

HOST = "127.0.0.1"  # never another interface: the admin endpoints have no authentication
_API = re.compile(r"/2/0/workspaces/(?P<ws>[^/]+)/models/(?P<model>[^/]+)(?P<rest>/.*)")
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"/files/(?P<file>[^/]+)"), "start_upload"),
    ("PUT", re.compile(r"/files/(?P<file>[^/]+)/chunks/(?P<n>\d+)"), "put_chunk"),
    ("POST", re.compile(r"/files/(?P<file>[^/]+)/complete"), "complete_upload"),
    ("POST", re.compile(r"/imports/(?P<imp>[^/]+)/tasks"), "start_task"),
    ("GET", re.compile(r"/imports/(?P<imp>[^/]+)/tasks/(?P<task>[^/]+)"), "task_status"),
    ("GET", re.compile(r"/imports/(?P<imp>[^/]+)/tasks/(?P<task>[^/]+)/dump"), "task_dump"),
    ("GET", re.compile(r"/imports/(?P<imp>[^/]+)/tasks/(?P<task>[^/]+)/dump/chunks"), "dump_chunks"),
    ("GET", re.compile(r"/imports/(?P<imp>[^/]+)/tasks/(?P<task>[^/]+)/dump/chunks/(?P<n>\d+)"), "dump_chunk"),
    ("GET", re.compile(r"/exports"), "list_exports"),
    ("GET", re.compile(r"/exports/(?P<exp>[^/]+)"), "export_metadata"),
    ("POST", re.compile(r"/exports/(?P<exp>[^/]+)/tasks"), "start_export"),
    ("GET", re.compile(r"/exports/(?P<exp>[^/]+)/tasks/(?P<task>[^/]+)"), "export_status"),
    ("GET", re.compile(r"/files/(?P<file>[^/]+)/chunks"), "list_chunks"),
    ("GET", re.compile(r"/files/(?P<file>[^/]+)/chunks/(?P<n>\d+)"), "get_chunk"),
]
# Export ids as Anaplan numbers them (116 = export actions); each exports one landing-contract object.
EXPORTS = {"116000000001": "Plan_Versions", "116000000002": "Targets"}
_ANAPLAN_TYPES = {"BOOLEAN": "BOOLEAN", "DATE": "DATE", "INTEGER": "NUMBER"}
_TASK_START = re.compile(r"POST /2/0/workspaces/[^/]+/models/[^/]+/imports/[^/]+/tasks")


@dataclass
class ServerConfig:
    db_path: Path
    workspace_id: str
    model_id: str
    file_id: str
    import_id: str
    username: str
    password: str
    token_ttl_seconds: float
    token_prefix: str = ""  # lets a test plant a canary in every token
    landing_dir: Path | None = None  # the demo firm's planning exports
    export_chunk_bytes: int = 1_000_000
    dump_chunk_bytes: int = 10_000_000  # Anaplan: failure dump chunks of 10 MB or less


@dataclass
class Upload:
    chunk_count: int
    chunks: dict[int, bytes] = field(default_factory=dict)
    complete: bool = False


@dataclass
class Task:
    task_id: str
    content: bytes
    stall_seconds: float = 0.0
    released: threading.Event = field(default_factory=threading.Event)  # ends the stall early
    reject: tuple[str, str] | None = None
    state: str = "NOT_STARTED"
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    result: dict[str, Any] | None = None
    dump: str | None = None


class AnaplanState:
    """Everything the request threads share, behind one lock, plus the import worker."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.faults = FaultPlan()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.in_flight = 0  # Integration API requests being answered now
        self.tokens = Tokens()
        self.uploads: dict[str, Upload] = {}
        self.tasks: dict[str, Task] = {}
        self.queue: queue.Queue[Task] = queue.Queue()
        self.store = DemoStore(("planning",), config.landing_dir, "%Y-%m-%dT%H:%M:%S")
        self.export_files: dict[str, bytes] = {}  # export id -> what its last task wrote
        self.export_tasks: dict[str, str] = {}  # task id -> export id
        module.create_store(config.db_path)
        self.worker = threading.Thread(target=self._run_tasks, name="anaplan-import-worker", daemon=True)
        self.worker.start()

    # --- tokens -----------------------------------------------------------------------------
    def issue_token(self) -> dict[str, Any]:
        value, expires_at = self.tokens.issue(self.config.token_prefix, self.config.token_ttl_seconds)
        return {
            "expiresAt": int(expires_at * 1000),
            "tokenId": str(uuid.uuid4()),
            "tokenValue": value,
            "refreshTokenId": str(uuid.uuid4()),
        }

    def token_valid(self, value: str) -> bool:
        return self.tokens.valid(value)

    def expire_tokens(self) -> int:
        return self.tokens.expire_all()

    def export_csv(self, export_id: str) -> bytes:
        """The export's data as Anaplan writes it: CSV with a header row, written by DuckDB."""
        state = self.store.state(EXPORTS[export_id])
        columns = ", ".join(f'"{f}"' for f in state.fields)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "export.csv"
            self.store.query(
                f"copy (select {columns} from {state.table} order by _seq) to '{path}' (header, delimiter ',')"
            )
            return path.read_bytes()

    def retire_token(self, value: str) -> None:
        self.tokens.retire(value)

    def credentials_ok(self, username: str, password: str) -> bool:
        # compare_digest on both, so the timing says nothing about which one was wrong
        user_ok = hmac.compare_digest(username.encode(), self.config.username.encode())
        return hmac.compare_digest(password.encode(), self.config.password.encode()) and user_ok

    # --- import tasks -----------------------------------------------------------------------
    def start_task(self, content: bytes, fault: Fault | None) -> Task:
        task = Task(task_id=uuid.uuid4().hex.upper(), content=content)
        if fault is not None and fault.effect == "stall_task":
            task.stall_seconds = fault.seconds
        if fault is not None and fault.effect == "reject":
            task.reject = (fault.reject_column, fault.reject_equals)
        with self.lock:
            self.tasks[task.task_id] = task
        self.queue.put(task)
        return task

    def release_tasks(self) -> int:
        """End every stall now (`/_admin/tasks/release`): the stalled task is applied next."""
        with self.lock:
            stalled = [t for t in self.tasks.values() if t.stall_seconds and t.state != "COMPLETE"]
        for task in stalled:
            task.released.set()
        return len(stalled)

    def _run_tasks(self) -> None:
        while not self.stopping.is_set():
            try:
                task = self.queue.get(timeout=0.05)
            except queue.Empty:
                continue
            task.state = "IN_PROGRESS"
            stalled_until = time.monotonic() + task.stall_seconds
            while not task.released.is_set() and not self.stopping.is_set() and time.monotonic() < stalled_until:
                task.released.wait(min(0.05, task.stall_seconds))
            if self.stopping.is_set():
                return  # stopped while stalled: the import is never applied, like a killed server
            self._apply(task)

    def _apply(self, task: Task) -> None:
        plan = module.plan_import(task.content, _reject_filter(task.reject))
        counts = module.apply_import(self.config.db_path, task.task_id, plan) if plan.error is None else {}
        task.dump = module.dump_csv(plan.rejected) if plan.rejected else None
        task.result = _task_result(self.config.import_id, plan, counts)
        task.state = "COMPLETE"  # set last: a poller that sees COMPLETE finds the result and dump


def _reject_filter(reject: tuple[str, str] | None) -> module.RowFilter | None:
    """The injected `reject` fault as a row filter for `plan_import`."""
    if reject is None:
        return None
    column, equals = reject
    return lambda row: f"rejected by injected fault: {column} = {equals}" if row.get(column) == equals else None


def _task_result(import_id: str, plan: module.ImportPlan, counts: dict[str, int]) -> dict[str, Any]:
    if plan.error is not None:
        details = [{"localMessageText": plan.error, "type": "importFailed", "occurrences": 0, "values": []}]
        return {"successful": False, "failureDumpAvailable": False, "objectId": import_id, "details": details}
    failed = len(plan.rejected)
    summary = {"rows": plan.rows, "successful": plan.rows - failed, "failed": failed, **counts}
    text = f"{import_id}: {plan.rows - failed} rows successful, {failed} failed, 0 ignored"
    details = [
        {
            "localMessageText": text,
            "type": "rowsProcessed",
            "occurrences": 0,
            "values": [f"{k}:{v}" for k, v in summary.items()],
        }
    ]
    return {"successful": failed == 0, "failureDumpAvailable": failed > 0, "objectId": import_id, "details": details}


class Handler(JsonResponses):
    """One request: count it, apply a fault if one matches, then route it."""

    server_version = "LocalAnaplan/1.0"
    state: AnaplanState  # set on the subclass start_server builds

    def _handle(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self._read_body()  # always read, so a keep-alive connection stays in step
        try:
            if path.startswith("/_admin/"):
                self._admin(path, body)
            else:
                self._anaplan(path, body)
        except HttpError as exc:
            self.send_json(exc.status, {"status": {"code": exc.status, "message": str(exc)}})

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _anaplan(self, path: str, body: bytes) -> None:
        request_line = f"{self.command} {path}"
        with self.state.lock:
            self.state.requests[request_line] += 1
            self.state.in_flight += 1
        try:
            self._answer(request_line, path, body)
        finally:
            with self.state.lock:
                self.state.in_flight -= 1

    def _answer(self, request_line: str, path: str, body: bytes) -> None:
        fault = self.state.faults.take(request_line, starts_task=bool(_TASK_START.fullmatch(request_line)))
        self.hold(fault, self.state.stopping)
        if fault is not None and fault.effect == "status":
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            self.send_json(fault.status, {"status": {"code": fault.status, "message": "injected fault"}}, headers)
            return
        self._route(path, body, fault)

    def _route(self, path: str, body: bytes, fault: Fault | None) -> None:
        if path.startswith("/_local/") and self.command == "GET":
            self._local(path)
        elif path == "/token/authenticate" and self.command == "POST":
            self._authenticate()
        elif path == "/token/refresh" and self.command == "POST":
            self._refresh()
        elif api := _API.fullmatch(path):
            self._api(api, body, fault)
        else:
            raise HttpError(404, "not found")

    # --- auth service -------------------------------------------------------------------------
    def _authenticate(self) -> None:
        username, password = _basic_credentials(self.headers.get("Authorization", ""))
        if not self.state.credentials_ok(username, password):
            self.send_json(401, {"status": "FAILURE_BAD_CREDENTIAL", "statusMessage": "Bad credentials"})
            return
        self._send_token(201)

    def _refresh(self) -> None:
        token = self._token()
        if not self.state.token_valid(token):
            self.send_json(401, {"status": "FAILURE_BAD_TOKEN", "statusMessage": "Token is invalid or expired"})
            return
        self.state.retire_token(token)
        self._send_token(201)

    def _send_token(self, status: int) -> None:
        info = self.state.issue_token()
        self.send_json(status, {"status": "SUCCESS", "statusMessage": "Login successful", "tokenInfo": info})

    def _token(self) -> str:
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        return value.strip() if scheme == "AnaplanAuthToken" else ""

    # --- Integration API ----------------------------------------------------------------------
    def _api(self, api: re.Match[str], body: bytes, fault: Fault | None) -> None:
        if not self.state.token_valid(self._token()):
            raise HttpError(401, "Token is invalid or expired")
        config = self.state.config
        if (api["ws"], api["model"]) != (config.workspace_id, config.model_id):
            raise HttpError(404, "workspace or model not found")
        for method, pattern, name in _ROUTES:
            if method == self.command and (route := pattern.fullmatch(api["rest"])):
                getattr(self, f"_{name}")(route, body, fault)
                return
        raise HttpError(404, "not found")

    def _start_upload(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        file_id = self._known_file(route)
        chunk_count = _json(body).get("chunkCount")
        if not isinstance(chunk_count, int) or chunk_count < 1:
            raise HttpError(400, "chunkCount must be a positive integer")
        with self.state.lock:
            self.state.uploads[file_id] = Upload(chunk_count)  # a new upload replaces any earlier one
        self.send_json(200, {"status": _OK, "file": {"id": file_id, "chunkCount": chunk_count}})

    def _put_chunk(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        upload = self._upload(self._known_file(route))
        n = int(route["n"])
        if n >= upload.chunk_count:
            raise HttpError(400, f"chunk {n} is beyond chunkCount {upload.chunk_count}")
        with self.state.lock:
            upload.chunks[n] = body
        self.send_body(204, b"", "")

    def _complete_upload(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        file_id = self._known_file(route)
        upload = self._upload(file_id)
        with self.state.lock:
            missing = sorted(set(range(upload.chunk_count)) - upload.chunks.keys())
            upload.complete = not missing
        if missing:
            raise HttpError(400, f"chunk(s) {missing} not uploaded")
        self.send_json(200, {"status": _OK, "file": {"id": file_id, "chunkCount": upload.chunk_count}})

    def _start_task(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        self._known_import(route)
        with self.state.lock:  # the file as it is now: a later upload does not change this task
            upload = self.state.uploads.get(self.state.config.file_id)
            if upload is None or not upload.complete:
                raise HttpError(400, "the import's file has no completed upload")
            content = b"".join(upload.chunks[n] for n in range(upload.chunk_count))
        task = self.state.start_task(content, fault)
        self.send_json(200, {"status": _OK, "task": {"taskId": task.task_id, "taskState": task.state}})

    def _task_status(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        task = self._task(route)
        info: dict[str, Any] = {"type": "taskInformation", "taskId": task.task_id, "taskState": task.state}
        info |= {"creationTime": task.created_ms, "currentStep": _STEPS[task.state]}
        info["progress"] = 1.0 if task.state == "COMPLETE" else 0.0
        if task.state == "COMPLETE":
            info["result"] = task.result
        self.send_json(200, {"status": _OK, "task": info})

    def _task_dump(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        self.send_body(200, self._dump(route), "text/csv; charset=utf-8")

    def _dump(self, route: re.Match[str]) -> bytes:
        task = self._task(route)
        if task.dump is None:
            raise HttpError(404, "no failure dump for this task")
        return task.dump.encode()

    def _dump_chunk_list(self, route: re.Match[str]) -> list[bytes]:
        content, size = self._dump(route), self.state.config.dump_chunk_bytes
        return [content[i : i + size] for i in range(0, len(content), size)]

    def _dump_chunks(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        count = len(self._dump_chunk_list(route))
        chunks = [{"id": str(n), "name": f"Chunk {n}"} for n in range(count)]
        paging = {"currentPageSize": count, "offset": 0, "totalSize": count}
        meta = {"paging": paging, "schema": f"/2/0/models/{self.state.config.model_id}/objects/chunk"}
        self.send_json(200, {"meta": meta, "status": _OK, "chunks": chunks})

    def _dump_chunk(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        chunks, n = self._dump_chunk_list(route), int(route["n"])
        if n >= len(chunks):
            raise HttpError(404, f"chunk {n} not found")
        self.send_body(200, chunks[n], "application/octet-stream")

    # --- exports ----------------------------------------------------------------------------------------
    def _list_exports(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        exports = [
            {"id": export_id, "name": f"{name}.csv", "exportType": "TABULAR_MULTI_COLUMN", "exportFormat": "text/csv"}
            for export_id, name in EXPORTS.items()
        ]
        self.send_json(200, {"status": _OK, "exports": exports})

    def _export_metadata(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        export_id = self._known_export(route)
        state = self.state.store.state(EXPORTS[export_id])
        types = ["NUMBER" if t.startswith("DECIMAL") else _ANAPLAN_TYPES.get(t, "TEXT") for t in state.fields.values()]
        rows = self.state.store.query(f"select count(*) from {state.table}")[0][0]
        metadata = {
            "columnCount": len(types),
            "dataTypes": types,
            "headerNames": list(state.fields),
            "rowCount": rows,
            "exportFormat": "text/csv",
            "delimiter": '"',
            "encoding": "UTF-8",
            "separator": ",",
        }
        self.send_json(200, {"status": _OK, "exportMetadata": metadata})

    def _start_export(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        export_id = self._known_export(route)
        content = self.state.export_csv(export_id)  # exports of this size finish before the first poll
        task_id = uuid.uuid4().hex.upper()
        with self.state.lock:
            self.state.export_files[export_id] = content
            self.state.export_tasks[task_id] = export_id
        self.send_json(200, {"status": _OK, "task": {"taskId": task_id, "taskState": "NOT_STARTED"}})

    def _export_status(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        export_id = self._known_export(route)
        if self.state.export_tasks.get(route["task"]) != export_id:
            raise HttpError(404, f"task {route['task']} not found")
        result = {"successful": True, "failureDumpAvailable": False, "objectId": export_id}
        info = {"type": "taskInformation", "taskId": route["task"], "taskState": "COMPLETE", "progress": 1.0}
        self.send_json(200, {"status": _OK, "task": {**info, "currentStep": "Complete.", "result": result}})

    def _export_chunks(self, route: re.Match[str]) -> list[bytes]:
        content = self.state.export_files.get(route["file"])
        if content is None:
            raise HttpError(404, f"file {route['file']} not found")
        size = self.state.config.export_chunk_bytes
        return [content[i : i + size] for i in range(0, len(content), size)] or [b""]

    def _list_chunks(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        chunks = [{"id": str(n), "name": f"Chunk {n}"} for n in range(len(self._export_chunks(route)))]
        self.send_json(200, {"status": _OK, "chunks": chunks})

    def _get_chunk(self, route: re.Match[str], body: bytes, fault: Fault | None) -> None:
        chunks = self._export_chunks(route)
        n = int(route["n"])
        if n >= len(chunks):
            raise HttpError(404, f"chunk {n} not found")
        self.send_body(200, chunks[n], "application/octet-stream")

    def _known_export(self, route: re.Match[str]) -> str:
        if route["exp"] not in EXPORTS:
            raise HttpError(404, f"export {route['exp']} not found")
        return route["exp"]

    def _known_file(self, route: re.Match[str]) -> str:
        if route["file"] != self.state.config.file_id:
            raise HttpError(404, f"file {route['file']} not found")
        return route["file"]

    def _known_import(self, route: re.Match[str]) -> None:
        if route["imp"] != self.state.config.import_id:
            raise HttpError(404, f"import {route['imp']} not found")

    def _upload(self, file_id: str) -> Upload:
        upload = self.state.uploads.get(file_id)
        if upload is None:
            raise HttpError(400, f"no upload started for file {file_id}")
        return upload

    def _task(self, route: re.Match[str]) -> Task:
        self._known_import(route)
        task = self.state.tasks.get(route["task"])
        if task is None:
            raise HttpError(404, f"task {route['task']} not found")
        return task

    # --- local and admin endpoints --------------------------------------------------------------
    def _local(self, path: str) -> None:
        db_path = self.state.config.db_path
        answers = {
            "/_local/cells": lambda: {"cells": module.read_cells(db_path)},
            "/_local/imports": lambda: {"imports": module.read_imports(db_path)},
            "/_local/health": lambda: {"status": "ok"},
        }
        if path not in answers:
            raise HttpError(404, "not found")
        self.send_json(200, answers[path]())

    def _admin(self, path: str, body: bytes) -> None:
        if path == "/_admin/requests" and self.command == "GET":
            with self.state.lock:
                self.send_json(200, {"requests": dict(self.state.requests)})
        elif path == "/_admin/activity" and self.command == "GET":
            with self.state.lock:
                in_flight = self.state.in_flight
                unfinished = sum(task.state != "COMPLETE" for task in self.state.tasks.values())
            self.send_json(200, {"in_flight": in_flight, "unfinished_tasks": unfinished})
        elif self.shared_admin(path, body):
            pass
        elif path == "/_admin/tasks/release" and self.command == "POST":
            self.send_json(200, {"released": self.state.release_tasks()})
        elif self.command == "POST" and path in ("/_admin/records/update", "/_admin/records/delete", "/_admin/fields"):
            self._change(path, _json(body))
        else:
            raise HttpError(404, "not found")

    def _change(self, path: str, spec: dict[str, Any]) -> None:
        store = self.state.store
        try:
            answer = apply_change(store, path, spec, lambda name, key: {"deleted": store.remove(name, key)})
        except StoreError as exc:
            raise HttpError(400, str(exc)) from exc
        self.send_json(200, answer)

    # --- responses --------------------------------------------------------------------------------


_OK = {"code": 200, "message": "Success"}
_STEPS = {"NOT_STARTED": "Queued.", "IN_PROGRESS": "Processing ...", "COMPLETE": "Complete."}


def _json(body: bytes) -> dict[str, Any]:
    payload = _json_any(body)
    if not isinstance(payload, dict):
        raise HttpError(400, "the body must be a JSON object")
    return payload


def _json_any(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise HttpError(400, "the body is not valid JSON") from exc


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        username, _, password = base64.b64decode(encoded.strip()).decode().partition(":")
    except ValueError:
        return "", ""
    return username, password


class RunningServer(BaseRunningServer):
    """A started server: `.url` is both the auth and the API base URL; `.stop()` or `with`."""

    def __init__(self, httpd: QuietServer, state: AnaplanState) -> None:
        super().__init__(httpd, state)  # type: ignore[arg-type]
        self.db_path = state.config.db_path
        self.config = state.config

    def stop(self) -> None:
        super().stop()  # `stopping` also ends delay faults and stalled tasks at once
        self.state.worker.join(timeout=5)

    def __repr__(self) -> str:
        return f"RunningServer(url={self.url!r}, db_path={str(self.db_path)!r})"


def start_server(
    db_path: str | Path,
    port: int = 0,
    workspace_id: str = "demo-ws",
    model_id: str = "demo-model",
    username: str = "demo",
    password: str = "demo-password",
    token_ttl_seconds: float = 2100,
    *,
    file_id: str = "forecast_inputs",
    import_id: str = "forecast_inputs",
    token_prefix: str = "",
    landing_dir: Path | None = None,
    export_chunk_bytes: int = 1_000_000,
    dump_chunk_bytes: int = 10_000_000,
) -> RunningServer:
    """Start serving on 127.0.0.1 (port 0: a free port) in background threads."""
    config = ServerConfig(
        db_path=Path(db_path),
        workspace_id=workspace_id,
        model_id=model_id,
        file_id=file_id,
        import_id=import_id,
        username=username,
        password=password,
        token_ttl_seconds=token_ttl_seconds,
        token_prefix=token_prefix,
        landing_dir=landing_dir,
        export_chunk_bytes=export_chunk_bytes,
        dump_chunk_bytes=dump_chunk_bytes,
    )
    state = AnaplanState(config)
    handler = type("BoundHandler", (Handler,), {"state": state})
    try:
        httpd = QuietServer((HOST, port), handler)
    except OSError:
        state.stopping.set()
        raise
    return RunningServer(httpd, state)
