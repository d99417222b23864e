"""The API path never loses rows and says what went wrong in the vendor's words, against the local servers.

- Exactly once into raw: an object's landed rows count as done only when the merge into raw (or
  the quarantine) has committed. A process SIGKILLed between the dlt extract and the merge, and a
  merge refused for too many bad rows, lose nothing: the next run merges every landed load that
  has not reached raw, and every source record is then in raw or in the quarantine.
- Salesforce's URI limit (16,384 bytes): an object with 700 or 800 custom fields still extracts.
- A vendor's refusal (`403 REQUEST_LIMIT_EXCEEDED`, NetSuite's `o:errorDetails`, Workday's
  errors) is named with its code and message, and no secret, token or key reaches the error.
- Refused credentials stop the system after one token request.

Each test gets fresh servers and its own warehouse; the kill test runs the real asset in a child
process (`python -m tests.api_servers`), as a launched run would.

Kind: integration (real connector runs against the local servers, a child process killed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import requests

from demo.servers.netsuite import demo_key_pair
from orchestration.contract import SourceObject, objects_for
from orchestration.defs.ingest.api.assets import ApiTuning, NetSuiteApi, SalesforceApi, WorkdayApi
from orchestration.defs.ingest.api.sources import SOQL_URI_BUDGET
from tests.api_servers import Servers, anaplan_model, api_servers, write_child_config
from tests.test_connectors import DRIVE, SECRET, failure_message, metadata, query, run

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[1]
SYSTEMS = ["crm", "erp", "hris", "planning"]


@pytest.fixture(scope="module")
def key_path(tmp_path_factory) -> Path:
    return demo_key_pair(tmp_path_factory.mktemp("netsuite_key"))


@pytest.fixture
def servers(small_landing, tmp_path: Path, key_path: Path) -> Iterator[Servers]:
    with api_servers(small_landing[0], tmp_path, key_path.read_text(), SECRET) as running:
        yield running


def _key_sql(obj: SourceObject, cast: str = "") -> str:
    return " || '|' || ".join(f"coalesce(\"{k}\"{cast}, '')" for k in obj.primary_key)


def source_keys(servers: Servers, obj: SourceObject) -> set[str]:
    """Every record the source system holds now (Salesforce's soft-deleted ones too: queryAll reads them)."""
    store = servers.source_store(obj.system)
    return {r[0] for r in store.query(f'select {_key_sql(obj)} from "{obj.name}"')}


def raw_and_quarantined_keys(warehouse: Path, obj: SourceObject) -> tuple[set[str], set[str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {f"{s}.{t}" for s, t in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()}
        raw = set()
        if f"{obj.schema}.{obj.name}" in tables:
            raw = {
                r[0]
                for r in con.execute(f"select {_key_sql(obj, '::varchar')} from {obj.schema}.{obj.name}").fetchall()
            }
        quarantined = set()
        if "ingest_meta.quarantine" in tables:
            quarantined = {
                r[0]
                for r in con.execute(
                    "select record_key from ingest_meta.quarantine where table_name = ?", [f"{obj.schema}.{obj.name}"]
                ).fetchall()
            }
    return raw, quarantined


def assert_every_source_record_reached_raw_or_quarantine(servers: Servers, warehouse: Path, system: str) -> None:
    for obj in objects_for(system):
        source = source_keys(servers, obj)
        raw, quarantined = raw_and_quarantined_keys(warehouse, obj)
        assert source, f"{obj.name}: the source is empty"
        missing = source - raw - quarantined
        assert not missing, (
            f"{obj.schema}.{obj.name}: {len(missing)} of {len(source)} source records lost, e.g. {sorted(missing)[:3]}"
        )
        assert len(raw) >= len(source) * 0.8, f"{obj.schema}.{obj.name}: most records must load, not sit in quarantine"


# --- exactly once: a SIGKILL between extract and merge -----------------------------------------------------------
@pytest.mark.parametrize("system", SYSTEMS)
def test_a_sigkill_between_extract_and_merge_loses_nothing(
    system: str, servers: Servers, key_path: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "w.duckdb"
    config = write_child_config(tmp_path / "child.json", servers, key_path, SECRET, {"database": str(warehouse)})
    scratch = tmp_path / "tmp"  # dlt's working folder of the killed process is left here, not in /tmp
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(REPO)}
    child = subprocess.run(
        [sys.executable, "-m", "tests.api_servers", str(config), system, "--kill-after-extract"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    # Killed where intended: dlt completed its load (rows landed, cursors stored), nothing reached raw.
    assert query(warehouse, f"select count(*) from api_{system}._dlt_loads where status = 0")[0][0] >= 1
    landed = sum(query(warehouse, f'select count(*) from api_{system}."{o.name}"')[0][0] for o in objects_for(system))
    assert landed > 0
    raw_tables = query(warehouse, f"select count(*) from duckdb_tables() where schema_name = 'raw_{system}'")[0][0]
    assert (
        raw_tables == 0
        or sum(query(warehouse, f"select count(*) from {o.schema}.{o.name}")[0][0] for o in objects_for(system)) == 0
    )

    again = run(servers, warehouse, system)  # an ordinary next run: its own extract finds little or nothing new
    assert_every_source_record_reached_raw_or_quarantine(servers, warehouse, system)
    for name, values in metadata(again).items():
        assert values["rows_read"] == values["rows_loaded"] + values["rows_quarantined"], name
    assert sum(m["rows_from_earlier_loads"] for m in metadata(again).values()) > 0
    third = metadata(run(servers, warehouse, system))  # merged loads are merged once: nothing twice
    assert all(m["rows_from_earlier_loads"] == 0 and m["rows_inserted"] == 0 for m in third.values())


# --- exactly once: a merge refused, then fixed -------------------------------------------------------------------
def _opportunities(warehouse: Path, n: int, skip: int = 0) -> list[str]:
    return [
        r[0] for r in query(warehouse, f'select "Id" from raw_crm.opportunity order by "Id" limit {n} offset {skip}')
    ]


@pytest.fixture
def no_lookback(servers: Servers) -> Servers:
    """Each run reads only what changed after the last cursor, so nothing comes back by the lookback window."""
    servers.resources["api_tuning"] = ApiTuning(max_concurrency=3, max_retry_delay_seconds=5, lookback_seconds=0)
    return servers


RENAMED = "Renamed while the merge was refused"
# The opportunities quarantined for their 'n/a' Amount, in the warehouse's quarantine table.
QUARANTINED_AMOUNTS = (
    "select record_key, field, value from ingest_meta.quarantine where table_name = 'raw_crm.opportunity' "
    "and value = 'n/a' order by 1"
)


def _break(servers: Servers, ids: list[str], amount: str) -> None:
    for opportunity in ids:
        update = {"object": "Opportunity", "key": {"Id": opportunity}, "set": {"Amount": amount}}
        servers.admin("crm", "records/update", update)


def _renamed_in_raw(warehouse: Path, ids: list[str]) -> int:
    listed = ", ".join(f"'{i}'" for i in ids)
    sql = f'select count(*) from raw_crm.opportunity where "Name" = \'{RENAMED}\' and "Id" in ({listed})'
    return query(warehouse, sql)[0][0]


def _refused_run(servers: Servers, warehouse: Path, bad: list[str], good: list[str]) -> None:
    _break(servers, bad, "n/a")  # twelve records now break the contract...
    for opportunity in good:  # ...and three others change validly in the same extract
        servers.admin(
            "crm", "records/update", {"object": "Opportunity", "key": {"Id": opportunity}, "set": {"Name": RENAMED}}
        )
    refused = run(servers, warehouse, "crm", raise_on_error=False)
    assert not refused.success
    message = failure_message(refused)
    assert "crm API Opportunity" in message and "'Amount'" in message, message
    assert _renamed_in_raw(warehouse, good) == 0  # the refused merge left raw as it was


def test_a_refused_merge_is_loaded_whole_once_the_source_is_fixed(no_lookback: Servers, tmp_path: Path) -> None:
    servers, warehouse = no_lookback, tmp_path / "w.duckdb"
    run(servers, warehouse, "crm")
    bad, good = _opportunities(warehouse, 12), _opportunities(warehouse, 3, skip=12)
    _refused_run(servers, warehouse, bad, good)
    _break(servers, bad, "1234.50")  # fixed at the source: these twelve are extracted again, the three are not
    fixed = run(servers, warehouse, "crm")
    opportunity = metadata(fixed)["opportunity"]
    assert opportunity["rows_from_earlier_loads"] == 3
    assert _renamed_in_raw(warehouse, good) == 3, "the valid changes the refused run extracted must reach raw"
    listed = ", ".join(f"'{i}'" for i in bad)
    amounts = query(warehouse, f'select distinct "Amount"::varchar from raw_crm.opportunity where "Id" in ({listed})')
    assert amounts == [("1234.50",)]
    assert_every_source_record_reached_raw_or_quarantine(servers, warehouse, "crm")


def test_a_refused_merge_is_quarantined_whole_once_the_share_is_raised(
    no_lookback: Servers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers, warehouse = no_lookback, tmp_path / "w.duckdb"
    run(servers, warehouse, "crm")
    bad, good = _opportunities(warehouse, 12), _opportunities(warehouse, 3, skip=12)
    _refused_run(servers, warehouse, bad, good)
    monkeypatch.setenv("INGEST_MAX_QUARANTINE_SHARE", "1")  # nothing changes at the source
    after = metadata(run(servers, warehouse, "crm"))["opportunity"]
    assert (after["rows_read"], after["rows_quarantined"], after["rows_updated"]) == (15, 12, 3)
    assert query(warehouse, QUARANTINED_AMOUNTS) == [(k, "Amount", "n/a") for k in sorted(bad)]
    assert _renamed_in_raw(warehouse, good) == 3


# --- Salesforce's URI limit ---------------------------------------------------------------------------------------
def test_the_local_salesforce_refuses_uris_over_16384_bytes_as_salesforce_does(servers: Servers) -> None:
    base = f"{servers.urls['crm']}/services/data/v61.0/query?q="
    token = requests.post(
        f"{servers.urls['crm']}/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": SECRET},
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    target = len("/services/data/v61.0/query?q=")
    fits = requests.get(base + "SELECT+Id+FROM+Account" + "+" * (12_000 - target), headers=headers, timeout=10)
    assert fits.status_code == 200
    too_long = requests.get(base + "SELECT+Id+FROM+Account" + "+" * (16_385 - target), headers=headers, timeout=10)
    assert too_long.status_code == 414
    with_headers = requests.get(
        base + "SELECT+Id+FROM+Account" + "+" * (16_000 - target), headers={**headers, "X-Pad": "x" * 500}, timeout=10
    )
    assert with_headers.status_code == 431


@pytest.mark.parametrize(("count", "length"), [(700, 30), (800, 43)])  # 43: the longest API name, 40 + "__c"
def test_an_object_with_hundreds_of_custom_fields_extracts(count: int, length: int, servers: Servers, tmp_path) -> None:
    names = [f"Custom_{i:04d}_".ljust(length - 3, "x") + "__c" for i in range(count)]
    servers.admin("crm", "fields", {"object": "Account", "add": [{"name": n, "value": "v"} for n in names]})
    warehouse = tmp_path / "w.duckdb"
    result = run(servers, warehouse, "crm")
    account = metadata(result)["account"]
    assert set(names) <= set(account["new_source_fields"])  # describe reports every field
    landed = {c for c in (r[0] for r in query(warehouse, "describe api_crm.account")) if c in names}
    assert landed and set(account["source_fields_not_landed"]) == set(names) - landed
    assert account["rows_read"] == len(source_keys(servers, objects_for("crm")[0])) > 0
    assert servers.longest_uri("crm") <= SOQL_URI_BUDGET < 16_384
    assert_every_source_record_reached_raw_or_quarantine(servers, warehouse, "crm")


# --- vendor errors and secrets --------------------------------------------------------------------------------------
REFUSALS = {
    "crm": (403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    "erp": (400, "INVALID_PARAMETER", "Invalid search query: the field 'foreigntotal' is not available in this role."),
    "hris": (403, "S22", "The task submitted is not authorized."),
}


def _secrets_in(text: str, servers: Servers, system: str, key_pem: str) -> list[str]:
    tokens = list(servers.running[system].state.tokens)  # every access token the server issued and still honours
    found = [s for s in (SECRET, *key_pem.strip().splitlines()[1:-1]) if s in text]
    return found + [t for t in tokens if t in text]


@pytest.mark.parametrize("system", sorted(REFUSALS))
def test_a_vendor_refusal_names_its_code_and_message_and_no_secret(
    system: str, servers: Servers, key_path: Path, tmp_path: Path
) -> None:
    status, code, message = REFUSALS[system]
    data = f"^{DRIVE[system][2]}"
    fault = {"match": data, "status": status, "code": code, "message": message, "times": 100}
    # Discovery goes to the same path first (NetSuite's probe of each object, the Time_Off report's ?xsd): it
    # passes, the extract is refused.
    discovery = {"crm": 0, "erp": len(objects_for("erp")), "hris": 1}[system]
    probes = [{"match": data, "delay": 0, "times": discovery}] if discovery else []
    servers.admin(system, "faults", [*probes, fault])
    failed = run(servers, tmp_path / "w.duckdb", system, raise_on_error=False)
    assert not failed.success
    error = failure_message(failed)
    assert f"HTTP {status}" in error and code in error and message in error, error
    assert f"{system} API extract failed" in error
    everything = " ".join(str(event) for event in failed.all_events)
    assert servers.running[system].state.tokens, "the run must have held a token that could leak"
    assert _secrets_in(everything, servers, system, key_path.read_text()) == []


def test_a_request_limit_at_discovery_stops_the_system_after_one_call(servers: Servers, tmp_path: Path) -> None:
    """REQUEST_LIMIT_EXCEEDED is the org's, not the object's: the other objects are not tried."""
    fault = {
        "match": "/describe$",
        "status": 403,
        "code": "REQUEST_LIMIT_EXCEEDED",
        "message": "TotalRequests Limit exceeded.",
        "times": 100,
    }
    servers.admin("crm", "faults", [fault])
    failed = run(servers, tmp_path / "w.duckdb", "crm", raise_on_error=False)
    error = failure_message(failed)
    assert (
        "crm API: describe Account: HTTP 403 Forbidden: REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded." in error
    )
    assert servers.requests_to("crm", "GET /services/data/v61.0/sobjects/") == 1


# --- refused credentials ----------------------------------------------------------------------------------------
def _wrong_credentials(servers: Servers, system: str, tmp_path: Path) -> tuple[str, str]:
    """Point the system's resource at wrong credentials; (resource key, the vendor's error code)."""
    urls = servers.urls
    if system == "crm":
        api = SalesforceApi(login_url=urls["crm"], client_id="demo-client", client_secret=f"wrong-{SECRET}")
        servers.resources["salesforce_api"] = api
        return "POST /services/oauth2/token", "invalid_client"
    if system == "erp":
        other_key = demo_key_pair(tmp_path / "other_key").read_text()  # a key NetSuite does not know
        api = NetSuiteApi(
            account_url=urls["erp"], client_id="demo-client", certificate_id="demo-certificate", private_key=other_key
        )
        servers.resources["netsuite_api"] = api
        return "POST /services/rest/auth/oauth2/v1/token", "invalid_grant"
    if system == "hris":
        api = WorkdayApi(
            base_url=urls["hris"],
            tenant="psf_demo",
            report_owner="ISU_PSA_Pipeline",
            client_id="demo-client",
            client_secret=f"wrong-{SECRET}",
            refresh_token=f"rt-{SECRET}",
            window_days=1500,
        )
        servers.resources["workday_api"] = api
        return "POST /ccx/oauth2/psf_demo/token", "invalid_client"
    servers.resources["anaplan"] = anaplan_model(urls["planning"], f"wrong-{SECRET}")
    return "POST /token/authenticate", "FAILURE_BAD_CREDENTIAL"


@pytest.mark.parametrize("system", SYSTEMS)
def test_refused_credentials_stop_the_system_after_one_token_request(
    system: str, servers: Servers, key_path: Path, tmp_path: Path
) -> None:
    token_path, code = _wrong_credentials(servers, system, tmp_path)
    failed = run(servers, tmp_path / "w.duckdb", system, raise_on_error=False)
    assert not failed.success
    error = failure_message(failed)
    assert f"{system} API: authentication refused by " in error and code in error, error
    assert error.count("authentication refused") == 1  # one failure for the system, not one per object
    assert servers.requests_to(system, token_path) == 1
    step_failure = next(e for e in failed.all_events if e.is_step_failure)
    failed_objects = step_failure.step_failure_data.user_failure_data.metadata["failed_objects"].value
    assert failed_objects == sorted(o.name for o in objects_for(system))
    everything = " ".join(str(event) for event in failed.all_events)
    assert SECRET not in everything and key_path.read_text().splitlines()[1] not in everything


def test_credentials_refused_mid_run_are_asked_for_once(servers: Servers, tmp_path: Path) -> None:
    """Sessions end while several objects are read in parallel, and the secret was rotated: one renewal attempt."""
    token = "^POST /services/oauth2/token"
    servers.admin(
        "crm",
        "faults",
        [
            {"match": token, "delay": 0, "times": 1},  # the run's first token is granted...
            {
                "match": token,
                "status": 400,
                "code": "invalid_client",
                "message": "invalid client credentials",
                "times": 50,
            },
            {
                "match": "^GET .*/queryAll",
                "status": 401,
                "code": "INVALID_SESSION_ID",
                "message": "Session expired or invalid",
                "times": 500,
            },
        ],
    )
    failed = run(servers, tmp_path / "w.duckdb", "crm", raise_on_error=False)
    error = failure_message(failed)
    assert "crm API extract failed" in error and "invalid_client: invalid client credentials" in error, error
    assert servers.requests_to("crm", "POST /services/oauth2/token") == 2  # the first, and one renewal refused


def test_a_token_endpoint_that_stays_down_stops_the_system(servers: Servers, tmp_path: Path) -> None:
    """503 at the token endpoint after the retries: the system stops; its other objects do not retry it again."""
    servers.resources["api_tuning"] = ApiTuning(max_attempts=2, max_retry_delay_seconds=1)
    token = "POST /services/oauth2/token"
    servers.admin("crm", "faults", [{"match": f"^{token}", "status": 503, "code": "SERVER_UNAVAILABLE", "times": 100}])
    failed = run(servers, tmp_path / "w.duckdb", "crm", raise_on_error=False)
    error = failure_message(failed)
    assert "crm API: authentication failed at " in error and "HTTP 503" in error and "SERVER_UNAVAILABLE" in error
    assert servers.requests_to("crm", token) == 2  # the request and its one retry, for the whole system
