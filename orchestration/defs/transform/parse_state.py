"""dbt's partial parse, kept valid from one run to the next.

dagster-dbt gives every dbt invocation a fresh target folder and seeds it with the project's
`target/partial_parse.msgpack` (the state `make manifest` wrote). dbt discards that state and parses
the whole project again (about 7 s on two cores, at any data scale) when the run's profile (which
warehouse) or its `--vars` differ from the ones the state was written with: such runs paid a full
parse every time. (The pipeline passes no `--vars`: the as-of date reaches dbt as env var
AS_OF_DATE, read only when dbt executes, so a run as of another day parses nothing again.)

Here each run's state is kept after it, one per profile and vars (`target/partial_parse/<key>.msgpack`,
the KEEP most recent), and the next run with the same profile and vars starts from it. dbt still
checks the state itself (project files, profile, vars, environment variables) and parses again
whatever changed, so a stale or foreign state costs a parse, never a wrong manifest. The key holds
no secret: the password is not part of it (dbt leaves it out of its own profile check too).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

STATE_FILE = "partial_parse.msgpack"
KEEP = 8  # states kept (about 3 MB each): the most recently used profile-and-vars pairs
# What profiles.yml reads that names the warehouse dbt connects to (POSTGRES_PASSWORD left out).
PROFILE_SETTINGS = ("WAREHOUSE", "DUCKDB_DATABASE", "DUCKDB_MEMORY_LIMIT", "DBT_THREADS", "POSTGRES_HOST",
                    "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_DB")  # fmt: skip


def state_key(args: list[str]) -> str:
    """Which kept state a dbt invocation can start from: its profile's settings and its --vars.

    Read from the environment dbt's process inherits (inside `settings.dbt_environment()`).
    """
    profile = {name: os.environ.get(name, "") for name in PROFILE_SETTINGS}
    cli_vars = args[args.index("--vars") + 1] if "--vars" in args[:-1] else ""
    return hashlib.sha256(json.dumps([profile, cli_vars], sort_keys=True).encode()).hexdigest()[:16]


def _kept(project_target: Path, key: str) -> Path:
    return project_target / "partial_parse" / f"{key}.msgpack"


def seeded_target_path(project_target: Path, key: str, run_id: str) -> Path:
    """A fresh target folder for one invocation, holding the state kept under `key` (`state_key`), if any.

    Without one, dagster-dbt copies the project's own state into it, as it does by default.
    """
    target = project_target / f"dbt_models-{run_id[:7]}-{uuid.uuid4().hex[:7]}"  # dagster-dbt's own naming
    kept = _kept(project_target, key)
    if kept.exists():
        target.mkdir(parents=True)
        with contextlib.suppress(FileNotFoundError):  # pruned by another run meanwhile: dagster-dbt seeds its own
            shutil.copy(kept, target / STATE_FILE)
    return target


def keep_state(project_target: Path, target: Path, key: str) -> str | None:
    """Keep the invocation's state under `key`, for the next run with the same profile and vars (atomically).

    Best effort: what went wrong is returned (for the run's log), never raised; it costs the next run a
    full parse, nothing else.
    """
    state = target / STATE_FILE
    if not state.exists():
        return None
    kept = _kept(project_target, key)
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f".{kept.name}.{uuid.uuid4().hex[:7]}")
        shutil.copy(state, partial)
        os.replace(partial, kept)  # a concurrent run reads the old state or the new, never half of one
        by_age = sorted(((_mtime(p), p) for p in kept.parent.glob("*.msgpack")), reverse=True)
        for _, old in by_age[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError as err:
        return f"dbt's parse was not kept for the next run ({err.strerror}): it will parse the whole project"
    return None


def prepare(project_target: Path | None = None) -> tuple[str, float, str]:
    """Parse the project for the warehouse this environment names and keep the state for its runs' dbt steps.

    A deploy step: `make manifest` prepares the parse for the Makefile's own settings, and dbt refuses
    it for another warehouse (its profile names the database file, and dbt writes the database name
    into every node), so the first run there would parse the whole project. Run with the settings
    the pipeline will run with (`python -m orchestration.defs.transform.parse_state`). Returns the
    state's key, the seconds dbt took and its output; a failed parse raises RuntimeError with the end of
    dbt's own output (dbt never logs a password), and keeps nothing.
    """
    from orchestration.lib import settings  # the pipeline's settings; this module stays import-light otherwise

    project_target = project_target or settings.DBT_PROJECT_DIR / "target"
    with settings.dbt_environment():  # the profile and variables the dbt step gives dbt (AS_OF_DATE: no parse input)
        key = state_key(["build"])
        target = project_target / f"prepare-{uuid.uuid4().hex[:7]}"
        target.mkdir(parents=True)
        try:
            seed = _kept(project_target, key) if _kept(project_target, key).exists() else project_target / STATE_FILE
            with contextlib.suppress(FileNotFoundError):
                shutil.copy(seed, target / STATE_FILE)
            started = time.perf_counter()
            done = subprocess.run(
                [settings.dbt_executable(), "parse", "--project-dir", str(settings.DBT_PROJECT_DIR),
                 "--profiles-dir", str(settings.DBT_PROJECT_DIR), "--target-path", str(target),
                 "--log-path", str(target)],
                capture_output=True, text=True, check=False, env=os.environ,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(f"dbt parse failed (exit {done.returncode}): {(done.stdout + done.stderr)[-3000:]}")
            problem = keep_state(project_target, target, key)
            if problem:
                raise RuntimeError(problem)
        finally:
            shutil.rmtree(target, ignore_errors=True)
    return key, seconds, done.stdout.strip()


def main() -> int:
    try:
        key, seconds, said = prepare()
    except (RuntimeError, OSError) as err:
        print(f"dbt's parse not prepared: {err}", file=sys.stderr)
        return 1
    full = "a full parse" if "Unable to do partial parsing" in said else "a partial parse"
    print(f"dbt's parse prepared for this warehouse ({full}, {seconds:.1f} s): its runs start from state {key}")
    return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # pruned by a concurrent run
        return 0.0


if __name__ == "__main__":
    sys.exit(main())
