"""Run raw-table suites with Great Expectations 1.x on the warehouse (DuckDB or PostgreSQL), through SQLAlchemy.

The only module that touches Great Expectations, whose API changes between majors. It imports GX
inside `run_suites` (the import takes seconds, which loading the Dagster definitions must not pay),
uses an in-memory context that writes no files, and lets GX compute everything in SQL: only counts
and a bounded sample of failing rows come back to Python.

`run_sql` evaluates checks made of SQL alone (freshness) without GX, to the same `CheckOutcome` GX
gives, so a run in which no raw table changed never imports GX (quality/changes.py).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import duckdb

from orchestration.defs.ingest.loader import q
from orchestration.defs.quality.suites import (
    BATCH,
    KEYS,
    ROWS,
    Between,
    CheckSpec,
    ColumnsMatch,
    ExpectationSpec,
    InSet,
    NotNull,
    Severity,
    SuiteSpec,
    UnexpectedRows,
    Unique,
)
from orchestration.lib.warehouse import WAREHOUSE_ERRORS

SAMPLE_SIZE = 10
_MAX_TEXT = 300
MAX_ROWS_RETURNED = 200  # what GX returns of an UnexpectedRowsExpectation's rows (great_expectations.constants)


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check: what Dagster shows as an asset check evaluation."""

    name: str
    passed: bool
    severity: Severity
    observed: str
    unexpected_count: int
    description: str
    sample: tuple[str, ...] = ()
    error: str | None = None


def run_suite(
    database_path: str,
    suite: SuiteSpec,
    *,
    duckdb_config: Mapping[str, Any] | None = None,
    sample_size: int = SAMPLE_SIZE,
    postgres_connect: Callable[[], Any] | None = None,
) -> list[CheckOutcome]:
    """Run one suite against the DuckDB file at database_path, opened read-only (or PostgreSQL, see run_suites)."""
    return run_suites(
        database_path, [suite], duckdb_config=duckdb_config, sample_size=sample_size, postgres_connect=postgres_connect
    )[suite.relation]


def run_suites(
    database_path: str,
    suites: Iterable[SuiteSpec],
    *,
    duckdb_config: Mapping[str, Any] | None = None,
    sample_size: int = SAMPLE_SIZE,
    postgres_connect: Callable[[], Any] | None = None,
) -> dict[str, list[CheckOutcome]]:
    """Run several suites in one GX context; outcomes by relation (`raw_psa.timecard_header`).

    With `postgres_connect` (a function returning a read-only psycopg2 connection) the suites run
    on PostgreSQL instead; the password stays inside that function, out of GX's connection string.
    """
    gx = _import_gx()
    connections: ReadOnlyConnections | PostgresConnections
    if postgres_connect is not None:
        connections = PostgresConnections(postgres_connect)
    else:
        connections = ReadOnlyConnections(database_path, duckdb_config or {})
    try:
        context = _ephemeral_context()

        def datasource(name: str) -> Any:
            return context.data_sources.add_sql(
                name=name, connection_string=connections.url, kwargs={"creator": connections}
            )

        if postgres_connect is None:
            shared = datasource("warehouse")
            return {s.relation: _run(gx, shared, s, sample_size) for s in suites}
        # One datasource per table on PostgreSQL: GX maps a column name to the case-spelling it saw in
        # another table of the same datasource (`id` -> `Id`), which a case-sensitive database refuses.
        return {s.relation: _run(gx, datasource(f"warehouse_{i}"), s, sample_size) for i, s in enumerate(suites)}
    finally:
        connections.close_all()


def run_sql(con: Any, suite: SuiteSpec, sample_size: int = SAMPLE_SIZE) -> list[CheckOutcome]:
    """Evaluate checks made of SQL expectations alone without GX, to the outcome GX gives them.

    Each query runs over `batch_rows` bound to the whole table, as `UnexpectedRowsExpectation`
    does: a returned row fails, at most MAX_ROWS_RETURNED are read for the sample. `con`: the
    warehouse (a DuckDB connection or a PgConnection). A query that fails fails its check with the
    error, as in GX.
    """
    outcomes = []
    for check in suite.checks:
        parts, error = [], None
        for spec in check.expectations:
            if not isinstance(spec, UnexpectedRows):
                raise TypeError(f"{suite.relation} {check.name}: only SQL checks run without GX, not {spec!r}")
            query = f"with {BATCH} as (select * from {suite.relation}) select * from ({spec.query}) as unexpected_rows"
            try:
                cursor = con.execute(query)
                names = [d[0] for d in cursor.description]
                rows = cursor.fetchall()
            except WAREHOUSE_ERRORS as err:  # the check fails with it, as in GX
                error = (str(err).splitlines() or [type(err).__name__])[0][:_MAX_TEXT]
                parts.append((False, "", 0, []))
                continue
            sample = [_render_row(dict(zip(names, row, strict=True)), suite.key) for row in rows[:MAX_ROWS_RETURNED]]
            parts.append((not rows, _unexpected_rows(len(rows)), len(rows), sample))
        outcomes.append(_combined(check, parts, error, sample_size))
    return outcomes


# --- Great Expectations, imported late ---------------------------------------------------------


def _import_gx() -> Any:
    """Import GX with its usage analytics off (read once, at import), and SciPy's statistics loaded on first use.

    GX imports `scipy.stats` at import, for distribution expectations (KL divergence, KS tests) that no
    suite here declares: 0.8 of the 2.7-2.8 s `import great_expectations` took. `_deferred` registers the
    module so that it loads on its first attribute access instead (the standard library's
    `importlib.util.LazyLoader`); GX and SciPy stay as they are, and a check that used SciPy would
    load it then.
    """
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    if "great_expectations" not in sys.modules:
        for module in DEFERRED_MODULES:
            _deferred(module)
    import great_expectations as gx

    return gx


# Imported by GX at import, used by no expectation the suites declare (suites.py). A module GX reads an
# attribute of at import (altair, pandas) would load at once anyway, so deferring it gains nothing.
DEFERRED_MODULES = ("scipy.stats",)


def _deferred(name: str) -> None:
    """Register module `name` (a submodule) so that it executes on its first attribute access, unless imported.

    The module is also set on its package, as an import sets it: `from scipy import stats` then finds
    it there, without the import machinery reading the module's attributes (which would load it).
    """
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    package, _, attribute = name.rpartition(".")
    if package:
        setattr(importlib.import_module(package), attribute, module)


def _ephemeral_context() -> Any:
    """An in-memory GX context: no project folder, no data docs, no progress bars, no analytics."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


class ReadOnlyConnections:
    """SQLAlchemy `creator` for read-only DuckDB connections, each closed by `close_all`.

    DuckDB's Python connection is also its only cursor, and GX fetches a result after handing the
    connection back to the pool, whose ROLLBACK discards the pending result (GX issue #11579: every
    metric comes back empty). A fresh DuckDB cursor per SQLAlchemy cursor keeps each result alive.
    """

    url = "duckdb://"

    def __init__(self, database: str, config: Mapping[str, Any]):
        self.database, self.config = database, dict(config)
        self._opened: list[duckdb.DuckDBPyConnection] = []

    def __call__(self) -> Any:
        con = duckdb.connect(self.database, read_only=True, config=self.config)
        self._opened.append(con)
        return _cursor_per_statement_class()(con)

    def close_all(self) -> None:
        """Close every connection GX's engines opened, so the file is free for the next writer."""
        for con in self._opened:
            con.close()
        self._opened.clear()


class PostgresConnections:
    """SQLAlchemy `creator` for PostgreSQL connections (psycopg2), each closed by `close_all`."""

    url = "postgresql+psycopg2://"

    def __init__(self, connect: Callable[[], Any]):
        self.connect = connect
        self._opened: list[Any] = []

    def __call__(self) -> Any:
        con = self.connect()
        self._opened.append(con)
        return con

    def close_all(self) -> None:
        for con in self._opened:
            con.close()
        self._opened.clear()


@functools.cache
def _cursor_per_statement_class() -> type:
    """duckdb-engine's connection wrapper, handing out a new DuckDB cursor per SQLAlchemy cursor."""
    import duckdb_engine

    class CursorPerStatement(duckdb_engine.ConnectionWrapper):
        def __init__(self, con: duckdb.DuckDBPyConnection):
            super().__init__(con)
            self._con = con

        def cursor(self) -> duckdb_engine.CursorWrapper:
            return duckdb_engine.CursorWrapper(self._con.cursor(), self)

    return CursorPerStatement


def _gx_query(query: str) -> str:
    """Expose GX's batch to a spec's SQL as `batch_rows`; the spec's own braces are literal SQL.

    GX puts `{batch}` in as a bare subquery when the query has a join, else with its own alias.
    The join here makes it always the bare form, so the alias can be ours: PostgreSQL needs one.
    """
    escaped = query.replace("{", "{{").replace("}", "}}")
    batch = "select gx_batch.* from {batch} as gx_batch cross join (select 1 as one) as one_row"
    return f"with {BATCH} as ({batch}) select * from ({escaped}) as unexpected_rows"


def _expectation(gx: Any, spec: ExpectationSpec, meta: dict[str, str]) -> Any:
    """The GX 1.x expectation for one spec."""
    e = gx.expectations
    if isinstance(spec, ColumnsMatch):
        return e.ExpectTableColumnsToMatchSet(column_set=list(spec.columns), exact_match=True, meta=meta)
    if isinstance(spec, NotNull):
        return e.ExpectColumnValuesToNotBeNull(column=spec.column, meta=meta)
    if isinstance(spec, Unique) and len(spec.columns) == 1:
        return e.ExpectColumnValuesToBeUnique(column=spec.columns[0], meta=meta)
    if isinstance(spec, Unique):
        return e.ExpectCompoundColumnsToBeUnique(column_list=list(spec.columns), meta=meta)
    if isinstance(spec, Between):
        return e.ExpectColumnValuesToBeBetween(
            column=spec.column,
            min_value=spec.min_value,
            max_value=spec.max_value,
            strict_min=spec.strict_min,
            meta=meta,
        )
    if isinstance(spec, InSet):
        return e.ExpectColumnValuesToBeInSet(column=spec.column, value_set=list(spec.values), meta=meta)
    if isinstance(spec, UnexpectedRows):
        return e.UnexpectedRowsExpectation(unexpected_rows_query=_gx_query(spec.query), meta=meta)
    raise TypeError(f"no GX expectation for {spec!r}")


def _run(gx: Any, datasource: Any, suite: SuiteSpec, sample_size: int) -> list[CheckOutcome]:
    """Validate one suite: column expectations summarised, SQL expectations with their failing rows.

    With `suite.rows_where`, the ROWS checks are validated on the rows it selects, the KEYS checks on
    those and the rows sharing their key (one batch per key), the rest on the table.
    """
    on_rows = [c for c in suite.checks if suite.rows_where and c.scope == ROWS]
    on_keys = [c for c in suite.checks if suite.rows_where and c.scope == KEYS]
    parts = [
        (replace(suite, checks=tuple(c for c in suite.checks if c not in on_rows + on_keys)), "", "rows", ""),
        (replace(suite, checks=tuple(on_rows)), f" where {suite.rows_where}", "changed rows", " (changed rows)"),
    ]
    for keys in dict.fromkeys(c.keys for c in on_keys):
        sharing = " and ".join(f"changed.{q(k)} = checked.{q(k)}" for k in keys)
        where = (
            f" where {suite.rows_where} or exists"
            f" (select 1 from {suite.relation} as changed where {suite.rows_where} and {sharing})"
        )
        checks = tuple(c for c in on_keys if c.keys == keys)
        label = f"changed rows and rows sharing their {', '.join(keys)}"
        parts.append((replace(suite, checks=checks), where, label, f" (changed {', '.join(keys)})"))
    outcomes: dict[str, CheckOutcome] = {}
    for part, where, rows, suffix in parts:
        if not part.checks:
            continue
        name = suite.relation + suffix
        asset = datasource.add_query_asset(name=name, query=f"select * from {suite.relation} as checked{where}")
        batch = asset.add_batch_definition_whole_table("whole table").get_batch()
        summary = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": sample_size,
            "unexpected_index_column_names": list(suite.key),
            "return_unexpected_index_query": False,
        }
        # Only UnexpectedRows returns its rows, and only with COMPLETE (capped at 200 rows by GX).
        results = _validate(gx, batch, part, summary, sql=False)
        results += _validate(gx, batch, part, {"result_format": "COMPLETE"}, sql=True)
        by_check: dict[str, list[Any]] = {}
        for result in results:
            by_check.setdefault(result.expectation_config.meta["check"], []).append(result)
        for check in part.checks:
            outcomes[check.name] = _outcome(check, by_check.get(check.name, []), suite.key, sample_size, rows)
    return [outcomes[check.name] for check in suite.checks]


def _validate(gx: Any, batch: Any, suite: SuiteSpec, result_format: dict, *, sql: bool) -> list[Any]:
    """One GX validation of the batch, straight on the batch: nothing is stored in the context."""
    expectations = [
        _expectation(gx, spec, {"check": check.name})
        for check in suite.checks
        for spec in check.expectations
        if isinstance(spec, UnexpectedRows) == sql
    ]
    if not expectations:
        return []
    name = f"{suite.relation}:{'sql' if sql else 'columns'}"
    return list(
        batch.validate(gx.ExpectationSuite(name=name, expectations=expectations), result_format=result_format).results
    )


# --- reading GX results ----------------------------------------------------------------------------


def _outcome(
    check: CheckSpec, results: Sequence[Any], key: Sequence[str], sample_size: int, rows: str = "rows"
) -> CheckOutcome:
    error = next((e for e in map(_error, results) if e), None)
    if len(results) != len(check.expectations):
        error = error or f"GX returned {len(results)} of {len(check.expectations)} results"
    parts = [(r.success, _observed_one(r, rows), _unexpected_count(r), _sample(r, key)) for r in results]
    return _combined(check, parts, error, sample_size)


def _combined(
    check: CheckSpec, parts: Sequence[tuple[bool, str, int, list[str]]], error: str | None, sample_size: int
) -> CheckOutcome:
    """One check's outcome from its expectations' (success, observed, unexpected count, sample)."""
    observed = [text for ok, text, _, _ in parts if not ok] or [text for _, text, _, _ in parts[:1]]
    samples = [s for *_, sample in parts for s in sample]
    return CheckOutcome(
        name=check.name,
        passed=error is None and all(ok for ok, *_ in parts),
        severity=check.severity,
        observed=f"error: {error}" if error else "; ".join(observed)[:_MAX_TEXT],
        unexpected_count=sum(count for _, _, count, _ in parts),
        description=check.description,
        sample=tuple(dict.fromkeys(samples))[:sample_size],
        error=error,
    )


def _error(result: Any) -> str | None:
    """GX reports a failed query either flat or keyed by metric; keep the first line of the message."""
    info = result.exception_info or {}
    candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message") or "unknown error").splitlines()[0][:_MAX_TEXT]
    return None


def _kind(result: Any) -> str:
    return result.expectation_config.type


def _unexpected_count(result: Any) -> int:
    data = result.result or {}
    if _kind(result) == "unexpected_rows_expectation":
        return int(data.get("observed_value") or 0)
    if _kind(result) == "expect_table_columns_to_match_set":
        mismatched = (data.get("details") or {}).get("mismatched") or {}
        return len(mismatched.get("missing", [])) + len(mismatched.get("unexpected", []))
    return int(data.get("unexpected_count") or 0)


def _observed_one(result: Any, rows: str = "rows") -> str:
    data = result.result or {}
    if _kind(result) == "unexpected_rows_expectation":
        return _unexpected_rows(data.get("observed_value", 0))
    if _kind(result) == "expect_table_columns_to_match_set":
        mismatched = (data.get("details") or {}).get("mismatched") or {}
        if not mismatched:
            return f"{len(data.get('observed_value') or [])} columns as in the contract"
        return f"missing {mismatched.get('missing', [])}, unexpected {mismatched.get('unexpected', [])}"
    column = result.expectation_config.kwargs.get("column")
    counted = f"{data.get('unexpected_count', 0)} of {data.get('element_count', 0)} {rows}"
    return f"{column}: {counted}" if column else counted


def _unexpected_rows(count: int) -> str:
    return f"{count} unexpected row(s)"


def _sample(result: Any, key: Sequence[str]) -> list[str]:
    """Failing rows as short strings: the row's key, then the offending values."""
    data = result.result or {}
    if _kind(result) == "unexpected_rows_expectation":
        rows = (data.get("details") or {}).get("unexpected_rows") or []
    elif _kind(result) == "expect_table_columns_to_match_set":
        mismatched = (data.get("details") or {}).get("mismatched") or {}
        rows = [{"column": c, "problem": p} for p in ("missing", "unexpected") for c in mismatched.get(p, [])]
    else:
        # Compound-unique failures carry no index list; their values are dicts of the key columns.
        rows = data.get("partial_unexpected_index_list") or data.get("partial_unexpected_list") or []
    return [_render_row(row if isinstance(row, Mapping) else {"value": row}, key) for row in rows]


def _render_row(row: Mapping[str, Any], key: Sequence[str]) -> str:
    """`<key> (<column>=<value>, ...)` when the row carries the key, else `<column>=<value> ...`."""
    if key and all(k in row for k in key):
        head = " | ".join(str(row[k]) for k in key)
        extras = ", ".join(f"{k}={v}" for k, v in row.items() if k not in key)
        return f"{head} ({extras})" if extras else head
    return " ".join(f"{k}={v}" for k, v in row.items())
