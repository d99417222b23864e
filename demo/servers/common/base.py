"""What every local source-system server shares: tokens, faults, request counts, admin endpoints.

A server subclasses `SourceHandler` and implements `route` (its protocol) and `render_error`
(its error body). Local, non-vendor endpoints (no authentication; servers bind to 127.0.0.1):

- `POST /_admin/faults` (a JSON list, see `demo.servers.anaplan.faults`) replaces the faults in
  force: `{"match": "GET .*/query", "status": 429, "retry_after": 1, "times": 1}` or
  `{"match": "...", "delay": 1.5}` or `{"match": "...", "hang": 30}`; `GET` lists them, `DELETE` clears them;
- `GET /_admin/requests`: `{"requests": {"METHOD /path": count}, "longest_uri": bytes}` of every
  protocol request, counted on arrival (also those a fault answered), so tests can see retries;
- `POST /_admin/tokens/expire`: every access token issued so far expires now;
- `POST /_admin/records/update` `{"object": "Opportunity", "key": {"Id": "..."}, "set": {...}}`:
  change a record (its modified timestamp moves to the source's now);
- `POST /_admin/records/delete` `{"object": ..., "key": {...}}`: delete a record the way the
  source system does (Salesforce: `IsDeleted`; NetSuite: gone, listed in `DeletedRecord`; ...);
- `POST /_admin/fields` `{"object": ..., "add": {"name", "type", "value"}}` (or a list of them),
  `{"drop": "Field"}` or `{"retype": {"name", "type", "value"}}`: schema drift at the source.
"""

from __future__ import annotations

import json
import secrets
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from demo.servers.common.faults import Fault, FaultError, FaultPlan
from demo.servers.common.store import DemoStore, StoreError

HOST = "127.0.0.1"  # never another interface: the admin endpoints have no authentication


class HttpError(Exception):
    """Answer the current request with this status and the server's error body for `message`."""

    def __init__(self, status: int, message: str, code: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


class Tokens:
    """The access tokens a server has issued and still honours, each with its expiry; thread-safe.

    Iterating gives the tokens (a test looks for them where they must not leak).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}  # token -> expiry (epoch seconds)

    def issue(self, prefix: str, ttl_seconds: float) -> tuple[str, float]:
        """A new token and its expiry (epoch seconds)."""
        token, expires_at = prefix + secrets.token_urlsafe(24), time.time() + ttl_seconds
        with self._lock:
            self._expiry[token] = expires_at
        return token, expires_at

    def valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._expiry.get(token)
            if expiry is not None and expiry <= time.time():
                del self._expiry[token]
                expiry = None
        return expiry is not None

    def retire(self, token: str) -> None:
        with self._lock:
            self._expiry.pop(token, None)

    def expire_all(self) -> int:
        """Every token expires now (the `expire_tokens` fault, `POST /_admin/tokens/expire`)."""
        with self._lock:
            count = len(self._expiry)
            self._expiry.clear()
        return count

    def __iter__(self):
        with self._lock:
            return iter(list(self._expiry))

    def __len__(self) -> int:
        return len(self._expiry)


@dataclass
class SourceState:
    """Everything the request threads of one server share."""

    store: DemoStore
    credentials: dict[str, str]  # what the token endpoint accepts (client id, secret, ...)
    token_ttl_seconds: float = 3600
    max_concurrent: int = 0  # more requests in flight than this answer 429 (0: no limit)
    faults: FaultPlan = field(default_factory=FaultPlan)
    requests: Counter[str] = field(default_factory=Counter)
    tokens: Tokens = field(default_factory=Tokens)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0
    longest_uri: int = 0  # bytes of the longest request target (path and query) received so far

    def issue_token(self, prefix: str = "") -> str:
        return self.tokens.issue(prefix, self.token_ttl_seconds)[0]

    def token_valid(self, token: str) -> bool:
        return self.tokens.valid(token)

    def expire_tokens(self) -> int:
        return self.tokens.expire_all()


class JsonResponses(BaseHTTPRequestHandler):
    """Answers with an exact Content-Length (keep-alive), quiet about clients that hang up."""

    protocol_version = "HTTP/1.1"
    wbufsize = -1  # headers and body in one write (no Nagle/delayed-ACK stalls)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: no line per request on stderr

    def shared_admin(self, path: str, body: bytes) -> bool:
        """The admin endpoints of every local server; False when `path` is none of them.

        `/_admin/faults`: POST replaces the fault list, GET lists it, DELETE clears it;
        `POST /_admin/tokens/expire`: every access token issued so far expires now.
        """
        state: Any = getattr(self, "state")  # noqa: B009 (set on the subclass the server builds)
        if path == "/_admin/faults" and self.command == "POST":
            try:
                count = state.faults.replace(json_body(body, list))
            except (FaultError, KeyError, TypeError, ValueError) as exc:
                raise HttpError(400, f"bad fault list: {exc}") from exc
            self.send_json(200, {"faults": count})
        elif path == "/_admin/faults" and self.command == "GET":
            self.send_json(200, {"faults": state.faults.describe()})
        elif path == "/_admin/faults" and self.command == "DELETE":
            state.faults.clear()
            self.send_json(200, {"faults": 0})
        elif path == "/_admin/tokens/expire" and self.command == "POST":
            self.send_json(200, {"expired": state.expire_tokens()})
        else:
            return False
        return True

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        raise NotImplementedError

    def hold(self, fault: Fault | None, stopping: threading.Event) -> None:
        """A `delay` fault waits its seconds; a `hang` fault waits until the client hangs up (at most its seconds)."""
        if fault is not None and fault.effect == "delay":
            stopping.wait(fault.seconds)
        deadline = time.monotonic() + (fault.seconds if fault is not None and fault.effect == "hang" else 0)
        while not stopping.is_set() and time.monotonic() < deadline:
            try:
                if select.select([self.connection], [], [], 0.05)[0] and not self.connection.recv(1, socket.MSG_PEEK):
                    return  # the client closed the connection
            except OSError:  # or reset it
                return

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, json.dumps(payload).encode(), "application/json", headers)

    def send_body(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class SourceHandler(JsonResponses):
    """One request: count it, apply a fault if one matches, then let the protocol route it."""

    state: SourceState  # set on the subclass `serve` builds

    # --- to implement per protocol -------------------------------------------------------------------
    def route(self, path: str, query: dict[str, str], body: bytes) -> None:
        raise NotImplementedError

    def render_error(self, error: HttpError) -> Any:
        return {"error": error.code or "error", "message": str(error)}

    def delete_record(self, name: str, key: dict[str, Any]) -> dict[str, Any]:
        return {"deleted": self.state.store.remove(name, key)}

    # --- plumbing ---------------------------------------------------------------------------------------
    def _handle(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        body = self._read_body()  # always read, so a keep-alive connection stays in step
        try:
            if parts.path.startswith("/_admin/"):
                self._admin(parts.path, body)
            else:
                self._protocol(parts.path, query, body)
        except HttpError as exc:
            self.send_json(exc.status, self.render_error(exc), exc.headers)
        except StoreError as exc:
            self.send_json(400, {"error": str(exc)})
        except Exception as exc:  # a bug here must answer 500, not drop the connection
            self.send_json(500, self.render_error(HttpError(500, f"{type(exc).__name__}: {exc}", "SERVER_ERROR")))

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _protocol(self, path: str, query: dict[str, str], body: bytes) -> None:
        request_line = f"{self.command} {path}"
        with self.state.lock:
            self.state.requests[request_line] += 1
            self.state.longest_uri = max(self.state.longest_uri, len(self.path.encode()))
            self.state.in_flight += 1
            busy = 0 < self.state.max_concurrent < self.state.in_flight
        try:
            if busy:
                raise HttpError(429, "concurrency limit exceeded", "CONCURRENCY_LIMIT_EXCEEDED", {"Retry-After": "1"})
            fault = self.state.faults.take(request_line, starts_task=False)
            self.hold(fault, self.state.stopping)
            if fault is not None and fault.effect == "expire_tokens":
                self.state.expire_tokens()
            if fault is not None and fault.effect == "status":
                headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
                message, code = fault.message or "injected fault", fault.code or "INJECTED_FAULT"
                raise HttpError(fault.status, message, code, headers)
            self.route(path, query, body)
        finally:
            with self.state.lock:
                self.state.in_flight -= 1

    def _admin(self, path: str, body: bytes) -> None:
        if path == "/_admin/requests" and self.command == "GET":
            with self.state.lock:
                self.send_json(200, {"requests": dict(self.state.requests), "longest_uri": self.state.longest_uri})
        elif self.shared_admin(path, body):
            pass
        elif self.command == "POST" and path in ("/_admin/records/update", "/_admin/records/delete", "/_admin/fields"):
            self._change(path, json_body(body, dict))
        else:
            raise HttpError(404, "not found")

    def _change(self, path: str, spec: dict[str, Any]) -> None:
        self.send_json(200, apply_change(self.state.store, path, spec, self.delete_record))

    def token_form(self, body: bytes, grant_type: str, refusal: str) -> dict[str, str]:
        """A token request's form fields (the last of a repeated one); another grant type answers 400 `refusal`."""
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != grant_type:
            raise HttpError(400, refusal, "unsupported_grant_type")
        return form

    def bearer_token(self) -> str:
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""


def apply_change(
    store: DemoStore, path: str, spec: dict[str, Any], delete_record: Callable[[str, dict[str, Any]], dict[str, Any]]
) -> dict[str, Any]:
    """One `/_admin/records/...` or `/_admin/fields` change to the source's data or schema."""
    name = str(spec.get("object", ""))
    if path.endswith("/update"):
        return {"updated": 1, "modified": store.update(name, spec.get("key") or {}, spec.get("set") or {})}
    if path.endswith("/delete"):
        return delete_record(name, spec.get("key") or {})
    if "add" in spec:
        adds = spec["add"] if isinstance(spec["add"], list) else [spec["add"]]  # a list adds many fields at once
        for add in adds:
            store.add_field(name, add["name"], add.get("type", "VARCHAR"), add.get("value"))
        return {"added": adds[0]["name"] if len(adds) == 1 else [add["name"] for add in adds]}
    if "drop" in spec:
        store.drop_field(name, spec["drop"])
        return {"dropped": spec["drop"]}
    if "retype" in spec:
        retype = spec["retype"]
        store.retype_field(name, retype["name"], retype["type"], retype.get("value"))
        return {"retyped": retype["name"]}
    raise HttpError(400, "a fields change needs add, drop or retype")


def json_body(body: bytes, kind: type) -> Any:
    try:
        payload = json.loads(body or b"null")
    except ValueError as exc:
        raise HttpError(400, "the body is not valid JSON") from exc
    if not isinstance(payload, kind):
        raise HttpError(400, f"the body must be a JSON {'list' if kind is list else 'object'}")
    return payload


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True  # a request stuck in a delay fault must not hold up stop()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that disconnects mid-request is expected (timeouts are a test case)


class RunningServer:
    """A started server: `.url`, `.store`, `.stop()` or `with`; in-process shortcuts for tests."""

    def __init__(self, httpd: QuietServer, state: SourceState) -> None:
        self._httpd, self.state, self.store = httpd, state, getattr(state, "store", None)
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.port = int(httpd.server_address[1])
        self.url = f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        self.state.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def set_faults(self, faults: list[dict[str, Any]]) -> None:
        self.state.faults.replace(faults)

    def request_counts(self) -> dict[str, int]:
        with self.state.lock:
            return dict(self.state.requests)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"


def serve(handler: type[SourceHandler], state: SourceState, port: int = 0) -> RunningServer:
    """Start serving on 127.0.0.1 (port 0: a free port) in background threads."""
    bound = type(f"Bound{handler.__name__}", (handler,), {"state": state})
    return RunningServer(QuietServer((HOST, port), bound), state)
