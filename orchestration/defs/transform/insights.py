"""What a mart's materialization shows in the Dagster UI: row count, a preview table and a chart.

dbt holds DuckDB's file lock while it builds, so the marts' dbt events are held until the build
ends (see orchestration/defs/transform/assets.py) and enriched here from the finished tables.
Charts are PNGs drawn with matplotlib (imported only when one is drawn) and embedded in
markdown metadata, which the UI renders. A chart that cannot be drawn is logged and skipped: the
figures never depend on it.
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import dagster as dg
import duckdb

from orchestration.lib import display
from orchestration.lib.warehouse import WAREHOUSE_ERRORS, Warehouse

PREVIEW_ROWS = 10
ENRICHED_SCHEMAS = ("marts", "sync")


@dataclass(frozen=True)
class Chart:
    """A chart from one query returning (x, series, value) rows; one series draws plain bars."""

    title: str
    sql: str
    y_label: str


def _by_month(title: str, table: str, components: dict[str, str], y_label: str) -> Chart:
    unions = " union all ".join(
        f"select month_start_date as x, '{label}' as series, sum({column}) as value from {table} group by 1"
        for label, column in components.items()
    )
    return Chart(title, f"select * from ({unions}) as components order by 1, 2", y_label)  # PostgreSQL needs the alias


CHARTS: dict[str, Chart] = {
    "fct_revenue_forecast": _by_month(
        "Revenue forecast by month and component",
        "marts.fct_revenue_forecast",
        {
            "actual": "actual_revenue",
            "scheduled T&M": "scheduled_time_and_materials_revenue",
            "scheduled fixed fee": "scheduled_fixed_fee_revenue",
            "scheduled milestone": "scheduled_milestone_revenue",
            "scheduled retainer": "scheduled_retainer_revenue",
            "weighted pipeline": "weighted_pipeline_revenue",
        },
        "reporting currency",
    ),
    "fct_utilization": Chart(
        "Billable utilization by practice (actual months)",
        "select practice as x, 'billable utilization' as series,"
        " round(100 * sum(billable_hours) / nullif(sum(available_hours), 0), 1) as value"
        " from marts.fct_utilization where not is_forecast group by 1 order by 1",
        "% of available hours",
    ),
    "fct_project_margin": Chart(
        "Revenue and margin by practice",
        "select practice as x, 'revenue' as series, sum(revenue_reporting) as value from marts.fct_project_margin"
        " group by 1 union all select practice, 'margin', sum(margin_reporting) from marts.fct_project_margin"
        " group by 1 order by 1, 2",
        "reporting currency",
    ),
    "fct_backlog": _by_month(
        "Backlog by month end",
        "marts.fct_backlog",
        {"scheduled": "scheduled_backlog_amount_reporting", "unscheduled": "unscheduled_backlog_amount_reporting"},
        "reporting currency",
    ),
    "fct_forecast_accuracy": Chart(
        # One series, so the bars stand side by side: each horizon's forecast, then its actual.
        "Forecast against actual by months ahead (closed months, whole forecast)",
        "select horizon || ' ' || kind as x, 'revenue' as series, value from ("
        " select horizon_months as horizon, 'forecast' as kind, 1 as k, sum(forecast_revenue) as value"
        " from marts.fct_forecast_accuracy where billing_type = 'all' group by 1 union all"
        " select horizon_months, 'actual', 2, sum(actual_revenue) from marts.fct_forecast_accuracy"
        " where billing_type = 'all' group by 1) as horizons order by horizon, k",
        "reporting currency",
    ),
    "fct_valuation_exceptions": Chart(
        "Valuation exceptions by reason",
        "select reason_code as x, 'rows' as series, count(*) as value from marts.fct_valuation_exceptions"
        " group by 1 order by 1",
        "rows",
    ),
    "fct_unapproved_time": Chart(
        "Unapproved time: standard value by age in days, and the total",
        "select x, series, value from (select age_bucket as x, coalesce(legal_entity_code, 'unknown') as series,"
        " sum(standard_value_reporting) as value, min(age_days) as k from marts.fct_unapproved_time group by 1, 2"
        " union all select 'total', coalesce(legal_entity_code, 'unknown'), sum(standard_value_reporting), 100000"
        " from marts.fct_unapproved_time group by 2) as buckets order by k, x, series",
        "reporting currency",
    ),
    "sync_planning__forecast_inputs": Chart(
        "Forecast inputs for the planning tool by line item",
        "select line_item as x, plan_version_code as series, sum(value) as value"
        " from sync.sync_planning__forecast_inputs group by 1, 2 order by 1, 2",
        "reporting currency",
    ),
}


def _fallback_chart(con: duckdb.DuckDBPyConnection, relation: str) -> Chart | None:
    """Rows per month (or per legal entity) for marts without a chart of their own."""
    schema, table = relation.split(".")
    columns = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }
    for column, label in (("month_start_date", "month"), ("legal_entity_code", "legal entity")):
        if column in columns:
            sql = f"select {column} as x, 'rows' as series, count(*) as value from {relation} group by 1 order by 1"
            return Chart(f"Rows by {label}", sql, "rows")
    return None


def _preview_type(name: str, values: list) -> str:
    """A preview column's type from its values: amounts (two decimals, not hours) are money."""
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, Decimal) and sample.as_tuple().exponent == -2 and "hours" not in name:
        return "money"
    return display.column_type(sample)


def preview_table(con: duckdb.DuckDBPyConnection, relation: str) -> dg.TableMetadataValue:
    """The first PREVIEW_ROWS rows, sorted by the leading columns, every column typed and formatted."""
    columns = con.execute(f"select * from {relation} limit 0").description
    order = ", ".join(str(i) for i in range(1, min(len(columns), 3) + 1))
    result = con.execute(f"select * from {relation} order by {order} limit {PREVIEW_ROWS}")
    names = [d[0] for d in result.description]
    rows = result.fetchall()
    kinds = [_preview_type(name, [row[i] for row in rows]) for i, name in enumerate(names)]
    return display.table([(name, kind, None) for name, kind in zip(names, kinds, strict=True)], rows)


def axis_label(value: float, _position: object = None) -> str:
    """A y-axis tick in plain figures: `1.5M`, `250k`, `12` (never matplotlib's `1e6` offset)."""
    for size, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:,.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:,.1f}".rstrip("0").rstrip(".")


def chart_png(rows: list[tuple], chart: Chart, y_label: str | None = None) -> bytes:
    """A bar chart (stacked when there are several series) as PNG bytes; the legend beside the bars."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import FuncFormatter

    xs = list(dict.fromkeys(str(r[0]) for r in rows))
    series: dict[str, dict[str, float]] = defaultdict(dict)
    for x, name, value in rows:
        series[str(name)][str(x)] = float(value or Decimal(0))  # drawing only: the figures stay decimal
    fig, ax = plt.subplots(figsize=(10, 3.8), dpi=80)
    try:
        bottoms = [0.0] * len(xs)
        for name, values in series.items():
            heights = [values.get(x, 0.0) for x in xs]
            ax.bar(range(len(xs)), heights, bottom=bottoms, label=name)
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        step = max(1, len(xs) // 12)
        ax.set_xticks(range(0, len(xs), step), [xs[i][:10] for i in range(0, len(xs), step)], rotation=45, ha="right")
        ax.set_title(chart.title)
        ax.set_ylabel(y_label or chart.y_label)
        ax.yaxis.set_major_formatter(FuncFormatter(axis_label))
        if len(series) > 1:  # outside the plot, so it never covers a bar
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)


def _y_label(con: duckdb.DuckDBPyConnection, relation: str, chart: Chart) -> str:
    """The chart's unit, with the reporting currency named (`USD, reporting currency`) where the mart has it."""
    if "reporting currency" not in chart.y_label:
        return chart.y_label
    schema, table = relation.split(".")
    has_code = con.execute(
        "select count(*) from information_schema.columns where table_schema = ? and table_name = ?"
        " and column_name = 'reporting_currency_code'",
        [schema, table],
    ).fetchall()[0][0]
    source = relation if has_code else "marts.fct_revenue_forecast"  # the sync model converts into the same
    code = con.execute(f"select min(reporting_currency_code) from {source}").fetchall()[0][0]
    return f"{code}, {chart.y_label}" if code else chart.y_label


def mart_metadata(con: duckdb.DuckDBPyConnection, relation: str, log) -> dict[str, dg.MetadataValue | int]:
    """Row count, preview and (where one fits) a chart for one built table."""
    metadata: dict[str, dg.MetadataValue | int] = {
        "dagster/row_count": con.execute(f"select count(*) from {relation}").fetchall()[0][0],
    }
    chart = CHARTS.get(relation.split(".")[1]) or _fallback_chart(con, relation)
    if chart is None:
        return {**metadata, "preview": preview_table(con, relation)}
    try:
        rows = con.execute(chart.sql).fetchall()
        if rows:
            png = base64.b64encode(chart_png(rows, chart, _y_label(con, relation, chart))).decode()
            metadata["chart"] = dg.MetadataValue.md(
                f"**{chart.title}**\n\n![{chart.title}](data:image/png;base64,{png})"
            )
    except Exception as err:  # a chart is an illustration: never fail the build for it
        log.warning(f"{relation}: chart not drawn: {err}")
    return {**metadata, "preview": preview_table(con, relation)}


def is_mart_output(context: dg.AssetExecutionContext, event: object) -> bool:
    """A dbt output for a table in `marts` or `sync`: its metadata is read once the build is done."""
    if not isinstance(event, dg.Output):
        return False
    key = context.asset_key_for_output(event.output_name)
    return key.path[0] in ENRICHED_SCHEMAS and len(key.path) == 2


def with_mart_insights(held: list, warehouse: Warehouse, context: dg.AssetExecutionContext) -> Iterator:
    """The held dbt events in order, each mart's (and the sync model's) output enriched."""
    if not held:
        return
    with warehouse.connect(read_only=True) as con:
        for event in held:
            if is_mart_output(context, event):
                key = context.asset_key_for_output(event.output_name)
                try:
                    extra = mart_metadata(con, ".".join(key.path), context.log)
                except WAREHOUSE_ERRORS as err:  # the model failed to build: its own events say so
                    context.log.warning(f"{key.to_user_string()}: no preview: {err}")
                    extra = {}
                # the chart and preview first: the UI lists metadata in this order
                event = dg.Output(value=None, output_name=event.output_name, metadata={**extra, **event.metadata})
            yield event
