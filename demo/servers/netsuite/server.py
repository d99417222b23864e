"""A local NetSuite SuiteQL REST service (the subset the ERP connector uses), serving the demo firm.

- `POST /services/rest/auth/oauth2/v1/token`: OAuth 2.0 machine-to-machine client credentials:
  `grant_type=client_credentials`, `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
  and `client_assertion`, a JWT signed (PS256 or RS256) with the private key of the certificate
  registered for the integration (`kid` = certificate id, `iss` = client id, `aud` = this token
  URL, `scope` containing `rest_webservices`, `exp` in the future). Answers
  `{"access_token", "expires_in": "3600", "token_type": "bearer"}`.
- `POST /services/rest/query/v1/suiteql?limit=N&offset=M` with `Prefer: transient` and
  `{"q": "<SuiteQL>"}`: `links`, `count`, `hasMore`, `items`, `offset`, `totalResults`. `limit` is
  at most 1,000 and `offset` a multiple of it. Items leave out empty fields, like NetSuite's.
- More than `max_concurrent` requests in flight answer 429 (NetSuite's concurrency governance).

SuiteQL subset: `SELECT * | col, ... FROM table [WHERE cond [AND cond ...]] [ORDER BY col, ...]`
with conditions `col op literal`, `col op TO_TIMESTAMP('...', 'YYYY-MM-DD HH24:MI:SS')`,
`col IN ('a', ...)` and `1 = 0`. Tables: the demo's ERP records and `DeletedRecord`
(`recordid`, `recordtype`, `deleteddate`, `name`), where a deleted record is listed.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from demo.servers.common.base import HttpError, RunningServer, SourceHandler, SourceState, json_body, serve
from demo.servers.common.render import object_sql
from demo.servers.common.store import DemoStore, StoreError, q

TOKEN_PATH = "/services/rest/auth/oauth2/v1/token"
SUITEQL_PATH = "/services/rest/query/v1/suiteql"
MAX_LIMIT = 1000
DELETED = "deletedrecord"
_LINKS = "'\"links\":[]'"  # every SuiteQL item carries an (empty) links list
_DELETED_FIELDS = {"recordid": "INTEGER", "recordtype": "VARCHAR", "deleteddate": "TIMESTAMP", "name": "VARCHAR"}
_SELECT = re.compile(
    r"^\s*select\s+(?P<fields>.+?)\s+from\s+(?P<table>\w+)"
    r"(?:\s+where\s+(?P<where>.+?))?(?:\s+order\s+by\s+(?P<order>.+?))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_TO_TIMESTAMP = re.compile(r"^to_timestamp\(\s*'([^']*)'\s*,\s*'YYYY-MM-DD HH24:MI:SS'\s*\)$", re.IGNORECASE)
_CONDITION = re.compile(r"^\s*(?P<field>\w+)\s*(?P<op>=|!=|<>|<=|>=|<|>)\s*(?P<value>.+?)\s*$", re.DOTALL)
_IN = re.compile(r"^\s*(?P<field>\w+)\s+in\s*\((?P<values>[^)]*)\)\s*$", re.IGNORECASE)


class NetSuiteHandler(SourceHandler):
    server_version = "LocalNetSuite/1.0"
    public_key: rsa.RSAPublicKey

    def render_error(self, error: HttpError) -> Any:
        if self.path.startswith(TOKEN_PATH):
            return {"error": error.code or "invalid_request", "error_description": str(error)}
        titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}
        return {
            "type": f"https://www.rfc-editor.org/rfc/rfc9110.html#status.{error.status}",
            "title": titles.get(error.status, "Error"),
            "status": error.status,
            "o:errorDetails": [{"detail": str(error), "o:errorCode": error.code or "UNEXPECTED_ERROR"}],
        }

    def route(self, path: str, query: dict[str, str], body: bytes) -> None:
        if path == TOKEN_PATH and self.command == "POST":
            self._token(body)
        elif path == SUITEQL_PATH and self.command == "POST":
            if not self.state.token_valid(self.bearer_token()):
                raise HttpError(401, "Invalid login attempt. The access token is invalid or expired.", "INVALID_LOGIN")
            if self.headers.get("Prefer", "").lower() != "transient":
                raise HttpError(400, "SuiteQL queries need the header Prefer: transient", "INVALID_HEADER")
            self._suiteql(json_body(body, dict).get("q", ""), query)
        else:
            raise HttpError(404, "Record or resource not found", "NONEXISTENT_ID")

    # --- auth ---------------------------------------------------------------------------------------------
    def _token(self, body: bytes) -> None:
        form = self.token_form(body, "client_credentials", "grant_type must be client_credentials")
        if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            raise HttpError(400, "client_assertion_type must be jwt-bearer", "invalid_request")
        reason = self._assertion_problem(form.get("client_assertion", ""))
        if reason:
            raise HttpError(400, reason, "invalid_grant")
        ttl = self.state.token_ttl_seconds
        self.send_json(
            200, {"access_token": self.state.issue_token(), "expires_in": f"{ttl:g}", "token_type": "bearer"}
        )

    def _assertion_problem(self, assertion: str) -> str | None:
        """Why the signed JWT is refused, or None when it is good."""
        try:
            head_b64, payload_b64, signature_b64 = assertion.split(".")
            header, payload = (json.loads(_unb64(part)) for part in (head_b64, payload_b64))
            signature = _unb64(signature_b64)
        except ValueError:
            return "client_assertion is not a JWT"
        expected = self.state.credentials
        if header.get("kid") != expected["certificate_id"]:
            return "unknown certificate id (kid)"
        if payload.get("iss") != expected["client_id"] or not str(payload.get("aud", "")).endswith(TOKEN_PATH):
            return "wrong iss or aud"
        if float(payload.get("exp", 0)) <= time.time():
            return "the assertion has expired"
        if "rest_webservices" not in str(payload.get("scope", "")):
            return "scope must include rest_webservices"
        signed = f"{head_b64}.{payload_b64}".encode()
        pad = {
            "PS256": padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            "RS256": padding.PKCS1v15(),
        }.get(header.get("alg", ""))
        if pad is None:
            return "alg must be PS256 or RS256"
        try:
            self.public_key.verify(signature, signed, pad, hashes.SHA256())
        except InvalidSignature:
            return "the assertion's signature does not verify"
        return None

    # --- SuiteQL ------------------------------------------------------------------------------------------
    def _suiteql(self, suiteql: str, query: dict[str, str]) -> None:
        limit, offset = int(query.get("limit", MAX_LIMIT)), int(query.get("offset", 0))
        if not 1 <= limit <= MAX_LIMIT or offset % limit:
            raise HttpError(400, f"limit must be 1..{MAX_LIMIT} and offset a multiple of it", "INVALID_PARAMETER")
        match = _SELECT.match(suiteql)
        if not match:
            raise HttpError(400, "Invalid search query: cannot parse the statement", "INVALID_PARAMETER")
        table, fields = self._table(match["table"])
        wanted = (
            list(fields) if match["fields"].strip() == "*" else [f.strip().lower() for f in match["fields"].split(",")]
        )
        self._known(match["table"], fields, wanted)
        where, params = self._where(match["table"], fields, match["where"])
        order = self._order(match["table"], fields, match["order"])
        selected = {f: fields[f] for f in wanted}
        item = object_sql(selected, "netsuite", _LINKS)
        sql = f"select {item} from {table} {where} {order}"
        total = self.state.store.query(f"select count(*) from {table} {where}", params)[0][0]
        rows = self.state.store.query(f"{sql} limit {limit} offset {offset}", params)
        has_more = offset + len(rows) < total
        url = f"http://{self.headers.get('Host', '127.0.0.1')}{SUITEQL_PATH}"
        links = [{"rel": "self", "href": f"{url}?limit={limit}&offset={offset}"}]
        if has_more:
            links.append({"rel": "next", "href": f"{url}?limit={limit}&offset={offset + limit}"})
        head = json.dumps({"links": links, "count": len(rows), "hasMore": has_more, "offset": offset})[:-1]
        body = f'{head}, "totalResults": {total}, "items": [' + ",".join(r[0] for r in rows) + "]}"
        self.send_body(200, body.encode(), "application/vnd.oracle.resource+json; type=collection")

    def _table(self, name: str) -> tuple[str, dict[str, str]]:
        if name.lower() == DELETED:
            return q(DELETED), _DELETED_FIELDS
        for state in self.state.store.objects.values():
            if state.obj.file_stem.lower() == name.lower():
                return state.table, {f.lower(): t for f, t in state.fields.items()}
        raise HttpError(400, f"Invalid search query: Record '{name}' was not found.", "INVALID_PARAMETER")

    @staticmethod
    def _known(table: str, fields: dict[str, str], wanted: list[str]) -> None:
        for name in wanted:
            if name not in fields:
                raise HttpError(
                    400,
                    "Invalid search query. Detailed unprocessed description follows. Search error occurred: "
                    f"Field '{name}' for record '{table}' was not found. Reason: NOT_EXPOSED",
                    "INVALID_PARAMETER",
                )

    def _where(self, table: str, fields: dict[str, str], where: str | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for condition in re.split(r"\s+and\s+", where, flags=re.IGNORECASE) if where else []:
            if re.fullmatch(r"\s*1\s*=\s*0\s*", condition):
                clauses.append("false")
            elif match := _IN.match(condition):
                self._known(table, fields, [match["field"].lower()])
                values = [v.strip().strip("'") for v in match["values"].split(",")]
                clauses.append(f"{q(match['field'].lower())} in ({', '.join('?' for _ in values)})")
                params += values
            elif match := _CONDITION.match(condition):
                name = match["field"].lower()
                self._known(table, fields, [name])
                clauses.append(self._comparison(name, fields[name], match["op"], match["value"], params))
            else:
                raise HttpError(400, f"Invalid search query: cannot parse {condition!r}", "INVALID_PARAMETER")
        return ("where " + " and ".join(clauses)) if clauses else "", params

    @staticmethod
    def _comparison(name: str, type_: str, op: str, literal: str, params: list[Any]) -> str:
        op = "<>" if op == "!=" else op
        if stamp := _TO_TIMESTAMP.match(literal):
            params.append(stamp[1])
            return f"try_cast({q(name)} as timestamp) {op} ?::timestamp"
        if literal.startswith("'") and literal.endswith("'"):
            params.append(literal[1:-1])
            return f"{q(name)} {op} ?"
        if re.fullmatch(r"-?\d+(\.\d+)?", literal):
            params.append(float(literal))
            return f"try_cast({q(name)} as double) {op} ?"
        raise HttpError(400, f"Invalid search query: unexpected literal {literal!r}", "INVALID_PARAMETER")

    def _order(self, table: str, fields: dict[str, str], order: str | None) -> str:
        if not order:
            return ""
        terms = []
        for term in order.split(","):
            name, *direction = term.split()
            name = name.lower()
            self._known(table, fields, [name])
            cast = {"TIMESTAMP": "timestamp", "INTEGER": "bigint"}.get(fields[name])
            typed = f"try_cast({q(name)} as {cast})" if cast else q(name)
            terms.append(f"{typed} {' '.join(direction) or 'asc'}")
        return "order by " + ", ".join(terms)

    def delete_record(self, name: str, key: dict[str, Any]) -> dict[str, Any]:
        """NetSuite deletes the record for good and lists it in DeletedRecord."""
        state = self.state.store.state(name)
        if not self.state.store.remove(name, key):
            raise StoreError(f"{name} has no record {key}")
        stamp = self.state.store.now().strftime("%Y-%m-%d %H:%M:%S")
        record_id = key[state.obj.primary_key[0]]
        self.state.store.query(
            f"insert into {q(DELETED)} values (?, ?, ?, ?)", [str(record_id), name.lower(), stamp, str(record_id)]
        )
        return {"deleted": 1, "deleteddate": stamp}


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """The integration's certificate (public key) as NetSuite holds it; a private key PEM also works."""
    if b"PRIVATE KEY" in pem:
        key = serialization.load_pem_private_key(pem, password=None)
        return key.public_key()  # type: ignore[union-attr, return-value]
    return serialization.load_pem_public_key(pem)  # type: ignore[return-value]


def start_server(
    landing_dir: Path | None,
    public_key_pem: bytes,
    port: int = 0,
    client_id: str = "demo-client",
    certificate_id: str = "demo-certificate",
    token_ttl_seconds: float = 3600,
    max_concurrent: int = 5,
) -> RunningServer:
    """Serve the demo firm's ERP records on 127.0.0.1; tokens are granted to JWTs the key verifies."""
    store = DemoStore(("erp",), landing_dir, "%Y-%m-%d %H:%M:%S")
    columns = ", ".join(f"{q(name)} varchar" for name in _DELETED_FIELDS)
    store.query(f"create table {q(DELETED)} ({columns})")
    credentials = {"client_id": client_id, "certificate_id": certificate_id}
    state = SourceState(store, credentials, token_ttl_seconds=token_ttl_seconds, max_concurrent=max_concurrent)
    handler = type("AccountHandler", (NetSuiteHandler,), {"public_key": load_public_key(public_key_pem)})
    return serve(handler, state, port)


def demo_key_pair(folder: Path) -> Path:
    """The local demo's integration key (private PEM), created on first use; real tenants use their own."""
    path = folder / "netsuite_demo_private_key.pem"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.write_bytes(pem)
        path.chmod(0o600)
    return path
