"""The intraday build is incremental and exact: after timecard and assignment changes, the
incremental time-entry models equal a full rebuild row for row, and only the touched rows moved.

The builds of a test share one dbt target folder and the warehouse's path (the incremental result is
copied aside before the full rebuild runs in its place), so dbt re-uses its parse of the project
whenever neither the variables nor the profile changed.

Kind: integration (dbt runs on a warehouse of its own).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from demo.firm import MANIFEST
from orchestration.contract import SOURCE_OBJECTS
from orchestration.defs.ingest.loader import load_object
from tests.conftest import AS_OF
from tests.test_dbt_project import run_dbt

pytestmark = pytest.mark.integration

TABLES = {
    "int_time_entries_unpivoted": "intermediate.int_time_entries_unpivoted",
    "int_time_entries_valued": "intermediate.int_time_entries_valued",
    "fct_time_entries": "marts.fct_time_entries",  # the published copy of the unpivoted entries
}
NEWER = "2026-11-20T00:00:00.000Z"


def _load(warehouse: Path, landing: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        for obj in SOURCE_OBJECTS:
            load_object(con, obj, landing)


def _build(warehouse: Path, work: Path, *extra: str, as_of=AS_OF) -> None:
    models = ["+int_time_entries_valued", "+fct_time_entries"]
    args = ["run", "--select", *models, "--vars", json.dumps({"as_of_date": as_of.isoformat()})]
    done = run_dbt([*args, *extra], warehouse, work)
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


def _rows(warehouse: Path, table: str, bookkeeping: tuple[str, ...] = ("refreshed_at",)) -> Counter:
    """The table's rows as a multiset: a row an increment wrote twice is a difference."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return Counter(con.execute(f"select * exclude ({', '.join(bookkeeping)}) from {table}").fetchall())


def test_incremental_time_entries_equal_a_full_rebuild(small_landing, tmp_path: Path) -> None:
    source, _ = small_landing
    landing = tmp_path / "landing"
    shutil.copytree(source, landing)
    warehouse, dbt_work = tmp_path / "warehouse.duckdb", tmp_path / "dbt"
    _load(warehouse, landing)
    _build(warehouse, dbt_work)
    before = {model: _rows(warehouse, table) for model, table in TABLES.items()}

    keys = _write_changes(landing)
    _load(warehouse, landing)
    _build(warehouse, dbt_work)  # an intraday run: incremental
    incremental_result = Path(shutil.copy(warehouse, tmp_path / "incremental.duckdb"))
    _build(warehouse, dbt_work, "--full-refresh")  # what the nightly run does

    for model, table in TABLES.items():
        incremental, full = _rows(incremental_result, table), _rows(warehouse, table)
        assert incremental == full, f"{model}: {len(incremental - full)} extra, {len(full - incremental)} missing"
        assert incremental != before[model]  # the changes did reach the model
    with duckdb.connect(str(incremental_result), read_only=True) as con:
        total, touched = con.execute(
            "select count(*), count(*) filter (where refreshed_at = (select max(refreshed_at) from"
            " intermediate.int_time_entries_unpivoted)) from intermediate.int_time_entries_unpivoted"
        ).fetchall()[0]
        twin_flags = con.execute(
            "select distinct timecard_id, is_duplicate from intermediate.int_time_entries_unpivoted"
            " where timecard_id in (?, ?)",
            [keys["twin"], "a2T0000000000AAAAA"],
        ).fetchall()
        left_behind = con.execute(
            "select distinct is_duplicate from intermediate.int_time_entries_unpivoted where timecard_id = ?",
            [keys["copy_left_behind"]],
        ).fetchall()
        cards = {card for (card,) in con.execute(
            "select distinct timecard_id from intermediate.int_time_entries_unpivoted where refreshed_at ="
            " (select max(refreshed_at) from intermediate.int_time_entries_unpivoted)"
        ).fetchall()}  # fmt: skip
        gone = con.execute(
            "select count(*) from intermediate.int_time_entries_unpivoted where timecard_id = ?", [keys["deleted"]]
        )
        assert gone.fetchall() == [(0,)]
    # Only the changed cards with hours left were rebuilt, with the cards of their resource, project
    # and week, before and after the change: the twin, which the new card made a duplicate, and the
    # copy the re-dated card left behind. No other card of those resources and projects.
    changed = {keys["edited"], keys["moved"], keys["rejected"], keys["redated"], "a2T0000000000AAAAA"}
    assert cards == changed | {keys["twin"], keys["copy_left_behind"]}
    assert left_behind == [(False,)]
    assert 0 < touched < total * 0.01
    assert sorted(twin_flags) == [("a2T0000000000AAAAA", False), (keys["twin"], True)]


def test_incremental_time_entries_follow_a_later_as_of_date(small_landing, tmp_path: Path) -> None:
    """An intraday run two days later, with no new files: the demo's time approved in advance for the
    days the as-of date moved past becomes actual time and is priced, exactly as in a full rebuild."""
    landing, _ = small_landing
    (future_card,) = json.loads((landing / MANIFEST).read_text())["defects"]["approved_future_time"]
    later = AS_OF + timedelta(days=2)
    warehouse, dbt_work = tmp_path / "warehouse.duckdb", tmp_path / "dbt"
    _load(warehouse, landing)
    _build(warehouse, dbt_work)
    flags = (
        "select entry_date, is_after_as_of_date, is_actual from intermediate.int_time_entries_unpivoted"
        f" where timecard_id = '{future_card}' order by entry_date"
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        before = con.execute(flags).fetchall()
    assert before and all(day > AS_OF and after and not actual for day, after, actual in before)

    _build(warehouse, dbt_work, as_of=later)  # an intraday run on a later day
    incremental_result = Path(shutil.copy(warehouse, tmp_path / "incremental.duckdb"))
    _build(warehouse, dbt_work, "--full-refresh", as_of=later)

    # priced_as_of_date is the valued model's watermark: rows not re-priced keep the earlier date.
    bookkeeping = {
        "int_time_entries_unpivoted": ("refreshed_at",),
        "int_time_entries_valued": ("refreshed_at", "priced_as_of_date"),
        "fct_time_entries": ("refreshed_at",),
    }
    for model, table in TABLES.items():
        incremental = _rows(incremental_result, table, bookkeeping[model])
        full = _rows(warehouse, table, bookkeeping[model])
        assert incremental == full, f"{model}: {len(incremental - full)} extra, {len(full - incremental)} missing"
    with duckdb.connect(str(incremental_result), read_only=True) as con:
        after = con.execute(flags).fetchall()
        priced = con.execute(
            f"select entry_date from intermediate.int_time_entries_valued where timecard_id = '{future_card}'"
        ).fetchall()
    assert after == [(day, day > later, day <= later) for day, _, _ in before]
    assert sorted(day for (day,) in priced) == [day for day, _, _ in before if day <= later] != []
