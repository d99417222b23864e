"""Shared fixtures, and the three kinds of test.

Every test is exactly one kind, a marker, named in its module's docstring. A module of one kind
sets it in `pytestmark`; in a module of two kinds the tests carry theirs. A test with no kind
marker is `demo` if it uses the demo build, else `integration` (so a forgotten marker never slows
`make test-fast` down):

- `unit`: in-process and quick: the loader on tiny files, the contract and the rules, the gate on
  a test instance, the local servers and the Anaplan client over HTTP, the demo generator. No dbt
  build and no pipeline run: the whole kind runs in well under a minute (`make test-fast`).
- `integration`: real runs on data of their own: dbt builds, Dagster runs against the local
  servers, PostgreSQL, child processes killed mid-run, the benchmark's smoke run.
- `demo`: on the small demo firm built end to end (`demo_build`), once per pytest-xdist worker.

`make test` runs all three on two workers. A test whose kind does not match its fixtures (a `demo`
test without the demo build, or another kind with it) stops the collection.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from tests import demo_build_process

# Telemetry off even when pytest is run outside the Makefile.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

AS_OF = date.fromisoformat(demo_build_process.AS_OF)
SEED = 7
ANAPLAN_ENV = demo_build_process.ANAPLAN_ENV
_ANAPLAN = pytest.StashKey()  # the controller's local Anaplan server
KINDS = ("unit", "integration", "demo")
DEMO_FIXTURES = {"demo_build", "demo_rerun", "pristine_demo"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wrong = []
    for item in items:
        kinds, on_demo = (
            {m.name for m in item.iter_markers() if m.name in KINDS},
            bool(DEMO_FIXTURES & set(item.fixturenames)),
        )
        if not kinds:
            item.add_marker("demo" if on_demo else "integration")
        elif len(kinds) > 1:  # `-m unit` must select exactly the unit tests: a module of one kind marks its tests
            wrong.append(
                f"{item.nodeid}: kinds {sorted(kinds)} (module and test disagree: mark the tests, not the module)"
            )
        elif on_demo != (kinds == {"demo"}):
            wrong.append(
                f"{item.nodeid}: kind {kinds.pop()}, but {'uses' if on_demo else 'does not use'} the demo build"
            )
    if wrong:
        raise pytest.UsageError("tests whose kind does not match (tests/conftest.py):\n" + "\n".join(wrong))


# --- the session's demo firm and demo build --------------------------------------------------------
# One folder all xdist workers of a session share (under the controller's base temp): the small
# demo firm's landing files (generated once, read-only for every test), and the demo build
# (tests/demo_build_process.py), started in the background as soon as a process has collected a demo test.
# The local Anaplan server the build syncs to lives in the controller (the only process alive for
# the whole session), so a worker's copy of the build can sync to the same target afterwards.


def _shared_folder(config: pytest.Config) -> Path:
    basetemp = config._tmp_path_factory.getbasetemp()  # a worker's is <the controller's>/popen-gwN
    folder = (basetemp.parent if hasattr(config, "workerinput") else basetemp) / "session_demo"
    folder.mkdir(exist_ok=True)
    return folder


def _lock(folder: Path):
    from filelock import FileLock

    return FileLock(str(folder / ".lock"))


def _landing(folder: Path) -> tuple[Path, dict[str, int]]:
    """The small demo firm with its default defects, generated once for the session; rows per landing file."""
    import json

    landing, counts = folder / "landing", folder / "landing_counts.json"
    with _lock(folder):
        if not counts.exists():
            from demo.firm import generate

            counts.write_text(json.dumps(generate(landing, scale="small", seed=SEED, as_of=AS_OF)))
    return landing, json.loads(counts.read_text())


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    from demo.servers.anaplan.server import start_server

    db = _shared_folder(config) / "anaplan.sqlite"
    config.stash[_ANAPLAN] = start_server(db, port=0, username="demo", password="demo-password")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # pytest-xdist, in the controller: what each worker is told
    node.workerinput["demo_anaplan_url"] = node.config.stash[_ANAPLAN].url


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput") or _ANAPLAN not in config.stash:
        return
    folder = _shared_folder(config)
    pid = folder / "build" / "pid"
    if pid.exists() and not (folder / "build" / "done.json").exists():  # the session was stopped mid-build
        with contextlib.suppress(OSError):
            os.kill(int(pid.read_text()), signal.SIGTERM)
    config.stash[_ANAPLAN].stop()


def _anaplan_url(config: pytest.Config) -> str:
    workerinput = getattr(config, "workerinput", None)
    return workerinput["demo_anaplan_url"] if workerinput else config.stash[_ANAPLAN].url


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the demo build as soon as a demo test is to run, so it builds while the first tests run."""
    if not any(item.get_closest_marker("demo") for item in session.items):
        return
    import subprocess
    import sys

    folder = _shared_folder(session.config)
    _landing(folder)  # generated before the build reads it
    with _lock(folder):
        if (folder / "build").exists():
            return  # another worker started it
        (folder / "build").mkdir()
        log = (folder / "build" / "build.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.demo_build_process", str(folder), _anaplan_url(session.config)],
            cwd=Path(__file__).parents[1],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        (folder / "build" / "pid").write_text(str(process.pid))


@pytest.fixture(scope="session")
def small_landing(request: pytest.FixtureRequest) -> tuple[Path, dict[str, int]]:
    """The small demo firm with its default defects (read-only: copy it to change it), and rows per landing file."""
    return _landing(_shared_folder(request.config))


@dataclass(frozen=True)
class PlanningServer:
    """The session's local Anaplan server (it runs in pytest's controller process): its URL and cell store."""

    url: str
    db_path: Path


@pytest.fixture(scope="session")
def planning_server(request: pytest.FixtureRequest):
    """The session's local Anaplan server, with the pipeline's ANAPLAN_* environment pointed at it."""
    server = PlanningServer(_anaplan_url(request.config), _shared_folder(request.config) / "anaplan.sqlite")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {**ANAPLAN_ENV, "ANAPLAN_API_URL": server.url, "ANAPLAN_AUTH_URL": server.url}.items():
            mp.setenv(name, value)
        yield server, server.db_path


def _finished_build(folder: Path) -> dict:
    """Wait for the session's demo build; what it reported."""
    import json

    from tests.waiting import wait_until

    build = folder / "build"

    def finished() -> dict | None:
        if (build / "done.json").exists():
            return json.loads((build / "done.json").read_text())
        pid = int((build / "pid").read_text()) if (build / "pid").exists() else None
        if pid is not None and not _alive(pid) and not (build / "done.json").exists():
            raise AssertionError(
                f"the demo build stopped without a result:\n{(build / 'build.log').read_text()[-5000:]}"
            )
        return None

    outcome = wait_until(finished, "the session's demo build is finished")
    assert "error" not in outcome, f"the demo build failed:\n{outcome['error']}"
    return outcome


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ChildProcessError):
        return os.waitpid(pid, os.WNOHANG) == (0, 0)  # our own child that ended is a zombie until reaped
    return True


@pytest.fixture(scope="session")
def demo_copy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """This worker's copy of the session's demo build (warehouse, reader file, Dagster instance); the run's id."""
    folder = _shared_folder(request.config)
    outcome = _finished_build(folder)
    copy = tmp_path_factory.mktemp("demo")
    _copy_build(folder / "build", copy)
    return copy, outcome["run_id"]


def _copy_build(build: Path, copy: Path) -> None:
    """The demo build's warehouse, reader file and Dagster instance, copied into `copy`."""
    import shutil

    for name in ("warehouse.duckdb", "warehouse.duckdb.wal", "reader.duckdb"):
        if (build / name).exists():
            shutil.copy(build / name, copy / name)
    shutil.copytree(build / "dagster_home", copy / "dagster_home")


@pytest.fixture(scope="session")
def demo_instance(demo_copy):
    """The Dagster instance the demo was built on (this worker's copy): the gate reads its check history.

    On disk, so a sync launched in another process (tests.sync_process) reads the same history.
    """
    with dg.DagsterInstance.from_config(str(demo_copy[0] / "dagster_home")) as instance:
        yield instance


class DemoBuild(tuple):
    """(warehouse, rows written per landing file, the run that built it, read back from its instance)."""


@pytest.fixture(scope="session")
def demo_build(small_landing, demo_copy, planning_server, demo_instance):
    """The small demo materialized end to end (`make demo`), built once per session, copied per worker.

    Most tests only read it; the reverse sync's change it and put it back, in order on one worker
    (xdist group `demo_sequence`), with `demo_rerun`'s.
    """
    from tests.helpers import RecordedRun

    warehouse = demo_copy[0] / "warehouse.duckdb"
    mp = pytest.MonkeyPatch()
    mp.setenv("DUCKDB_DATABASE", str(warehouse))  # dbt's profiles.yml reads the same variable
    mp.setenv("AS_OF_DATE", AS_OF.isoformat())  # the marts are built as of the demo's date
    yield DemoBuild((warehouse, small_landing[1], RecordedRun(demo_instance, demo_copy[1])))
    mp.undo()


@pytest.fixture
def pristine_demo(request: pytest.FixtureRequest, small_landing, tmp_path: Path, monkeypatch):
    """A test's own copy of the session's demo build as the build left it: warehouse, landing files, instance.

    For tests that change what the other demo tests share (their worker's `demo_copy`).
    """
    import shutil

    folder = _shared_folder(request.config)
    _finished_build(folder)
    _copy_build(folder / "build", tmp_path)
    shutil.copytree(small_landing[0], tmp_path / "landing")
    monkeypatch.setenv("DUCKDB_DATABASE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("AS_OF_DATE", AS_OF.isoformat())
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        yield tmp_path / "warehouse.duckdb", tmp_path / "landing", instance


@dataclass
class DemoRerun:
    """The demo's second full run, and the published run ids a BI reader's connection saw around it."""

    second: dg.ExecuteInProcessResult
    reader_seen: dict[str, object]


@pytest.fixture(scope="session")
def demo_rerun(small_landing, demo_build, demo_instance) -> DemoRerun:
    """`make demo` again, files unchanged, with a BI reader connected to the published file throughout.

    Only the few tests about a second run need it; they run in xdist group `demo_sequence`, before
    the reverse sync's tests, so one worker runs it once.
    """
    import duckdb

    from tests.helpers import materialize

    warehouse, landing = demo_build[0], small_landing[0]
    reader = duckdb.connect(str(warehouse.with_name("reader.duckdb")), read_only=True)
    try:
        seen_before = reader.execute("select run_id from published").fetchall()[0][0]
        second = materialize(warehouse, landing, instance=demo_instance)
        seen_during = reader.execute("select run_id from published").fetchall()[0][0]
    finally:
        reader.close()
    return DemoRerun(second, {"before": seen_before, "same_connection_after": seen_during})


# --- PostgreSQL (the WAREHOUSE=postgres tests) ------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> dict:
    """Connection settings (POSTGRES_*; CI's server on 127.0.0.1:5432), without a database; skip if none answers."""
    import psycopg2

    from orchestration.lib import settings
    from orchestration.lib.postgres import MAINTENANCE_DB, connect_raw

    config = {**settings.postgres_config(), "password": settings.postgres_password()}
    config.pop("database")
    try:
        connect_raw(**config, database=MAINTENANCE_DB).close()
    except psycopg2.OperationalError as err:
        reason = str(err).strip().splitlines()[0]
        pytest.skip(f"no PostgreSQL server at {config['host']}:{config['port']} ({reason}); CI starts one")
    return config


@pytest.fixture(scope="session")
def postgres_database(postgres_server):
    """Factory: a fresh database `psa_test_<random>_<name>` for this session (and xdist worker), dropped after."""
    import uuid

    from orchestration.lib.postgres import create_database, drop_database

    token = uuid.uuid4().hex[:8]
    created: list[str] = []

    def make(name: str) -> dict:
        database = f"psa_test_{token}_{name}"
        create_database(**postgres_server, database=database, fresh=True)
        created.append(database)
        return {**postgres_server, "database": database}

    yield make
    for database in created:
        drop_database(**postgres_server, database=database)
