"""The one HTTP stack: retries, Retry-After, token refresh, call counting, secret redaction, vendor errors.

Every HTTP client goes through `Session` (the API connectors with dlt, the Anaplan client of the
exports and the sync, the alert webhook). tenacity retries connection errors, timeouts, 408, 429
and 5xx, at most `max_attempts` times, after the server's `Retry-After` or else a capped
exponential backoff with full jitter (sleep and jitter injectable). Every request on the wire is
counted for asset metadata. JSON numbers are read as `Decimal`, never float. Each auth class
fetches a token from its vendor's token endpoint, renews it before its stated expiry, and on a 401
(an expired or revoked session) fetches a new one and repeats the request once. A token endpoint
that refuses the credentials (`invalid_client`, a bad signature, bad credentials) is asked once per
run: the refusal is remembered and raised by every later call, so a wrong secret stops the system
instead of being tried once per object.

Errors name the vendor's own code and message (`vendor_error`: Salesforce `errorCode`/`message`,
NetSuite `o:errorDetails`, Workday and OAuth `error`/`error_description`, Anaplan `status`), and
a network error only by its kind (requests puts the URL, maybe a webhook's secret, in its texts).
Secrets only travel in request bodies or headers: no repr, log line or exception message here
contains them, and `TokenAuth.redact` blanks any that a vendor's error text might echo.
"""

from __future__ import annotations

import base64
import json
import logging
import random as _random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import tenacity
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)
RETRY_STATUS = (408, 429, *range(500, 600))
RETRY_EXCEPTIONS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


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


def request_error(what: str, outcome: Any, redact=str, kind: type[ConnectorError] = ConnectorError) -> ConnectorError:
    """`what: HTTP 503 Service Unavailable: <the vendor's words> after 6 attempts` from the last answer (or error).

    A network error is named by its kind only. `stops_system` when the answer was a 401 (after a
    new token) or names an org-wide code."""
    if isinstance(outcome, requests.Response):
        text = vendor_error(outcome)
    else:
        text = "no response within the timeout" if isinstance(outcome, requests.Timeout) else type(outcome).__name__
    attempts = getattr(outcome, "attempts", 1)
    error = kind(redact(f"{what}: {text}" + (f" after {attempts} attempts" if attempts > 1 else "")))
    error.stops_system = getattr(outcome, "status_code", 0) == 401 or any(c in text for c in SYSTEM_WIDE_CODES)
    return error


@dataclass
class CallStats:
    """What one asset run asked of an API."""

    calls: int = 0  # HTTP requests sent, token requests included
    retries: int = 0  # requests sent again after a 408, 429, 5xx or connection error
    token_requests: int = 0
    reauthentications: int = 0  # 401s answered by a new token and one repeat
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def metadata(self) -> dict[str, int]:
        """`api_calls`, `api_retries`, `api_token_requests`, `api_reauthentications`."""
        return {
            f"api_{name}": getattr(self, name) for name in ("calls", "retries", "token_requests", "reauthentications")
        }


class CountingAdapter(HTTPAdapter):
    """Counts every request on the wire and makes `response.json()` read numbers as Decimal."""

    def __init__(self, stats: CallStats, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stats = stats

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.stats.add(calls=1)
        response = super().send(request, **kwargs)
        response.json = lambda **kw: json.loads(response.content, parse_float=Decimal, **kw)  # type: ignore[method-assign]
        return response


@dataclass(frozen=True)
class HttpSettings:
    timeout_seconds: float = 60
    max_attempts: int = 6  # per request, the first included
    backoff_seconds: float = 0.5  # the first retry's longest wait; doubles with every retry
    max_retry_delay_seconds: float = 60  # longest wait between attempts, Retry-After included
    max_connections: int = 10


def retry_after(response: requests.Response) -> float | None:
    """The Retry-After header in seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class Session(requests.Session):
    """A requests session that retries (tenacity), counts (`stats`) and times out every request.

    `response.attempts` (or the exception's `attempts`) says how many attempts it took; `name`
    prefixes the retry warnings, which give the status or the error's kind, never the URL."""

    def __init__(
        self,
        stats: CallStats,
        settings: HttpSettings = HttpSettings(),
        name: str = "HTTP",
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        super().__init__()
        self.stats, self.settings, self.name, self._random = stats, settings, name, random
        adapter = CountingAdapter(stats, pool_maxsize=settings.max_connections)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self._retrying = tenacity.Retrying(
            retry=self._retryable,
            stop=tenacity.stop_after_attempt(settings.max_attempts),
            wait=self._wait,
            sleep=sleep,
            before_sleep=self._before_sleep,
            retry_error_callback=lambda state: state.outcome.result(),  # the last answer, or its error raised
        )

    def __deepcopy__(self, memo: dict) -> Session:
        return self  # one session (and its counts) per run; dlt deep-copies its source config

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["timeout"] = kwargs.get("timeout") or self.settings.timeout_seconds
        retrying = self._retrying.copy()
        try:
            response = retrying(super().send, request, **kwargs)
        except requests.RequestException as err:
            err.attempts = retrying.statistics.get("attempt_number", 1)  # type: ignore[attr-defined]
            raise
        response.attempts = retrying.statistics.get("attempt_number", 1)  # type: ignore[attr-defined]
        return response

    @staticmethod
    def _answer(state: tenacity.RetryCallState) -> tuple[requests.Response | None, BaseException | None]:
        """What an attempt got: its response (also that of an HTTPError a hook raised, as dlt's RESTClient does)."""
        assert state.outcome is not None
        error = state.outcome.exception()
        return (getattr(error, "response", None), error) if error is not None else (state.outcome.result(), None)

    def _retryable(self, state: tenacity.RetryCallState) -> bool:
        response, error = self._answer(state)
        return response.status_code in RETRY_STATUS if response is not None else isinstance(error, RETRY_EXCEPTIONS)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """The server's Retry-After, else full jitter over a capped exponential; never above the cap."""
        response, _ = self._answer(state)
        after = retry_after(response) if response is not None else None
        cap = self.settings.max_retry_delay_seconds
        if after is not None:
            return min(after, cap)
        return self._random() * min(cap, self.settings.backoff_seconds * 2 ** (state.attempt_number - 1))

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        self.stats.add(retries=1)
        response, error = self._answer(state)
        reason = f"HTTP {response.status_code}" if response is not None else type(error).__name__
        total, wait = self.settings.max_attempts - 1, state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: %s; retry %d of %d in %.2f s", self.name, reason, state.attempt_number, total, wait)


class TokenAuth(requests.auth.AuthBase):
    """A bearer token from a token endpoint; renewed before expiry (`clock`) and after a 401."""

    scheme = "Bearer"
    renew_margin_seconds = 60.0  # renew this long before expiry (at most a tenth of the lifetime)

    def __init__(self, session: Session, clock: Callable[[], float] = time.time) -> None:
        self.session, self.stats, self.clock = session, session.stats, clock
        session.auth = self  # every call of this session carries the token
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

    def renew(self) -> tuple[str, float | None]:
        """A new token for one about to expire (Anaplan refreshes it); by default a new fetch."""
        return self.fetch()

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
            expiring = self._expires_at is not None and self.clock() >= self._expires_at
            if self._token is None or expiring or (stale is not None and self._token == stale):
                self.stats.add(token_requests=1)
                try:
                    token, lifetime = self.renew() if expiring and self._token != stale else self.fetch()
                except AuthError as err:
                    self._refused = err
                    raise
                self._issued.append(token)
                margin = min(self.renew_margin_seconds, (lifetime or 0) / 10)  # renew a little before expiry
                self._token, self._expires_at = token, (self.clock() + lifetime - margin if lifetime else None)
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
            if response.status_code >= 500 or response.status_code in RETRY_STATUS:  # retries used up: down
                error = ConnectorError(self.redact(f"authentication failed at {url}: {vendor_error(response)}"))
                error.stops_system = True  # this run gets no token: stop, but a later renewal may ask again
                raise error
            raise AuthError(self.redact(f"authentication refused by {url}: {vendor_error(response)}"))
        return response.json()


class SalesforceAuth(TokenAuth):
    """OAuth 2.0 client credentials at `<login>/services/oauth2/token`; the API base is the `instance_url`.

    Salesforce sends no token lifetime: a session that timed out answers 401 INVALID_SESSION_ID.
    """

    def __init__(self, session: Session, login_url: str, client_id: str, client_secret: str) -> None:
        super().__init__(session)
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

    def __init__(self, session: Session, account_url: str, client_id: str, certificate_id: str, private_key: str):
        super().__init__(session)
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

    def __init__(self, session: Session, base_url: str, tenant: str, client_id: str, secret: str, refresh: str):
        super().__init__(session)
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
    """Anaplan's auth service: HTTP Basic at `<auth>/token/authenticate`, header `AnaplanAuthToken <token>`;
    a token about to expire is refreshed at `<auth>/token/refresh` (tokens live 35 minutes)."""

    scheme = "AnaplanAuthToken"
    renew_margin_seconds = 300.0

    def __init__(self, session: Session, auth_url: str, username: str, password: str) -> None:
        super().__init__(session)
        self.url, self.username, self._password = f"{auth_url.rstrip('/')}/token", username, password

    def secrets(self) -> list[str]:
        return [*super().secrets(), self._password]

    def fetch(self) -> tuple[str, float | None]:
        return self._info(self.post_token(f"{self.url}/authenticate", auth=(self.username, self._password)))

    def renew(self) -> tuple[str, float | None]:
        headers = {"Authorization": f"{self.scheme} {self._token}"}
        try:
            return self._info(self.post_token(f"{self.url}/refresh", headers=headers))
        except AuthError:  # the old token was already refused: authenticate again
            return self.fetch()

    def _info(self, answer: dict[str, Any]) -> tuple[str, float | None]:
        info = answer["tokenInfo"]
        return str(info["tokenValue"]), max(1.0, float(info["expiresAt"]) / 1000 - self.clock())


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def normalize_pem(text: str) -> str:
    """A PEM key from an environment variable: real newlines or `\\n` escapes."""
    return text.strip().replace("\\n", "\n") + "\n"
