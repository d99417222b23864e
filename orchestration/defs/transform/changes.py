"""Which dbt models a run builds: the selected ones whose inputs changed since their last build.

A selected model is built when
- the run rebuilds everything: nightly_full (tag dbt/full_refresh) or tag `pipeline/rebuild: all`;
- no build of it is on record in this warehouse;
- the dbt project differs from the one of its last build (`fingerprint`);
- the as-of date moved since (AS_OF_DATE, or today in FIRM_TIMEZONE when unset: a new day);
- a raw table upstream of it changed since: its data version (`loader.table_versions`, the ingest
  asset's data version) differs from the one its last build read;
- its last build failed, a test on it failed then, or dbt skipped it: such builds are not recorded;
- the rows of a cutoff view it reads changed (`Cutoff`): a small view (dbt meta `cutoff: true`)
  holding everything its readers take from the raw tables below it. The calendars read the first
  timecard week through one, so a timecard change builds them, and what lies only below them,
  when that week moved, not on every timecard.

dbt's unit tests (formulas on fixed rows) run only when some model to build has no clean build of
this very code on record (`BuildPlan.code_tested`): each such build passed them, and code that did
not change passes them again, in the nightly rebuild of everything too.

The record is table STATE_TABLE in the warehouse itself, so a new or restored warehouse starts with a
full build, and it is written only after dbt finished. Which models lie downstream of a changed raw
table is the asset graph's answer (`AssetSelection.downstream`), on the graph without the edges from
the cutoff views to their readers (`cut_graph`); dbt is told which selected models to leave alone
(`--exclude`), so dagster-dbt's own selection of the run's subset still applies.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import duckdb
import psycopg2

from orchestration.lib import settings
from orchestration.lib.dialect import table_exists

STATE_SCHEMA = "transform_meta"
STATE_TABLE = f"{STATE_SCHEMA}.dbt_model_state"
REBUILD_TAG = settings.REBUILD_TAG  # "all": build every selected model, changed or not
CHANGED = " changed since its last build"
AS_OF = "as_of_date"  # an input of every model: the date the marts are built as of
CUTOFF_META = "cutoff"  # dbt meta of a view whose rows, not its inputs, decide whether its readers are built
MAX_CUTOFF_ROWS = 1000  # a cutoff view is a summary; a larger one counts as changed on every run


def fingerprint(manifest: Mapping[str, Any], vars_: Mapping[str, Any]) -> str:
    """What a model's build depends on besides its data: every node's SQL and config, every macro, the vars,
    and the dbt and adapter versions that run them (the SQL engine's too, for DuckDB).

    Any change to the project rebuilds every model (dbt's state:modified+ would be finer; a deploy is rare),
    and runs dbt's unit tests again (`BuildPlan.code_tested`).
    """
    nodes = {
        uid: [node.get("checksum", {}).get("checksum"), node.get("config")]
        for uid, node in manifest.get("nodes", {}).items()
        if node.get("resource_type") in ("model", "seed", "snapshot", "test", "unit_test")
    }
    unit_tests = {uid: node.get("checksum") for uid, node in manifest.get("unit_tests", {}).items()}
    macros = {uid: macro.get("macro_sql") for uid, macro in manifest.get("macros", {}).items()}
    blob = json.dumps([nodes, unit_tests, macros, dict(vars_), engine(manifest)], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def engine(manifest: Mapping[str, Any]) -> dict[str, str | None]:
    """The versions of what runs the project's SQL: dbt-core, its adapter and, on DuckDB, the engine itself."""
    adapter = (manifest.get("metadata") or {}).get("adapter_type") or "duckdb"
    packages = ["dbt-core", f"dbt-{adapter}"] + (["duckdb"] if adapter == "duckdb" else [])
    return {package: _installed(package) for package in packages}


def _installed(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass
class Built:
    """One model's last build on record: the project fingerprint and the raw tables' versions it read."""

    fingerprint: str
    versions: dict[str, str]
    run_id: str


@dataclass
class BuildPlan:
    selected: list[dg.AssetKey]
    build: set[dg.AssetKey] = field(default_factory=set)
    why: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # reason -> model names
    inputs: dict[dg.AssetKey, set[str | None]] = field(default_factory=dict)  # the changed inputs behind a build
    # The selected models with a clean build of this very code on record in this warehouse (`fingerprint`).
    tested: set[dg.AssetKey] = field(default_factory=set)

    @property
    def code_tested(self) -> bool:
        """Every model to build has a clean build of this project's code, on this dbt and engine, on record.

        dbt's unit tests check formulas on fixed rows, not data: each of them passed before such a build
        (a model whose unit test fails is not built, so not recorded), and would pass again. A run that
        rebuilds everything (the nightly) leaves them out too; a deploy's first run of new code runs them.
        """
        return bool(self.build) and self.build <= self.tested

    @property
    def skip(self) -> list[dg.AssetKey]:
        return [key for key in self.selected if key not in self.build]

    def add(self, keys: Iterable[dg.AssetKey], reason: str, table: str | None = None) -> None:
        """Build `keys` for `reason` (the first reason given is the one logged); `table`: the input that changed."""
        for key in keys:
            if key not in self.build:
                self.build.add(key)
                self.why[reason].append(key.path[-1])
            self.inputs.setdefault(key, set()).add(table)  # None: not a data change

    def whole(self, increments: Mapping[dg.AssetKey, Iterable[str]]) -> list[dg.AssetKey]:
        """The incremental models to build whole: built for a change their increments do not cover.

        `increments`: each incremental model and the inputs its increments follow (dbt meta
        `incremental_inputs`). A project or vars change, or no clean build on record, builds it whole too.
        """
        return sorted(
            (key for key, covered in increments.items() if key in self.build and not self.inputs[key] <= set(covered)),
            key=lambda k: k.to_user_string(),
        )

    def hold(self, keys: Iterable[dg.AssetKey]) -> list[dg.AssetKey]:
        """Leave `keys` out of this build (they are built by a later run); the ones it would have built."""
        held = sorted(set(keys) & self.build, key=lambda k: k.to_user_string())
        for key in held:
            self.build.discard(key)
            self.inputs.pop(key, None)
            for names in self.why.values():
                if key.path[-1] in names:
                    names.remove(key.path[-1])
        for reason in [reason for reason, names in self.why.items() if not names]:
            del self.why[reason]
        return held

    def summary(self) -> str:
        """What the run builds and why, and what it leaves alone, for the run's log."""
        lines = [f"dbt: {len(self.build)} of {len(self.selected)} selected models to build"]
        lines += [
            f"  {len(names)} because {reason}: {', '.join(sorted(names)[:12])}" for reason, names in self.why.items()
        ]
        if self.skip:
            lines.append(
                f"  {len(self.skip)} left as they are (no input they read changed since their last build): "
                + ", ".join(sorted(k.path[-1] for k in self.skip)[:12])
                + (" ..." if len(self.skip) > 12 else "")
            )
        return "\n".join(lines)


def plan(
    selected: Iterable[dg.AssetKey],
    asset_graph: Any,  # what AssetSelection.resolve takes: the dbt assets definition(s) or a graph
    built: Mapping[dg.AssetKey, Built],
    versions: Mapping[str, str],
    current: str,
    rebuild_all: str | None = None,
    readers: Mapping[str, list[dg.AssetKey]] | None = None,
) -> BuildPlan:
    """Which of `selected` to build, given the records `built`, the inputs' `versions` now and the fingerprint.

    An input is a raw table (an asset: what is downstream of it) or a pipeline log a model reads
    (`readers`: those models and what is downstream of them).
    """
    result = BuildPlan(selected=sorted(selected, key=lambda k: k.to_user_string()))
    result.tested = {key for key in result.selected if key in built and built[key].fingerprint == current}
    if rebuild_all:
        result.add(result.selected, rebuild_all)
        return result
    by_versions: dict[str, list[dg.AssetKey]] = defaultdict(list)
    for key in result.selected:
        record = built.get(key)
        if record is None:
            result.add([key], "no build of it is on record in this warehouse (or its last one failed)")
        elif record.fingerprint != current:
            result.add([key], "the dbt project changed since its last build")
        else:
            by_versions[json.dumps(record.versions, sort_keys=True)].append(key)
    below: dict[str, set[dg.AssetKey]] = {}  # a raw table -> every asset downstream of it
    for recorded, keys in by_versions.items():
        then = json.loads(recorded)
        for table in sorted(t for t in set(then) | set(versions) if then.get(t) != versions.get(t)):
            if table not in below:
                start = (readers or {}).get(table) or [dg.AssetKey(table.split("."))]
                below[table] = dg.AssetSelection.assets(*start).downstream().resolve(asset_graph)
            result.add([k for k in keys if k in below[table]], f"{table}{CHANGED}", table)
    return result


@dataclass(frozen=True)
class Cutoff:
    """A view with dbt meta `cutoff: true` and the models reading it.

    Its readers are built when its rows changed since their last build (input `rows of <view>`), not
    whenever a raw table below it did: the view states all they take from those tables. The view
    must read only sources and the staging views over them, so the rows read before the build are
    the ones the build reads.
    """

    key: dg.AssetKey
    relation: str  # schema.view
    readers: tuple[dg.AssetKey, ...]

    @property
    def input(self) -> str:
        return f"rows of {self.relation}"


def cutoffs(manifest: Mapping[str, Any], keys_by_id: Mapping[str, dg.AssetKey]) -> list[Cutoff]:
    """The project's cutoff views; a ValueError names one that could hold rows older than its inputs."""
    found = []
    for uid, key in sorted(keys_by_id.items()):
        node = manifest["nodes"].get(uid, {})
        if not ((node.get("config") or {}).get("meta") or {}).get(CUTOFF_META):
            continue
        problem = _cutoff_problem(manifest, uid)
        if problem:
            raise ValueError(f"model {node['name']} has meta `{CUTOFF_META}` but {problem}")
        readers = tuple(sorted((keys_by_id[c] for c in manifest["child_map"].get(uid, []) if c in keys_by_id), key=str))
        found.append(Cutoff(key, f"{node['schema']}.{node['alias']}", readers))
    return found


def _cutoff_problem(manifest: Mapping[str, Any], uid: str) -> str | None:
    node = manifest["nodes"][uid]
    if node["config"]["materialized"] != "view":
        return f"is a {node['config']['materialized']}: only a view shows the current raw tables before the build"
    for parent in node["depends_on"]["nodes"]:
        upstream = manifest["nodes"].get(parent)
        if upstream is None:  # a source
            continue
        if upstream["config"]["materialized"] != "view" or any(
            not grand.startswith("source.") for grand in upstream["depends_on"]["nodes"]
        ):
            return f"reads {upstream['name']}, not a staging view over sources: it may be stale before the build"
    return None


def rows_version(con, relation: str) -> str | None:
    """A digest of a cutoff view's rows now; None when there is no such view yet, it cannot be read (dbt's
    build will say why) or it has too many rows."""
    if not table_exists(con, *relation.split(".")):
        return None
    try:
        rows = con.execute(f"select * from {relation} limit {MAX_CUTOFF_ROWS + 1}").fetchall()
    except (duckdb.Error, psycopg2.Error):
        return None
    if len(rows) > MAX_CUTOFF_ROWS:
        return None
    digest = json.dumps(sorted(json.dumps(list(row), default=str) for row in rows))
    return hashlib.sha256(digest.encode()).hexdigest()[:16]


def cutoff_versions(con, cut: Iterable[Cutoff], run_id: str) -> dict[str, str]:
    """Each cutoff view's input version now; one that could not be read differs from every other run's."""
    return {c.input: rows_version(con, c.relation) or f"unread in run {run_id}" for c in cut}


def cutoff_summary(cut: Iterable[Cutoff], built: Mapping[dg.AssetKey, Built], versions: Mapping[str, str]) -> list[str]:
    """One line per cutoff view for the run's log: did its rows change since its readers last read them."""
    lines = []
    for c in cut:
        name, now = c.key.path[-1], versions.get(c.input)
        moved = [r.path[-1] for r in c.readers if r in built and built[r].versions.get(c.input) != now]
        if not any(r in built for r in c.readers):
            lines.append(f"cutoff {name}: no build of its readers is on record")
        elif moved:
            lines.append(f"cutoff {name}: its rows changed since the last build of {', '.join(moved)}")
        else:
            lines.append(
                f"cutoff {name}: its rows are as {', '.join(r.path[-1] for r in c.readers)} last read them, "
                "so a change to what it reads does not build them"
            )
    return lines


def readers_left_behind(
    cut: Iterable[Cutoff], built: Mapping[dg.AssetKey, Built], versions: Mapping[str, str], selected: Iterable
) -> list[dg.AssetKey]:
    """The readers of a cutoff view that are not `selected` although the view's rows moved since their last build.

    A refresh tick selects a cutoff view's readers only when their rows moved before its run: a load in
    the run itself can move them too (a timecard older than the first timecard week). What reads those
    readers would then be built on their stale tables; the dbt step holds it for the next run instead,
    whose tick selects the readers (`orchestration/defs/automation/pending.py`).
    """
    chosen = set(selected)
    return sorted(
        {
            reader
            for c in cut
            for reader in c.readers
            if reader not in chosen and reader in built and built[reader].versions.get(c.input) != versions[c.input]
        },
        key=lambda k: k.to_user_string(),
    )


def cut_graph(assets_def: dg.AssetsDefinition, cut: Iterable[Cutoff]) -> Any:
    """The dbt models' asset graph without the edges from each cutoff view to its readers.

    Downstream of a raw table in it is what reads the table other than through a cutoff view's rows.
    """
    views = {c.key for c in cut}
    specs = [
        spec.replace_attributes(deps=[dep for dep in spec.deps if dep.asset_key not in views])
        for spec in assets_def.specs
    ]
    return dg.Definitions(assets=specs).resolve_asset_graph()


LOG_HOOK = re.compile(r"create_pipeline_log_table\(\s*'(\w+)'\s*,\s*'(\w+)'\s*\)")


def log_readers(manifest: Mapping[str, Any], keys_by_id: Mapping[str, dg.AssetKey], logs: Iterable[str]) -> dict:
    """The models that read each of `logs` (`schema.table`): the ones whose pre-hook creates it if missing."""
    found: dict[str, list[dg.AssetKey]] = {log: [] for log in logs}
    for uid, key in keys_by_id.items():
        hooks = (manifest["nodes"].get(uid, {}).get("config") or {}).get("pre-hook") or []
        for hook in hooks:
            for schema, table in LOG_HOOK.findall(hook.get("sql", "") if isinstance(hook, dict) else str(hook)):
                if f"{schema}.{table}" in found:
                    found[f"{schema}.{table}"].append(key)
    return found


def increments(manifest: Mapping[str, Any], keys_by_id: Mapping[str, dg.AssetKey]) -> dict:
    """Each incremental model that declares the inputs its increments follow (meta `incremental_inputs`)."""
    return {
        key: list(meta["incremental_inputs"])
        for uid, key in keys_by_id.items()
        if "incremental_inputs" in (meta := (manifest["nodes"].get(uid, {}).get("config") or {}).get("meta") or {})
    }


def read_state(con) -> dict[dg.AssetKey, Built]:
    """The builds on record (none in a warehouse without the table)."""
    if not table_exists(con, *STATE_TABLE.split(".")):
        return {}
    rows = con.execute(f"select asset_key, fingerprint, versions, run_id from {STATE_TABLE}").fetchall()
    return {dg.AssetKey.from_user_string(k): Built(f, json.loads(v), r) for k, f, v, r in rows}


def record(
    con,
    results: Iterable[Mapping[str, Any]],
    keys_by_id: Mapping[str, dg.AssetKey],
    manifest: Mapping[str, Any],
    current: str,
    versions: Mapping[str, str],
    run_id: str,
) -> tuple[int, int]:
    """Record the models this dbt invocation built cleanly; forget the ones it tried and did not.

    `results`: run_results.json's results. Clean: the model built and no test on it failed or erred
    (a WARN test's `warn` is clean). Returns (recorded, forgotten).
    """
    status: dict[str, str] = {}
    unsettled: set[str] = set()
    for result in results:
        uid = result.get("unique_id", "")
        if uid.startswith("model."):
            status[uid] = result.get("status", "")
        elif uid.startswith(("test.", "unit_test.")) and result.get("status") in ("fail", "error"):
            node = manifest.get("nodes", {}).get(uid) or manifest.get("unit_tests", {}).get(uid) or {}
            unsettled.update(n for n in node.get("depends_on", {}).get("nodes", []) if n.startswith("model."))
    tried = [keys_by_id[uid] for uid in status if uid in keys_by_id]
    clean = [
        keys_by_id[uid] for uid, s in status.items() if s == "success" and uid not in unsettled and uid in keys_by_id
    ]
    con.execute(f"create schema if not exists {STATE_SCHEMA}")
    con.execute(
        f"create table if not exists {STATE_TABLE} (asset_key varchar primary key, fingerprint varchar,"
        " versions varchar, run_id varchar, built_at timestamp)"
    )
    con.execute("begin")
    try:
        for chunk in _chunks([k.to_user_string() for k in tried], 500):
            con.execute(f"delete from {STATE_TABLE} where asset_key in ({', '.join('?' for _ in chunk)})", chunk)
        snapshot = json.dumps(dict(versions), sort_keys=True)
        rows = [(k.to_user_string(), current, snapshot, run_id) for k in clean]
        if rows:
            con.executemany(f"insert into {STATE_TABLE} values (?, ?, ?, ?, current_timestamp)", rows)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return len(clean), len(tried) - len(clean)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
