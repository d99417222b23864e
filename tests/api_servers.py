"""The four local source-system servers on free ports, and the connector resources pointed at them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import requests

from local_servers.anaplan import start_server as start_anaplan
from local_servers.netsuite import start_server as start_netsuite
from local_servers.salesforce import start_server as start_salesforce
from local_servers.workday import start_server as start_workday
from orchestration.lib.connectors.assets import AnaplanExportsApi, ApiTuning, NetSuiteApi, SalesforceApi, WorkdayApi


@dataclass
class Servers:
    urls: dict[str, str]  # by contract system
    running: dict[str, object]
    resources: dict[str, dg.ConfigurableResource]

    def admin(self, system: str, path: str, payload: object) -> dict:
        response = requests.post(f"{self.urls[system]}/_admin/{path}", json=payload, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def requests_to(self, system: str, prefix: str) -> int:
        counts = requests.get(f"{self.urls[system]}/_admin/requests", timeout=10).json()["requests"]
        return sum(n for line, n in counts.items() if line.startswith(prefix))


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
        resources = {
            "api_tuning": ApiTuning(max_concurrency=3, max_retry_delay_seconds=5),
            "salesforce_api": SalesforceApi(
                login_url=sf.url, client_id="demo-client", client_secret=secret, batch_size=50 if small_pages else 2000
            ),
            "netsuite_api": NetSuiteApi(
                account_url=ns.url,
                client_id="demo-client",
                certificate_id="demo-certificate",
                private_key=key_pem,
                page_size=200 if small_pages else 1000,
            ),
            "workday_api": WorkdayApi(
                base_url=wd.url,
                tenant="psf_demo",
                report_owner="ISU_PSA_Pipeline",
                client_id="demo-client",
                client_secret=secret,
                refresh_token=f"rt-{secret}",
                window_days=1500,
            ),
            "anaplan_exports_api": AnaplanExportsApi(
                api_url=an.url,
                auth_url=an.url,
                workspace_id="demo-ws",
                model_id="demo-model",
                username="demo",
                password=secret,
            ),
        }
        urls = {"crm": sf.url, "psa": sf.url, "erp": ns.url, "hris": wd.url, "planning": an.url}
        running = {"crm": sf, "psa": sf, "erp": ns, "hris": wd, "planning": an}
        yield Servers(urls, running, resources)
