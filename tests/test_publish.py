"""Readers: the marts published to a separate file after the gate, charts and previews in the UI.

Kind: demo (on the shared demo build); the tests about what readers see after a second run share
its worker (xdist group `demo_sequence`).
"""

from __future__ import annotations

import base64
import datetime as dt
from xml.etree import ElementTree

import duckdb
import pytest

from orchestration.defs.transform.insights import CHARTS
from tests.helpers import failures, materialization_metadata, query

SECOND_RUN = pytest.mark.xdist_group("demo_sequence")  # with the demo's second run, on one worker


@SECOND_RUN
def test_a_reader_connected_during_a_full_run_never_blocks_it(demo_build, demo_rerun) -> None:
    """The second run (nothing new) publishes nothing: readers keep the first run's snapshot.

    That a connection open across a publish keeps its snapshot while the next one sees the new:
    tests/test_publish_changes.py.
    """
    warehouse, _, first = demo_build
    second = demo_rerun.second
    assert second.success, failures(second)
    assert "reader/marts" not in materialization_metadata(second)
    assert demo_rerun.reader_seen == {"before": first.run_id, "same_connection_after": first.run_id}
    with duckdb.connect(str(warehouse.with_name("reader.duckdb")), read_only=True) as reader:
        assert reader.execute("select run_id from published").fetchall() == [(first.run_id,)]
        schemas = {
            r[0] for r in reader.execute("select distinct table_schema from information_schema.tables").fetchall()
        }
        margin = reader.execute("select sum(margin_reporting) from marts.fct_project_margin").fetchall()
    assert schemas == {"main", "marts"}  # never restricted (cost rates), raw or staging
    assert margin == query(warehouse, "select sum(margin_reporting) from marts.fct_project_margin")


@SECOND_RUN
def test_publish_metadata_counts_every_published_table(demo_build, demo_rerun) -> None:
    """The UI's figures for the last publish are the rows of each mart as readers and the warehouse hold them."""
    warehouse, first = demo_build[0], demo_build[2]  # the second run published nothing: the first's stands
    meta = materialization_metadata(first)["reader/marts"]
    tables = (
        "select table_name from information_schema.tables where table_schema = 'marts' and table_type = 'BASE TABLE'"
    )
    with duckdb.connect(str(warehouse.with_name("reader.duckdb")), read_only=True) as reader:
        assert reader.execute("select run_id from published").fetchall() == [(first.run_id,)]
        for_readers = {
            f"marts.{name}": reader.execute(f"select count(*) from marts.{name}").fetchall()[0][0]
            for (name,) in reader.execute(tables).fetchall()
        }
    in_warehouse = {
        f"marts.{name}": query(warehouse, f"select count(*) from marts.{name}")[0][0]
        for (name,) in query(warehouse, tables)
    }
    assert len(in_warehouse) >= 10 and sum(in_warehouse.values()) > 0
    assert meta["rows_by_table"] == for_readers == in_warehouse  # every mart, each with its row count
    assert (meta["tables"], meta["dagster/row_count"]) == (len(in_warehouse), sum(in_warehouse.values()))
    # The first publish copied every mart, there being no snapshot to carry any over from.
    assert meta["copied"] == dict.fromkeys(in_warehouse, "readers have no snapshot yet")
    assert meta["carried_over"] == {}


def test_marts_carry_row_count_preview_and_chart(demo_build) -> None:
    warehouse, _, first = demo_build
    metadata = materialization_metadata(first)
    forecast = metadata["marts/fct_revenue_forecast"]
    assert forecast["dagster/row_count"] == query(warehouse, "select count(*) from marts.fct_revenue_forecast")[0][0]
    preview = forecast["preview"]  # a typed table, sorted by its leading columns, amounts formatted
    columns = {c.name: c.type for c in preview.schema.columns}
    assert list(columns)[:3] == ["legal_entity_code", "practice", "month_start_date"]
    assert (columns["total_forecast_revenue"], columns["month_start_date"]) == ("money", "date")
    keys = [(r.data["legal_entity_code"], r.data["practice"], r.data["month_start_date"]) for r in preview.records]
    assert len(keys) == 10 and keys == sorted(keys)
    expected = query(
        warehouse,
        "select total_forecast_revenue from marts.fct_revenue_forecast"
        " order by legal_entity_code, practice, month_start_date limit 1",
    )[0][0]
    assert preview.records[0].data["total_forecast_revenue"] == f"{expected:,.2f}"  # e.g. 1,234,567.89
    chart = forecast["chart"]
    assert chart.startswith("**Revenue forecast by month and component**")
    assert "](data:image/svg+xml;base64," in chart
    svg = ElementTree.fromstring(base64.b64decode(chart.split("base64,")[1].rstrip(")")))
    texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert texts[0] == "Revenue forecast by month and component" and "USD, reporting currency" in texts
    legend = ["actual", "scheduled T&M", "scheduled fixed fee", "scheduled milestone", "scheduled retainer"]
    assert texts[-6:] == [*legend, "weighted pipeline"]
    # One bar segment per month and component with an amount, and a swatch per component in the legend.
    segments = query(warehouse, f"select count(*) from ({CHARTS['fct_revenue_forecast'].sql}) as c where value <> 0")
    filled = [r for r in svg.iter("{http://www.w3.org/2000/svg}rect") if r.get("fill") != "#ffffff"]
    assert len(filled) == segments[0][0] + 6
    assert "chart" in metadata["marts/fct_utilization"] and "chart" in metadata["sync/sync_planning__forecast_inputs"]
    assert all("preview" in metadata[k] for k in metadata if k.startswith("marts/"))


@pytest.mark.unit
def test_the_marts_people_act_on_carry_current_freshness_policies() -> None:
    """Dagster's freshness policies (evaluated by the daemon, no sensor to start), not the superseded checks."""
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    policies = {
        key.to_user_string(): graph.get(key).freshness_policy
        for key in graph.get_all_asset_keys()
        if graph.get(key).freshness_policy is not None
    }
    nightly = {"marts/fct_revenue_forecast", "marts/fct_backlog", "marts/fct_project_margin"}
    nightly.add("sync/sync_planning__forecast_inputs")
    intraday = {"marts/fct_time_entries", "marts/fct_utilization", "marts/fct_milestones"}
    assert set(policies) == nightly | intraday
    assert {policies[k].fail_window.to_timedelta() for k in nightly} == {dt.timedelta(hours=26)}
    assert {(policies[k].deadline_cron, policies[k].lower_bound_delta) for k in intraday} == {
        ("0 8-18 * * 1-5", dt.timedelta(hours=1))
    }
    assert not any(k.name == "freshness_check" for k in graph.asset_check_keys)
