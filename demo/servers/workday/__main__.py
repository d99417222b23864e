"""`python -m demo.servers.workday --port 8768 --landing data/landing`; tenant, report owner and
credentials from WORKDAY_TENANT, WORKDAY_REPORT_OWNER, WORKDAY_CLIENT_ID, WORKDAY_CLIENT_SECRET and
WORKDAY_REFRESH_TOKEN (the defaults are for this local server only)."""

import sys

from demo.servers.common.cli import from_environment, run_server
from demo.servers.workday.server import start_server


def _build(args):
    config = from_environment(
        tenant="WORKDAY_TENANT",
        owner="WORKDAY_REPORT_OWNER",
        client_id="WORKDAY_CLIENT_ID",
        client_secret="WORKDAY_CLIENT_SECRET",
        refresh_token="WORKDAY_REFRESH_TOKEN",
    )
    return start_server(args.landing, port=args.port, token_ttl_seconds=args.token_ttl_seconds, **config)


if __name__ == "__main__":
    sys.exit(run_server("python -m demo.servers.workday", 8768, _build))
