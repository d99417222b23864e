"""The API path with WAREHOUSE=postgres: dlt lands in PostgreSQL, and exactly-once holds there too.

`api_<system>` (the landed rows and dlt's cursors) lives in the PostgreSQL warehouse; the pending
rows are copied in bulk to DuckDB for the contract checks, and the merge into raw and the record
of merged loads share one PostgreSQL transaction. A SIGKILL between extract and merge loses
nothing, and a refused merge is loaded whole on the next run. Skips, saying why, when no server
answers on POSTGRES_HOST:POSTGRES_PORT.

Kind: integration (connector runs into PostgreSQL, a child process killed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from demo.servers.netsuite import demo_key_pair
from orchestration.contract import objects_for
from orchestration.defs.ingest.api.assets import ApiTuning, build_api_assets
from tests.api_servers import Servers, api_servers, write_child_config
from tests.helpers import pg_query, pg_warehouse
from tests.test_connectors import SECRET, failure_message, metadata
from tests.test_connectors_integrity import QUARANTINED_AMOUNTS, source_keys

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[1]
MERGED_OPPORTUNITY_LOADS = "select count(*) from api_crm._merged_loads where object_name = 'opportunity'"


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return demo_key_pair(tmp_path / "key")


@pytest.fixture
def servers(small_landing, tmp_path: Path, key_path: Path) -> Iterator[Servers]:
    with api_servers(small_landing[0], tmp_path, key_path.read_text(), SECRET) as running:
        yield running


@pytest.fixture
def database(postgres_database, request) -> dict:
    return postgres_database(f"api_{request.node.name.split('[')[-1].strip(']')[:20]}".lower().replace("-", "_"))


def run(servers: Servers, config: dict, system: str, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    resources = {**servers.resources, "warehouse": pg_warehouse(config)}
    return dg.materialize([build_api_assets(system)], resources=resources, raise_on_error=raise_on_error)


def assert_every_source_record_reached_raw_or_quarantine(servers: Servers, config: dict, system: str) -> None:
    for obj in objects_for(system):
        key = " || '|' || ".join(f"coalesce(\"{k}\"::varchar, '')" for k in obj.primary_key)
        raw = {r[0] for r in pg_query(config, f"select {key} from {obj.schema}.{obj.name}")}
        quarantined = {
            r[0]
            for r in pg_query(
                config,
                "select record_key from ingest_meta.quarantine where table_name = %s",
                [f"{obj.schema}.{obj.name}"],
            )
        }
        source = source_keys(servers, obj)
        missing = source - raw - quarantined
        assert source and not missing, f"{obj.schema}.{obj.name}: {len(missing)} of {len(source)} source records lost"


@pytest.mark.parametrize("system", ["crm", "erp"])
def test_a_sigkill_between_extract_and_merge_loses_nothing_on_postgres(
    system: str, servers: Servers, database: dict, key_path: Path, tmp_path: Path
) -> None:
    spec = {k: database[k] for k in ("host", "port", "user", "password", "database")}
    spec["password"] = spec["password"] or ""
    config = write_child_config(tmp_path / "child.json", servers, key_path, SECRET, spec)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    child = subprocess.run(
        [sys.executable, "-m", "tests.api_servers", str(config), system, "--kill-after-extract"],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    assert pg_query(database, f"select count(*) from api_{system}._dlt_loads where status = 0")[0][0] >= 1
    tables = "select count(*) from information_schema.tables where table_schema = %s"
    assert pg_query(database, tables, [f"raw_{system}"])[0][0] in (0, None) or all(
        pg_query(database, f"select count(*) from {o.schema}.{o.name}")[0][0] == 0 for o in objects_for(system)
    )
    again = metadata(run(servers, database, system))
    assert sum(m["rows_from_earlier_loads"] for m in again.values()) > 0
    assert all(m["rows_read"] == m["rows_loaded"] + m["rows_quarantined"] for m in again.values())
    assert_every_source_record_reached_raw_or_quarantine(servers, database, system)
    third = metadata(run(servers, database, system))
    assert all(m["rows_from_earlier_loads"] == 0 and m["rows_inserted"] == 0 for m in third.values())


def test_a_refused_merge_is_loaded_once_the_share_is_raised_on_postgres(
    servers: Servers, database: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    servers.resources["api_tuning"] = ApiTuning(max_concurrency=3, max_retry_delay_seconds=5, lookback_seconds=0)
    run(servers, database, "crm")
    ids = [r[0] for r in pg_query(database, 'select "Id" from raw_crm.opportunity order by "Id" limit 15')]
    bad, good = ids[:12], ids[12:]
    for opportunity in bad:  # twelve records break the contract, three others change validly: over the 10% share
        update = {"object": "Opportunity", "key": {"Id": opportunity}, "set": {"Amount": "n/a"}}
        servers.admin("crm", "records/update", update)
    for opportunity in good:
        update = {"object": "Opportunity", "key": {"Id": opportunity}, "set": {"Name": "Renamed on postgres"}}
        servers.admin("crm", "records/update", update)
    refused = run(servers, database, "crm", raise_on_error=False)
    assert not refused.success and "crm API Opportunity" in failure_message(refused)
    merged = pg_query(database, MERGED_OPPORTUNITY_LOADS)[0][0]
    monkeypatch.setenv("INGEST_MAX_QUARANTINE_SHARE", "1")
    after = metadata(run(servers, database, "crm"))["opportunity"]
    assert (after["rows_read"], after["rows_quarantined"], after["rows_from_earlier_loads"]) == (15, 12, 15)
    assert pg_query(database, QUARANTINED_AMOUNTS) == [(i, "Amount", "n/a") for i in sorted(bad)]
    renamed = pg_query(
        database, 'select "Id" from raw_crm.opportunity where "Name" = %s order by 1', ["Renamed on postgres"]
    )
    assert renamed == [(i,) for i in sorted(good)]
    assert pg_query(database, MERGED_OPPORTUNITY_LOADS)[0][0] > merged
    assert_every_source_record_reached_raw_or_quarantine(servers, database, "crm")


@pytest.mark.parametrize(
    ("system", "name", "key"), [("erp", "customer", "id"), ("planning", "Plan_Versions", "Version Code")]
)
def test_a_record_deleted_at_the_source_is_flagged_in_the_landing_table_on_postgres(
    system: str, name: str, key: str, servers: Servers, database: dict
) -> None:
    run(servers, database, system)
    obj = next(o for o in objects_for(system) if o.file_stem == name)
    value = str(pg_query(database, f'select "{key}" from {obj.schema}.{obj.name} order by 1 limit 1')[0][0])
    servers.admin(system, "records/delete", {"object": name, "key": {key: value}})
    assert metadata(run(servers, database, system))[obj.name]["rows_deleted_at_source"] == 1
    flagged = pg_query(
        database, f'select "{key}"::varchar from api_{system}."{obj.name}" where _source_deleted_at is not null'
    )
    assert flagged == [(value,)]
