"""The API connectors against the local servers that speak each vendor's protocol, over real HTTP.

For each connector (Salesforce for CRM/PSA, NetSuite, Workday, Anaplan exports): pagination over
at least three pages, a 429 then success, a 5xx retried, an expired session renewed, a second
run that loads nothing, a deleted record flagged, and schema drift reported or failing. Each test
gets fresh servers (they are changed by the tests) on free ports and its own warehouse file.

Kind: integration (connector runs against the local servers), except the settings check: unit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo.servers.netsuite import demo_key_pair
from orchestration.contract import objects_for
from orchestration.defs.ingest.api.assets import ApiTuning, SalesforceApi, build_api_assets
from orchestration.defs.ingest.loader import load_object
from orchestration.lib.warehouse import DuckDBWarehouse
from tests.api_servers import Servers, api_servers

SECRET = "s3cr3t-canary-7f2a"  # every secret of these tests contains it
# The object each test drives per system, and where its data requests go (for faults and page counts).
DRIVE = {
    "crm": ("Opportunity", {"Id": None}, "GET /services/data/v61.0/queryAll"),
    "psa": ("pse__Timecard_Header__c", {"Id": None}, "GET /services/data/v61.0/queryAll"),
    "erp": ("transaction", {"id": None}, "POST /services/rest/query/v1/suiteql"),
    "hris": (
        "Time_Off",
        {"Time_Off_Entry_ID": None},
        "GET /ccx/service/customreport2/psf_demo/ISU_PSA_Pipeline/Time_Off",
    ),
    "planning": ("Targets", {}, "GET /2/0/workspaces/demo-ws/models/demo-model/files/116000000002/chunks"),
}


@pytest.fixture(scope="module")
def key_pem(tmp_path_factory) -> str:
    return demo_key_pair(tmp_path_factory.mktemp("netsuite_key")).read_text()


@pytest.fixture
def servers(small_landing, tmp_path: Path, key_pem: str) -> Iterator[Servers]:
    with api_servers(small_landing[0], tmp_path, key_pem, SECRET) as running:
        yield running


def run(servers: Servers, warehouse: Path, system: str, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_api_assets(system)],
        resources={**servers.resources, "warehouse": DuckDBWarehouse(database=str(warehouse), memory_limit="1GB")},
        raise_on_error=raise_on_error,
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        e.asset_key.path[-1]: {k: v.value for k, v in e.step_materialization_data.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    return " ".join(e.event_specific_data.error.message for e in result.all_events if e.is_step_failure)


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def first_key(warehouse: Path, system: str, name: str, key: str) -> str:
    obj = next(o for o in objects_for(system) if o.file_stem == name)
    return str(query(warehouse, f'select "{key}" from {obj.schema}.{obj.name} order by 1 limit 1')[0][0])


SYSTEMS = ["crm", "erp", "hris", "planning"]


@pytest.mark.parametrize("system", [*SYSTEMS, "psa"])
def test_first_run_pages_and_equals_the_file_path_and_a_second_run_loads_nothing(
    system: str, servers: Servers, small_landing, tmp_path: Path
) -> None:
    landing, _ = small_landing
    first = run(servers, tmp_path / "api.duckdb", system)
    data_path = DRIVE[system][2]
    assert servers.requests_to(system, data_path) >= 3  # at least three pages of the driving object
    with duckdb.connect(str(tmp_path / "files.duckdb")) as con:
        for obj in objects_for(system):
            load_object(con, obj, landing)
    with duckdb.connect(str(tmp_path / "api.duckdb")) as con:
        con.execute(f"attach '{tmp_path / 'files.duckdb'}' as files (read_only)")
        for obj in objects_for(system):
            cols = ", ".join(f'"{f}"' for f in obj.field_names)
            table = f"{obj.schema}.{obj.name}"
            for a, b in ((table, f"files.{table}"), (f"files.{table}", table)):
                diff = con.execute(f"select count(*) from (select {cols} from {a} except all select {cols} from {b})")
                assert diff.fetchall()[0][0] == 0, f"{table}: API and file path differ"
    loaded = metadata(first)
    assert sum(m["rows_inserted"] for m in loaded.values()) > 0
    second = metadata(run(servers, tmp_path / "api.duckdb", system))
    assert {k: (m["rows_inserted"], m["rows_updated"]) for k, m in second.items()} == {k: (0, 0) for k in loaded}, (
        "a second run with no source changes must load nothing"
    )
    # the cursors are dlt state in the warehouse (each run starts from an empty dlt working folder)
    assert query(tmp_path / "api.duckdb", f"select count(*) from api_{system}._dlt_pipeline_state")[0][0] >= 1


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_429_is_retried_after_retry_after_and_a_5xx_is_retried(system: str, servers: Servers, tmp_path) -> None:
    _, _, data_path = DRIVE[system]
    servers.admin(
        system,
        "faults",
        [
            {"match": f"^{data_path}", "status": 429, "retry_after": 1, "times": 1},
            {"match": f"^{data_path}", "status": 503, "times": 2},
        ],
    )
    started = time.monotonic()
    result = run(servers, tmp_path / "w.duckdb", system)
    assert time.monotonic() - started >= 1.0  # Retry-After: 1 was waited for
    stats = next(iter(metadata(result).values()))
    assert stats["api_retries"] == 3
    assert stats["api_calls"] > stats["api_retries"]


@pytest.mark.parametrize("system", SYSTEMS)
def test_an_expired_session_gets_a_new_token_and_the_call_is_repeated(system: str, servers, tmp_path) -> None:
    _, _, data_path = DRIVE[system]
    servers.admin(system, "faults", [{"match": f"^{data_path}", "status": 401, "times": 1}])
    result = run(servers, tmp_path / "w.duckdb", system)
    stats = next(iter(metadata(result).values()))
    assert stats["api_reauthentications"] == 1
    assert stats["api_token_requests"] == 2


def test_tokens_expiring_between_and_during_runs_are_renewed(servers: Servers, tmp_path: Path) -> None:
    """Salesforce sessions expire between runs (401 INVALID_SESSION_ID); NetSuite's token expires in the
    middle of a run, on its second query (the server's expire_tokens fault: no race against a TTL)."""
    run(servers, tmp_path / "w.duckdb", "crm")
    servers.admin("crm", "tokens/expire", {})
    servers.admin(
        "crm",
        "records/update",
        {
            "object": "Account",
            "key": {"Id": first_key(tmp_path / "w.duckdb", "crm", "Account", "Id")},
            "set": {"Industry": "Energy"},
        },
    )
    assert metadata(run(servers, tmp_path / "w.duckdb", "crm"))["account"]["rows_updated"] == 1
    # the first query passes untouched, the second finds its token expired
    servers.admin("erp", "faults", [{"match": "suiteql", "delay": 0}, {"match": "suiteql", "expire_tokens": True}])
    erp = metadata(run(servers, tmp_path / "w.duckdb", "erp"))
    assert next(iter(erp.values()))["api_token_requests"] == 2  # the run's first token and its renewal
    assert next(iter(erp.values()))["api_reauthentications"] == 1


def test_a_change_to_one_record_updates_exactly_that_record(servers: Servers, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    run(servers, warehouse, "crm")
    opportunity = first_key(warehouse, "crm", "Opportunity", "Id")
    servers.admin(
        "crm", "records/update", {"object": "Opportunity", "key": {"Id": opportunity}, "set": {"Amount": "123456.78"}}
    )
    after = metadata(run(servers, warehouse, "crm"))
    assert (after["opportunity"]["rows_inserted"], after["opportunity"]["rows_updated"]) == (0, 1)
    assert (after["account"]["rows_inserted"], after["account"]["rows_updated"]) == (0, 0)
    amount = query(warehouse, f'select "Amount" from raw_crm.opportunity where "Id" = \'{opportunity}\'')[0][0]
    assert str(amount) == "123456.78"


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_deleted_record_is_flagged(system: str, servers: Servers, tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    run(servers, warehouse, system)
    name = {"crm": "Opportunity", "erp": "customer", "hris": "Time_Off", "planning": "Plan_Versions"}[system]
    key = {"crm": "Id", "erp": "id", "hris": "Time_Off_Entry_ID", "planning": "Version Code"}[system]
    value = first_key(warehouse, system, name, key)
    servers.admin(system, "records/delete", {"object": name, "key": {key: value}})
    result = metadata(run(servers, warehouse, system))
    obj = next(o for o in objects_for(system) if o.file_stem == name)
    if system == "crm":  # Salesforce soft delete, through queryAll, into the raw table
        assert result[obj.name]["rows_soft_deleted_in_batch"] == 1
        assert query(warehouse, f'select "IsDeleted" from raw_crm.opportunity where "Id" = \'{value}\'') == [(True,)]
    elif system == "hris":  # Workday cancels an absence
        assert query(warehouse, f'select "Status" from raw_hris.time_off where "{key}" = \'{value}\'') == [
            ("Canceled",)
        ]
    else:  # NetSuite DeletedRecord / a row the Anaplan export no longer has: flagged in the landing table
        assert result[obj.name]["rows_deleted_at_source"] == 1
        flagged = query(
            warehouse, f'select "{key}"::varchar from api_{system}."{obj.name}" where _source_deleted_at is not null'
        )
        assert flagged == [(value,)]


NEW_FIELD = {
    "crm": ("Opportunity", "NextStep", "VARCHAR", "Call the client"),
    "erp": ("transaction", "custbody_region", "VARCHAR", "EMEA"),
    "hris": ("Time_Off", "Approver_ID", "VARCHAR", "100001"),
    "planning": ("Targets", "Comment", "VARCHAR", "ok"),
}
USED_FIELD = {
    "crm": ("Opportunity", "Amount"),
    "erp": ("transaction", "foreigntotal"),
    "hris": ("Time_Off", "Hours"),
    "planning": ("Targets", "Revenue Target"),
}


@pytest.mark.parametrize("system", SYSTEMS)
def test_schema_drift_a_new_field_is_reported_and_a_removed_one_fails_naming_field_and_object(
    system: str, servers: Servers, tmp_path: Path
) -> None:
    name, field, type_, value = NEW_FIELD[system]
    servers.admin(system, "fields", {"object": name, "add": {"name": field, "type": type_, "value": value}})
    obj = next(o for o in objects_for(system) if o.file_stem == name)
    reported = metadata(run(servers, tmp_path / "w.duckdb", system))[obj.name]
    assert field in reported["new_source_fields"]
    _, removed = USED_FIELD[system]
    servers.admin(system, "fields", {"object": name, "drop": removed})
    failed = run(servers, tmp_path / "w.duckdb", system, raise_on_error=False)
    assert not failed.success
    message = failure_message(failed)
    assert repr(removed) in message and f"{obj.system}.{obj.name}" in message


@pytest.mark.parametrize("system", ["crm", "erp", "hris", "planning"])
def test_schema_drift_a_retyped_field_fails_naming_field_and_object(system: str, servers, tmp_path) -> None:
    name, field = USED_FIELD[system]
    obj = next(o for o in objects_for(system) if o.file_stem == name)
    servers.admin(system, "fields", {"object": name, "retype": {"name": field, "type": "VARCHAR", "value": "n/a"}})
    failed = run(servers, tmp_path / "w.duckdb", system, raise_on_error=False)
    assert not failed.success
    message = failure_message(failed)
    assert repr(field) in message and f"{obj.system}.{obj.name}" in message


def test_request_concurrency_is_configurable_and_the_concurrency_limit_429_is_retried(servers, tmp_path) -> None:
    servers.running["erp"].state.max_concurrent = 1  # NetSuite answers 429 to a second request in flight
    slow = [{"match": "suiteql", "delay": 0.1, "times": 1000}]  # every query takes 0.1 s, so parallel ones overlap
    servers.admin("erp", "faults", slow)
    servers.resources["api_tuning"] = ApiTuning(max_concurrency=1, max_retry_delay_seconds=1)
    one_at_a_time_all = metadata(run(servers, tmp_path / "one.duckdb", "erp"))
    assert next(iter(one_at_a_time_all.values()))["api_retries"] == 0
    servers.resources["api_tuning"] = ApiTuning(max_concurrency=4, max_retry_delay_seconds=1)
    parallel = metadata(run(servers, tmp_path / "four.duckdb", "erp"))
    assert next(iter(parallel.values()))["api_retries"] >= 1  # requests overlapped, and the 429s were retried
    assert [m["rows_inserted"] for m in parallel.values()] == [m["rows_inserted"] for m in one_at_a_time_all.values()]


def test_the_client_secrets_never_appear_in_logs_or_metadata(servers: Servers, tmp_path: Path, key_pem) -> None:
    for system in SYSTEMS:  # a 401 mid-run makes every connector fetch its token twice
        servers.admin(system, "faults", [{"match": f"^{DRIVE[system][2]}", "status": 401, "times": 1}])
        result = run(servers, tmp_path / f"{system}.duckdb", system)
        text = " ".join(str(event) for event in result.all_events)
        assert SECRET not in text
        assert key_pem.splitlines()[1] not in text
    bad = SalesforceApi(login_url=servers.urls["crm"], client_id="demo-client", client_secret=f"wrong-{SECRET}")
    servers.resources["salesforce_api"] = bad
    failed = run(servers, tmp_path / "bad.duckdb", "crm", raise_on_error=False)
    assert not failed.success and "HTTP 400" in failure_message(failed)
    assert SECRET not in " ".join(str(event) for event in failed.all_events)


@pytest.mark.unit
def test_every_setting_the_api_connectors_read_is_documented() -> None:
    from orchestration.defs.ingest.api.resources import api_resources
    from orchestration.lib.settings import API_TUNING

    section = (Path(__file__).parents[1] / "docs" / "configuration.md").read_text()
    names = {name for name, _ in API_TUNING.values()} | {"INGEST_SOURCE"}
    resources = api_resources().values()
    names |= {v.env_var_name for r in resources for v in r.__dict__.values() if isinstance(v, dg.EnvVar)}
    assert len(names) > 20
    assert {n for n in names if f"`{n}`" not in section} == set()
