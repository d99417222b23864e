"""Raw-layer quality checks: the demo's defects are reported as WARN, a broken table fails ERROR and blocks.

Kind: integration (Great Expectations on demo warehouses), except the wiring tests: unit.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo.firm import MANIFEST, generate
from orchestration.contract import SOURCE_OBJECTS, get
from orchestration.defs.ingest.files import FILES_CHECK, QUARANTINE_CHECK, STAMPS_CHECK, LandingConfig
from orchestration.defs.ingest.loader import load_object
from orchestration.defs.quality.docs import README, generated_block, render
from orchestration.defs.quality.gx_runner import CheckOutcome, run_suite, run_suites
from orchestration.defs.quality.suites import Severity, all_suites, suite_for
from orchestration.lib.warehouse import DuckDBWarehouse, warehouse_resource
from tests.conftest import AS_OF, SEED

# One worker per warehouse (pytest-xdist --dist loadgroup), so each module fixture is built once.
DEMO_GROUP = pytest.mark.xdist_group("quality_demo")
CLEAN_GROUP = pytest.mark.xdist_group("quality_clean")

REPO_ROOT = Path(__file__).resolve().parents[1]
TIMECARDS = dg.AssetKey(["raw_psa", "timecard_header"])
# Each injected defect (demo/firm/defects.py) and the WARN check that reports it.
DEFECT_CHECKS = {
    "duplicate_timecard": (TIMECARDS, "one_timecard_per_resource_project_week"),
    "negative_hours": (TIMECARDS, "daily_hours_not_negative"),
    "hours_over_24": (TIMECARDS, "daily_hours_at_most_24"),
    "unknown_project": (TIMECARDS, "pse__Project__c_references_project"),
    "missing_fx_rate": (dg.AssetKey(["raw_erp", "consolidated_exchange_rate"]), "rate_for_every_month"),
    "probability_over_100": (dg.AssetKey(["raw_crm", "opportunity"]), "Probability_between_0_and_100"),
}


def _quality_defs(*extra: dg.Definitions) -> dg.Definitions:
    from orchestration.defs import ingest, quality

    return dg.Definitions.merge(ingest.build_definitions("files"), quality.defs, *extra)


def _resources(defs: dg.Definitions, warehouse: Path, landing: Path) -> dict:
    return {
        **defs.resources,
        "warehouse": DuckDBWarehouse(database=str(warehouse), memory_limit="1GB"),
        "landing": LandingConfig(landing_dir=str(landing), settle_seconds=0),  # files written just before
    }


def _load(landing: Path, warehouse: Path) -> Path:
    with duckdb.connect(str(warehouse)) as con:
        for obj in SOURCE_OBJECTS:
            load_object(con, obj, landing)
    return warehouse


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    """The small demo firm with its injected defects, and the defect keys from its manifest."""
    landing = tmp_path_factory.mktemp("quality_landing")
    generate(landing, scale="small", seed=SEED, as_of=AS_OF)
    return landing, json.loads((landing / MANIFEST).read_text())["defects"]


@pytest.fixture(scope="module")
def demo_run(demo, tmp_path_factory) -> dg.ExecuteInProcessResult:
    """Every raw asset and its checks, materialized in one Dagster run into a fresh warehouse."""
    landing, _ = demo
    defs = _quality_defs()
    warehouse = tmp_path_factory.mktemp("quality_wh") / "warehouse.duckdb"
    return dg.materialize(
        [*defs.assets, *defs.asset_checks], resources=_resources(defs, warehouse, landing), raise_on_error=False
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, Path]:
    """The small demo without defects, loaded with the loader: (landing, warehouse)."""
    landing = tmp_path_factory.mktemp("clean_landing")
    generate(landing, scale="small", seed=SEED, as_of=AS_OF, defects=False)
    return landing, _load(landing, tmp_path_factory.mktemp("clean_wh") / "warehouse.duckdb")


def _copy(warehouse: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(warehouse, tmp_path / "warehouse.duckdb"))


def _execute(warehouse: Path, sql: str) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(sql)


def _by_name(outcomes: list[CheckOutcome]) -> dict[str, CheckOutcome]:
    return {o.name: o for o in outcomes}


def _evaluations(result: dg.ExecuteInProcessResult) -> dict[tuple[dg.AssetKey, str], dg.AssetCheckEvaluation]:
    """The GX suites' evaluations (the ingest assets' own checks are tested in test_pipeline)."""
    own = (QUARANTINE_CHECK, FILES_CHECK, STAMPS_CHECK)
    return {(e.asset_key, e.check_name): e for e in result.get_asset_check_evaluations() if e.check_name not in own}


# --- wiring -------------------------------------------------------------------------------------


@pytest.mark.unit
def test_loading_the_definitions_does_not_import_great_expectations() -> None:
    code = (
        "import sys\n"
        "import orchestration.definitions, orchestration.defs.quality, orchestration.defs.quality.gx_runner\n"
        "assert 'great_expectations' not in sys.modules, 'great_expectations imported at definition load'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.unit
def test_a_gx_validation_leaves_scipy_statistics_unloaded_until_something_uses_them(tmp_path) -> None:
    """GX imports scipy.stats for expectations no suite declares: the runner defers it (0.8 s a validating step)."""
    code = f"""
import sys, duckdb
from orchestration.defs.quality import gx_runner
from orchestration.contract import get
from orchestration.defs.quality.suites import suite_for
con = duckdb.connect({str(tmp_path / "w.duckdb")!r})
con.execute("create schema raw_erp")
con.execute("create table raw_erp.currency (id integer, symbol varchar, name varchar)")
con.execute("insert into raw_erp.currency values (1, 'EUR', 'Euro'), (1, 'USD', 'US Dollar')")
con.close()
outcomes = {{o.name: o for o in gx_runner.run_suite({str(tmp_path / "w.duckdb")!r}, suite_for(get("erp", "currency")))}}
print("key check passed:", outcomes["primary_key_unique_not_null"].passed)
print("scipy.stats executed after GX:", "scipy.stats._stats_py" in sys.modules)
from scipy import stats
print("entropy:", round(float(stats.entropy([0.5, 0.5])), 4))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "key check passed: False",  # GX ran the suite: the repeated Id fails the key check
        "scipy.stats executed after GX: False",
        "entropy: 0.6931",  # and SciPy loads when something uses it
    ]


@pytest.mark.unit
def test_every_raw_asset_carries_its_suite_with_error_checks_blocking() -> None:
    defs = _quality_defs(dg.Definitions(resources={"warehouse": warehouse_resource()}))
    defs.validate_loadable(defs)
    specs = {(s.key.asset_key, s.key.name): s for c in defs.asset_checks for s in c.check_specs}
    for suite in all_suites():
        key = dg.AssetKey([suite.schema, suite.table])
        for check in suite.checks:
            spec = specs.pop((key, check.name))
            assert spec.blocking is (check.severity is Severity.ERROR), (key, check.name)
    assert specs == {}
    planning_key = suite_for(get("planning", "target")).checks[2]
    assert planning_key.name == "primary_key_unique_not_null"
    assert planning_key.expectations[-1].columns == ("Version", "Legal Entity", "Practice", "Month")


@pytest.mark.unit
def test_readme_documents_every_check() -> None:
    assert generated_block(README.read_text()) == render(), (
        "regenerate with: python -m orchestration.defs.quality.docs --write"
    )


# --- the demo: injected defects are WARN, the tables themselves are sound ---------------------------


@DEMO_GROUP
def test_demo_run_succeeds_with_every_check_evaluated_and_error_checks_passing(demo_run) -> None:
    assert demo_run.success
    evaluations = _evaluations(demo_run)
    assert len(evaluations) == sum(len(s.checks) for s in all_suites())
    errors = {k: e for k, e in evaluations.items() if e.severity == dg.AssetCheckSeverity.ERROR}
    assert errors and all(e.passed for e in errors.values()), [k for k, e in errors.items() if not e.passed]


@DEMO_GROUP
def test_warn_checks_report_exactly_the_injected_defects(demo_run, demo) -> None:
    _, defects = demo
    evaluations = _evaluations(demo_run)
    failing = {k for k, e in evaluations.items() if not e.passed}
    assert failing == set(DEFECT_CHECKS.values())
    for defect, key in DEFECT_CHECKS.items():
        evaluation = evaluations[key]
        meta = {name: value.value for name, value in evaluation.metadata.items()}
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
        assert "error" not in meta, meta
        expected = len(defects[defect]) * (2 if defect == "duplicate_timecard" else 1)  # original and copy
        assert meta["unexpected_count"] == expected >= 1, (defect, meta)
        for record in defects[defect]:
            wanted = _sample_text(record)
            assert any(wanted in line for line in meta["failing_sample"]), (defect, wanted, meta["failing_sample"])


def _sample_text(record: str) -> str:
    """The manifest writes FX keys as floats (`postingperiod=104.0 fromcurrency=2.0`); samples as integers."""
    return re.sub(r"=(\d+)\.0\b", r"=\1", record)


@CLEAN_GROUP
def test_clean_demo_passes_every_check_and_writes_no_files(clean, tmp_path, monkeypatch) -> None:
    _, warehouse = clean
    monkeypatch.chdir(tmp_path)
    outcomes = run_suites(str(warehouse), all_suites())
    failing = {
        (rel, o.name): (o.observed, o.sample) for rel, results in outcomes.items() for o in results if not o.passed
    }
    assert failing == {}
    assert sum(len(r) for r in outcomes.values()) == sum(len(s.checks) for s in all_suites())
    assert list(tmp_path.iterdir()) == []  # ephemeral GX context: no gx/ folder, no data docs


# --- a broken table: ERROR -------------------------------------------------------------------------

CORRUPTIONS = {
    "duplicate_primary_key": (
        "psa.timecard_header",
        """insert into raw_psa.timecard_header select * from raw_psa.timecard_header order by "Id" limit 1""",
        "primary_key_unique_not_null",
    ),
    "empty_composite_key": (
        "planning.target",
        """update raw_planning.target set "Month" = null where "Version" = (select min("Version") from
           raw_planning.target) and "Month" = (select min("Month") from raw_planning.target)""",
        "primary_key_unique_not_null",
    ),
    "wrong_column_type": (
        "crm.opportunity",
        """alter table raw_crm.opportunity alter "Probability" type decimal(18, 2)""",
        "column_types_match_contract",
    ),
    "columns_off_the_contract": (
        "hris.holiday",
        "alter table raw_hris.holiday add column extra integer; "
        'alter table raw_hris.holiday drop column "Holiday_Name"',
        "columns_match_contract",
    ),
    "empty_required_field": (
        "erp.transaction_line",
        "update raw_erp.transaction_line set transaction = null where uniquekey = (select min(uniquekey) "
        "from raw_erp.transaction_line)",
        "required_fields_not_null",
    ),
}


@CLEAN_GROUP
@pytest.mark.parametrize("corruption", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_a_broken_table_fails_its_error_check(clean, tmp_path, corruption) -> None:
    table, sql, check = corruption
    warehouse = _copy(clean[1], tmp_path)
    _execute(warehouse, sql)
    outcomes = _by_name(run_suite(str(warehouse), suite_for(get(*table.split(".")))))
    failed = {name for name, o in outcomes.items() if not o.passed and o.severity is Severity.ERROR}
    assert failed == {check}
    assert outcomes[check].unexpected_count >= 1 and outcomes[check].sample, outcomes[check]


@CLEAN_GROUP
def test_duplicate_primary_key_is_sampled_by_its_id(clean, tmp_path) -> None:
    warehouse = _copy(clean[1], tmp_path)
    _execute(warehouse, CORRUPTIONS["duplicate_primary_key"][1])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        duplicated, rows = con.execute('select min("Id"), count(*) from raw_psa.timecard_header').fetchall()[0]
    outcome = _by_name(run_suite(str(warehouse), suite_for(get("psa", "timecard_header"))))[
        "primary_key_unique_not_null"
    ]
    assert (outcome.passed, outcome.severity, outcome.unexpected_count) == (False, Severity.ERROR, 2)
    assert outcome.sample == (duplicated,)
    assert outcome.observed == f"Id: 2 of {rows} rows"


@CLEAN_GROUP
def test_a_failing_error_check_blocks_downstream_assets(clean, tmp_path) -> None:
    landing, clean_warehouse = clean
    warehouse = _copy(clean_warehouse, tmp_path)
    _execute(warehouse, CORRUPTIONS["duplicate_primary_key"][1])

    @dg.asset(deps=[TIMECARDS])
    def reads_timecards() -> None:
        """Stands for the dbt staging model that reads the raw table."""

    defs = _quality_defs(dg.Definitions(assets=[reads_timecards]))
    checks = [c for c in defs.asset_checks if TIMECARDS in {k.asset_key for k in c.check_keys}]
    result = dg.materialize(
        [*defs.assets, *checks],
        resources=_resources(defs, warehouse, landing),
        selection=dg.AssetSelection.assets(TIMECARDS, reads_timecards.key),
        raise_on_error=False,
    )
    assert not result.success
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [TIMECARDS]
    key_check = _evaluations(result)[(TIMECARDS, "primary_key_unique_not_null")]
    assert (key_check.passed, key_check.severity) == (False, dg.AssetCheckSeverity.ERROR)


# --- freshness: WARN, configurable -----------------------------------------------------------------


@CLEAN_GROUP
def test_freshness_warns_past_the_window_and_the_window_is_configurable(clean, tmp_path) -> None:
    warehouse = _copy(clean[1], tmp_path)
    _execute(warehouse, "update raw_hris.holiday set _loaded_at = _loaded_at - interval 72 hours")
    holiday = get("hris", "holiday")
    stale = _by_name(run_suite(str(warehouse), suite_for(holiday).only({"freshness"})))["freshness"]
    assert (stale.passed, stale.severity) == (False, Severity.WARN)
    assert re.search(r"age_hours=7\d\.\d", stale.sample[0]), stale.sample
    fresh = run_suite(str(warehouse), suite_for(holiday, freshness_hours=96).only({"freshness"}))
    assert [o.passed for o in fresh] == [True]
