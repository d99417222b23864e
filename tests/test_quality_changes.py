"""The raw checks cost what changed: unchanged tables keep their verdicts (no GX), changed ones are validated.

Real Dagster runs of the ingest assets and the raw checks on the small demo firm, on one instance
on disk per test (a copy of a first run's), and the reverse-sync gate judging what they recorded.

Kind: integration (Dagster runs, Great Expectations on demo warehouses, PostgreSQL), except the
decision rules: unit.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.contract import SOURCE_OBJECTS, get
from orchestration.defs.ingest.files import FILES_CHECK, QUARANTINE_CHECK, STAMPS_CHECK, LandingConfig
from orchestration.defs.ingest.loader import load_object, q, sql_str, table_versions
from orchestration.defs.quality import changes, gx_runner
from orchestration.defs.quality.changes import CHANGED_ROWS, EVERY_RUN, KEPT, WHOLE, Last
from orchestration.defs.quality.checks import RawQualityConfig
from orchestration.defs.quality.gx_runner import run_sql, run_suite
from orchestration.defs.quality.suites import CLOCK, KEYS, ROWS, TABLE, CheckSpec, Severity, SuiteSpec, suite_for
from orchestration.defs.reverse_sync.gate import NEVER_BLOCKING, evaluate_gate
from orchestration.lib.dialect import rows_fingerprint
from orchestration.lib.warehouse import DuckDBWarehouse
from tests.helpers import RecordedRun

RAW_KEYS = [dg.AssetKey([o.schema, o.name]) for o in SOURCE_OBJECTS]
TIMECARDS = dg.AssetKey(["raw_psa", "timecard_header"])
CURRENCY = dg.AssetKey(["raw_erp", "currency"])
ACCOUNT = dg.AssetKey(["raw_crm", "account"])
HOLIDAY = dg.AssetKey(["raw_hris", "holiday"])
OWN_CHECKS = (QUARANTINE_CHECK, FILES_CHECK, STAMPS_CHECK)  # the ingest assets' own, tested in test_pipeline
DUPLICATE_TIMECARD = (
    """insert into raw_psa.timecard_header select * from raw_psa.timecard_header order by "Id" limit 1"""
)


@dg.asset(deps=RAW_KEYS)
def sync_input() -> None:
    """Stands for what the reverse sync sends: every raw table is upstream of it (never materialized here)."""


@dg.asset(deps=[TIMECARDS])
def reads_timecards() -> None:
    """Stands for the dbt staging model that reads the timecards."""


def _defs() -> dg.Definitions:
    from orchestration.defs import ingest, quality

    return dg.Definitions.merge(
        ingest.build_definitions("files"), quality.defs, dg.Definitions(assets=[sync_input, reads_timecards])
    )


@dataclass
class Pipeline:
    """A warehouse and the Dagster instance of the runs on it."""

    folder: Path
    instance: dg.DagsterInstance
    first_run: str

    @property
    def warehouse(self) -> Path:
        return self.folder / "warehouse.duckdb"

    def run(self, landing: Path, *keys: dg.AssetKey, tags: dict | None = None, **config) -> dg.ExecuteInProcessResult:
        """Ingest and check the raw tables (`keys`, default all) from `landing`, as one Dagster run."""
        defs = _defs()
        resources = {
            **defs.resources,
            "warehouse": self._warehouse(),
            "landing": LandingConfig(landing_dir=str(landing), settle_seconds=0),
        }
        if config:
            resources["raw_quality"] = RawQualityConfig(**config)
        return dg.materialize(
            [*defs.assets, *defs.asset_checks],
            resources=resources,
            selection=dg.AssetSelection.assets(*(keys or RAW_KEYS)),
            instance=self.instance,
            tags=tags,
            raise_on_error=False,
        )

    def execute(self, sql: str) -> None:
        with duckdb.connect(str(self.warehouse)) as con:
            con.execute(sql)

    def gate(self, sync: dg.AssetKey = sync_input.key):
        graph = dg.Definitions.merge(_defs(), dg.Definitions(resources={"warehouse": self._warehouse()}))
        return evaluate_gate(self.instance, graph.resolve_asset_graph(), sync)

    def _warehouse(self) -> DuckDBWarehouse:
        return DuckDBWarehouse(database=str(self.warehouse), memory_limit="1GB")


@pytest.fixture(scope="module")
def first_run(small_landing, tmp_path_factory) -> tuple[Path, str]:
    """The small demo's raw tables loaded and checked once (every check validated): folder, run id."""
    folder = tmp_path_factory.mktemp("quality_changes")
    (folder / "dagster_home").mkdir()
    with dg.DagsterInstance.from_config(str(folder / "dagster_home")) as instance:
        result = Pipeline(folder, instance, "").run(small_landing[0])
    assert result.success  # the demo's defects are WARN
    assert {_meta(e)["validated"] for e in _evaluations(result).values()} == {WHOLE, EVERY_RUN}
    return folder, result.run_id


@pytest.fixture
def pipeline(first_run, tmp_path) -> Iterator[Pipeline]:
    """This test's copy of the first run: its warehouse and its Dagster instance."""
    folder, run_id = first_run
    shutil.copytree(folder, tmp_path / "pipeline")
    with dg.DagsterInstance.from_config(str(tmp_path / "pipeline" / "dagster_home")) as instance:
        yield Pipeline(tmp_path / "pipeline", instance, run_id)


class GxWatch:
    """Counts the imports of Great Expectations by the checks; with `refuse`, an import fails the check step."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.imports, self.refuse, original = 0, False, gx_runner._import_gx

        def watched():
            self.imports += 1
            if self.refuse:
                raise AssertionError("GX imported in a run that had nothing to validate")
            return original()

        monkeypatch.setattr(gx_runner, "_import_gx", watched)


@pytest.fixture
def gx(monkeypatch) -> GxWatch:
    return GxWatch(monkeypatch)


def _evaluations(result) -> dict[tuple[dg.AssetKey, str], dg.AssetCheckEvaluation]:
    """The raw checks' evaluations of a run (an ExecuteInProcessResult or a RecordedRun)."""
    return {
        (e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations() if e.check_name not in OWN_CHECKS
    }


def _meta(evaluation: dg.AssetCheckEvaluation) -> dict:
    return {name: value.value for name, value in evaluation.metadata.items()}


def _verdict(evaluation: dg.AssetCheckEvaluation) -> tuple:
    meta = _meta(evaluation)
    return evaluation.passed, evaluation.severity, meta["observed"], meta["unexpected_count"], meta["failing_sample"]


def _data_versions(result) -> dict[dg.AssetKey, str]:
    return {
        e.asset_key: e.step_materialization_data.materialization.tags["dagster/data_version"]
        for e in result.get_asset_materialization_events()
    }


def _first(pipeline: Pipeline) -> dict[tuple[dg.AssetKey, str], dg.AssetCheckEvaluation]:
    return _evaluations(RecordedRun(pipeline.instance, pipeline.first_run))


# --- (a) nothing new: every verdict kept, no GX, the gate sees them on the current data --------------


@pytest.mark.integration
def test_a_run_without_new_files_keeps_every_verdict_without_gx(pipeline, small_landing, gx) -> None:
    first = _first(pipeline)
    gx.refuse = True
    second = pipeline.run(small_landing[0])
    assert second.success and gx.imports == 0
    evaluations = _evaluations(second)
    assert evaluations.keys() == first.keys()
    versions = _data_versions(second)
    for (asset, name), evaluation in evaluations.items():
        meta = _meta(evaluation)
        assert meta["data_version"] == versions[asset], (asset, name)  # the data this run materialized
        if name == "freshness":  # depends on the clock: evaluated again, in SQL
            assert (meta["kept"], meta["verdict_from_run"], meta["validated"]) == (False, second.run_id, EVERY_RUN)
            continue
        assert (meta["kept"], meta["verdict_from_run"]) == (True, pipeline.first_run), (asset, name)
        assert _verdict(evaluation) == _verdict(first[(asset, name)]), (asset, name)
        assert meta["evaluated_on"] == _meta(first[(asset, name)])["evaluated_on"]
        assert evaluation.description.startswith(f"unchanged since run {pipeline.first_run}: "), evaluation.description
    assert sum(not e.passed for e in evaluations.values()) == 6  # the demo's six WARN defects, kept
    gate = pipeline.gate()
    assert gate.passed, gate.failing
    judged = [k for k in evaluations if k[1] not in NEVER_BLOCKING]
    assert gate.checks_evaluated == len(judged)


# --- (b) a failed ERROR verdict is kept failing, and blocking --------------------------------------


@pytest.mark.integration
def test_a_failed_error_check_keeps_failing_and_blocking_without_new_data(pipeline, small_landing, gx) -> None:
    key = (TIMECARDS, "primary_key_unique_not_null")
    pipeline.execute(DUPLICATE_TIMECARD)  # outside the loader: one row more, so a new data version
    second = pipeline.run(small_landing[0], TIMECARDS, reads_timecards.key)
    assert not second.success
    assert [e.asset_key for e in second.get_asset_materialization_events()] == [TIMECARDS]
    evaluations = _evaluations(second)
    failed = evaluations[key]
    assert (failed.passed, failed.severity, _meta(failed)["kept"]) == (False, dg.AssetCheckSeverity.ERROR, False)
    # the row count moved without a load: the row checks cannot trust the load log, the whole table is read
    assert _meta(evaluations[(TIMECARDS, "required_fields_not_null")])["validated"] == WHOLE

    gx.imports, gx.refuse = 0, True
    third = pipeline.run(small_landing[0], TIMECARDS, reads_timecards.key)
    assert not third.success and gx.imports == 0
    assert [e.asset_key for e in third.get_asset_materialization_events()] == [TIMECARDS]  # still blocked
    kept = _evaluations(third)[key]
    assert (kept.passed, kept.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert (_meta(kept)["kept"], _meta(kept)["verdict_from_run"]) == (True, second.run_id)
    assert _verdict(kept) == _verdict(failed)
    gate = pipeline.gate(reads_timecards.key)
    name = dg.AssetCheckKey(TIMECARDS, key[1]).to_user_string()
    assert gate.failing_keys == [name]
    assert f"unchanged since run {second.run_id}" in gate.failing[0]


# --- (c) a changed table is validated again, and so are the checks that read it -----------------------

NEW_CURRENCIES = [  # a new currency with a lower-case code (symbol_is_iso_4217 fails), and a renamed one
    {"id": 90, "symbol": "jpy", "name": "Yen", "isbasecurrency": "F", "lastmodifieddate": "2026-11-20 08:00:00"},
    {
        "id": 2,
        "symbol": "GBP",
        "name": "Pound sterling",
        "isbasecurrency": "F",
        "lastmodifieddate": "2026-11-20 08:00:00",
    },
]


@pytest.mark.integration
def test_a_new_file_validates_its_table_and_the_checks_reading_it(pipeline, small_landing, tmp_path) -> None:
    landing = Path(shutil.copytree(small_landing[0], tmp_path / "landing"))  # every file new by path: reloaded
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as con:  # a symbol the file does not touch
        [(taken, taken_id)] = con.execute(
            "select symbol, id from raw_erp.currency where id not in (2, 90) order by id limit 1"
        ).fetchall()
    again = {**NEW_CURRENCIES[0], "id": 91, "symbol": taken, "name": "Again"}  # its symbol repeats: symbol_unique
    new = "\n".join(json.dumps(r) for r in [*NEW_CURRENCIES, again])
    (landing / "erp" / "currency.2026-11-20.jsonl").write_text(new)
    first = _first(pipeline)
    second = pipeline.run(landing)
    assert second.success
    evaluations = _evaluations(second)
    meta = {k: _meta(e) for k, e in evaluations.items()}

    currency = {name: m for (asset, name), m in meta.items() if asset == CURRENCY}
    for name, m in currency.items():
        assert (m["kept"], m["verdict_from_run"]) == (False, second.run_id), name
    checks = {c.name: c for c in suite_for(get("erp", "currency")).checks}
    scopes = {name: c.scope for name, c in checks.items()}
    rows = f"the 3 row(s) of 1 load(s) since run {pipeline.first_run}"
    assert {n: m["validated"] for n, m in currency.items()} == {
        name: EVERY_RUN
        if scope == CLOCK
        else WHOLE
        if scope == TABLE
        else f"{rows} and the rows sharing their {', '.join(checks[name].keys)}"
        if scope == KEYS
        else rows
        for name, scope in scopes.items()
    }
    assert {"symbol_unique", "primary_key_unique_not_null"} <= {n for n, s in scopes.items() if s == KEYS}
    iso = evaluations[(CURRENCY, "symbol_is_iso_4217")]
    assert (iso.passed, currency["symbol_is_iso_4217"]["unexpected_count"]) == (False, 1)
    assert currency["symbol_is_iso_4217"]["failing_sample"] == ["90"]
    assert currency["required_fields_not_null"]["observed"].endswith(": 0 of 3 changed rows")  # not: of 6 rows
    # The repeat is found from the new row and the old one it repeats, which no load wrote.
    unique = evaluations[(CURRENCY, "symbol_unique")]
    assert (unique.passed, currency["symbol_unique"]["unexpected_count"]) == (False, 2)
    assert sorted(currency["symbol_unique"]["failing_sample"]) == sorted(
        [f"{taken_id} (symbol={taken})", f"91 (symbol={taken})"]
    )

    # what the rows alone (and those sharing their keys) said is what the whole table says
    whole = {o.name: o for o in run_suite(str(pipeline.warehouse), suite_for(get("erp", "currency")))}
    for name in (n for n, s in scopes.items() if s in (ROWS, KEYS)):
        ours = evaluations[(CURRENCY, name)]
        assert (ours.passed, currency[name]["unexpected_count"], tuple(currency[name]["failing_sample"])) == (
            whole[name].passed,
            whole[name].unexpected_count,
            whole[name].sample,
        ), name

    # raw_crm.account did not change, but its reference check reads raw_erp.currency
    readers = {k for k, m in meta.items() if "raw_erp.currency" in m["evaluated_on"]["tables"]}
    assert (ACCOUNT, "CurrencyIsoCode_references_currency") in readers
    for key, m in meta.items():
        if key[1] == "freshness":
            continue
        validated = key[0] == CURRENCY or key in readers
        assert m["kept"] is not validated, key
        if not validated:
            assert _verdict(evaluations[key]) == _verdict(first[key]), key
    assert meta[(ACCOUNT, "CurrencyIsoCode_references_currency")]["validated"] == WHOLE
    assert evaluations[(ACCOUNT, "CurrencyIsoCode_references_currency")].passed


@pytest.mark.integration
def test_a_reference_is_validated_on_the_loaded_rows_while_its_target_is_unchanged(
    pipeline, small_landing, tmp_path
) -> None:
    landing = Path(shutil.copytree(small_landing[0], tmp_path / "landing"))
    obj = get("psa", "timecard_header")
    base = landing / obj.system / obj.file_patterns[0]
    # A later export of two timecards: one a quarter hour more on Monday, one booked to a resource PSA lacks.
    monday, total, resource = (q(c) for c in ("pse__Monday_Hours__c", "pse__Total_Hours__c", "pse__Resource__c"))
    with duckdb.connect() as con:
        con.execute(
            f"""copy (
                select * replace (
                    printf('%.2f', cast({monday} as decimal(9,2)) + 0.25) as {monday},
                    printf('%.2f', cast({total} as decimal(9,2)) + 0.25) as {total},
                    case when row_number() over (order by Id) = 2 then '003UNKNOWN00000AAA' else {resource} end
                        as {resource},
                    '2026-12-01T08:00:00.000Z' as SystemModstamp)
                from read_csv({sql_str(str(base))}, all_varchar = true)
                where cast({monday} as decimal(9,2)) > 0 order by Id limit 2
            ) to {sql_str(str(base.with_name(f"{obj.file_stem}.2026-12-01.csv")))} (header true)"""
        )
    second = pipeline.run(landing, TIMECARDS)
    assert second.success
    meta = {name: _meta(e) for (asset, name), e in _evaluations(second).items() if asset == TIMECARDS}
    rows = f"the 2 row(s) of 1 load(s) since run {pipeline.first_run}"
    ours = _evaluations(second)[(TIMECARDS, "pse__Resource__c_references_contact")]
    found = meta["pse__Resource__c_references_contact"]
    assert (found["validated"], ours.passed, found["unexpected_count"]) == (rows, False, 1)
    assert found["failing_sample"][0].endswith("(pse__Resource__c=003UNKNOWN00000AAA)")
    assert meta["pse__Assignment__c_references_assignment"]["validated"] == rows
    # what the two rows said is what the whole table says
    whole = {o.name: o for o in run_suite(str(pipeline.warehouse), suite_for(obj))}
    for name in ("pse__Resource__c_references_contact", "pse__Assignment__c_references_assignment"):
        check = _evaluations(second)[(TIMECARDS, name)]
        assert (check.passed, meta[name]["unexpected_count"], tuple(meta[name]["failing_sample"])) == (
            whole[name].passed,
            whole[name].unexpected_count,
            whole[name].sample,
        ), name

    # The target changes (a contact less): the reference reads the whole table again.
    pipeline.execute("delete from raw_psa.contact where rowid = (select max(rowid) from raw_psa.contact)")
    third = pipeline.run(landing, TIMECARDS)
    assert third.success
    validated = _meta(_evaluations(third)[(TIMECARDS, "pse__Resource__c_references_contact")])["validated"]
    assert validated == WHOLE


@pytest.mark.integration
def test_the_rows_to_validate_are_those_the_loads_since_wrote_or_none(first_run, tmp_path) -> None:
    warehouse = Path(shutil.copy(first_run[0] / "warehouse.duckdb", tmp_path / "warehouse.duckdb"))
    landing = tmp_path / "landing"
    (landing / "erp").mkdir(parents=True)
    (landing / "erp" / "currency.2026-11-20.jsonl").write_text("\n".join(json.dumps(r) for r in NEW_CURRENCIES))
    table = "raw_erp.currency"
    with duckdb.connect(str(warehouse)) as con:
        before = table_versions(con, [table])[table]
        load_object(con, get("erp", "currency"), landing, batch_id="new-load")
        after = table_versions(con, [table])[table]
        assert changes.loads_since(con, table, before, after) == ["new-load"]
        assert changes.loads_since(con, table, after, after) is None  # nothing loaded since
        con.execute("insert into raw_erp.currency select * from raw_erp.currency where id = 1")  # beside the loader
        beside = table_versions(con, [table])[table]
        assert changes.loads_since(con, table, before, beside) is None


@pytest.mark.integration
def test_an_edit_in_place_is_found_by_a_run_that_validates_everything(pipeline, small_landing) -> None:
    # a required field emptied outside the loader: no load, the same row count, the same data version
    first = '(select min("Holiday_ID") from raw_hris.holiday)'
    pipeline.execute(f'update raw_hris.holiday set "Date" = null where "Holiday_ID" = {first}')
    key = (HOLIDAY, "required_fields_not_null")
    unseen = _evaluations(pipeline.run(small_landing[0], HOLIDAY))[key]
    assert (unseen.passed, _meta(unseen)["kept"]) == (True, True)
    everything = pipeline.run(small_landing[0], HOLIDAY, tags={"pipeline/rebuild": "all"})
    found = _evaluations(everything)
    assert {(_meta(e)["kept"], _meta(e)["validated"]) for e in found.values()} == {(False, WHOLE), (False, EVERY_RUN)}
    assert (found[key].passed, found[key].severity, _meta(found[key])["kept"]) == (
        False,
        dg.AssetCheckSeverity.ERROR,
        False,
    )


# --- (d) freshness: evaluated every run ---------------------------------------------------------------


@pytest.mark.integration
def test_freshness_is_evaluated_every_run(pipeline, small_landing, gx) -> None:
    gx.refuse = True
    # a day older than the window, edited in place: the data version stays, the other checks are kept
    pipeline.execute("update raw_hris.holiday set _loaded_at = _loaded_at - interval 72 hours")
    stale = _evaluations(pipeline.run(small_landing[0], HOLIDAY))
    assert (stale[(HOLIDAY, "freshness")].passed, _meta(stale[(HOLIDAY, "freshness")])["kept"]) == (False, False)
    assert _meta(stale[(HOLIDAY, "freshness")])["failing_sample"][0].startswith("last_loaded_at=")
    assert all(_meta(e)["kept"] for (_, name), e in stale.items() if name != "freshness")

    wider = _evaluations(pipeline.run(small_landing[0], HOLIDAY, freshness_hours=96))  # the window is config
    assert wider[(HOLIDAY, "freshness")].passed

    pipeline.execute("update raw_hris.holiday set _loaded_at = _loaded_at + interval 72 hours")
    fresh = _evaluations(pipeline.run(small_landing[0], HOLIDAY))
    assert fresh[(HOLIDAY, "freshness")].passed
    assert gx.imports == 0


@pytest.mark.integration
@pytest.mark.parametrize("age", ["fresh", "stale", "missing"])
def test_freshness_in_sql_gives_the_verdict_gx_gives(first_run, tmp_path, age) -> None:
    warehouse = Path(shutil.copy(first_run[0] / "warehouse.duckdb", tmp_path / "warehouse.duckdb"))
    suite = suite_for(get("hris", "holiday")).only({"freshness"})
    with duckdb.connect(str(warehouse)) as con:
        if age == "stale":  # 72 h 6 min: mid-way between two tenths of an hour, so both read the same age
            con.execute(
                "update raw_hris.holiday set _loaded_at = "
                "cast(current_timestamp at time zone 'UTC' as timestamp) - interval 72 hours - interval 6 minutes"
            )
        if age == "missing":
            con.execute("alter table raw_hris.holiday drop column _loaded_at")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        in_sql = run_sql(con, suite)
    in_gx = run_suite(str(warehouse), suite)
    assert [o.passed for o in in_sql] == [age == "fresh"]
    if age == "missing":  # the same error, which GX's SQLAlchemy prefixes with the exception's class
        [sql], [gx] = in_sql, in_gx
        assert sql.error and gx.error and gx.error.endswith(sql.error), (sql.error, gx.error)
        in_gx = [replace(gx, error=sql.error, observed=sql.observed)]
    assert in_sql == in_gx
    if age == "stale":
        assert in_sql[0].sample[0].endswith("age_hours=72.1"), in_sql


@pytest.mark.integration
def test_freshness_in_sql_gives_the_verdict_gx_gives_on_postgres(postgres_database) -> None:
    import psycopg2

    from orchestration.lib.postgres import PgConnection

    config = postgres_database("quality_freshness")
    suite = suite_for(get("hris", "holiday"), dialect="postgres").only({"freshness"})
    connect = lambda: psycopg2.connect(**config)  # noqa: E731
    con = PgConnection(connect())
    try:
        con.execute("create schema raw_hris")
        con.execute('create table raw_hris.holiday ("Holiday_ID" varchar, _loaded_at timestamp)')
        for age, hours in (("fresh", 1), ("stale", 72.1)):
            con.execute("delete from raw_hris.holiday")
            con.execute(
                "insert into raw_hris.holiday values ('h1', cast(current_timestamp at time zone 'UTC' as timestamp)"
                f" - interval '{hours * 3600:.0f} seconds')"
            )
            in_sql = run_sql(con, suite)
            assert in_sql == run_suite("", suite, postgres_connect=connect), age
            assert [o.passed for o in in_sql] == [age == "fresh"]
    finally:
        con.close()


@pytest.mark.integration
def test_a_key_check_on_changed_rows_sees_the_old_rows_they_repeat_on_duckdb_and_postgres(
    postgres_database, tmp_path
) -> None:
    import psycopg2

    from orchestration.lib.postgres import PgConnection

    config = postgres_database("quality_keys")
    connect = lambda: psycopg2.connect(**config)  # noqa: E731
    checks = {"primary_key_unique_not_null", "one_holiday_per_country_date"}
    rows = [("h1", "US", "2026-01-01", "b1"), ("h2", "US", "2026-07-04", "b1"), ("h3", "US", "2026-01-01", "b2")]
    values = ", ".join(f"('{h}', '{c}', date '{d}', '{b}')" for h, c, d, b in rows)
    pg = PgConnection(connect())
    try:
        for dialect, con in (("duckdb", duckdb.connect(str(tmp_path / "w.duckdb"))), ("postgres", pg)):
            con.execute("create schema raw_hris")
            con.execute(
                'create table raw_hris.holiday ("Holiday_ID" varchar, "Country" varchar, "Date" date,'
                " _batch_id varchar)"
            )
            con.execute(f"insert into raw_hris.holiday values {values}")
            if dialect == "duckdb":
                con.close()

            def run(suite, dialect=dialect):
                if dialect == "postgres":
                    return {o.name: o for o in run_suite("", suite, postgres_connect=connect)}
                return {o.name: o for o in run_suite(str(tmp_path / "w.duckdb"), suite)}

            suite = suite_for(get("hris", "holiday"), dialect=dialect).only(checks)
            whole, changed = run(suite), run(replace(suite, rows_where="_batch_id in ('b2')"))
            for name in checks:
                assert (changed[name].passed, changed[name].unexpected_count, sorted(changed[name].sample)) == (
                    whole[name].passed,
                    whole[name].unexpected_count,
                    sorted(whole[name].sample),
                ), (dialect, name)
            repeat = changed["one_holiday_per_country_date"]
            assert (repeat.passed, repeat.unexpected_count) == (False, 2), dialect
            assert [s.split(" ")[0] for s in sorted(repeat.sample)] == ["h1", "h3"], dialect  # h1: no load since
            assert changed["primary_key_unique_not_null"].passed, dialect
            assert "sharing their Holiday_ID" in changed["primary_key_unique_not_null"].observed, dialect
    finally:
        pg.close()


# --- the decision rules -------------------------------------------------------------------------------


def _suite(*checks: CheckSpec) -> SuiteSpec:
    return SuiteSpec("raw_x", "t", ("id",), checks)


ROW_CHECK = CheckSpec("not_null", "required fields", Severity.ERROR, "x", (), scope=ROWS)
TABLE_CHECK = CheckSpec("complete", "completeness", Severity.ERROR, "x", ())
KEY_CHECK = CheckSpec("unique", "keys", Severity.ERROR, "x", (), scope=KEYS, keys=("id",))
READING = CheckSpec("fx", "completeness", Severity.WARN, "x", (), reads=("raw_x.other",))
REFERENCE = CheckSpec("ref", "references", Severity.WARN, "x", (), reads=("raw_x.other",), scope=ROWS)
CLOCK_CHECK = CheckSpec("freshness", "freshness", Severity.WARN, "x", (), scope=CLOCK)
STATE = {"raw_x.t": {"version": "2:10:b", "columns": "c1"}, "raw_x.other": {"version": "1:5:a", "columns": "d"}}


def _last(check: CheckSpec, state: dict, passed: bool = True, **metadata) -> Last:
    key = changes.check_key(_suite(check), check, state, "duckdb")
    return Last(passed, dg.AssetCheckSeverity.ERROR, metadata, "run-1", key)


def _decided(
    check: CheckSpec, last: Last | None, everything: str | None = None, state: dict = STATE, keep_whole: bool = False
) -> tuple[str, str]:
    lasts = {check.name: last} if last else {}
    [decision] = changes.decide(_suite(check), state, lasts, "duckdb", everything, keep_whole)
    return decision.action, decision.reason


@pytest.mark.unit
def test_what_a_run_does_with_each_check() -> None:
    before = {**STATE, "raw_x.t": {"version": "1:8:a", "columns": "c1"}}
    other_before = {**STATE, "raw_x.other": {"version": "0:0:", "columns": "d"}}
    assert _decided(ROW_CHECK, _last(ROW_CHECK, STATE)) == (KEPT, "unchanged since run run-1")
    assert _decided(ROW_CHECK, None)[0] == WHOLE
    assert _decided(ROW_CHECK, _last(ROW_CHECK, STATE), everything="tag")[0] == WHOLE
    assert _decided(ROW_CHECK, _last(ROW_CHECK, STATE, error="locked"))[0] == WHOLE
    assert _decided(ROW_CHECK, _last(ROW_CHECK, before)) == (CHANGED_ROWS, "raw_x.t changed since run run-1")
    assert _decided(ROW_CHECK, _last(ROW_CHECK, before, passed=False))[0] == WHOLE
    assert (
        _decided(ROW_CHECK, _last(ROW_CHECK, {**before, "raw_x.t": {"version": "1:8:a", "columns": "c0"}}))[0] == WHOLE
    )
    assert _decided(TABLE_CHECK, _last(TABLE_CHECK, before))[0] == WHOLE
    assert _decided(KEY_CHECK, _last(KEY_CHECK, before)) == (CHANGED_ROWS, "raw_x.t changed since run run-1")
    assert _decided(KEY_CHECK, _last(KEY_CHECK, before, passed=False))[0] == WHOLE
    assert _decided(READING, _last(READING, STATE))[0] == KEPT
    assert _decided(READING, _last(READING, other_before)) == (WHOLE, "raw_x.other changed since run run-1")
    assert _decided(READING, _last(READING, before))[0] == WHOLE  # a table-level check reading another table
    # A reference: on the rows its own table's loads wrote while its target is as it was; else whole.
    assert _decided(REFERENCE, _last(REFERENCE, before)) == (CHANGED_ROWS, "raw_x.t changed since run run-1")
    assert _decided(REFERENCE, _last(REFERENCE, other_before)) == (WHOLE, "raw_x.other changed since run run-1")
    both = {**before, "raw_x.other": other_before["raw_x.other"]}
    assert _decided(REFERENCE, _last(REFERENCE, both)) == (WHOLE, "raw_x.t, raw_x.other changed since run run-1")
    assert _decided(REFERENCE, _last(REFERENCE, before, passed=False))[0] == WHOLE
    # A reference into its own table is table-level: a load may change the rows others point to.
    scopes = {c.name: c.scope for c in suite_for(get("erp", "subsidiary")).checks}
    assert (scopes["parent_references_subsidiary"], scopes["currency_references_currency"]) == (TABLE, ROWS)
    assert _decided(CLOCK_CHECK, _last(CLOCK_CHECK, STATE))[0] == EVERY_RUN
    changed = replace(ROW_CHECK, description="y")  # the check as declared is part of the key
    assert _decided(changed, _last(ROW_CHECK, STATE)) == (WHOLE, "the check or its runner changed")
    assert changes.revalidate_reason({"dbt/full_refresh": "true"}) and changes.revalidate_reason(
        {"pipeline/rebuild": "all"}
    )
    assert changes.revalidate_reason({"dagster/priority": "5"}) is None


@pytest.mark.unit
def test_the_nightly_keeps_only_what_was_validated_whole_on_the_same_rows() -> None:
    rows = {t: {**now, "content": f"rows-of-{t}"} for t, now in STATE.items()}
    edited = {**rows, "raw_x.t": {**rows["raw_x.t"], "content": "edited in place"}}
    whole = _last(TABLE_CHECK, rows, validated=WHOLE)
    nightly = {"everything": "tag", "state": rows, "keep_whole": True}
    assert _decided(TABLE_CHECK, whole, **nightly) == (
        KEPT,
        "validated whole by run run-1 on these very rows (their fingerprint)",
    )
    assert _decided(TABLE_CHECK, whole, "tag", edited, keep_whole=True) == (WHOLE, "tag")  # the rows changed
    assert _decided(TABLE_CHECK, whole, "tag", rows) == (WHOLE, "tag")  # pipeline/rebuild: all keeps nothing
    # validated on changed rows only, or evaluated before the rows were fingerprinted: validated whole
    assert _decided(ROW_CHECK, _last(ROW_CHECK, rows, validated="the 3 row(s) of 1 load(s)"), **nightly)[0] == WHOLE
    assert _decided(TABLE_CHECK, _last(TABLE_CHECK, STATE, validated=WHOLE), **nightly)[0] == WHOLE
    assert _decided(TABLE_CHECK, _last(TABLE_CHECK, rows, validated=WHOLE, error="locked"), **nightly)[0] == WHOLE
    assert _decided(CLOCK_CHECK, _last(CLOCK_CHECK, rows, validated=EVERY_RUN), **nightly)[0] == EVERY_RUN
    # the runs in between read no fingerprint, and keep what the nightly recorded
    assert _decided(TABLE_CHECK, whole) == (KEPT, "unchanged since run run-1")
    assert changes.keeps_whole_verdicts({"dbt/full_refresh": "true"})
    assert not changes.keeps_whole_verdicts({"dbt/full_refresh": "true", "pipeline/rebuild": "all"})
    assert not changes.keeps_whole_verdicts({})


@pytest.mark.integration
def test_the_nightly_validates_whole_only_what_was_not_validated_whole_on_these_rows(
    pipeline, small_landing, gx
) -> None:
    # The first run validated every check whole, and recorded the rows' fingerprint with each verdict.
    first = _first(pipeline)
    validated = [_meta(e)["evaluated_on"] for (_, name), e in first.items() if name != "freshness"]
    assert all("content" in now for key in validated for now in key["tables"].values())
    nightly = {"dbt/full_refresh": "true"}
    gx.refuse = True
    second = pipeline.run(small_landing[0], tags=nightly)
    assert second.success and gx.imports == 0
    kept = _evaluations(second)
    assert kept.keys() == first.keys()
    for (asset, name), evaluation in kept.items():
        if name == "freshness":  # depends on the clock: evaluated again, in SQL
            assert _meta(evaluation)["validated"] == EVERY_RUN
            continue
        assert (_meta(evaluation)["kept"], _meta(evaluation)["verdict_from_run"]) == (True, pipeline.first_run), name
        assert _verdict(evaluation) == _verdict(first[(asset, name)])
    assert pipeline.gate().passed

    # a required field emptied outside the loader: the same data version, other rows
    holiday = '(select min("Holiday_ID") from raw_hris.holiday)'
    pipeline.execute(f'update raw_hris.holiday set "Date" = null where "Holiday_ID" = {holiday}')
    assert _evaluations(pipeline.run(small_landing[0], HOLIDAY))[(HOLIDAY, "required_fields_not_null")].passed  # unseen
    gx.refuse = False
    third = pipeline.run(small_landing[0], tags=nightly)
    assert not third.success and gx.imports == 1  # one table validated, and a blocking check failed on it
    found = _evaluations(third)
    assert {_meta(e)["validated"] for (asset, _), e in found.items() if asset == HOLIDAY} == {WHOLE, EVERY_RUN}
    assert {_meta(e)["kept"] for (asset, name), e in found.items() if asset != HOLIDAY and name != "freshness"} == {
        True
    }
    failed = found[(HOLIDAY, "required_fields_not_null")]
    assert (failed.passed, failed.severity, _meta(failed)["kept"]) == (False, dg.AssetCheckSeverity.ERROR, False)

    # pipeline/rebuild: all keeps nothing
    everything = pipeline.run(small_landing[0], ACCOUNT, tags={"pipeline/rebuild": "all"})
    assert {_meta(e)["kept"] for e in _evaluations(everything).values()} == {False}


@pytest.mark.integration
def test_the_rows_fingerprint_sees_any_edit_and_no_reordering_and_can_leave_a_stamp_out(postgres_database) -> None:
    import psycopg2

    from orchestration.lib.postgres import PgConnection

    pg = PgConnection(psycopg2.connect(**postgres_database("quality_fingerprint")))
    try:
        for dialect, con in (("duckdb", duckdb.connect()), ("postgres", pg)):
            con.execute("create schema raw_x")
            con.execute("create table raw_x.t (id int, hours decimal(18, 2), note varchar)")
            con.execute("insert into raw_x.t values (1, 8.00, 'a'), (2, 7.50, null), (3, 8.00, 'a')")

            def fingerprint(con=con) -> str:
                return rows_fingerprint(con, "raw_x.t")

            before = fingerprint()
            con.execute("update raw_x.t set hours = 7.51 where id = 2")  # a cent, in place
            edited = fingerprint()
            con.execute("update raw_x.t set hours = 7.50 where id = 2")
            assert (edited != before, fingerprint() == before) == (True, True), dialect
            con.execute("delete from raw_x.t where id = 1")
            assert fingerprint() != before, dialect
            con.execute("insert into raw_x.t values (1, 8.00, 'a')")  # the same rows, in another order
            assert fingerprint() == before, dialect
            con.execute("update raw_x.t set note = null where id = 3")  # a value emptied
            assert fingerprint() != before, dialect

            # Left out: a build's stamp. Rows differing only there are the same; any other column still counts.
            con.execute("alter table raw_x.t add column built_at timestamp")
            con.execute("update raw_x.t set built_at = timestamp '2026-12-01 02:00:00'")

            def unstamped(con=con) -> str:
                return rows_fingerprint(con, "raw_x.t", without=("built_at",))

            stamped = unstamped()
            con.execute("update raw_x.t set built_at = timestamp '2026-12-02 02:00:00'")
            assert (unstamped(), fingerprint() != stamped) == (stamped, True), dialect
            con.execute("update raw_x.t set hours = 7.51 where id = 2")
            assert unstamped() != stamped, dialect
    finally:
        pg.close()
