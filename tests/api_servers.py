"""The four local source-system servers on free ports, and the connector resources pointed at them.

Also the API ingest in a process of its own, as a launched run executes it, for the kill tests:

    python -m tests.api_servers CONFIG.json SYSTEM [--kill-after-extract]

CONFIG.json: `{"urls": {system: url}, "secret", "key_path", "small_pages", "warehouse": {...}}`
(`write_child_config`). `--kill-after-extract` wraps the real dlt extract so that the process
SIGKILLs itself the moment the extract returns: the rows are in `api_<system>`, dlt's cursors have
advanced, and nothing has been merged into raw.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import requests

from demo.servers.anaplan import start_server as start_anaplan
from demo.servers.common.store import DemoStore
from demo.servers.netsuite import start_server as start_netsuite
from demo.servers.salesforce import start_server as start_salesforce
from demo.servers.workday import start_server as start_workday
from orchestration.defs.ingest.api.assets import ApiTuning, NetSuiteApi, SalesforceApi, WorkdayApi
from orchestration.defs.reverse_sync.anaplan import AnaplanResource


@dataclass
class Servers:
    urls: dict[str, str]  # by contract system
    running: dict[str, object]
    resources: dict[str, dg.ConfigurableResource]
    landing: Path | None = None

    def source_store(self, system: str) -> DemoStore:
        """The records a server holds now; for Anaplan (no public store) its store's twin read from the same files."""
        store = getattr(self.running[system], "store", None)
        return store if store is not None else DemoStore((system,), self.landing, "%Y-%m-%dT%H:%M:%S")

    def admin(self, system: str, path: str, payload: object) -> dict:
        response = requests.post(f"{self.urls[system]}/_admin/{path}", json=payload, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def requests_to(self, system: str, prefix: str) -> int:
        counts = requests.get(f"{self.urls[system]}/_admin/requests", timeout=10).json()["requests"]
        return sum(n for line, n in counts.items() if line.startswith(prefix))

    def longest_uri(self, system: str) -> int:
        return requests.get(f"{self.urls[system]}/_admin/requests", timeout=10).json()["longest_uri"]


def connector_resources(
    urls: dict[str, str], key_pem: str, secret: str, small_pages: bool = True
) -> dict[str, dg.ConfigurableResource]:
    """The connector resources for servers at `urls`; `small_pages` makes the demo span several pages everywhere."""
    return {
        "api_tuning": ApiTuning(max_concurrency=3, max_retry_delay_seconds=5),
        "salesforce_api": SalesforceApi(
            login_url=urls["crm"], client_id="demo-client", client_secret=secret, batch_size=50 if small_pages else 2000
        ),
        "netsuite_api": NetSuiteApi(
            account_url=urls["erp"],
            client_id="demo-client",
            certificate_id="demo-certificate",
            private_key=key_pem,
            page_size=200 if small_pages else 1000,
        ),
        "workday_api": WorkdayApi(
            base_url=urls["hris"],
            tenant="psf_demo",
            report_owner="ISU_PSA_Pipeline",
            client_id="demo-client",
            client_secret=secret,
            refresh_token=f"rt-{secret}",
            window_days=1500,
        ),
        "anaplan": anaplan_model(urls["planning"], secret),
    }


def anaplan_model(url: str, password: str) -> AnaplanResource:
    return AnaplanResource(
        api_url=url, auth_url=url, workspace_id="demo-ws", model_id="demo-model", username="demo", password=password
    )


@contextmanager
def api_servers(landing: Path, folder: Path, key_pem: str, secret: str, small_pages: bool = True) -> Iterator[Servers]:
    """Serve `landing` through every protocol; `small_pages` makes the demo span several pages everywhere."""
    with ExitStack() as stack:
        sf = stack.enter_context(start_salesforce(landing, client_secret=secret))
        ns = stack.enter_context(start_netsuite(landing, key_pem.encode(), max_concurrent=5))
        wd = stack.enter_context(start_workday(landing, client_secret=secret, refresh_token=f"rt-{secret}"))
        chunk = 5000 if small_pages else 1_000_000
        an = stack.enter_context(
            start_anaplan(folder / "anaplan.sqlite", password=secret, landing_dir=landing, export_chunk_bytes=chunk)
        )
        urls = {"crm": sf.url, "psa": sf.url, "erp": ns.url, "hris": wd.url, "planning": an.url}
        running = {"crm": sf, "psa": sf, "erp": ns, "hris": wd, "planning": an}
        yield Servers(urls, running, connector_resources(urls, key_pem, secret, small_pages), landing)


# --- the API ingest in a child process ----------------------------------------------------------------------------
def write_child_config(path: Path, servers: Servers, key_path: Path, secret: str, warehouse: dict) -> Path:
    """`warehouse`: {"database": path} (DuckDB) or {"host", "port", "user", "password", "database"} (PostgreSQL)."""
    config = {"urls": servers.urls, "secret": secret, "key_path": str(key_path), "warehouse": warehouse}
    path.write_text(json.dumps(config))
    return path


def _warehouse(spec: dict) -> dg.ConfigurableResource:
    from orchestration.lib.warehouse import DuckDBWarehouse, PostgresWarehouse

    if "host" in spec:
        return PostgresWarehouse(**spec, memory_limit="1GB")
    return DuckDBWarehouse(database=spec["database"], memory_limit="1GB")


def main(argv: list[str]) -> int:
    from orchestration.defs.ingest.api import assets

    config_path, system, *flags = argv
    config = json.loads(Path(config_path).read_text())
    if "--kill-after-extract" in flags:
        extract = assets.run_dlt

        def extract_then_die(*args, **kwargs):
            loads = extract(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)  # landed and cursors advanced; the merge never starts
            return loads

        assets.run_dlt = extract_then_die  # load_system calls the module's run_dlt
    key_pem = Path(config["key_path"]).read_text()
    resources = connector_resources(config["urls"], key_pem, config["secret"])
    result = dg.materialize(
        [assets.build_api_assets(system)],
        resources={**resources, "warehouse": _warehouse(config["warehouse"])},
        raise_on_error=False,
    )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
