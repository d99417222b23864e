"""`python -m demo.servers.netsuite --port 8767 --landing data/landing --state-dir DIR`.

The integration's key pair is created in DIR on first start (`netsuite_demo_private_key.pem`, the
local demo's only); the connector signs its token requests with that private key. Client and
certificate ids come from NETSUITE_CLIENT_ID / NETSUITE_CERTIFICATE_ID (local defaults).
"""

import os
import sys

from demo.servers.common.cli import run_server
from demo.servers.netsuite.server import demo_key_pair, start_server


def _build(args):
    return start_server(
        args.landing,
        demo_key_pair(args.state_dir).read_bytes(),
        port=args.port,
        client_id=os.environ.get("NETSUITE_CLIENT_ID") or "demo-client",
        certificate_id=os.environ.get("NETSUITE_CERTIFICATE_ID") or "demo-certificate",
        token_ttl_seconds=args.token_ttl_seconds,
    )


if __name__ == "__main__":
    sys.exit(run_server("python -m demo.servers.netsuite", 8767, _build))
