"""HTTP for the API connectors: dlt's retrying session, call counting, exact decimals and vendor OAuth.

Retries are dlt's (`dlt.sources.helpers.requests.Client`: 429, 5xx and connection errors, with
exponential backoff, or exactly the server's Retry-After). Every request that reaches the wire is
counted, so asset metadata can say how many calls and retries a load took. JSON numbers are read
as `Decimal`, never float. Each auth class fetches a token from its vendor's token endpoint,
renews it before its stated expiry, and on a 401 (an expired or revoked session) fetches a new
one and repeats the request once. A token endpoint that refuses the credentials (`invalid_client`,
a bad signature, bad credentials) is asked once per run: the refusal is remembered and raised by
every later call, so a wrong secret stops the system instead of being tried once per object.

Errors name the vendor's own code and message (`vendor_error`: Salesforce `errorCode`/`message`,
NetSuite `o:errorDetails`, Workday and OAuth `error`/`error_description`, Anaplan `status`).
Secrets only travel in request bodies or headers: no repr, log line or exception message here
contains them, and `TokenAuth.redact` blanks any that a vendor's error text might echo.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from dlt.sources.helpers.requests import Client
from requests.adapters import HTTPAdapter

RETRY_STATUS = (429, *range(500, 600))


class ConnectorError(Exception):
    """A connector cannot go on (bad credentials, a refused request); the message carries no secret.

    `stops_system`: the failure is not one object's (credentials refused, the org's request limit
    reached), so the system's other objects are not tried either."""

    stops_system = False


class AuthError(ConnectorError):
    """The token endpoint refused the credentials: nothing else of this system can be read."""

    stops_system = True


# Vendor error codes that concern the whole org or account, not the object being read.
SYSTEM_WIDE_CODES = ("REQUEST_LIMIT_EXCEEDED", "INVALID_LOGIN", "INSUFFICIENT_PERMISSION")


def _detail(body: Any) -> str:
    """The vendor's error code and message from a parsed JSON error body ('' when none is recognised)."""
    if isinstance(body, list):  # Salesforce: [{"message": ..., "errorCode": ...}, ...]
        parts = [_detail(item) for item in body[:5]]
        return "; ".join(p for p in parts if p)
    if not isinstance(body, dict):
        return ""
    if "errorCode" in body or "message" in body:  # one Salesforce error, or Anaplan's status object
        code, message = body.get("errorCode") or body.get("code") or "", body.get("message") or ""
        return ": ".join(str(p) for p in (code, message) if p)
    if isinstance(body.get("o:errorDetails"), list):  # NetSuite (RFC 9457 problem details)
        details = [
            ": ".join(str(p) for p in (d.get("o:errorCode"), d.get("detail")) if p)
            for d in body["o:errorDetails"][:5]
            if isinstance(d, dict)
        ]
        return "; ".join([*(d for d in details if d)] or [str(body.get("title") or "")])
    if "error" in body:  # OAuth 2.0 token endpoints; Workday {"error": code, "errors": [{"error": text}]}
        texts = [str(e.get("error")) for e in body.get("errors") or [] if isinstance(e, dict) and e.get("error")]
        texts += [str(body["error_description"])] if body.get("error_description") else []
        return ": ".join([str(body["error"]), "; ".join(texts)] if texts else [str(body["error"])])
    status = body.get("status")  # Anaplan: {"status": "FAILURE_BAD_CREDENTIAL", "statusMessage": ...}
    if isinstance(status, dict):
        return _detail(status)
    if status is not None:
        return ": ".join(str(p) for p in (status, body.get("statusMessage")) if p)
    return ""


def vendor_error(response: requests.Response) -> str:
    """`HTTP 403 Forbidden: REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.`: status and the vendor's words."""
    try:
        detail = _detail(json.loads(response.content or b"null"))
    except ValueError:
        detail = ""
    if not detail:  # not a JSON error body we know: its text, short and on one line
        detail = " ".join((response.text or "").split())[:300]
    head = f"HTTP {response.status_code} {response.reason or ''}".strip()
    return f"{head}: {detail}" if detail else head


def error_from_response(response: requests.Response, what: str) -> ConnectorError:
    error = ConnectorError(f"{what}: {vendor_error(response)}")
    error.stops_system = response.status_code == 401 or any(c in error.args[0] for c in SYSTEM_WIDE_CODES)
    return error


@dataclass
class CallStats:
    """What one asset run asked of an API."""

    calls: int = 0  # HTTP requests sent, token requests included
    retries: int = 0  # answers that made the client retry: 429, 5xx, connection errors
    token_requests: int = 0
    reauthentications: int = 0  # 401s answered by a new token and one repeat
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def metadata(self) -> dict[str, int]:
        return {
            "api_calls": self.calls,
            "api_retries": self.retries,
            "api_token_requests": self.token_requests,
            "api_reauthentications": self.reauthentications,
        }


def _decimal_json(response: requests.Response, **kwargs: Any) -> Any:
    return json.loads(response.content, parse_float=Decimal, **kwargs)


class CountingAdapter(HTTPAdapter):
    """Counts every request on the wire and makes `response.json()` read numbers as Decimal."""

    def __init__(self, stats: CallStats, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stats = stats

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.stats.add(calls=1)
        try:
            response = super().send(request, **kwargs)
        except requests.RequestException:
            self.stats.add(retries=1)
            raise
        if response.status_code in RETRY_STATUS:
            self.stats.add(retries=1)
        response.json = partial(_decimal_json, response)  # type: ignore[method-assign]
        return response


@dataclass(frozen=True)
class HttpSettings:
    timeout_seconds: float = 60
    max_attempts: int = 6
    backoff_factor: float = 0.5
    max_retry_delay_seconds: float = 60
    max_connections: int = 10


def make_session(stats: CallStats, settings: HttpSettings) -> requests.Session:
    """dlt's retrying session (Retry-After honoured), counting through our adapter."""
    client = Client(
        request_timeout=settings.timeout_seconds,
        raise_for_status=False,
        request_max_attempts=settings.max_attempts,
        request_backoff_factor=settings.backoff_factor,
        request_max_retry_delay=settings.max_retry_delay_seconds,
        respect_retry_after_header=True,
    )
    session = client.session
    adapter = CountingAdapter(stats, pool_maxsize=settings.max_connections)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.__deepcopy__ = lambda memo: session  # type: ignore[attr-defined]  # dlt copies its config
    return session


class TokenAuth(requests.auth.AuthBase):
    """A bearer token from a token endpoint; renewed before expiry and after a 401."""

    scheme = "Bearer"
    renew_margin_seconds = 60.0

    def __init__(self, session: requests.Session, stats: CallStats) -> None:
        self.session, self.stats = session, stats
        session.auth = self  # every API call of this run carries the token (dlt's client sets no auth)
        self._token: str | None = None
        self._expires_at: float | None = None
        self._refused: AuthError | None = None  # the token endpoint's refusal, raised again without asking
        self._issued: list[str] = []  # every token of this run, for `redact`
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token=***)"

    def __deepcopy__(self, memo: dict) -> TokenAuth:
        return self  # one token cache per run; dlt deep-copies its source config

    # subclasses: one POST to the vendor's token endpoint -> (token, lifetime in seconds or None)
    def fetch(self) -> tuple[str, float | None]:
        raise NotImplementedError

    def secrets(self) -> list[str]:
        """The credentials this auth holds (subclasses add theirs); never shown anywhere."""
        return list(self._issued)

    def redact(self, text: str) -> str:
        """`text` with every credential and token of this run replaced by `***`."""
        for secret in sorted((s for s in self.secrets() if s and len(s) >= 4), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def token(self, stale: str | None = None) -> str:
        with self._lock:
            if self._refused is not None:
                raise self._refused  # the credentials were refused once this run: do not ask again
            expired = self._expires_at is not None and time.time() >= self._expires_at
            if self._token is None or expired or (stale is not None and self._token == stale):
                self.stats.add(token_requests=1)
                try:
                    token, lifetime = self.fetch()
                except AuthError as err:
                    self._refused = err
                    raise
                self._issued.append(token)
                margin = min(self.renew_margin_seconds, (lifetime or 0) / 10)  # renew a little before expiry
                self._token, self._expires_at = token, (time.time() + lifetime - margin if lifetime else None)
            return self._token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"{self.scheme} {self.token()}"
        request.register_hook("response", self._renew_on_401)
        return request

    def _renew_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or response.request.headers.get("X-Reauthenticated"):
            return response
        used = response.request.headers.get("Authorization", "").partition(" ")[2]
        retry = response.request.copy()
        retry.headers["Authorization"] = f"{self.scheme} {self.token(stale=used)}"
        retry.headers["X-Reauthenticated"] = "1"
        self.stats.add(reauthentications=1)
        response.close()
        again = response.connection.send(retry, **kwargs)  # type: ignore[attr-defined]
        again.history.append(response)
        again.request = retry
        return again

    def post_token(self, url: str, **kwargs: Any) -> dict[str, Any]:
        """POST to a token endpoint (retried like any call, 429 and 5xx).

        A 4xx answer is a refusal of the credentials: `AuthError` with the vendor's error code and
        message (`invalid_client: ...`), never a secret. Either way the system's extract stops."""
        kwargs.setdefault("auth", _no_auth)  # not the session's own token auth: that is what is being fetched
        response = self.session.post(url, **kwargs)
        if response.status_code >= 400:
            if response.status_code >= 500 or response.status_code == 429:  # retries used up: down, not a refusal
                error = ConnectorError(self.redact(f"authentication failed at {url}: {vendor_error(response)}"))
                error.stops_system = True  # this run gets no token: stop, but a later renewal may ask again
                raise error
            raise AuthError(self.redact(f"authentication refused by {url}: {vendor_error(response)}"))
        return response.json()


class SalesforceAuth(TokenAuth):
    """OAuth 2.0 client credentials at `<login>/services/oauth2/token`; the API base is the `instance_url`.

    Salesforce sends no token lifetime: a session that timed out answers 401 INVALID_SESSION_ID.
    """

    def __init__(self, session, stats, login_url: str, client_id: str, client_secret: str) -> None:
        super().__init__(session, stats)
        self.login_url, self.client_id, self._secret = login_url.rstrip("/"), client_id, client_secret
        self.instance_url = ""

    def secrets(self) -> list[str]:
        return [*super().secrets(), self._secret]

    def fetch(self) -> tuple[str, float | None]:
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._secret}
        answer = self.post_token(f"{self.login_url}/services/oauth2/token", data=form)
        self.instance_url = str(answer["instance_url"]).rstrip("/")
        return str(answer["access_token"]), None


class NetSuiteAuth(TokenAuth):
    """OAuth 2.0 machine-to-machine: client credentials with a JWT assertion signed (PS256) by the
    integration's certificate key, at `<account>/services/rest/auth/oauth2/v1/token`."""

    def __init__(self, session, stats, account_url: str, client_id: str, certificate_id: str, private_key: str) -> None:
        super().__init__(session, stats)
        self.account_url, self.client_id, self.certificate_id = account_url.rstrip("/"), client_id, certificate_id
        self._key = serialization.load_pem_private_key(normalize_pem(private_key).encode(), password=None)
        self._pem_lines = [line for line in normalize_pem(private_key).splitlines() if "-----" not in line]
        self._assertions: list[str] = []  # signed JWTs sent: credentials for their lifetime

    def secrets(self) -> list[str]:
        return [*super().secrets(), *self._pem_lines, *self._assertions]

    def assertion(self) -> str:
        url = f"{self.account_url}/services/rest/auth/oauth2/v1/token"
        now = int(time.time())
        header = {"alg": "PS256", "typ": "JWT", "kid": self.certificate_id}
        claims = {"iss": self.client_id, "scope": ["rest_webservices"], "aud": url, "iat": now, "exp": now + 3000}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        signature = self._key.sign(signing_input.encode(), pss, hashes.SHA256())  # type: ignore[union-attr, call-arg]
        self._assertions.append(f"{signing_input}.{_b64(signature)}")
        return self._assertions[-1]

    def fetch(self) -> tuple[str, float | None]:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": self.assertion(),
        }
        answer = self.post_token(f"{self.account_url}/services/rest/auth/oauth2/v1/token", data=form)
        return str(answer["access_token"]), float(answer.get("expires_in") or 3600)


class WorkdayAuth(TokenAuth):
    """OAuth 2.0 refresh-token grant of a Workday API client for integrations, at `/ccx/oauth2/<tenant>/token`."""

    def __init__(self, session, stats, base_url: str, tenant: str, client_id: str, secret: str, refresh: str) -> None:
        super().__init__(session, stats)
        self.url = f"{base_url.rstrip('/')}/ccx/oauth2/{tenant}/token"
        self.client_id, self._secret, self._refresh = client_id, secret, refresh

    def secrets(self) -> list[str]:
        return [*super().secrets(), self._secret, self._refresh]

    def fetch(self) -> tuple[str, float | None]:
        form = {"grant_type": "refresh_token", "refresh_token": self._refresh}
        answer = self.post_token(self.url, data=form, auth=(self.client_id, self._secret))
        lifetime = answer.get("expires_in")
        return str(answer["access_token"]), float(lifetime) if lifetime else None


class AnaplanAuth(TokenAuth):
    """Anaplan's auth service: HTTP Basic at `<auth>/token/authenticate`, header `AnaplanAuthToken <token>`."""

    scheme = "AnaplanAuthToken"

    def __init__(self, session, stats, auth_url: str, username: str, password: str) -> None:
        super().__init__(session, stats)
        self.url, self.username, self._password = f"{auth_url.rstrip('/')}/token/authenticate", username, password

    def secrets(self) -> list[str]:
        return [*super().secrets(), self._password]

    def fetch(self) -> tuple[str, float | None]:
        info = self.post_token(self.url, auth=(self.username, self._password))["tokenInfo"]
        return str(info["tokenValue"]), max(1.0, float(info["expiresAt"]) / 1000 - time.time())


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def normalize_pem(text: str) -> str:
    """A PEM key from an environment variable: real newlines or `\\n` escapes."""
    return text.strip().replace("\\n", "\n") + "\n"
