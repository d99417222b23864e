"""The Anaplan client against the local Anaplan server: round trip, retries, tokens, rejections, secrets.

Kind: unit (fast; `make test-fast`). Every test starts its own server on a free port with its
SQLite file under tmp_path. Waits the client would do (backoff, Retry-After, polling) go through
an injected sleep that records them and sleeps at most 10 ms; token expiry is the server's
(`tokens/expire`) or an injected clock's; a timeout is the server's `hang` fault (no answer until
the client hangs up), and a task stalls until the test releases it (`tasks/release`): no test
races the wall clock.
"""

from __future__ import annotations

import csv
import io
import logging
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from demo.servers.anaplan import COLUMNS, read_cells, read_imports, start_server
from demo.servers.anaplan.server import RunningServer
from orchestration.defs.reverse_sync.anaplan import (
    AnaplanClient,
    AnaplanError,
    AnaplanResource,
    RejectedRow,
    parse_failure_dump,
)
from orchestration.lib.http import AuthError
from tests.waiting import release_stalled_tasks, wait_until_idle

pytestmark = pytest.mark.unit

FILE = IMPORT = "forecast_inputs"
# The client's timeout where a test hangs a request: the hung request waits exactly this long, and
# every other request (a local server's answer in milliseconds) stays far below it on any machine.
HANG_TIMEOUT = 2.0
# A token that outlives any test on its own: only the server's expire hook or an injected clock ends it.
TOKEN_TTL = 3600
BASE = "/2/0/workspaces/demo-ws/models/demo-model"
ROWS = [
    ("US01", "Data", "Jan 26", "Forecast Revenue", "Forecast", "1200.5", "run-1"),
    ("US01", "Data", "Feb 26", "Scheduled Revenue", "Forecast", "800", "run-1"),
    ("UK01", "Cloud", "Jan 26", "Weighted Pipeline", "Forecast", "-50.25", "run-1"),
    ("UK01", "Cloud", "Mar 26", "Forecast Revenue", "Forecast", "0", "run-1"),
]


def to_csv(rows: list[tuple[str, ...]], header: tuple[str, ...] = COLUMNS) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode()


def cells_by_key(db_path: Path) -> dict[tuple[object, ...], tuple[object, object]]:
    return {tuple(c[k] for k in COLUMNS[:5]): (c["Value"], c["Audit Run Id"]) for c in read_cells(db_path)}


class Sleeps(list[float]):
    """An injected sleep: records every wait, waits at most 10 ms (enough for the server's worker)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(min(seconds, 0.01))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with start_server(tmp_path / "anaplan.sqlite") as running:
        yield running


class Clock:
    """An injected clock for the client's token expiry: real time until a test moves it on."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def model(server: RunningServer, **overrides: object) -> AnaplanResource:
    settings = {"timeout_seconds": 5, "max_attempts": 4, "poll_interval_seconds": 0.02, "task_timeout_seconds": 10}
    where = {"api_url": server.url, "auth_url": server.url, "workspace_id": "demo-ws", "model_id": "demo-model"}
    who = {"username": "demo", "password": server.config.password}
    return AnaplanResource(**{**where, **who, **settings, **overrides})  # type: ignore[arg-type]


def make_client(
    server: RunningServer,
    sleep: Callable[[float], None] | None = None,
    random: Callable[[], float] = lambda: 0.5,
    clock: Callable[[], float] = time.time,
    **overrides: object,
) -> AnaplanClient:
    return model(server, **overrides).client(sleep=sleep if sleep is not None else Sleeps(), random=random, clock=clock)


def count(server: RunningServer, method: str, suffix: str) -> int:
    return sum(n for line, n in server.request_counts().items() if line.startswith(method) and line.endswith(suffix))


def test_round_trip_in_three_chunks_is_idempotent_and_empty_value_clears(server: RunningServer) -> None:
    client = make_client(server)
    payload = to_csv(ROWS)
    result = client.import_csv(FILE, IMPORT, payload, chunk_size=len(payload) // 3 + 1)

    assert result.successful and result.rows_rejected == []
    assert count(server, "PUT", "/chunks/2") == 1 and count(server, "PUT", "/chunks/3") == 0  # exactly 3 chunks
    stored = cells_by_key(server.db_path)
    assert stored[("US01", "Data", "Jan 26", "Forecast Revenue", "Forecast")] == (1200.5, "run-1")
    assert len(stored) == len(ROWS) and {audit for _, audit in stored.values()} == {"run-1"}

    again = client.import_csv(FILE, IMPORT, payload, chunk_size=len(payload) // 3 + 1)
    assert again.successful and cells_by_key(server.db_path) == stored
    assert read_imports(server.db_path)[-1]["unchanged"] == len(ROWS)

    cleared = ("UK01", "Cloud", "Jan 26", "Weighted Pipeline", "Forecast", "", "run-2")
    assert client.import_csv(FILE, IMPORT, to_csv([cleared])).successful
    after = cells_by_key(server.db_path)
    assert cleared[:5] not in after and len(after) == len(ROWS) - 1
    assert client.stats.retries == 0


def test_429_retry_after_is_honoured(server: RunningServer) -> None:
    server.set_faults([{"match": r"PUT .*/chunks/0$", "status": 429, "retry_after": 3}])
    sleeps = Sleeps()
    client = make_client(server, sleeps)
    assert client.import_csv(FILE, IMPORT, to_csv(ROWS)).successful
    assert sleeps[0] >= 3  # the first wait is the 429's, before any polling
    assert count(server, "PUT", "/chunks/0") == 2 and client.stats.retries == 1


def test_500_on_task_start_then_success(server: RunningServer) -> None:
    server.set_faults([{"match": r"POST .*/imports/forecast_inputs/tasks$", "status": 500, "times": 2}])
    client = make_client(server)
    assert client.import_csv(FILE, IMPORT, to_csv(ROWS)).successful
    assert count(server, "POST", "/tasks") == 3 and client.stats.retries == 2
    assert len(read_cells(server.db_path)) == len(ROWS) and len(read_imports(server.db_path)) == 1


def test_timeout_then_success(server: RunningServer) -> None:
    server.set_faults([{"match": r"PUT .*/chunks/0$", "hang": 30}])  # no answer until the client gives up
    client = make_client(server, timeout_seconds=HANG_TIMEOUT)
    assert client.import_csv(FILE, IMPORT, to_csv(ROWS)).successful
    assert count(server, "PUT", "/chunks/0") == 2 and client.stats.retries == 1
    assert len(read_cells(server.db_path)) == len(ROWS)


def test_lost_task_start_response_runs_the_import_twice_with_the_same_result(server: RunningServer) -> None:
    """Why retrying the non-idempotent task start is safe: a second run of the same upsert changes nothing."""
    server.set_faults([{"match": r"POST .*/tasks$", "hang": 30}])  # the server starts the task after the timeout
    client = make_client(server, timeout_seconds=HANG_TIMEOUT)
    assert client.import_csv(FILE, IMPORT, to_csv(ROWS)).successful
    assert client.stats.retries == 1
    wait_until_idle(server.url)  # the hung start is handled once the client hung up: a second task
    imports = read_imports(server.db_path)
    assert len(imports) == 2 and sum(i["created"] for i in imports) == len(ROWS)
    assert len(read_cells(server.db_path)) == len(ROWS)


def test_expired_token_is_replaced_transparently(server: RunningServer) -> None:
    client = make_client(server)
    assert client.import_csv(FILE, IMPORT, to_csv(ROWS[:1])).successful
    requests.post(f"{server.url}/_admin/tokens/expire", timeout=5).raise_for_status()  # the session ends
    assert client.import_csv(FILE, IMPORT, to_csv(ROWS[1:])).successful
    assert count(server, "POST", "/token/authenticate") == 2 and client.stats.reauthentications == 1
    assert len(read_cells(server.db_path)) == len(ROWS)


def test_token_is_refreshed_before_it_expires(tmp_path: Path) -> None:
    clock = Clock()
    with start_server(tmp_path / "a.sqlite", token_ttl_seconds=TOKEN_TTL) as server:
        client = make_client(server, clock=clock)
        assert client.import_csv(FILE, IMPORT, to_csv(ROWS[:1])).successful
        assert count(server, "POST", "/token/refresh") == 0
        clock.now += TOKEN_TTL * 0.95  # within the last tenth of the token's life: refreshed before the next call
        assert client.import_csv(FILE, IMPORT, to_csv(ROWS[1:])).successful
        assert count(server, "POST", "/token/refresh") == 1 and count(server, "POST", "/token/authenticate") == 1
        assert client.stats.reauthentications == 0  # no call met an expired token


def test_401_on_a_call_authenticates_again_once(server: RunningServer) -> None:
    server.set_faults([{"match": r"PUT .*/chunks/0$", "status": 401}])
    client = make_client(server)
    assert client.import_csv(FILE, IMPORT, to_csv(ROWS)).successful
    assert count(server, "POST", "/token/authenticate") == 2 and count(server, "PUT", "/chunks/0") == 2


def test_wrong_password_fails_without_revealing_it(server: RunningServer) -> None:
    client = make_client(server, password="not-the-password-123")
    with pytest.raises(AuthError) as raised:
        client.import_csv(FILE, IMPORT, to_csv(ROWS))
    assert "/token/authenticate: HTTP 401" in str(raised.value) and "FAILURE_BAD_CREDENTIAL" in str(raised.value)
    assert "not-the-password-123" not in str(raised.value) and client.stats.retries == 0


def test_rejected_rows_come_back_with_their_reason(server: RunningServer) -> None:
    server.set_faults([{"match": "tasks$", "reject": {"column": "Practice", "equals": "Cloud"}}])
    bad_month = ("US01", "Data", "January", "Forecast Revenue", "Forecast", "5", "run-1")
    bad_value = ("US01", "Data", "Apr 26", "Forecast Revenue", "Forecast", "12,5", "run-1")
    result = make_client(server).import_csv(FILE, IMPORT, to_csv([*ROWS, bad_month, bad_value]))

    assert not result.successful
    reasons = {(r.values["Practice"], r.values["Month"]): (r.line, r.errors) for r in result.rows_rejected}
    assert set(reasons) == {("Cloud", "Jan 26"), ("Cloud", "Mar 26"), ("Data", "January"), ("Data", "Apr 26")}
    assert reasons[("Cloud", "Jan 26")] == (4, ("rejected by injected fault: Practice = Cloud",))
    assert reasons[("Data", "January")] == (6, ("Month 'January' is not a time period label like 'Jan 26'",))
    assert reasons[("Data", "Apr 26")] == (7, ("Value '12,5' is not a number",))
    assert set(cells_by_key(server.db_path)) == {row[:5] for row in ROWS if row[1] == "Data"}
    assert "2 rows successful, 4 failed" in result.details[0]["localMessageText"]


def test_failure_dump_is_read_in_anaplan_format_from_its_chunks(tmp_path: Path) -> None:
    """`_Line_`, `_Error_1_`, `_Error_2_`, ..., then the row; a dump of many chunks cut mid-row and mid-character."""
    two_faults = ("UK01", "Données", "Sept", "Forecast Revenue", "Forecast", "n/a", "run-1")
    rows = [*ROWS, two_faults, *[("US01", "Données", f"{m} 27", "Forecast Revenue", "Forecast", "x", "run-1")
                                 for m in ("Jan", "Feb", "Mar", "Apr", "May")]]  # fmt: skip
    size = 38  # cuts "é" of a row in two: the chunks must be joined as bytes before decoding
    with start_server(tmp_path / "a.sqlite", dump_chunk_bytes=size) as server:
        client = make_client(server)
        result = client.import_csv(FILE, IMPORT, to_csv(rows))
        dump = requests.get(  # the same dump whole, as the server wrote it
            f"{server.url}{BASE}/imports/{IMPORT}/tasks/{result.task_id}/dump",
            headers={"Authorization": f"AnaplanAuthToken {client.auth.token()}"},
            timeout=5,
        ).content
        chunks_read = sum(n for line, n in server.request_counts().items() if "/dump/chunks/" in line)
    assert dump.decode().splitlines()[0] == "_Line_,_Error_1_,_Error_2_," + ",".join(COLUMNS)
    assert chunks_read == -(-len(dump) // size) > 5  # every chunk read once
    assert any(dump[k] & 0xC0 == 0x80 for k in range(size, len(dump), size))  # a chunk starts mid-character
    rejected = {r.values["Month"]: r for r in result.rows_rejected}
    assert rejected["Sept"].line == 6 and rejected["Sept"].values["Practice"] == "Données"
    assert rejected["Sept"].errors == (
        "Month 'Sept' is not a time period label like 'Jan 26'",
        "Value 'n/a' is not a number",
    )
    assert (
        rejected["Sept"].reason == "Month 'Sept' is not a time period label like 'Jan 26'; Value 'n/a' is not a number"
    )
    assert [rejected[f"{m} 27"].errors for m in ("Jan", "May")] == [("Value 'x' is not a number",)] * 2
    assert len(result.rows_rejected) == 6 and len(read_cells(server.db_path)) == len(ROWS)


def test_a_failure_dump_without_reasons_is_an_error() -> None:
    with pytest.raises(AnaplanError, match=r"no _Error_1_ column \(header: Legal Entity, _Reason\)"):
        parse_failure_dump(b"Legal Entity,_Reason\nUS01,bad\n", "failure dump")
    rows = parse_failure_dump(b"_Line_,_Error_1_,_Error_2_,Legal Entity\r\n3,too big,,US01\r\n")
    assert rows == [RejectedRow(line=3, errors=("too big",), values={"Legal Entity": "US01"})]


def test_retries_exhausted_names_the_call_and_status(server: RunningServer) -> None:
    server.set_faults([{"match": r"PUT .*/chunks/0$", "status": 500, "times": 10}])
    sleeps = Sleeps()
    client = make_client(server, sleeps, random=lambda: 1.0, max_retry_delay_seconds=1.5)
    with pytest.raises(
        AnaplanError, match=r"upload chunk 0 of file forecast_inputs \(PUT\) failed: HTTP 500.*4 attempts"
    ):
        client.import_csv(FILE, IMPORT, to_csv(ROWS))
    assert sleeps == [0.5, 1.0, 1.5]  # exponential, capped (jitter pinned to its maximum)
    assert count(server, "PUT", "/chunks/0") == 4 and client.stats.retries == 3


def test_other_4xx_is_not_retried(server: RunningServer) -> None:
    client = make_client(server)
    with pytest.raises(AnaplanError, match=r"start upload of file no_such_file.*HTTP 404"):
        client.import_csv("no_such_file", IMPORT, to_csv(ROWS))
    assert client.stats.retries == 0


def test_stalled_task_is_polled_until_complete_and_task_timeout_is_bounded(server: RunningServer) -> None:
    server.set_faults([{"match": "tasks$", "stall_task": 600}])  # IN_PROGRESS until the test releases it
    sleeps = Sleeps()

    def poll_wait(seconds: float) -> None:  # the client's wait between polls: the third one releases the task
        sleeps(seconds)
        if len(sleeps) == 3:
            assert release_stalled_tasks(server.url) == 1

    client = make_client(server, poll_wait, poll_interval_seconds=0.05)
    assert client.import_csv(FILE, IMPORT, to_csv(ROWS)).successful
    polls = sum(n for line, n in server.request_counts().items() if line.startswith("GET") and "/tasks/" in line)
    assert len(sleeps) >= 3 and polls == len(sleeps) + 1  # polled IN_PROGRESS three times at least, then COMPLETE
    assert set(sleeps) == {0.05} and len(read_cells(server.db_path)) == len(ROWS)

    server.set_faults([{"match": "tasks$", "stall_task": 600}])  # never released
    with pytest.raises(AnaplanError, match=r"still IN_PROGRESS after 0\.5 s"):
        make_client(server, task_timeout_seconds=0.5).import_csv(FILE, IMPORT, to_csv(ROWS))


def test_a_file_the_import_cannot_read_is_an_error(server: RunningServer) -> None:
    with pytest.raises(AnaplanError, match=r"missing column.*Audit Run Id"):
        make_client(server).import_csv(FILE, IMPORT, to_csv([r[:6] for r in ROWS], header=COLUMNS[:6]))


def test_canary_secrets_never_reach_messages_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    clock = Clock()
    with start_server(
        tmp_path / "a.sqlite", password=canary, token_prefix=canary, token_ttl_seconds=TOKEN_TTL
    ) as server:
        client = make_client(server, clock=clock)
        server.set_faults(
            [
                {"match": "chunks/0$", "status": 401},
                {"match": "complete$", "status": 429, "retry_after": 0},
                {"match": "tasks$", "status": 500},
            ]
        )
        assert client.import_csv(FILE, IMPORT, to_csv(ROWS)).successful
        clock.now += TOKEN_TTL * 0.95  # the token is about to expire: the next call refreshes it
        exhausted = [{"match": "chunks/0$", "status": 503, "times": 10}]
        for faults, failing in (
            (exhausted, lambda: client.import_csv(FILE, IMPORT, to_csv(ROWS))),
            ([], lambda: make_client(server, password=canary + "-wrong").import_csv(FILE, IMPORT, to_csv(ROWS))),
            ([], lambda: client.import_csv(FILE, IMPORT, b"not,a,forecast\n1,2,3\n")),
        ):
            server.set_faults(faults)
            with pytest.raises((AnaplanError, AuthError)) as raised:
                failing()
            errors.append(raised.value)
        texts = [repr(client), repr(model(server)), repr(client.auth), caplog.text]
        texts += ["".join(traceback.format_exception(e)) + repr(e) for e in errors]
        assert count(server, "POST", "/token/refresh") == 1  # the canary token travelled to be refreshed
    assert client.auth._token is not None and canary in client.auth._token  # the canary really was the token
    assert len(errors) == 3 and all(canary not in text for text in texts)


def test_admin_and_local_endpoints_over_http(server: RunningServer) -> None:
    bad = requests.post(f"{server.url}/_admin/faults", json=[{"match": "x"}], timeout=5)
    assert bad.status_code == 400 and "exactly one of" in bad.text
    ok = requests.post(f"{server.url}/_admin/faults", json=[{"match": "complete$", "status": 500}], timeout=5)
    assert ok.json() == {"faults": 1}
    make_client(server).import_csv(FILE, IMPORT, to_csv(ROWS))
    assert requests.get(f"{server.url}/_admin/faults", timeout=5).json()["faults"][0]["remaining"] == 0
    counts = requests.get(f"{server.url}/_admin/requests", timeout=5).json()["requests"]
    assert counts[f"POST {BASE}/files/forecast_inputs/complete"] == 2
    assert requests.delete(f"{server.url}/_admin/faults", timeout=5).json() == {"faults": 0}
    assert requests.get(f"{server.url}/_local/cells", timeout=5).json()["cells"] == read_cells(server.db_path)
    assert requests.post(f"{server.url}{BASE}/files/forecast_inputs", json={}, timeout=5).status_code == 401


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    pidfile = tmp_path / "anaplan.pid"
    command = [sys.executable, "-m", "demo.servers.anaplan", "--port", "0", "--db", str(tmp_path / "a.sqlite")]
    repo = Path(__file__).resolve().parents[1]
    with subprocess.Popen([*command, "--pidfile", str(pidfile)], stdout=subprocess.PIPE, text=True, cwd=repo) as proc:
        assert proc.stdout is not None
        url = proc.stdout.readline().split()[0]
        assert requests.get(f"{url}/_local/health", timeout=5).json() == {"status": "ok"}
        assert pidfile.read_text().strip() == str(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not pidfile.exists()
