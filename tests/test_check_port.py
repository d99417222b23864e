"""`make ui` and `make demo` refuse a port another process holds (deploy/check_port.py).

Kind: unit (fast; `make test-fast`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import load_script

pytestmark = pytest.mark.unit

REPO = Path(__file__).parents[1]
check_port = load_script(REPO / "deploy" / "check_port.py")


@pytest.fixture
def held_port():
    """A port a process started from `cwd` listens on, and its pidfile."""
    started: list[subprocess.Popen] = []

    def hold(cwd: Path, pidfile: Path) -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        code = (
            "import socket, sys, time; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen();"
            " print('ready', flush=True); time.sleep(120)"
        )
        process = subprocess.Popen([sys.executable, "-c", code, str(port)], cwd=cwd, stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout.readline().strip() == "ready"  # listening now
        pidfile.write_text(str(process.pid))
        return port

    yield hold
    for process in started:
        process.kill()
        process.wait()


def test_a_free_port_may_be_used() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert check_port.check(port, "UI_PORT", None) is None


def test_this_checkouts_own_planning_server_is_reused(held_port, tmp_path) -> None:
    port = held_port(REPO, tmp_path / "anaplan.pid")
    assert check_port.check(port, "ANAPLAN_PORT", tmp_path / "anaplan.pid") is None


def test_a_port_held_by_another_checkouts_server_is_an_error_naming_it(held_port, tmp_path) -> None:
    port = held_port(tmp_path, tmp_path / "anaplan.pid")  # the same kind of server, run from another folder
    error = check_port.check(port, "ANAPLAN_PORT", tmp_path / "anaplan.pid")
    assert error.startswith(f"port {port} is held by pid ")
    assert error.endswith(
        f", not by this checkout's planning server. Stop that process, or choose another port: "
        f"ANAPLAN_PORT=<port> (e.g. make ui ANAPLAN_PORT={port + 1000})."
    )
    assert check_port.check(port, "ANAPLAN_PORT", tmp_path / "missing.pid").startswith(f"port {port} is held by")
    ui = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "check_port.py"), str(port), "UI_PORT"], capture_output=True, text=True
    )
    assert ui.returncode == 1 and f"port {port} is held by pid" in ui.stderr and "UI_PORT=<port>" in ui.stderr
