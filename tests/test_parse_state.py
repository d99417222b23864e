"""dbt's partial parse stays valid from one run to the next, whatever the run's warehouse, --vars and as-of date.

Kind: unit (the key), integration (dbt parses twice with the kept state in between).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration.defs.transform.parse_state import KEEP, keep_state, seeded_target_path, state_key
from orchestration.lib import settings

DBT_PROJECT_DIR = Path(__file__).parents[1] / "dbt_project"
AS_OF = ["build", "--vars", json.dumps({"as_of_date": "2026-10-05"})]


@pytest.mark.unit
def test_the_key_follows_the_warehouse_and_the_vars_but_not_the_password(monkeypatch) -> None:
    monkeypatch.setenv("DUCKDB_DATABASE", "/data/a.duckdb")
    monkeypatch.setenv("POSTGRES_PASSWORD", "first-secret")
    key = state_key(AS_OF)
    assert state_key(list(AS_OF)) == key
    assert state_key(["build"]) != key
    assert state_key(["build", "--vars", json.dumps({"as_of_date": "2026-10-06"})]) != key
    monkeypatch.setenv("POSTGRES_PASSWORD", "second-secret")
    assert state_key(AS_OF) == key  # the password is no part of it
    monkeypatch.setenv("DUCKDB_DATABASE", "/data/b.duckdb")
    assert state_key(AS_OF) != key


@pytest.mark.unit
def test_a_run_starts_from_the_state_kept_for_its_warehouse_and_vars(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DUCKDB_DATABASE", str(tmp_path / "w.duckdb"))
    project_target = tmp_path / "target"
    first = seeded_target_path(project_target, state_key(AS_OF), "run-one")
    assert not (first / "partial_parse.msgpack").exists()  # nothing kept yet: dagster-dbt seeds the project's
    first.mkdir(parents=True)
    (first / "partial_parse.msgpack").write_bytes(b"state of run one")
    keep_state(project_target, first, state_key(AS_OF))

    second = seeded_target_path(project_target, state_key(AS_OF), "run-two")
    assert second != first
    assert (second / "partial_parse.msgpack").read_bytes() == b"state of run one"
    other = seeded_target_path(project_target, state_key(["build"]), "run-three")
    assert not (other / "partial_parse.msgpack").exists()


@pytest.mark.unit
def test_only_the_most_recent_states_are_kept(tmp_path: Path) -> None:
    project_target = tmp_path / "target"
    for n in range(KEEP + 3):
        run = project_target / f"run-{n}"
        run.mkdir(parents=True)
        (run / "partial_parse.msgpack").write_bytes(b"state %d" % n)
        keep_state(project_target, run, f"key-{n}")
        kept = project_target / "partial_parse" / f"key-{n}.msgpack"
        os.utime(kept, (1_000_000 + n, 1_000_000 + n))  # written in this order, not within one clock tick
    kept = sorted(p.stem for p in (project_target / "partial_parse").glob("*.msgpack"))
    assert kept == sorted(f"key-{n}" for n in range(3, KEEP + 3))


def _parse(target: Path, args: list[str]) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "dbt.cli.main", "parse", "--vars", args[args.index("--vars") + 1],
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(target), "--log-path", str(target / "logs"), "--log-format", "json"],
        env=os.environ, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return completed.stdout


@pytest.mark.integration
def test_the_second_run_as_of_a_date_parses_only_what_changed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DUCKDB_DATABASE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    project_target = tmp_path / "target"
    with settings.dbt_environment():
        first = seeded_target_path(project_target, state_key(AS_OF), "run-one")
        first_log = _parse(first, AS_OF)
        keep_state(project_target, first, state_key(AS_OF))
        second = seeded_target_path(project_target, state_key(AS_OF), "run-two")
        second_log = _parse(second, AS_OF)
    assert "Unable to do partial parsing" in first_log  # nothing to start from: the whole project
    assert "Unable to do partial parsing" not in second_log, second_log[-2000:]
    assert (second / "manifest.json").exists()


@pytest.mark.integration
def test_the_dbt_step_starts_its_next_run_on_the_same_warehouse_from_its_parse(
    small_landing, tmp_path: Path, monkeypatch
) -> None:
    """Two runs of the pipeline's dbt step, as of two days: the second one's dbt parses only what changed.

    And the step builds no dbt adapter in its own process and runs no `dbt --version` (transform/assets.py,
    PipelineDbtCli): dbt runs in its process only, once per step.
    """
    import dagster as dg
    import dagster_dbt.core.resource
    import dbt.adapters.factory
    import duckdb
    from packaging import version

    from orchestration.contract import SOURCE_OBJECTS
    from orchestration.defs.ingest.loader import load_object
    from orchestration.defs.transform.assets import dbt_models, dbt_resource
    from orchestration.lib.warehouse import DuckDBWarehouse
    from tests.helpers import REBUILD, dbt_step_folder

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:  # the one raw table the model reads
        load_object(
            con, next(o for o in SOURCE_OBJECTS if o.schema == "raw_erp" and o.name == "currency"), small_landing[0]
        )
    monkeypatch.setenv("DUCKDB_DATABASE", str(tmp_path / "warehouse.duckdb"))
    currencies = next(key for key in dbt_models.keys if key.path[-1] == "stg_erp__currencies")
    resources = {"dbt": dbt_resource(), "warehouse": DuckDBWarehouse(database=str(tmp_path / "warehouse.duckdb"))}
    registered = []  # dagster-dbt registers the adapter it builds
    monkeypatch.setattr(dbt.adapters.factory, "register_adapter", lambda *args, **kw: registered.append(args))
    asked = []  # and asks `dbt --version`, unless told (this answer would do for it)
    answer = b"Core: 0.0.0"
    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", lambda *args, **kw: asked.append(args) or answer)
    logs = []
    for as_of in ("2026-10-05", "2026-10-06"):  # a new day: dbt reads the date, it does not parse again
        monkeypatch.setenv("AS_OF_DATE", as_of)
        run = dg.materialize([dbt_models], selection=[currencies], resources=resources, tags=REBUILD)
        assert run.success
        logs.append("".join(log.read_text() for log in dbt_step_folder(run.run_id).glob("dbt.log*")))
    assert "Unable to do partial parsing" in logs[0]  # another warehouse: the prepared state does not fit
    assert "Unable to do partial parsing" not in logs[1]
    # dbt's log file at the pipeline's level (DBT_LOG_LEVEL_FILE=info): what dbt prints, no SQL statements
    levels = {json.loads(line)["info"]["level"] for line in logs[1].splitlines() if line.strip()}
    assert levels == {"info"}, levels
    assert registered == []
    assert asked == []
    assert resources["dbt"]._cli_version == version.parse(importlib.metadata.version("dbt-core"))


@pytest.mark.unit
def test_a_state_that_cannot_be_kept_is_reported_not_raised(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "partial_parse.msgpack").write_bytes(b"state")
    not_a_folder = tmp_path / "target"
    not_a_folder.write_text("a file where the target folder should be")
    said = keep_state(not_a_folder, run, "key")
    assert said is not None and said.startswith("dbt's parse was not kept for the next run (")
    assert said.endswith("): it will parse the whole project")


@pytest.mark.integration
def test_a_deploy_prepares_the_parse_so_the_first_run_on_a_new_warehouse_parses_nothing_again(
    small_landing, tmp_path: Path, monkeypatch
) -> None:
    """`python -m orchestration.defs.transform.parse_state` with the pipeline's settings, then its first dbt step."""
    import dagster as dg
    import duckdb

    from orchestration.contract import SOURCE_OBJECTS
    from orchestration.defs.ingest.loader import load_object
    from orchestration.defs.transform.assets import dbt_models, dbt_project, dbt_resource
    from orchestration.defs.transform.parse_state import main, prepare
    from orchestration.lib.warehouse import DuckDBWarehouse
    from tests.helpers import REBUILD, dbt_step_folder

    warehouse = tmp_path / "a-new-warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        load_object(
            con, next(o for o in SOURCE_OBJECTS if o.schema == "raw_erp" and o.name == "currency"), small_landing[0]
        )
    monkeypatch.setenv("DUCKDB_DATABASE", str(warehouse))
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("AS_OF_DATE", "2026-10-05")
    project_target = Path(dbt_project.project_dir) / dbt_project.target_path
    key, _, said = prepare()
    assert "Unable to do partial parsing because profile has changed" in said  # make manifest's does not fit
    assert (project_target / "partial_parse" / f"{key}.msgpack").exists()
    assert not list(project_target.glob("prepare-*"))  # its own target folder is gone
    # Again (the CLI): dbt starts from the state it kept.
    main()
    currencies = next(key for key in dbt_models.keys if key.path[-1] == "stg_erp__currencies")
    resources = {"dbt": dbt_resource(), "warehouse": DuckDBWarehouse(database=str(warehouse))}
    run = dg.materialize([dbt_models], selection=[currencies], resources=resources, tags=REBUILD)
    assert run.success
    log = "".join(path.read_text() for path in dbt_step_folder(run.run_id).glob("dbt.log*"))
    assert "Unable to do partial parsing" not in log


@pytest.mark.integration
def test_a_failed_parse_is_an_error_with_dbts_reason_and_keeps_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    from orchestration.defs.transform.parse_state import main, prepare

    failing = tmp_path / "dbt"  # a dbt that fails as dbt does when it cannot parse: its message, exit 2
    failing.write_text("#!/bin/sh\necho 'Parsing Error in model broken (models/broken.sql)'\nexit 2\n")
    failing.chmod(0o755)
    monkeypatch.setattr(settings, "dbt_executable", lambda: str(failing))
    monkeypatch.setenv("DUCKDB_DATABASE", str(tmp_path / "w.duckdb"))
    with pytest.raises(RuntimeError, match=r"dbt parse failed \(exit 2\): Parsing Error in model broken"):
        prepare(tmp_path / "target")
    assert list((tmp_path / "target").iterdir()) == []  # no state kept, its target folder removed
    assert main() == 1  # the command says why, without a traceback
    said = capsys.readouterr().err
    assert "dbt's parse not prepared: dbt parse failed (exit 2): Parsing Error in model broken" in said
