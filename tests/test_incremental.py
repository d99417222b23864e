"""The intraday build is incremental and exact: after timecard and assignment changes, the
incremental time-entry models equal a full rebuild row for row, and only the touched rows moved.

Each test runs on DuckDB and on PostgreSQL (WAREHOUSE=postgres: the loader's PostgreSQL target and
dbt's postgres profile; skipped when no server answers). The builds of a test share one dbt target
folder and warehouse: the incremental result is read before the full rebuild runs in its place, and
dbt re-uses its parse of the project whenever neither the variables nor the profile changed.

Kind: integration (dbt runs on a warehouse of its own).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from demo.firm import MANIFEST
from orchestration.contract import SOURCE_OBJECTS
from orchestration.defs.ingest.loader import load_object
from orchestration.defs.ingest.postgres_target import ingest_session
from tests.conftest import AS_OF
from tests.helpers import pg_env, pg_query, pg_warehouse
from tests.test_dbt_project import run_dbt

pytestmark = pytest.mark.integration

TABLES = {
    "int_time_entries_unpivoted": "intermediate.int_time_entries_unpivoted",
    "int_time_entries_valued": "intermediate.int_time_entries_valued",
    "fct_time_entries": "marts.fct_time_entries",  # the published copy of the unpivoted entries
}
NEWER = "2026-11-20T00:00:00.000Z"


@dataclass(frozen=True)
class Built:
    """A warehouse the tests load and build: a DuckDB file, or a PostgreSQL database (`postgres`)."""

    path: Path  # the DuckDB file (on PostgreSQL: unused by the build, but dbt's profile names it)
    postgres: dict | None = None

    def env(self) -> dict[str, str]:
        if self.postgres is None:
            return {"WAREHOUSE": "duckdb"}
        return pg_env(self.postgres)

    def load(self, landing: Path) -> None:
        """Every landing file not loaded yet, through the loader (on PostgreSQL, its PostgreSQL target)."""
        if self.postgres is None:
            with duckdb.connect(str(self.path)) as con:
                for obj in SOURCE_OBJECTS:
                    load_object(con, obj, landing)
            return
        with ingest_session(pg_warehouse(self.postgres)) as (con, target):
            for obj in SOURCE_OBJECTS:
                load_object(con, obj, landing, target=target)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Rows of a query with `%s` parameters (DuckDB's `?` otherwise)."""
        if self.postgres is None:
            with duckdb.connect(str(self.path), read_only=True) as con:
                return con.execute(sql.replace("%s", "?"), params or []).fetchall()
        return pg_query(self.postgres, sql, params)

    def rows(self, table: str, bookkeeping: tuple[str, ...] = ("refreshed_at",)) -> Counter:
        """The table's rows as a multiset: a row an increment wrote twice is a difference."""
        schema, name = table.split(".")
        columns = [c for (c,) in self.query(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
            " order by ordinal_position",
            [schema, name],
        ) if c not in bookkeeping]  # fmt: skip
        return Counter(self.query(f"select {', '.join(columns)} from {table}"))


@pytest.fixture(params=["duckdb", "postgres"])
def built(request, tmp_path: Path) -> Iterator[Built]:
    if request.param == "duckdb":
        yield Built(tmp_path / "warehouse.duckdb")
        return
    database = request.getfixturevalue("postgres_database")  # skips when no PostgreSQL server answers
    name = request.node.originalname.split("_")[-1]  # rebuild, date: a database of the test's own
    yield Built(tmp_path / "unused.duckdb", database(f"incremental_{name}"))


def _build(warehouse: Built, work: Path, *extra: str, as_of=AS_OF) -> None:
    models = ["+int_time_entries_valued", "+fct_time_entries"]
    args = ["run", "--select", *models]  # the as-of date as the pipeline gives it: in dbt's environment
    done = run_dbt([*args, *extra], warehouse.path, work, env={**warehouse.env(), "AS_OF_DATE": as_of.isoformat()})
    assert done.returncode == 0, done.output[-3000:]


def _write_changes(landing: Path) -> dict[str, str]:
    """A later timecard batch and assignment batch touching a handful of records in every way a PSA can."""
    cards_file = landing / "psa" / "pse__Timecard_Header__c.csv"
    con = duckdb.connect()
    con.execute(f"create table cards as select * from read_csv('{cards_file}', all_varchar = true)")
    approved = [r[0] for r in con.execute(
        "select Id from cards where pse__Status__c = 'Approved' and pse__Assignment__c is not null"
        " and cast(pse__Monday_Hours__c as decimal(9, 2)) > 0 order by Id limit 7"
    ).fetchall()]  # fmt: skip
    edited, deleted, moved, zeroed, rejected, twin, repriced = approved
    days = [
        f"pse__{d}_Hours__c" for d in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    ]
    con.execute(f"update cards set SystemModstamp = '{NEWER}'")
    con.execute(
        "update cards set pse__Monday_Hours__c = cast(cast(pse__Monday_Hours__c as decimal(9, 2)) + 1 as varchar),"
        " pse__Total_Hours__c = cast(cast(pse__Total_Hours__c as decimal(9, 2)) + 1 as varchar) where Id = ?",
        [edited],
    )
    con.execute("update cards set IsDeleted = 'true' where Id = ?", [deleted])
    con.execute(
        "update cards set pse__Project__c = (select max(pse__Project__c) from cards where pse__Project__c <> "
        "(select pse__Project__c from cards where Id = $1)) where Id = $1",
        [moved],
    )
    con.execute(
        f"update cards set {', '.join(f'{d} = 0' for d in days)}, pse__Total_Hours__c = 0 where Id = ?", [zeroed]
    )
    con.execute("update cards set pse__Status__c = 'Rejected' where Id = ?", [rejected])
    # The original of one of the demo's duplicate cards moved a week later: the copy it left behind
    # is no longer a duplicate (a card of that resource, project and week found from its old rows).
    copies = json.loads((landing / MANIFEST).read_text())["defects"]["duplicate_timecard"]
    copy, original = con.execute(
        "select copy.Id, min(original.Id) from cards as copy inner join cards as original"
        " on original.pse__Resource__c = copy.pse__Resource__c and original.pse__Project__c = copy.pse__Project__c"
        " and original.pse__Start_Date__c = copy.pse__Start_Date__c and original.Id < copy.Id"
        f" and original.Id not in ({', '.join('?' * len(approved))})"
        f" where copy.Id in ({', '.join('?' * len(copies))}) group by copy.Id order by copy.Id limit 1",
        [*approved, *copies],
    ).fetchall()[0]
    con.execute(
        "update cards set pse__Start_Date__c = cast(cast(pse__Start_Date__c as date) + 7 as varchar),"
        " pse__End_Date__c = cast(cast(pse__End_Date__c as date) + 7 as varchar) where Id = ?",
        [original],
    )
    # A card identical to an existing one but with a lower Id: the existing card becomes the duplicate.
    con.execute("insert into cards select * replace ('a2T0000000000AAAAA' as Id) from cards where Id = ?", [twin])
    con.execute(
        f"copy (select * from cards where Id in (?, ?, ?, ?, ?, ?, 'a2T0000000000AAAAA')) to "
        f"'{landing / 'psa' / 'pse__Timecard_Header__c.2026-11-20.csv'}' (header, quote '\"')",
        [edited, deleted, moved, zeroed, rejected, original],
    )
    assignments_file = landing / "psa" / "pse__Assignment__c.csv"
    con.execute(f"create table assignments as select * from read_csv('{assignments_file}', all_varchar = true)")
    assignment = con.execute("select pse__Assignment__c from cards where Id = ?", [repriced]).fetchall()[0][0]
    con.execute(
        f"copy (select * replace (cast(cast(pse__Bill_Rate__c as decimal(18, 2)) + 10 as varchar) as pse__Bill_Rate__c,"
        f" '{NEWER}' as SystemModstamp) from assignments where Id = ?) to "
        f"'{landing / 'psa' / 'pse__Assignment__c.2026-11-20.csv'}' (header)",
        [assignment],
    )
    con.close()
    return {
        "twin": twin,
        "deleted": deleted,
        "edited": edited,
        "moved": moved,
        "rejected": rejected,
        "redated": original,
        "copy_left_behind": copy,
        "repriced_assignment": assignment,
    }


def test_incremental_time_entries_equal_a_full_rebuild(built: Built, small_landing, tmp_path: Path) -> None:
    source, _ = small_landing
    landing = tmp_path / "landing"
    shutil.copytree(source, landing)
    dbt_work = tmp_path / "dbt"
    built.load(landing)
    _build(built, dbt_work)
    before = {model: built.rows(table) for model, table in TABLES.items()}

    keys = _write_changes(landing)
    built.load(landing)
    _build(built, dbt_work)  # an intraday run: incremental
    incremental = {model: built.rows(table) for model, table in TABLES.items()}
    unpivoted = "intermediate.int_time_entries_unpivoted"
    latest = f"(select max(refreshed_at) from {unpivoted})"
    ((total, touched),) = built.query(
        f"select count(*), count(case when refreshed_at = {latest} then 1 end) from {unpivoted}"
    )
    twin_flags = built.query(
        f"select distinct timecard_id, is_duplicate from {unpivoted} where timecard_id in (%s, %s)",
        [keys["twin"], "a2T0000000000AAAAA"],
    )
    left_behind = built.query(
        f"select distinct is_duplicate from {unpivoted} where timecard_id = %s", [keys["copy_left_behind"]]
    )
    cards = {
        card for (card,) in built.query(f"select distinct timecard_id from {unpivoted} where refreshed_at = {latest}")
    }
    gone = built.query(f"select count(*) from {unpivoted} where timecard_id = %s", [keys["deleted"]])
    _build(built, dbt_work, "--full-refresh")  # what the nightly run does

    for model, table in TABLES.items():
        full = built.rows(table)
        assert incremental[model] == full, (
            f"{model}: {len(incremental[model] - full)} extra, {len(full - incremental[model])} missing"
        )
        assert incremental[model] != before[model]  # the changes did reach the model
    assert gone == [(0,)]
    # Only the changed cards with hours left were rebuilt, with the cards of their resource, project
    # and week, before and after the change: the twin, which the new card made a duplicate, and the
    # copy the re-dated card left behind. No other card of those resources and projects.
    changed = {keys["edited"], keys["moved"], keys["rejected"], keys["redated"], "a2T0000000000AAAAA"}
    assert cards == changed | {keys["twin"], keys["copy_left_behind"]}
    assert left_behind == [(False,)]
    assert 0 < touched < total * 0.01
    assert sorted(twin_flags) == [("a2T0000000000AAAAA", False), (keys["twin"], True)]


def test_incremental_time_entries_follow_a_later_as_of_date(built: Built, small_landing, tmp_path: Path) -> None:
    """An intraday run two days later, with no new files: the demo's time approved in advance for the
    days the as-of date moved past becomes actual time and is priced, exactly as in a full rebuild."""
    landing, _ = small_landing
    (future_card,) = json.loads((landing / MANIFEST).read_text())["defects"]["approved_future_time"]
    later = AS_OF + timedelta(days=2)
    dbt_work = tmp_path / "dbt"
    built.load(landing)
    _build(built, dbt_work)
    flags = (
        "select entry_date, is_after_as_of_date, is_actual from intermediate.int_time_entries_unpivoted"
        f" where timecard_id = '{future_card}' order by entry_date"
    )
    before = built.query(flags)
    assert before and all(day > AS_OF and after and not actual for day, after, actual in before)

    _build(built, dbt_work, as_of=later)  # an intraday run on a later day
    # priced_as_of_date is the valued model's watermark: rows not re-priced keep the earlier date.
    bookkeeping = {
        "int_time_entries_unpivoted": ("refreshed_at",),
        "int_time_entries_valued": ("refreshed_at", "priced_as_of_date"),
        "fct_time_entries": ("refreshed_at",),
    }
    incremental = {model: built.rows(table, bookkeeping[model]) for model, table in TABLES.items()}
    after = built.query(flags)
    priced = built.query(
        f"select entry_date from intermediate.int_time_entries_valued where timecard_id = '{future_card}'"
    )
    _build(built, dbt_work, "--full-refresh", as_of=later)

    for model, table in TABLES.items():
        full = built.rows(table, bookkeeping[model])
        assert incremental[model] == full, (
            f"{model}: {len(incremental[model] - full)} extra, {len(full - incremental[model])} missing"
        )
    assert after == [(day, day > later, day <= later) for day, _, _ in before]
    assert sorted(day for (day,) in priced) == [day for day, _, _ in before if day <= later] != []
