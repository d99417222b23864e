"""The one environment helper: every setting the pipeline reads, with its default.

Defaults keep a fresh clone runnable with no configuration; docs/configuration.md lists every variable.
dbt's process gets the same values through `dbt_environment()`, while it is started.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"

DEFAULTS = {
    # The warehouse: `duckdb` (one file, DUCKDB_DATABASE) or `postgres` (a server, POSTGRES_*).
    "WAREHOUSE": "duckdb",
    "DUCKDB_DATABASE": str(REPO_ROOT / "data" / "warehouse.duckdb"),
    "LANDING_DIR": str(REPO_ROOT / "data" / "landing"),
    "DUCKDB_THREADS": "2",
    "DUCKDB_MEMORY_LIMIT": "4GB",
    # dbt's own log file in each dbt step's target folder (dbt's DBT_LOG_LEVEL_FILE): `info` holds what dbt
    # prints (each node, errors, warnings, parsing); `debug` (dbt's default) adds every SQL statement and
    # connection event, and dbt then builds a message for each: about 1.5 s of a medium nightly build.
    "DBT_LOG_LEVEL_FILE": "info",
    # WAREHOUSE=postgres: the server and database (POSTGRES_PASSWORD is a secret, read only through
    # postgres_password() and Dagster's EnvVar, never logged). DuckDB still reads and checks the files.
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "5432",
    "POSTGRES_USER": "postgres",
    "POSTGRES_DB": "psa",
    "INGEST_SOURCE": "files",  # `api`: read the source systems' APIs instead of LANDING_DIR
    "AS_OF_DATE": "",  # empty: today in FIRM_TIMEZONE, decided by dbt's as_of_date() macro
    "FIRM_TIMEZONE": "UTC",
    # A landing file with more than this share of rows breaking the contract is refused whole.
    "INGEST_MAX_QUARANTINE_SHARE": "0.1",
    # Readers (BI tools) connect to this file, published after the gate passes; empty: reader.duckdb
    # beside DUCKDB_DATABASE.
    "READER_DATABASE": "",
    # Automation (cron in FIRM_TIMEZONE). Schedules and sensors start switched off; turn them on in the UI.
    "NIGHTLY_CRON": "0 2 * * *",
    "INTRADAY_CRON": "0 8-18 * * 1-5",  # hourly in working hours
    "ANALYTICS_CRON": "0 6 * * *",
    "LANDING_SENSOR_INTERVAL_SECONDS": "60",
    "LANDING_SETTLE_SECONDS": "30",  # a file modified more recently may still be being written
    "ALERT_WEBHOOK_URL": "",  # run failures are POSTed here as JSON; empty: no alert
    # Reverse-sync gate thresholds (blocking asset checks on the sync model).
    "SYNC_MAX_EXCEPTION_SHARE": "0.02",  # approved time entries that could not be valued
    "SYNC_MAX_TOTAL_CHANGE": "0.5",  # relative change of the total forecast since the last sync
}


# Run tags the domains read alike. FULL_REFRESH_TAG=true (nightly_full): dbt rebuilds everything, the
# incremental models whole, and the raw checks validate every table whole. REBUILD_TAG=all: every
# selected model is built and every raw check validated, changed inputs or not.
FULL_REFRESH_TAG = "dbt/full_refresh"
REBUILD_TAG = "pipeline/rebuild"


def setting(name: str) -> str:
    return os.environ.get(name) or DEFAULTS[name]


def duckdb_database() -> str:
    return str(Path(setting("DUCKDB_DATABASE")).expanduser().resolve())


WAREHOUSES = ("duckdb", "postgres")
POSTGRES_SETTINGS = ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_DB")


def warehouse() -> str:
    """Which warehouse the pipeline and dbt write: `duckdb` or `postgres`."""
    value = setting("WAREHOUSE").strip().lower()
    if value not in WAREHOUSES:
        raise ValueError(f"WAREHOUSE must be one of {', '.join(WAREHOUSES)}, got {value!r}")
    return value


def postgres_config() -> dict[str, str | int]:
    """Where the PostgreSQL warehouse is, without the password (safe to log)."""
    return {
        "host": setting("POSTGRES_HOST"),
        "port": int(setting("POSTGRES_PORT")),
        "user": setting("POSTGRES_USER"),
        "database": setting("POSTGRES_DB"),
    }


def postgres_password() -> str:
    """The secret, for code outside Dagster's resources (the demo's database helper); empty for trust auth."""
    return os.environ.get("POSTGRES_PASSWORD", "")


def landing_dir() -> Path:
    return Path(setting("LANDING_DIR")).expanduser().resolve()


def as_of_date() -> str | None:
    """The as-of date the marts are built for (YYYY-MM-DD), or None for today."""
    value = setting("AS_OF_DATE").strip()
    if value:
        date.fromisoformat(value)  # fail early and clearly on a malformed date
    return value or None


def effective_as_of_date(now: datetime | None = None) -> str:
    """The as-of date a run builds for: AS_OF_DATE, or today in FIRM_TIMEZONE (as dbt's as_of_date() decides)."""
    return as_of_date() or (now or datetime.now(UTC)).astimezone(ZoneInfo(setting("FIRM_TIMEZONE"))).date().isoformat()


def reader_database(warehouse: str | None = None) -> Path:
    """Where readers connect: READER_DATABASE, or reader.duckdb beside the warehouse file."""
    explicit = setting("READER_DATABASE")
    if explicit:
        return Path(explicit).expanduser().resolve()
    return Path(warehouse or duckdb_database()).expanduser().resolve().with_name("reader.duckdb")


INGEST_SOURCES = ("files", "api")


def ingest_source() -> str:
    """Where ingest reads: `files` (LANDING_DIR) or `api` (the source systems' APIs)."""
    value = setting("INGEST_SOURCE").strip().lower()
    if value not in INGEST_SOURCES:
        raise ValueError(f"INGEST_SOURCE must be one of {', '.join(INGEST_SOURCES)}, got {value!r}")
    return value


def landing_settle_seconds() -> float:
    return float(setting("LANDING_SETTLE_SECONDS"))


# The API connectors' tuning: ApiTuning field -> (variable, type); unset variables keep ApiTuning's defaults.
API_TUNING = {
    "lookback_seconds": ("API_LOOKBACK_SECONDS", float),
    "max_concurrency": ("API_MAX_CONCURRENCY", int),
    "max_attempts": ("API_MAX_ATTEMPTS", int),
    "max_retry_delay_seconds": ("API_MAX_RETRY_DELAY_SECONDS", float),
    "timeout_seconds": ("API_TIMEOUT_SECONDS", float),
}


def api_tuning() -> dict[str, float | int]:
    return {field: kind(os.environ[name]) for field, (name, kind) in API_TUNING.items() if os.environ.get(name)}


def ingest_max_quarantine_share() -> float:
    """Above this share of bad rows a landing file is a broken export, not row defects (0 < share <= 1)."""
    value = float(setting("INGEST_MAX_QUARANTINE_SHARE"))
    if not 0 < value <= 1:
        raise ValueError(f"INGEST_MAX_QUARANTINE_SHARE must be in (0, 1], got {value}")
    return value


def duckdb_config() -> dict[str, int | str]:
    """Explicit limits: DuckDB would otherwise take 80% of RAM and every core."""
    return {"threads": int(setting("DUCKDB_THREADS")), "memory_limit": setting("DUCKDB_MEMORY_LIMIT")}


@contextmanager
def dbt_environment(extra: dict[str, str] | None = None) -> Iterator[None]:
    """The variables profiles.yml reads (and `extra` dbt settings), set while dbt's process is started, then restored.

    dbt runs as a subprocess and inherits the environment: the warehouse path and limits, the
    PostgreSQL settings (the password straight from the inherited environment, through dbt's
    env_var, never from here), the firm's time zone, the as-of date, its log file's level, and
    telemetry off.
    """
    wanted = {
        "DUCKDB_DATABASE": duckdb_database(),
        **{name: setting(name) for name in ("WAREHOUSE", *POSTGRES_SETTINGS)},
        **{name: setting(name) for name in ("DUCKDB_THREADS", "DUCKDB_MEMORY_LIMIT", "FIRM_TIMEZONE")},
        "DBT_LOG_LEVEL_FILE": setting("DBT_LOG_LEVEL_FILE"),
        "AS_OF_DATE": as_of_date() or "",  # dbt's as_of_date(): empty is today in FIRM_TIMEZONE
        "DO_NOT_TRACK": os.environ.get("DO_NOT_TRACK") or "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": os.environ.get("DBT_SEND_ANONYMOUS_USAGE_STATS") or "false",
        **(extra or {}),
    }
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dbt_executable() -> str:
    """The venv's dbt, so the pipeline runs the same dbt whether or not the venv is activated."""
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else shutil.which("dbt") or "dbt"
