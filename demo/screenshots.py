"""Screenshots of the Dagster UI for docs/tour.md, taken by headless Chromium against `make ui`.

usage: python -m demo.screenshots [--port 3000] [--out docs/tour] [--pages graph,raw,mart,sync]
                                  [--sync-name sync-passed]

Starts `make ui` on --port with this shell's DAGSTER_HOME, DUCKDB_DATABASE and LANDING_DIR (the
warehouse `make demo` built), waits until the webserver answers, opens each page in Chromium (the
Debian package `chromium`; CHROMIUM names another binary) with a fresh profile, writes one PNG per
page, and stops the UI. `make screenshots` runs it; run it on a blocked demo with
`--pages sync --sync-name sync-blocked` for the blocked sync's page.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = {  # name -> path in the UI
    "graph": "/asset-groups",
    "raw": "/assets/raw_erp/consolidated_exchange_rate?view=checks",
    "mart": "/assets/marts/fct_revenue_forecast",
    "sync": "/assets/anaplan/forecast_inputs",
}
WINDOW = "1440,1000"
SETTLE_MS = 20000  # virtual time Chromium lets the page's scripts run before the screenshot


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise SystemExit("no Chromium found: apt-get install -y chromium (or set CHROMIUM)")


def wait_for_ui(url: str, process: subprocess.Popen, seconds: float = 240) -> None:
    """Until the webserver answers and has loaded the code location (or the UI process ended)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"make ui ended with {process.returncode} before the UI answered")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5) as answer:
                if answer.status == 200 and _location_loaded(url):
                    return
        except OSError:
            pass
        time.sleep(2)
    raise SystemExit(f"the UI did not answer on {url} within {seconds:.0f} s")


def _location_loaded(url: str) -> bool:
    query = b'{"query": "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"}'
    request = urllib.request.Request(f"{url}/graphql", data=query, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return b'"LOADED"' in answer.read()


def shoot(browser: str, url: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        command = [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW}",
            f"--virtual-time-budget={SETTLE_MS}",
            f"--screenshot={out}",
            url,
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=180)
    print(f"{out} <- {url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "tour")
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--sync-name", default="sync-passed", help="file name of the sync asset's page")
    args = parser.parse_args(argv)
    browser = chromium()
    args.out.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{args.port}"
    ui = subprocess.Popen(
        ["make", "--no-print-directory", "ui", f"UI_PORT={args.port}"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: dagster dev, the daemon, the code server
    )
    try:
        wait_for_ui(url, ui)
        for page in args.pages.split(","):
            name = args.sync_name if page == "sync" else page
            shoot(browser, url + PAGES[page], args.out / f"{name}.png")
    finally:
        os.killpg(ui.pid, signal.SIGINT)  # as Ctrl+C: dagster dev stops its children, make stops the planning server
        try:
            ui.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(ui.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
