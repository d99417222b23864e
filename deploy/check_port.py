"""Refuse a local port another process holds, before `make ui` or `make demo` would silently use it.

usage: python deploy/check_port.py PORT VARIABLE [PIDFILE]

Exit 0 when 127.0.0.1:PORT is free, or (with PIDFILE) held by the process that pidfile names and
that runs from this checkout (the planning server `make` started here). Otherwise exit 1 with a
message naming the port, who holds it when that can be seen, and the variable that chooses another.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def ours(pidfile: Path | None) -> bool:
    """The pidfile names a live process whose working directory is this checkout."""
    if pidfile is None or not pidfile.exists():
        return False
    try:
        pid = int(pidfile.read_text().strip())
        return Path(f"/proc/{pid}/cwd").resolve() == REPO
    except (ValueError, OSError):
        return False


def holder(port: int) -> str:
    """`pid 123 (python -m ...)` of the process listening on the port, when /proc shows it (Linux)."""
    try:
        inodes = {
            line.split()[9]
            for name in ("/proc/net/tcp", "/proc/net/tcp6")
            for line in Path(name).read_text().splitlines()[1:]
            if line.split()[3] == "0A" and int(line.split()[1].rsplit(":", 1)[1], 16) == port
        }
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if any(os.readlink(fd).strip("socket:[]") in inodes for fd in (proc / "fd").iterdir()):
                    command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                    return f"pid {proc.name} ({command[:120]})"
            except OSError:
                continue
    except (OSError, IndexError, ValueError):
        pass
    return "another process"


def check(port: int, variable: str, pidfile: Path | None) -> str | None:
    """None when the port may be used; else the error to print."""
    if not listening(port) or ours(pidfile):
        return None
    whose = ", not by this checkout's planning server" if pidfile else ""
    return (
        f"port {port} is held by {holder(port)}{whose}. "
        f"Stop that process, or choose another port: {variable}=<port> (e.g. make ui {variable}={port + 1000})."
    )


def main(argv: list[str]) -> int:
    port, variable = int(argv[0]), argv[1]
    pidfile = Path(argv[2]) if len(argv) > 2 else None
    error = check(port, variable, pidfile)
    if error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
