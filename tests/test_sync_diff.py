"""The sync diff on a hand-made model and state: what is created, updated, deleted, or held back.

Kind: unit (fast; `make test-fast`).
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from orchestration.defs.reverse_sync.state import SyncSpec, SyncTarget, compute_diff, ensure_tables, import_csv

pytestmark = pytest.mark.unit

SPEC = SyncSpec(
    name="t",
    model="m",
    key_columns={"Entity": "entity", "Month": "month"},
    value_column=("Value", "value"),
    audit_column="Audit Run Id",
)
TARGET = SyncTarget("http://127.0.0.1:1", "ws", "model", "import")


def test_diff_sends_changes_and_never_clears_a_cell_it_cannot_value(tmp_path) -> None:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute(
            "create table m as select * from (values ('US', 'Jan 27', 10.00), ('US', 'Feb 27', 25.50),"
            " ('UK', 'Jan 27', null), ('DE', 'Jan 27', 7.00)) as t(entity, month, value)"
        )
        ensure_tables(con)
        con.execute(
            "insert into reverse_sync.sync_state select *, ? from (values"
            " ('t', 'US|Jan 27', '{\"Entity\":\"US\",\"Month\":\"Jan 27\"}', 10.00, 'r0', now()),"
            " ('t', 'US|Feb 27', '{\"Entity\":\"US\",\"Month\":\"Feb 27\"}', 20.00, 'r0', now()),"
            " ('t', 'UK|Jan 27', '{\"Entity\":\"UK\",\"Month\":\"Jan 27\"}', 5.00, 'r0', now()),"
            " ('t', 'FR|Jan 27', '{\"Entity\":\"FR\",\"Month\":\"Jan 27\"}', 3.00, 'r0', now()))",
            [TARGET.key],
        )
        diff = compute_diff(con, SPEC, TARGET)
    assert [r["record_key"] for r in diff.creates] == ["DE|Jan 27"]
    assert [(r["record_key"], r["old_value"], r["value"]) for r in diff.updates] == [
        ("US|Feb 27", Decimal("20.00"), Decimal("25.50"))
    ]
    assert [r["record_key"] for r in diff.deletes] == ["FR|Jan 27"]  # UK has no value: held back, not cleared
    assert [r["record_key"] for r in diff.invalid] == ["UK|Jan 27"]
    assert import_csv(SPEC, diff, "run-1").decode().splitlines() == [
        "Entity,Month,Value,Audit Run Id",
        "DE,Jan 27,7.00,run-1",
        "US,Feb 27,25.50,run-1",
        "FR,Jan 27,,run-1",
    ]
