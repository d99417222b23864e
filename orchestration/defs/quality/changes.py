"""Which raw checks a run validates, and which keep their last verdict because nothing they read changed.

A check's verdict is a function of its key, recorded with every evaluation (metadata `evaluated_on`):
- the data version (`loader.table_versions`: loads that changed it, rows, last change) and the
  columns (names and types, which an `alter table` changes without changing the version) of its raw
  table and of every other raw table it reads (`CheckSpec.reads`: references, FX completeness);
- its fingerprint: the check as declared (SQL, columns, values, thresholds such as
  `RawQualityConfig.freshness_hours`, severity), the SQL dialect, the GX version and this folder's
  runner code.

Per selected check, a run then
- keeps the last verdict when the key is the one it was evaluated on (`KEPT`): no GX for it;
- evaluates it every run when it depends on the clock (`EVERY_RUN`: freshness, in plain SQL);
- validates a ROWS check (not null, in set, between, types, one-row consistency, a reference) on the
  rows the loads since its last evaluation wrote (`_batch_id`), when that verdict passed and only
  its own table changed, through the loader alone (`CHANGED_ROWS`): the other rows passed then and
  are the same rows now, and a reference's target is the table it was (a change there validates the
  whole table), so the verdict and its counts are the whole table's; a KEYS check (uniqueness) the
  same way, on those rows and every row sharing their key: a repeat the loads made involves one of
  them, and there was none before;
- validates it on the whole table otherwise (`WHOLE`), and when the run asks for everything
  (`nightly_full`'s tag `dbt/full_refresh`, or `pipeline/rebuild: all`), which also catches what
  the data version cannot see: a row edited in place outside the loader. A whole-table validation
  records a fingerprint of the rows themselves (`rows_fingerprint`) in its key, and a run that
  validates everything reads it for every table: the nightly keeps a verdict that a whole-table
  validation gave on rows with that very fingerprint, by this very check; only `pipeline/rebuild:
  all` validates every check whole whatever it was last evaluated on. The other runs compare the
  key without the fingerprint.

The last evaluations are read from the instance's check history as the reverse-sync gate reads them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.defs.ingest.loader import LOADED_FILES, sql_str, table_versions
from orchestration.defs.quality.suites import CLOCK, KEYS, ROWS, CheckSpec, SuiteSpec
from orchestration.lib import settings
from orchestration.lib.dialect import rows_fingerprint, table_exists

KEPT, EVERY_RUN, CHANGED_ROWS, WHOLE = "kept", "every run", "changed rows", "whole table"
# Run tags that make every check validate its whole table (the first is nightly_full's).
REVALIDATE_TAGS = {settings.FULL_REFRESH_TAG: "true", settings.REBUILD_TAG: "all"}
# A table's rows_fingerprint in the key: recorded by a whole-table validation, read by a run that validates everything.
CONTENT = "content"


@dataclass(frozen=True)
class Last:
    """A check's last evaluation on record."""

    passed: bool
    severity: dg.AssetCheckSeverity
    metadata: Mapping[str, Any]  # MetadataValue by name, as recorded
    run_id: str  # the run whose validation gave the verdict (not a run that kept it)
    key: dict | None  # what it was evaluated on (None: recorded before keys were)

    @property
    def error(self) -> bool:
        return "error" in self.metadata

    @property
    def whole(self) -> bool:
        """Its verdict came from validating the whole table (not only changed rows, not the clock)."""
        validated = self.metadata.get("validated")
        return getattr(validated, "value", validated) == WHOLE


@dataclass
class Decision:
    """What the run does with one check, and why (for the log)."""

    check: CheckSpec
    action: str  # KEPT, EVERY_RUN, CHANGED_ROWS or WHOLE
    reason: str
    key: dict
    last: Last | None = None


@dataclass
class Plan:
    relation: str
    decisions: list[Decision]
    rows_where: str | None = None  # the rows CHANGED_ROWS checks are validated on
    changed_rows: str = ""  # what those rows are, for metadata and the log

    def checks(self, *actions: str) -> tuple[CheckSpec, ...]:
        return tuple(d.check for d in self.decisions if d.action in actions)

    def summary(self) -> str:
        """One line: what was kept, what was validated and on what, and why."""
        groups: dict[tuple[str, str], list[str]] = {}
        for d in self.decisions:
            groups.setdefault((d.action, d.reason), []).append(d.check.name)
        parts = []
        for (action, reason), names in groups.items():
            what = "kept" if action == KEPT else f"validated ({action})"
            if action == CHANGED_ROWS:
                what = f"validated on {self.changed_rows}"
            shown = ", ".join(names) if len(names) <= 4 else f"{', '.join(names[:3])} and {len(names) - 3} more"
            parts.append(f"{len(names)} {what}: {reason} [{shown}]")
        return f"{self.relation}: " + "; ".join(parts)


# --- the key ------------------------------------------------------------------------------------


def tables_read(suite: SuiteSpec, check: CheckSpec) -> list[str]:
    return [suite.relation, *(t for t in check.reads if t != suite.relation)]


def table_state(con: Any, tables: Sequence[str], content: bool = False) -> dict[str, dict[str, str]]:
    """Each table's data version and a digest of its columns (name, type, position); with `content`, of its rows."""
    versions = table_versions(con, list(tables))
    names = ", ".join(sql_str(t) for t in tables)
    rows = con.execute(
        "select table_schema || '.' || table_name, column_name, data_type, numeric_precision, numeric_scale,"
        " ordinal_position from information_schema.columns"
        f" where table_catalog = current_database() and table_schema || '.' || table_name in ({names})"
        " order by 1, ordinal_position"
    ).fetchall()
    columns: dict[str, list] = {t: [] for t in tables}
    for table, *column in rows:
        columns[table].append([str(c) for c in column])
    state = {t: {"version": versions[t], "columns": _digest(columns[t])} for t in tables}
    if content:
        for table in tables:
            state[table][CONTENT] = _rows(con, table)
    return state


def _rows(con: Any, table: str) -> str:
    """The table's rows_fingerprint; `absent` for a table not there (not loaded yet): its checks say so, not this."""
    schema, name = table.split(".", 1)
    return rows_fingerprint(con, table) if table_exists(con, schema, name) else "absent"


def fingerprint(check: CheckSpec, dialect: str) -> str:
    """What the verdict depends on besides the data: the check as declared and the code that runs it."""
    return _digest([repr(check), dialect, _engine()])


@functools.cache
def _engine() -> list[str]:
    """The GX version (read without importing GX) and this folder's runner code."""
    here = Path(__file__).parent
    code = [(here / name).read_text() for name in ("gx_runner.py", "changes.py")]
    return [importlib.metadata.version("great_expectations"), _digest(code)]


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def check_key(suite: SuiteSpec, check: CheckSpec, state: Mapping[str, dict], dialect: str) -> dict:
    return {"check": fingerprint(check, dialect), "tables": {t: state[t] for t in tables_read(suite, check)}}


# --- the last evaluations -----------------------------------------------------------------------


def last_evaluations(instance: dg.DagsterInstance, keys: Sequence[dg.AssetCheckKey]) -> dict[str, Last]:
    """Each check's last evaluation on record, by check name.

    Read as the reverse-sync gate reads check history (`get_latest_asset_check_execution_by_key`).
    The latest record of a check is usually this run's own, planned and not yet evaluated (also a
    failed run's): then the last completed one, from the storage's summary records.
    """
    storage = instance.event_log_storage
    latest = storage.get_latest_asset_check_execution_by_key(list(keys))
    evaluations = {key: _evaluation(latest.get(key)) for key in keys}
    pending = [key for key, found in evaluations.items() if found is None and latest.get(key) is not None]
    if pending:
        for key, summary in storage.get_asset_check_summary_records(pending).items():
            evaluations[key] = _evaluation(summary.last_completed_check_execution_record)
    return {key.name: found for key, found in evaluations.items() if found is not None}


def _evaluation(record: Any) -> Last | None:
    evaluation = record.event.asset_check_evaluation if record is not None and record.event else None
    if evaluation is None:
        return None
    metadata = dict(evaluation.metadata)
    run = metadata.get("verdict_from_run")
    key = metadata.get("evaluated_on")
    return Last(
        passed=evaluation.passed,
        severity=evaluation.severity,
        metadata=metadata,
        run_id=str(run.value) if run is not None else record.run_id,
        key=key.value if key is not None else None,
    )


# --- deciding -------------------------------------------------------------------------------------


def revalidate_reason(tags: Mapping[str, str]) -> str | None:
    """Why the run validates every check whole, when its tags ask for it."""
    for tag, value in REVALIDATE_TAGS.items():
        if tags.get(tag, "").lower() == value:
            return f"the run validates everything (tag {tag}: {value})"
    return None


def keeps_whole_verdicts(tags: Mapping[str, str]) -> bool:
    """The nightly (`dbt/full_refresh`) keeps what was validated whole on the same rows; `pipeline/rebuild: all` not."""
    return revalidate_reason(tags) is not None and tags.get(settings.REBUILD_TAG, "").lower() != "all"


def decide(
    suite: SuiteSpec,
    state: Mapping[str, dict],
    lasts: Mapping[str, Last],
    dialect: str,
    everything: str | None,
    keep_whole: bool = False,
) -> list[Decision]:
    """What to do with each check of `suite`, before the changed rows are looked up (`resolve_rows`).

    `everything`: why the run validates every check whole; with `keep_whole`, except the checks whose
    last verdict a whole-table validation gave on the key now, rows' fingerprint (`CONTENT`) included.
    """
    return [
        _decide(suite, c, check_key(suite, c, state, dialect), lasts.get(c.name), everything, keep_whole)
        for c in suite.checks
    ]


def _without_content(key: Mapping[str, Any]) -> dict:
    """The key as the runs that do not read the rows' fingerprint compare it."""
    tables = {t: {k: v for k, v in now.items() if k != CONTENT} for t, now in key.get("tables", {}).items()}
    return {**key, "tables": tables}


def _decide(
    suite: SuiteSpec, check: CheckSpec, key: dict, last: Last | None, everything: str | None, keep_whole: bool = False
) -> Decision:
    def decision(action: str, reason: str) -> Decision:
        return Decision(check, action, reason, key, last)

    if check.scope == CLOCK:
        return decision(EVERY_RUN, "time-dependent")
    if everything:  # the key holds every table's rows' fingerprint: a last key without them differs
        if keep_whole and last is not None and not last.error and last.whole and last.key == key:
            return decision(KEPT, f"validated whole by run {last.run_id} on these very rows (their fingerprint)")
        return decision(WHOLE, everything)
    if last is None:
        return decision(WHOLE, "no evaluation on record")
    if last.key is None or last.error:
        return decision(WHOLE, "its last evaluation " + ("could not run" if last.error else "recorded no key"))
    if _without_content(last.key) == _without_content(key):
        return decision(KEPT, f"unchanged since run {last.run_id}")
    if last.key.get("check") != key["check"]:
        return decision(WHOLE, "the check or its runner changed")
    then = _without_content(last.key)["tables"]
    changed = [t for t, now in key["tables"].items() if then.get(t) != now]
    reason = f"{', '.join(changed)} changed since run {last.run_id}"
    own_then = then.get(suite.relation, {})
    rows_only = changed == [suite.relation] and own_then.get("columns") == key["tables"][suite.relation]["columns"]
    if check.scope in (ROWS, KEYS) and rows_only and last.passed:
        return decision(CHANGED_ROWS, reason)
    if check.scope in (ROWS, KEYS) and rows_only:
        return decision(WHOLE, reason + " (and its verdict had failed)")
    return decision(WHOLE, reason)


def resolve_rows(con: Any, plan: Plan) -> None:
    """Find the loads each CHANGED_ROWS check must see; a check whose changes they do not explain goes WHOLE.

    The rows are those of every load since the oldest of those evaluations: a superset of each
    check's own, and every row outside it passed each of them.
    """
    batches: set[str] = set()
    runs: set[str] = set()
    for d in plan.decisions:
        if d.action != CHANGED_ROWS:
            continue
        assert d.last is not None and d.last.key is not None  # _decide: CHANGED_ROWS needs both
        then = d.last.key["tables"][plan.relation]["version"]
        found = loads_since(con, plan.relation, then, d.key["tables"][plan.relation]["version"])
        if found is None:
            d.action, d.reason = WHOLE, d.reason + " (not by the loader alone)"
        else:
            batches |= set(found)
            runs.add(d.last.run_id)
    if not batches:
        return
    plan.rows_where = f"_batch_id in ({', '.join(sql_str(b) for b in sorted(batches))})"
    rows = con.execute(f"select count(*) from {plan.relation} where {plan.rows_where}").fetchall()[0][0]
    plan.changed_rows = f"the {rows} row(s) of {len(batches)} load(s) since run {', '.join(sorted(runs))}"


def fingerprint_whole(con: Any, plan: Plan) -> None:
    """Put the rows' fingerprint into the key of each check validated whole, where the key lacks it.

    So the verdict records the very rows it was given on, and the nightly can keep it while they stay
    (`_decide`). Read before GX validates, on the same file: no writer runs meanwhile (WRITER_POOL).
    """
    whole = [d for d in plan.decisions if d.action == WHOLE]
    missing = sorted({t for d in whole for t, now in d.key["tables"].items() if CONTENT not in now})
    contents = {table: _rows(con, table) for table in missing}
    for d in whole:
        tables = {t: now if CONTENT in now else {**now, CONTENT: contents[t]} for t, now in d.key["tables"].items()}
        d.key = {**d.key, "tables": tables}


def loads_since(con: Any, table: str, then: str, now: str) -> list[str] | None:
    """The batch ids (`_batch_id`) of the loads that changed `table` from version `then` to `now`.

    None unless those loads account for the change exactly: as many changing loads as the versions
    count apart, and the rows they inserted are the rows added (nothing inserted or deleted beside
    the loader, no load log trimmed).
    """
    loads_then, rows_then, last_then = _parts(then)
    loads_now, rows_now, _ = _parts(now)
    if loads_now <= loads_then:
        return None  # no load changed it since: something else did
    after, params = (" and loaded_at > cast(? as timestamp)", [table, last_then]) if last_then else ("", [table])
    found = con.execute(
        f"select batch_id, coalesce(rows_inserted, 0) from {LOADED_FILES} where table_name = ?"
        f" and coalesce(rows_inserted, 0) + coalesce(rows_updated, 0) > 0{after}",
        params,
    ).fetchall()
    if not found or len(found) != loads_now - loads_then or rows_then + sum(n for _, n in found) != rows_now:
        return None
    return sorted({batch for batch, _ in found})


def _parts(version: str) -> tuple[int, int, str]:
    loads, rows, last = version.split(":", 2)  # the last change's timestamp has colons of its own
    return int(loads), int(rows), last
