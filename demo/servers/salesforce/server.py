"""A local Salesforce REST API (the subset the CRM and Certinia PSA connector uses), serving the demo firm.

- `POST /services/oauth2/token` (`grant_type=client_credentials`, `client_id`, `client_secret`,
  form-encoded): `{"access_token", "instance_url", "token_type": "Bearer", "issued_at", ...}`.
  Like Salesforce it sends no `expires_in`: a session that timed out answers 401
  `[{"errorCode": "INVALID_SESSION_ID", ...}]` and the client must fetch a new token.
- `GET /services/data/vNN.N/sobjects/{object}/describe`: the object's fields and their types.
- `GET /services/data/vNN.N/query?q=<SOQL>` and `.../queryAll?q=<SOQL>` (`queryAll` also
  returns soft-deleted rows, `IsDeleted = true`): `totalSize`, `done`, `records` and, while
  `done` is false, `nextRecordsUrl` (`.../query/01g...-2000`). Batch size is 2,000 or the
  `Sforce-Query-Options: batchSize=N` header (this server accepts any N from 1, Salesforce 200+).

Like Salesforce, a request whose URI passes 16,384 bytes answers `414 URI Too Long`, and one whose
URI and headers together pass it `431 Request Header Fields Too Large` (a SOQL query travels in
the URI, so an object with hundreds of fields cannot be selected whole).

SOQL subset: `SELECT f, ... FROM Object [WHERE f op literal [AND ...]] [ORDER BY f [ASC|DESC], ...]
[LIMIT n]`; unknown fields answer 400 `INVALID_FIELD`, anything else unsupported `MALFORMED_QUERY`.
Deleting a record (admin) sets `IsDeleted` and moves `SystemModstamp`, as Salesforce does.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo.servers.common.base import HttpError, RunningServer, SourceHandler, SourceState, serve
from demo.servers.common.render import object_sql
from demo.servers.common.store import DemoStore, q

API = re.compile(r"/services/data/(?P<version>v\d+\.\d)(?P<rest>/.*)")
DEFAULT_BATCH = 2000
MAX_URI_BYTES = 16_384  # Salesforce: the URI, and the URI with the headers, within 16,384 bytes
_SELECT = re.compile(
    r"^\s*select\s+(?P<fields>.+?)\s+from\s+(?P<object>\w+)"
    r"(?:\s+where\s+(?P<where>.+?))?(?:\s+order\s+by\s+(?P<order>.+?))?(?:\s+limit\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(r"^\s*(?P<field>\w+)\s*(?P<op>=|!=|<=|>=|<|>)\s*(?P<value>.+?)\s*$", re.DOTALL)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
_SF_TYPES = {"BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "datetime", "INTEGER": "int"}


def sf_type(name: str, type_: str) -> str:
    """The Salesforce field type a contract type is sent as (describe)."""
    if name == "Id":
        return "id"
    if type_ == "DECIMAL(18,2)":
        return "currency"
    if type_.startswith("DECIMAL"):
        return "double"
    return _SF_TYPES.get(type_, "string")


@dataclass
class Cursor:
    """A query locator: the query and where the next batch starts."""

    sql: str
    params: list[Any]
    fields: dict[str, str]
    object_name: str
    total: int
    batch: int
    endpoint: str


class SalesforceHandler(SourceHandler):
    server_version = "LocalSalesforce/1.0"
    cursors: dict[str, Cursor]
    cursor_lock: threading.Lock

    def render_error(self, error: HttpError) -> Any:
        if self.path.startswith("/services/oauth2/"):
            return {"error": error.code or "invalid_request", "error_description": str(error)}
        return [{"message": str(error), "errorCode": error.code or "UNKNOWN_EXCEPTION"}]

    def route(self, path: str, query: dict[str, str], body: bytes) -> None:
        uri = len(self.path.encode())  # the request target as sent: path and percent-encoded query
        headers = sum(len(name) + len(value) + 4 for name, value in self.headers.items())
        if uri > MAX_URI_BYTES:
            self.send_body(414, b"URI Too Long", "text/plain")
            return
        if uri + headers > MAX_URI_BYTES:
            self.send_body(431, b"Request Header Fields Too Large", "text/plain")
            return
        if path == "/services/oauth2/token" and self.command == "POST":
            self._token(body)
            return
        api = API.fullmatch(path)
        if not api or self.command != "GET":
            raise HttpError(404, "The requested resource does not exist", "NOT_FOUND")
        if not self.state.token_valid(self.bearer_token()):
            raise HttpError(401, "Session expired or invalid", "INVALID_SESSION_ID")
        rest, version = api["rest"], api["version"]
        if describe := re.fullmatch(r"/sobjects/(\w+)/describe", rest):
            self._describe(describe[1])
        elif rest in ("/query", "/queryAll"):
            self._query(query.get("q", ""), rest == "/queryAll", version)
        elif more := re.fullmatch(r"/(query|queryAll)/(\w+)-(\d+)", rest):
            self._page(more[2], int(more[3]), version)
        else:
            raise HttpError(404, "The requested resource does not exist", "NOT_FOUND")

    # --- auth -------------------------------------------------------------------------------------------
    def _token(self, body: bytes) -> None:
        form = self.token_form(body, "client_credentials", "grant type not supported")
        expected = self.state.credentials
        if form.get("client_id") != expected["client_id"] or not secrets.compare_digest(
            form.get("client_secret", ""), expected["client_secret"]
        ):
            raise HttpError(400, "invalid client credentials", "invalid_client")
        host = self.headers.get("Host", "127.0.0.1")
        self.send_json(
            200,
            {
                "access_token": self.state.issue_token("00D000000000001!"),
                "instance_url": f"http://{host}",
                "id": f"http://{host}/id/00D000000000001EAA/005000000000001AAA",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
                "signature": secrets.token_urlsafe(32),
            },
        )

    # --- describe -----------------------------------------------------------------------------------------
    def _describe(self, name: str) -> None:
        state = self._object(name)
        fields = [
            {"name": f, "type": sf_type(f, t), "nillable": f != "Id", "custom": f.endswith("__c")}
            for f, t in state.fields.items()
        ]
        self.send_json(200, {"name": name, "queryable": True, "fields": fields})

    def _object(self, name: str):
        try:
            return self.state.store.state(name)
        except ValueError:
            raise HttpError(400, f"sObject type '{name}' is not supported.", "INVALID_TYPE") from None

    # --- query ------------------------------------------------------------------------------------------------
    def _query(self, soql: str, include_deleted: bool, version: str) -> None:
        match = _SELECT.match(soql)
        if not match:
            raise HttpError(400, f"unexpected token in query: {soql[:80]!r}", "MALFORMED_QUERY")
        state = self._object(match["object"])
        fields = [f.strip() for f in match["fields"].split(",")]
        self._known(state, fields)
        where, params = self._where(state, match["where"], include_deleted)
        order = self._order(state, match["order"])
        selected = {f: state.fields[f] for f in fields}
        attributes = (
            f'\'"attributes":{{"type":"{match["object"]}","url":"/services/data/{version}/sobjects/'
            f"{match['object']}/' || {q('Id')} || '\"}}'"
            if "Id" in state.fields
            else ""
        )
        sql = f"select {object_sql(selected, 'salesforce', attributes)} from {state.table} {where} {order}"
        total = self.state.store.query(f"select count(*) from ({sql})", params)[0][0]
        if match["limit"]:
            total = min(total, int(match["limit"]))
        endpoint = "queryAll" if include_deleted else "query"
        locator = "01g" + secrets.token_hex(6)
        with self.cursor_lock:
            self.cursors[locator] = Cursor(sql, params, selected, match["object"], total, self._batch_size(), endpoint)
        self._page(locator, 0, version)

    def _page(self, locator: str, offset: int, version: str) -> None:
        with self.cursor_lock:
            cursor = self.cursors.get(locator)
        if cursor is None:
            raise HttpError(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
        size = max(0, min(cursor.batch, cursor.total - offset))
        rows = self.state.store.query(f"{cursor.sql} limit {size} offset {offset}", cursor.params)
        done = offset + len(rows) >= cursor.total
        head = f'{{"totalSize":{cursor.total},"done":{"true" if done else "false"},'
        if not done:
            head += f'"nextRecordsUrl":"/services/data/{version}/{cursor.endpoint}/{locator}-{offset + cursor.batch}",'
        body = head + '"records":[' + ",".join(r[0] for r in rows) + "]}"
        self.send_body(200, body.encode(), "application/json;charset=UTF-8")

    def _batch_size(self) -> int:
        options = self.headers.get("Sforce-Query-Options", "")
        match = re.search(r"batchSize=(\d+)", options)
        return max(1, min(DEFAULT_BATCH, int(match[1]))) if match else DEFAULT_BATCH

    def _known(self, state, fields: list[str]) -> None:
        for name in fields:
            if name not in state.fields:
                raise HttpError(
                    400,
                    f"No such column '{name}' on entity '{state.obj.file_stem}'. If you are attempting to use a "
                    "custom field, be sure to append the '__c' after the custom field name.",
                    "INVALID_FIELD",
                )

    def _where(self, state, where: str | None, include_deleted: bool) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if not include_deleted and "IsDeleted" in state.fields:
            clauses.append(f"coalesce(lower({q('IsDeleted')}), 'false') <> 'true'")
        for condition in re.split(r"\s+and\s+", where or "", flags=re.IGNORECASE) if where else []:
            match = _CONDITION.match(condition)
            if not match:
                raise HttpError(400, f"unexpected token: {condition!r}", "MALFORMED_QUERY")
            self._known(state, [match["field"]])
            sql, value = self._comparison(match["field"], state.fields[match["field"]], match["op"], match["value"])
            clauses.append(sql)
            params.append(value)
        return ("where " + " and ".join(clauses)) if clauses else "", params

    @staticmethod
    def _comparison(name: str, type_: str, op: str, literal: str) -> tuple[str, Any]:
        op = "<>" if op == "!=" else op
        if _DATETIME.match(literal):
            return f"try_cast({q(name)} as timestamptz) {op} ?::timestamptz", literal
        if literal.startswith("'") and literal.endswith("'"):
            return f"{q(name)} {op} ?", literal[1:-1].replace("\\'", "'")
        if literal.lower() in ("true", "false"):
            return f"lower({q(name)}) {op} ?", literal.lower()
        if re.fullmatch(r"-?\d+(\.\d+)?", literal):
            return f"try_cast({q(name)} as double) {op} ?", float(literal)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", literal):
            return f"try_cast({q(name)} as date) {op} ?::date", literal
        raise HttpError(400, f"unexpected literal {literal!r}", "MALFORMED_QUERY")

    def _order(self, state, order: str | None) -> str:
        if not order:
            return ""
        terms = []
        for term in order.split(","):
            name, *direction = term.split()
            self._known(state, [name])
            typed = f"try_cast({q(name)} as timestamp)" if state.fields[name] == "TIMESTAMP" else q(name)
            terms.append(f"{typed} {' '.join(direction) or 'asc'}")
        return "order by " + ", ".join(terms)

    def delete_record(self, name: str, key: dict[str, Any]) -> dict[str, Any]:
        """Salesforce keeps a deleted record (recycle bin): `IsDeleted` true, visible to `queryAll`."""
        stamp = self.state.store.update(name, key, {"IsDeleted": "true"})
        return {"deleted": 1, "modified": stamp}


def start_server(
    landing_dir: Path | None,
    port: int = 0,
    client_id: str = "demo-client",
    client_secret: str = "demo-secret",
    token_ttl_seconds: float = 7200,
) -> RunningServer:
    """Serve the demo firm's CRM and PSA objects (one Salesforce org holds both) on 127.0.0.1."""
    store = DemoStore(("crm", "psa"), landing_dir, "%Y-%m-%dT%H:%M:%S.000Z")
    credentials = {"client_id": client_id, "client_secret": client_secret}
    state = SourceState(store, credentials, token_ttl_seconds=token_ttl_seconds)
    handler = type("OrgHandler", (SalesforceHandler,), {"cursors": {}, "cursor_lock": threading.Lock()})
    return serve(handler, state, port)
