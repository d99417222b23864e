"""Run (b), the limit: the pipeline's work as plain SQL in one DuckDB connection.

Bulk-load every landing file with `read_csv` / `read_json` (rows that break the contract
quarantined, the rest typed and the newest version of each key kept, as the loader does), run dbt's
on-run-start hooks and the compiled SQL of every dbt model in DAG order, then every check: dbt's data
tests and the raw-table suites as SQL. No Dagster, no dbt, no
Great Expectations: what is left is what DuckDB itself needs.

`python -m bench.limit --landing DIR --database FILE --manifest compiled/manifest.json --report OUT`
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from orchestration.contract import ANAPLAN_CSV, CSV, JSONL, SOURCE_OBJECTS, SourceObject
from orchestration.defs.ingest.loader import LOADED_FILES, QUARANTINE, UTC_NOW, ensure_tables, landing_files, q, sql_str
from orchestration.defs.quality.suites import (
    BATCH,
    Between,
    ColumnsMatch,
    InSet,
    NotNull,
    SuiteSpec,
    UnexpectedRows,
    Unique,
    all_suites,
)
from orchestration.defs.reverse_sync import state as reverse_sync


@contextmanager
def timed(report: dict, key: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    report[key] = round(time.perf_counter() - started, 3)


# --- (1) bulk load -----------------------------------------------------------------------------


def _csv_scan(obj: SourceObject, path: Path) -> str:
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    columns = ", ".join(f"{sql_str(h)}: 'VARCHAR'" for h in header)
    return (
        f"select {', '.join(q(f.name) for f in obj.fields)} from read_csv({sql_str(str(path))}, header = true, "
        f"auto_detect = false, delim = ',', quote = '\"', escape = '\"', columns = {{{columns}}})"
    )


def _json_scan(obj: SourceObject, path: Path) -> str:
    text_columns = ", ".join(f"{sql_str(f.name)}: 'VARCHAR'" for f in obj.fields)
    if obj.format == JSONL:
        lines = "format = 'newline_delimited'"
        return f"select * from read_json({sql_str(str(path))}, {lines}, columns = {{{text_columns}}})"
    struct = ", ".join(f"{q(f.name)} VARCHAR" for f in obj.fields)
    size = max(path.stat().st_size + 1024, 16 * 1024 * 1024)  # one Workday document, read whole
    return (
        f"select unnest(Report_Entry, recursive := true) from read_json({sql_str(str(path))}, "
        f"format = 'unstructured', maximum_object_size = {size}, "
        f"columns = {{'Report_Entry': {sql_str(f'STRUCT({struct})[]')}}})"
    )


def _breaks_contract(obj: SourceObject) -> str:
    """A row the loader quarantines: a value that does not convert to its type, an empty required field."""
    bad = [f"({q(f.name)} is not null and try_cast({q(f.name)} as {f.type}) is null)" for f in obj.fields]
    bad += [f"{q(f.name)} is null" for f in obj.fields if f.required]
    return " or ".join(bad)


def load_object(con: duckdb.DuckDBPyConnection, obj: SourceObject, landing: Path) -> tuple[int, int]:
    """Stage all the object's files as text, quarantine rows that break the contract, type and keep the
    newest version of each key, as the loader does; log the load. Returns (rows read, rows in the raw table)."""
    table = f"{obj.schema}.{obj.name}"
    scans = [
        f"select *, {sql_str(str(path))} as _source_file "
        f"from ({_csv_scan(obj, path) if obj.format in (CSV, ANAPLAN_CSV) else _json_scan(obj, path)})"
        for path in landing_files(obj, landing)
    ]
    ensure_tables(con, obj)  # the loader's own DDL: raw table, load log, quarantine
    con.execute(
        f"create or replace temp table _staged as select *, ({_breaks_contract(obj)}) as _bad "
        f"from ({' union all '.join(scans)})"
    )
    casts = ", ".join(f"cast({q(f.name)} as {f.type}) as {q(f.name)}" for f in obj.fields)
    newest = f"{q(obj.cursor)} desc nulls last, _source_file desc" if obj.cursor else "_source_file desc"
    keys = ", ".join(q(k) for k in obj.primary_key)
    con.execute(
        f"create or replace table {table} as select {casts}, {UTC_NOW} as _loaded_at, _source_file, "
        f"'limit' as _batch_id from _staged where not _bad "
        f"qualify row_number() over (partition by {keys} order by {newest}) = 1"
    )
    con.execute(
        f"insert into {QUARANTINE} by name select {sql_str(table)} as table_name, _source_file as source_file, "
        f"to_json(s) as record, 'limit' as batch_id, {UTC_NOW} as quarantined_at from _staged as s where _bad"
    )
    con.execute(
        f"insert into {LOADED_FILES} by name select {sql_str(table)} as table_name, _source_file as source_file, "
        "'limit' as batch_id, count(*) as rows_read, count(*) filter (where not _bad) as rows_inserted, "
        f"0 as rows_updated, count(*) filter (where _bad) as rows_quarantined, {UTC_NOW} as loaded_at "
        "from _staged group by _source_file"
    )
    return con.execute(f"select (select count(*) from _staged), (select count(*) from {table})").fetchall()[0]


# --- (2) dbt models, compiled, in DAG order -------------------------------------------------------


def models_in_dag_order(manifest: dict) -> list[dict]:
    """Every model after the models it depends on."""
    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    ordered: list[dict] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen:
            return
        seen.add(uid)
        for parent in models[uid]["depends_on"]["nodes"]:
            if parent in models:
                visit(parent)
        ordered.append(models[uid])

    for uid in sorted(models):
        visit(uid)
    return ordered


def on_run_start(manifest: dict) -> list[str]:
    """The compiled on-run-start hooks, in order (dbt runs them before the first model)."""
    hooks = [n for n in manifest["nodes"].values() if "on-run-start" in n["tags"]]
    return [n["compiled_code"] for n in sorted(hooks, key=lambda n: n["index"] or 0) if n.get("compiled_code")]


def build_model(con: duckdb.DuckDBPyConnection, node: dict) -> None:
    """The model as its materialization would leave it; an incremental model built in full, as on its first run."""
    materialized = node["config"]["materialized"]
    if materialized == "ephemeral":  # inlined into its children's compiled SQL
        return
    kind = {"view": "view", "table": "table", "incremental": "table"}[materialized]
    con.execute(f'create schema if not exists "{node["database"]}"."{node["schema"]}"')
    con.execute(f"create or replace {kind} {node['relation_name']} as\n{node['compiled_code']}\n")


def failing_dbt_tests(con: duckdb.DuckDBPyConnection, manifest: dict) -> tuple[int, int]:
    """Run every dbt data test as dbt does (count the rows it returns); (tests run, tests with rows)."""
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    failing = 0
    for node in tests:
        sql = f"select count(*) from (\n{node['compiled_code']}\n) as dbt_internal_test"
        failing += con.execute(sql).fetchall()[0][0] > 0
    return len(tests), failing


# --- (3) the raw-table suites, as SQL -------------------------------------------------------------


def _filter(spec: NotNull | Between | InSet) -> str:
    column = q(spec.column)
    if isinstance(spec, NotNull):
        return f"{column} is null"
    if isinstance(spec, InSet):
        return f"{column} not in ({', '.join(sql_str(v) for v in spec.values)})"
    bounds = []
    if spec.min_value is not None:
        bounds.append(f"{column} {'<=' if spec.strict_min else '<'} {spec.min_value}")
    if spec.max_value is not None:
        bounds.append(f"{column} > {spec.max_value}")
    return " or ".join(bounds) or "false"


def _unexpected(con: duckdb.DuckDBPyConnection, relation: str, spec: ColumnsMatch | Unique | UnexpectedRows) -> int:
    if isinstance(spec, ColumnsMatch):
        actual = {r[0] for r in con.execute(f"select column_name from (describe {relation})").fetchall()}
        return len(actual ^ set(spec.columns))
    if isinstance(spec, Unique):
        columns = ", ".join(q(c) for c in spec.columns)
        not_null = " and ".join(f"{q(c)} is not null" for c in spec.columns)
        sql = f"select count(*) as n from {relation} where {not_null} group by {columns} having count(*) > 1"
        return con.execute(f"select coalesce(sum(n), 0) from ({sql})").fetchall()[0][0]
    sql = f"with {BATCH} as (select * from {relation}) select count(*) from (\n{spec.query}\n)"
    return con.execute(sql).fetchall()[0][0]


def failing_raw_checks(con: duckdb.DuckDBPyConnection, suite: SuiteSpec) -> tuple[int, int]:
    """One scan for the row-wise checks of a table, one query per set-wise check; (checks, failing)."""
    specs = [(check.name, spec) for check in suite.checks for spec in check.expectations]
    row_wise = [(name, spec) for name, spec in specs if isinstance(spec, NotNull | Between | InSet)]
    failed: set[str] = set()
    if row_wise:
        counts = ", ".join(f"count(*) filter (where {_filter(spec)})" for _, spec in row_wise)
        values = con.execute(f"select {counts} from {suite.relation}").fetchall()[0]
        failed |= {name for (name, _), bad in zip(row_wise, values, strict=True) if bad}
    for name, spec in specs:
        if not isinstance(spec, NotNull | Between | InSet) and _unexpected(con, suite.relation, spec):
            failed.add(name)
    return len(suite.checks), len(failed)


# --- the run ---------------------------------------------------------------------------------------


def run(landing: Path, database: Path, manifest: dict, config: dict) -> dict:
    report: dict = {"rows_by_table": {}}
    con = duckdb.connect(str(database), config=config)
    with timed(report, "load_seconds"):
        loads = {f"{obj.schema}.{obj.name}": load_object(con, obj, landing) for obj in SOURCE_OBJECTS}
    report["rows_read"] = sum(read for read, _ in loads.values())
    report["rows_by_table"] = {table: rows for table, (_, rows) in loads.items()}
    models = models_in_dag_order(manifest)
    report["model_seconds"] = {}
    with timed(report, "models_seconds"):
        reverse_sync.ensure_tables(con)  # the sync's log tables, which telemetry models read, as in the pipeline
        for hook in on_run_start(manifest):
            con.execute(hook)
        for node in models:
            with timed(report["model_seconds"], node["name"]):
                build_model(con, node)
    report["models"] = len(models)
    with timed(report, "dbt_tests_seconds"):
        report["dbt_tests"], report["dbt_tests_failing"] = failing_dbt_tests(con, manifest)
    with timed(report, "raw_checks_seconds"):
        outcomes = [failing_raw_checks(con, suite) for suite in all_suites()]
    report["raw_checks"], report["raw_checks_failing"] = (sum(o[i] for o in outcomes) for i in (0, 1))
    con.close()
    report["slowest_models"] = dict(sorted(report.pop("model_seconds").items(), key=lambda kv: -kv[1])[:8])
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.limit", description=__doc__.splitlines()[0])
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True, help="manifest.json written by `dbt compile`")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--memory-limit", required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    manifest = json.loads(args.manifest.read_text())
    report = run(args.landing, args.database, manifest, {"threads": args.threads, "memory_limit": args.memory_limit})
    report["total_seconds"] = round(time.perf_counter() - started, 3)
    args.report.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
