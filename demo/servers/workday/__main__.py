"""`python -m demo.servers.workday --port 8768 --landing data/landing`; tenant, report owner and
credentials from WORKDAY_TENANT, WORKDAY_REPORT_OWNER, WORKDAY_CLIENT_ID, WORKDAY_CLIENT_SECRET and
WORKDAY_REFRESH_TOKEN (the defaults are for this local server only)."""

import os
import sys

from demo.servers.common.cli import run_server
from demo.servers.workday.server import start_server


def _build(args):
    env = os.environ.get
    return start_server(
        args.landing,
        port=args.port,
        tenant=env("WORKDAY_TENANT") or "psf_demo",
        owner=env("WORKDAY_REPORT_OWNER") or "ISU_PSA_Pipeline",
        client_id=env("WORKDAY_CLIENT_ID") or "demo-client",
        client_secret=env("WORKDAY_CLIENT_SECRET") or "demo-secret",
        refresh_token=env("WORKDAY_REFRESH_TOKEN") or "demo-refresh-token",
        token_ttl_seconds=args.token_ttl_seconds,
    )


if __name__ == "__main__":
    sys.exit(run_server("python -m demo.servers.workday", 8768, _build))
