"""Screenshots of the Dagster UI for docs/tour.md, taken by headless Chromium against `make ui`.

usage: python -m demo.screenshots [--port 3000] [--out docs/tour] [--pages graph,raw,mart,sync,gate]
                                  [--sync-name sync-passed]

Starts `make ui` on --port with this shell's DAGSTER_HOME, DUCKDB_DATABASE and LANDING_DIR (the
warehouse `make demo` built), waits until the webserver answers, opens each page in Chromium (the
Debian package `chromium`; CHROMIUM names another binary) with a fresh profile, writes one PNG per
page, and stops the UI. `make screenshots` runs it; run it on a blocked demo with
`--pages sync,gate,test --sync-name sync-blocked` for the blocked sync's page, its check `gate`,
and the failed dbt test on the sync model that blocks it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Page:
    path: str  # in the UI
    ready: str  # text the page shows once its data has loaded
    window: str = "1440,1000"
    click: str | None = None  # JavaScript run once ready (true when it clicked), e.g. to open a chart
    opened: str | None = None  # JavaScript true once what the click opens is shown


# The markdown metadata entry `chart` of the latest materialization, opened as the UI opens it.
OPEN_CHART = """(() => {
  const row = [...document.querySelectorAll('tr')].find(r => r.cells.length && r.cells[0].innerText.trim() === 'chart');
  const link = row && [...row.querySelectorAll('a')].find(e => e.innerText.trim() === '[Show Markdown]');
  if (!link) return false;
  link.click();
  return true;
})()"""
CHART_SHOWN = (
    "[...document.images].some(i => i.src.startsWith('data:image/svg+xml') && i.complete && i.naturalWidth > 0)"
)

PAGES = {
    "graph": Page("/asset-groups", "reverse_sync"),
    "raw": Page(
        "/assets/raw_erp/consolidated_exchange_rate?view=checks&checkDetail=rate_for_every_month", "Latest execution"
    ),
    "mart": Page("/assets/marts/fct_revenue_forecast", "[Show Markdown]", "1440,1000", OPEN_CHART, CHART_SHOWN),
    "sync": Page("/assets/anaplan/forecast_inputs", "Latest check results", "1440,1400"),
    "gate": Page("/assets/anaplan/forecast_inputs?view=checks&checkDetail=gate", "Latest execution", "1440,1000"),
    # A dbt test (ERROR) on the sync model: a blocking check, with what it tests and its latest result.
    "test": Page(
        "/assets/sync/sync_planning__forecast_inputs?view=checks&checkDetail=not_null_sync_planning__forecast_inputs_value",
        "Latest execution",
    ),
}
DEFAULT_PAGES = "graph,raw,mart,sync,gate"  # `test` on a blocked demo
WAIT_SECONDS = int(os.environ.get("SCREENSHOT_WAIT_SECONDS", "120"))


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


def shoot(browser: str, url: str, page: Page, out: Path) -> None:
    """Open the page in headless Chromium, wait until it shows `page.ready` (and what `page.click` opens), save a PNG.

    Driven over the DevTools protocol (websockets), so the screenshot waits for the page's data,
    not for a fixed time.
    """
    # Chromium's helper processes may still write to the profile as it exits: cleanup errors are ignored.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        command = [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            f"--window-size={page.window}",
            "about:blank",
        ]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            _until(lambda: port_file.exists() and port_file.read_text().strip(), "Chromium's DevTools port")
            port = port_file.read_text().split()[0]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10) as answer:
                target = next(t for t in json.load(answer) if t["type"] == "page")
            png = asyncio.run(_capture(target["webSocketDebuggerUrl"], url, page))
        finally:
            process.terminate()
            process.wait(timeout=30)
    out.write_bytes(png)
    print(f"{out} <- {url}")


def _until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what} after {WAIT_SECONDS} s")
        time.sleep(0.5)


async def _capture(websocket_url: str, url: str, page: Page) -> bytes:
    import websockets

    async with websockets.connect(websocket_url, max_size=None) as ws:
        ids = iter(range(1, 1_000_000))

        async def call(method: str, **params) -> dict:
            number = next(ids)
            await ws.send(json.dumps({"id": number, "method": method, "params": params}))
            while True:
                message = json.loads(await ws.recv())
                if message.get("id") == number:
                    return message.get("result", {})

        async def until(expression: str, what: str) -> None:
            deadline = time.monotonic() + WAIT_SECONDS
            while True:
                result = await call("Runtime.evaluate", expression=expression, returnByValue=True)
                if result.get("result", {}).get("value"):
                    return
                if time.monotonic() > deadline:
                    raise SystemExit(f"{url}: gave up waiting for {what} after {WAIT_SECONDS} s")
                await asyncio.sleep(0.5)

        width, height = (int(n) for n in page.window.split(","))
        await call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        await call("Page.enable")
        await call("Page.navigate", url=url)
        await until(f"!!document.body && document.body.innerText.includes({json.dumps(page.ready)})", page.ready)
        if page.click:
            await until(page.click, "the element to click")
            await until(page.opened or "true", "what the click opens")
        await asyncio.sleep(1)  # the last frame painted after the data arrived (fonts, layout)
        shot = await call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "tour")
    parser.add_argument("--pages", default=DEFAULT_PAGES, help=f"some of {','.join(PAGES)}")
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
        named = {"sync": args.sync_name, "gate": f"{args.sync_name}-gate", "test": f"{args.sync_name}-test"}
        for page in args.pages.split(","):
            shoot(browser, url + PAGES[page].path, PAGES[page], args.out / f"{named.get(page, page)}.png")
    finally:
        stop_ui(ui)
    return 0


def stop_ui(ui: subprocess.Popen) -> None:
    """Ctrl+C to `dagster dev` alone: it stops its webserver, daemon and code server, and make's recipe
    goes on to stop the planning server it started (a Ctrl+C to make would skip that)."""
    for pid in _session_processes(ui.pid):
        command = _command(pid)
        if "dagster dev" in command and not command.startswith("/bin/sh"):  # not make's shell running it
            os.kill(pid, signal.SIGINT)
    try:
        ui.wait(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(ui.pid, signal.SIGKILL)


def _session_processes(session: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            # the fields after the command's closing parenthesis: state, ppid, pgrp, session, ...
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[3]) == session:
                found.append(int(proc.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main())
