"""Large changes: the sync stops with a preview, and sends it only once an operator approves exactly that diff.

Kind: demo (on the shared demo build, in the `demo_sequence` group: each test shifts the sync model
by more than the guard allows, then puts it back and syncs again, so the next test finds the
planning tool and the sync state as the demo left them).
"""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from tests.helpers import query
from tests.test_reverse_sync import SYNC, _blocked_by, _cells, _desired, _last_run, _sync

pytestmark = [pytest.mark.demo, pytest.mark.xdist_group("demo_sequence")]

MODEL = "sync.sync_planning__forecast_inputs"


def _shift_all(warehouse, amount: str) -> int:
    """Every row of the model up by `amount`: a change of 100% of the synced rows, above the 50% guard."""
    with duckdb.connect(str(warehouse)) as con:
        return con.execute(f"update {MODEL} set value = value + {amount}").fetchall()[0][0]


def _preview_of(result) -> dg.AssetCheckEvaluation:
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "change_within_guard"]
    return check


def _decisions(warehouse, preview_id: str) -> list[tuple]:
    return query(
        warehouse,
        "select decision from reverse_sync.sync_preview_decisions where preview_id = ? order by decided_at",
        [preview_id],
    )


@pytest.fixture
def shifted(demo_build, demo_instance, planning_server):
    """The model shifted by 1.00 on every row; afterwards put back and synced, so the target matches again."""
    warehouse = demo_build[0]
    changed = _shift_all(warehouse, "1.00")
    yield warehouse, changed
    _shift_all(warehouse, "-1.00")
    restored = _sync(warehouse, demo_instance, max_change_share=1.0)  # putting it back is a 100% change too
    assert restored.success, _blocked_by(restored)
    assert _cells(planning_server[1]) == _desired(warehouse)


def test_a_large_change_stops_with_a_preview_and_an_approval_sends_exactly_it(
    shifted, demo_instance, planning_server
) -> None:
    warehouse, changed = shifted
    before = _cells(planning_server[1])
    stopped = _sync(warehouse, demo_instance)
    assert not stopped.success
    preview = _preview_of(stopped)
    preview_id = preview.metadata["preview_id"].value
    assert preview_id == stopped.run_id and not preview.passed
    assert preview.description.startswith(
        f"Awaiting approval: {changed} changed rows are 100% of the {changed} synced rows, above max_change_share 50%."
    )
    assert _blocked_by(stopped).startswith("Awaiting approval:")
    assert _cells(planning_server[1]) == before  # nothing sent
    assert _last_run(warehouse)[0] == "awaiting_approval"
    # The preview holds the exact rows it would send, old and new values: every row one dollar up.
    rows = query(
        warehouse,
        "select count(*), min(change_type), max(change_type), min(new_value - old_value), max(new_value - old_value)"
        " from reverse_sync.sync_previews where preview_id = ?",
        [preview_id],
    )
    assert rows == [(changed, "update", "update", Decimal("1.00"), Decimal("1.00"))]
    table = preview.metadata["preview"].value  # shown on the asset: typed, old and new values
    assert [c.name for c in table.schema.columns][-3:] == ["old", "new", "difference"]
    assert {r.data["difference"] for r in table.records} == {"1.00"}

    approved = _sync(warehouse, demo_instance, approve_preview=preview_id)
    assert approved.success, _blocked_by(approved)
    assert _last_run(warehouse)[:3] == ("success", 0, changed)
    assert _cells(planning_server[1]) == _desired(warehouse)
    assert _decisions(warehouse, preview_id) == [("sent",)]
    [materialization] = [e for e in approved.get_asset_materialization_events() if e.asset_key == SYNC]
    assert materialization.step_materialization_data.materialization.metadata["approved_preview"].value == preview_id


def test_approving_a_preview_twice_sends_nothing_the_second_time(shifted, demo_instance, planning_server) -> None:
    warehouse = shifted[0]
    preview_id = _preview_of(_sync(warehouse, demo_instance)).metadata["preview_id"].value
    assert _sync(warehouse, demo_instance, approve_preview=preview_id).success
    sent = _cells(planning_server[1])
    again = _sync(warehouse, demo_instance, approve_preview=preview_id)
    assert not again.success
    [(sender,)] = query(
        warehouse, "select run_id from reverse_sync.sync_preview_decisions where preview_id = ?", [preview_id]
    )
    assert _blocked_by(again) == f"Not sent: preview {preview_id} was already sent (run {sender})."
    assert _cells(planning_server[1]) == sent
    assert _last_run(warehouse)[0] == "refused"


def test_a_rejected_preview_is_never_sent(shifted, demo_instance, planning_server) -> None:
    warehouse = shifted[0]
    before = _cells(planning_server[1])
    preview_id = _preview_of(_sync(warehouse, demo_instance)).metadata["preview_id"].value
    rejected = _sync(warehouse, demo_instance, reject_preview=preview_id)
    assert not rejected.success
    assert _blocked_by(rejected).startswith(f"Rejected preview {preview_id}: nothing sent.")
    assert _decisions(warehouse, preview_id) == [("rejected",)]
    assert _last_run(warehouse)[0] == "rejected"
    late = _sync(warehouse, demo_instance, approve_preview=preview_id)  # approving it afterwards
    assert not late.success
    assert _blocked_by(late).startswith(f"Not sent: preview {preview_id} was already rejected (run ")
    assert _cells(planning_server[1]) == before
    again = _sync(warehouse, demo_instance)  # the change still stands: a new preview, not the rejected one
    assert _preview_of(again).metadata["preview_id"].value == again.run_id != preview_id


def test_an_approval_of_data_that_changed_since_is_stale_and_makes_a_new_preview(
    shifted, demo_instance, planning_server
) -> None:
    warehouse, changed = shifted
    before = _cells(planning_server[1])
    old_id = _preview_of(_sync(warehouse, demo_instance)).metadata["preview_id"].value
    with duckdb.connect(str(warehouse)) as con:  # the data moves on after the preview was made
        con.execute(f"update {MODEL} set value = value + 0.50 where practice = 'Strategy'")
    try:
        stale = _sync(warehouse, demo_instance, approve_preview=old_id)
        assert not stale.success
        message = _blocked_by(stale)
        assert message.startswith(
            f"Not sent: preview {old_id} is stale, the rows to send changed since it was made. "
            f"Review the new preview {stale.run_id} ({changed} rows) and approve that one."
        )
        assert _cells(planning_server[1]) == before
        assert _decisions(warehouse, old_id) == [("stale",)]
        fresh = _sync(warehouse, demo_instance, approve_preview=stale.run_id)
        assert fresh.success, _blocked_by(fresh)
        assert _cells(planning_server[1]) == _desired(warehouse)
    finally:
        with duckdb.connect(str(warehouse)) as con:
            con.execute(f"update {MODEL} set value = value - 0.50 where practice = 'Strategy'")
