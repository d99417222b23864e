"""`python -m demo.servers.salesforce --port 8766 --landing data/landing`; credentials from
SALESFORCE_CLIENT_ID / SALESFORCE_CLIENT_SECRET (the defaults are for this local server only)."""

import os
import sys

from demo.servers.common.cli import run_server
from demo.servers.salesforce.server import start_server


def _build(args):
    return start_server(
        args.landing,
        port=args.port,
        client_id=os.environ.get("SALESFORCE_CLIENT_ID") or "demo-client",
        client_secret=os.environ.get("SALESFORCE_CLIENT_SECRET") or "demo-secret",
        token_ttl_seconds=args.token_ttl_seconds,
    )


if __name__ == "__main__":
    sys.exit(run_server("python -m demo.servers.salesforce", 8766, _build))
