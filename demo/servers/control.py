"""Start and stop a local source-system server in the background (`make demo`, `make ui`).

`python -m demo.servers.control start anaplan --port 8765 --db data/anaplan.sqlite` returns once
the server listens (or at once if one already does); `stop` ends the one its pidfile names. The
source-system servers (`salesforce`, `netsuite`, `workday`; `anaplan` too) serve the demo firm's
landing files given with `--landing`; `--state-dir` holds the local NetSuite integration key.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start(
    server: str, port: int, db: Path, pidfile: Path, log: Path, wait_seconds: float = 30, extra: list[str] | None = None
) -> None:
    if _listening(port):
        print(f"{server} server already listening on 127.0.0.1:{port}")
        return
    for folder in {db.parent, log.parent, pidfile.parent}:
        folder.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        command = [sys.executable, "-m", f"demo.servers.{server}", "--port", str(port), *(extra or [])]
        if server == "anaplan":
            command += ["--db", str(db)]
        subprocess.Popen([*command, "--pidfile", str(pidfile)], stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + wait_seconds
    while not _listening(port):
        if time.monotonic() > deadline:
            raise SystemExit(f"{server} server did not start on port {port} within {wait_seconds:.0f} s; see {log}")
        time.sleep(0.2)
    print(f"{server} server listening on http://127.0.0.1:{port} (log {log})")


def stop(pidfile: Path) -> None:
    if not pidfile.exists():
        return
    try:
        os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
    except (ProcessLookupError, ValueError):
        pidfile.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo.servers.control")
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("server", choices=["anaplan", "salesforce", "netsuite", "workday"])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", type=Path, default=Path("data/anaplan.sqlite"))
    parser.add_argument("--pidfile", type=Path, default=Path("data/anaplan.pid"))
    parser.add_argument("--log", type=Path, default=Path("data/anaplan.log"))
    parser.add_argument("--landing", type=Path, help="the demo firm's landing files to serve")
    parser.add_argument("--state-dir", type=Path, help="salesforce/netsuite/workday: keys and scratch files")
    args = parser.parse_args(argv)
    extra = ["--landing", str(args.landing)] if args.landing else []
    extra += ["--state-dir", str(args.state_dir)] if args.state_dir and args.server != "anaplan" else []
    if args.action == "start":
        start(args.server, args.port, args.db, args.pidfile, args.log, extra=extra)
    else:
        stop(args.pidfile)


if __name__ == "__main__":
    main()
