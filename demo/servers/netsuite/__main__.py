"""`python -m demo.servers.netsuite --port 8767 --landing data/landing --state-dir DIR`.

The integration's key pair is created in DIR on first start (`netsuite_demo_private_key.pem`, the
local demo's only); the connector signs its token requests with that private key. Client and
certificate ids come from NETSUITE_CLIENT_ID / NETSUITE_CERTIFICATE_ID (local defaults).
"""

import sys

from demo.servers.common.cli import from_environment, run_server
from demo.servers.netsuite.server import demo_key_pair, start_server


def _build(args):
    credentials = from_environment(client_id="NETSUITE_CLIENT_ID", certificate_id="NETSUITE_CERTIFICATE_ID")
    key = demo_key_pair(args.state_dir).read_bytes()
    return start_server(args.landing, key, port=args.port, token_ttl_seconds=args.token_ttl_seconds, **credentials)


if __name__ == "__main__":
    sys.exit(run_server("python -m demo.servers.netsuite", 8767, _build))
