"""`python -m demo.servers.<system>`: run one local source-system server until SIGTERM or Ctrl-C.

Prints its URL on the first line of stdout once it is listening; the pidfile is written only then.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from demo.servers.common.base import RunningServer


def run_server(
    prog: str, default_port: int, build: Callable[[argparse.Namespace], RunningServer], argv: list[str] | None = None
) -> int:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--port", type=int, default=default_port, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--landing", type=Path, help="the demo firm's landing files (LANDING_DIR) to serve")
    parser.add_argument("--state-dir", type=Path, default=Path("data/api_servers"), help="keys and scratch files")
    parser.add_argument("--pidfile", type=Path, help="write the process id here once listening; removed on exit")
    parser.add_argument("--token-ttl-seconds", type=float, default=3600, help="access token lifetime")
    args = parser.parse_args(argv)
    return serve_until_stopped(prog, args.port, args.pidfile, lambda: build(args), f"(serving {args.landing})")


def from_environment(**variables: str) -> dict[str, str]:
    """start_server keywords from the environment: `client_id="SALESFORCE_CLIENT_ID"` gives that variable's value.

    An unset or empty variable is left out, so start_server's default (the local demo's credential) holds.
    """
    return {keyword: os.environ[name] for keyword, name in variables.items() if os.environ.get(name)}


def serve_until_stopped(
    prog: str, port: int, pidfile: Path | None, build: Callable[[], RunningServer], banner: str
) -> int:
    """Start the server, print `<url> <prog> <banner>`, write the pidfile, and serve until SIGTERM or Ctrl-C."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        server = build()
    except OSError as exc:
        print(f"{prog}: cannot listen on port {port}: {exc}", file=sys.stderr)
        return 1
    with server:
        if pidfile:
            pidfile.parent.mkdir(parents=True, exist_ok=True)
            pidfile.write_text(f"{os.getpid()}\n")
        print(f"{server.url} {prog} {banner}", flush=True)
        try:
            stop.wait()
        finally:
            if pidfile:
                pidfile.unlink(missing_ok=True)
    return 0
