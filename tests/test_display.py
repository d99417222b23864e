"""How figures read in the UI: amounts, changes, typed preview tables, chart axes.

Kind: unit (fast; `make test-fast`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from orchestration.defs.transform.insights import axis_label, preview_table
from orchestration.lib import display

pytestmark = pytest.mark.unit


def test_amounts_have_thousands_separators_and_cents() -> None:
    assert display.money(Decimal("1234567.8")) == "1,234,567.80"
    assert display.money(Decimal("-0.5")) == "-0.50"
    assert display.money(None) == ""


def test_a_change_against_the_last_sync_reads_as_signed_amount_and_share() -> None:
    # 110.00 - 100.00 = +10.00, 10 / 100 = +10.0%; 90 - 100 = -10.00 (-10.0%)
    assert display.change(Decimal("110.00"), Decimal("100.00")) == "+10.00 (+10.0%)"
    assert display.change(Decimal("90.00"), Decimal("100.00")) == "-10.00 (-10.0%)"
    assert display.change(Decimal("5.00"), None) == "new"
    assert display.change(Decimal("5.00"), Decimal("0")) == "+5.00"


def test_chart_axes_say_millions_not_1e6() -> None:
    assert axis_label(1_500_000.0) == "1.5M"
    assert axis_label(250_000.0) == "250k"
    assert axis_label(2_000_000_000.0) == "2bn"
    assert axis_label(12.0) == "12"
    assert axis_label(0.0) == "0"


def test_a_preview_is_typed_sorted_and_formatted() -> None:
    con = duckdb.connect()
    con.execute("create table t (entity varchar, month date, revenue decimal(18, 2), hours decimal(9, 2), n integer)")
    con.execute(
        "insert into t values ('B', '2026-02-01', 1234567.50, 1500.25, 3), ('A', '2026-01-01', 10.00, 2.50, 1234)"
    )
    preview = preview_table(con, "t")
    assert [(c.name, c.type) for c in preview.schema.columns] == [
        ("entity", "text"),
        ("month", "date"),
        ("revenue", "money"),
        ("hours", "number"),
        ("n", "number"),
    ]
    assert [r.data for r in preview.records] == [
        {"entity": "A", "month": dt.date(2026, 1, 1).isoformat(), "revenue": "10.00", "hours": "2.50", "n": 1234},
        {"entity": "B", "month": "2026-02-01", "revenue": "1,234,567.50", "hours": "1,500.25", "n": 3},
    ]


def test_dbt_outputs_lose_the_noise_and_state_their_build_time_in_seconds() -> None:
    import dagster as dg

    from orchestration.defs.transform.assets import without_noise

    output = dg.Output(
        None,
        "marts__fct_x",
        metadata={
            "unique_id": "model.p.fct_x",
            "invocation_id": "abc",
            "status": "success",
            "Execution Duration": 0.242474,
        },
    )
    cleaned = without_noise(output)
    assert {key: value.value for key, value in cleaned.metadata.items()} == {"dbt_build_seconds": 0.24}
    assert cleaned.output_name == "marts__fct_x"


def test_a_chart_stacks_positive_values_up_and_negative_ones_down_from_zero() -> None:
    from xml.etree import ElementTree

    from orchestration.defs.transform.insights import Chart, chart_svg, nice_ticks

    # Ticks every 5 from -5 to 20: the values' range, zero included, in round steps.
    assert nice_ticks(-5.0, 20.0) == [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0]
    assert nice_ticks(0.0, 1_234_567.0) == [0.0, 250_000.0, 500_000.0, 750_000.0, 1_000_000.0, 1_250_000.0]
    rows = [("A", "revenue", Decimal("10")), ("A", "margin", Decimal("-5")), ("B", "revenue", Decimal("20"))]
    svg = ElementTree.fromstring(chart_svg(rows, Chart("Revenue & margin", "", "USD")))
    ns = "{http://www.w3.org/2000/svg}"
    bars = [r for r in svg.iter(f"{ns}rect") if r.get("fill") != "#ffffff" and float(r.get("width")) > 12]
    zero = next(float(line.get("y1")) for line in svg.iter(f"{ns}line") if line.get("stroke") == "#333333")
    [(a_up, a_up_h), (a_down, a_down_h), (b_up, b_up_h)] = [(float(r.get("y")), float(r.get("height"))) for r in bars]
    assert a_up + a_up_h == pytest.approx(zero) == b_up + b_up_h  # up from zero
    assert a_down == pytest.approx(zero)  # and down from zero
    assert (a_up_h / a_down_h, b_up_h / a_up_h) == (pytest.approx(2.0), pytest.approx(2.0))  # 10 : 5, 20 : 10
    texts = [t.text for t in svg.iter(f"{ns}text")]
    assert texts[0] == "Revenue & margin"  # escaped in the markup, whole in the text
    assert {"A", "B", "revenue", "margin", "-5", "20", "USD"} <= set(texts)
