"""`python -m demo.servers.salesforce --port 8766 --landing data/landing`; credentials from
SALESFORCE_CLIENT_ID / SALESFORCE_CLIENT_SECRET (the defaults are for this local server only)."""

import sys

from demo.servers.common.cli import from_environment, run_server
from demo.servers.salesforce.server import start_server


def _build(args):
    credentials = from_environment(client_id="SALESFORCE_CLIENT_ID", client_secret="SALESFORCE_CLIENT_SECRET")
    return start_server(args.landing, port=args.port, token_ttl_seconds=args.token_ttl_seconds, **credentials)


if __name__ == "__main__":
    sys.exit(run_server("python -m demo.servers.salesforce", 8766, _build))
