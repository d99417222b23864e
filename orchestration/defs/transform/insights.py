"""What a mart's materialization shows in the Dagster UI: row count, a preview table and a chart.

dbt holds DuckDB's file lock while it builds, so the marts' dbt events are held until the build
ends (see orchestration/defs/transform/assets.py) and enriched here from the finished tables.
Charts are SVG bar charts written as plain markup (`chart_svg`: a few milliseconds each, where
drawing a PNG with matplotlib took 0.2-0.4 s) and embedded in markdown metadata, which the UI
renders. A chart that cannot be drawn is logged and skipped: the figures never depend on it.
"""

from __future__ import annotations

import base64
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape

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
    """A y-axis tick in plain figures: `1.5M`, `250k`, `12` (never `1e6`)."""
    for size, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:,.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:,.1f}".rstrip("0").rstrip(".")


# The chart's drawing: matplotlib's default colours, its size in the UI (800 x 320 px) and margins.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
WIDTH, HEIGHT = 800, 320
LEFT, TOP, BOTTOM, LEGEND = 72, 30, 88, 170
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
CHAR_WIDTH, SLANTED_CHARS = 6.6, 15  # an 11 px character's width at most; a slanted label's length in the margin


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2, 2.5 or 5 times a power of ten; 0 always in range."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1.0
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - 1e-9 * step:
        ticks.append(ticks[-1] + step)
    return [round(t, 10) for t in ticks]


def chart_svg(rows: list[tuple], chart: Chart, y_label: str | None = None) -> str:
    """A bar chart as SVG text, stacked when there are several series (positive values stacked up from
    zero, negative ones down), the legend beside the bars. Plain markup: no drawing library, a few ms."""
    xs = list(dict.fromkeys(str(r[0]) for r in rows))
    series: dict[str, dict[str, float]] = defaultdict(dict)
    for x, name, value in rows:
        series[str(name)][str(x)] = float(value or Decimal(0))  # drawing only: the figures stay decimal
    ups = [sum(max(v.get(x, 0.0), 0.0) for v in series.values()) for x in xs]
    downs = [sum(min(v.get(x, 0.0), 0.0) for v in series.values()) for x in xs]
    ticks = nice_ticks(min(downs, default=0.0), max(ups, default=0.0))
    right = WIDTH - (LEGEND if len(series) > 1 else 16)
    bottom = HEIGHT - BOTTOM
    span = ticks[-1] - ticks[0]

    def y(value: float) -> float:
        return bottom - (value - ticks[0]) / span * (bottom - TOP)

    slot = (right - LEFT) / max(len(xs), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" {FONT} font-size="11">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{(LEFT + right) / 2:.1f}" y="18" text-anchor="middle" font-size="13">{escape(chart.title)}</text>',
    ]
    for tick in ticks:  # gridlines and their labels
        parts.append(f'<line x1="{LEFT}" x2="{right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e6e6e6"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{axis_label(tick)}</text>')
    width = slot * 0.8
    for i, x in enumerate(xs):
        up = down = 0.0
        for k, values in enumerate(series.values()):
            value = values.get(x, 0.0)
            if value == 0.0:
                continue
            start = up if value > 0 else down
            end_ = start + value
            up, down = (end_, down) if value > 0 else (up, end_)
            top_, height = min(y(start), y(end_)), abs(y(start) - y(end_))
            parts.append(
                f'<rect x="{LEFT + i * slot + (slot - width) / 2:.1f}" y="{top_:.1f}" width="{width:.1f}" '
                f'height="{height:.1f}" fill="{PALETTE[k % len(PALETTE)]}"/>'
            )
    parts.append(f'<line x1="{LEFT}" x2="{right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#333333"/>')
    parts.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{bottom}" stroke="#333333"/>')
    # Labels that fit their slot stand level and whole; otherwise every `step`-th, slanted, shortened.
    level = all(len(x) * CHAR_WIDTH <= slot - 6 for x in xs)
    step = 1 if level else max(1, len(xs) // 12)
    for i in range(0, len(xs), step):
        cx = LEFT + (i + 0.5) * slot
        if level:
            parts.append(f'<text x="{cx:.1f}" y="{bottom + 16}" text-anchor="middle">{escape(xs[i])}</text>')
        else:
            text = xs[i] if len(xs[i]) <= SLANTED_CHARS else xs[i][: SLANTED_CHARS - 1] + "\u2026"
            parts.append(
                f'<text x="{cx:.1f}" y="{bottom + 12}" text-anchor="end" '
                f'transform="rotate(-45 {cx:.1f} {bottom + 12})">{escape(text)}</text>'
            )
    label = escape(y_label or chart.y_label)
    parts.append(
        f'<text x="14" y="{(TOP + bottom) / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(TOP + bottom) / 2:.1f})">{label}</text>'
    )
    if len(series) > 1:  # outside the plot, so it never covers a bar
        for k, name in enumerate(series):
            ly = TOP + 4 + k * 18
            parts.append(f'<rect x="{right + 14}" y="{ly}" width="12" height="12" fill="{PALETTE[k % len(PALETTE)]}"/>')
            parts.append(f'<text x="{right + 32}" y="{ly + 10}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


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
            svg = base64.b64encode(chart_svg(rows, chart, _y_label(con, relation, chart)).encode()).decode()
            metadata["chart"] = dg.MetadataValue.md(
                f"**{chart.title}**\n\n![{chart.title}](data:image/svg+xml;base64,{svg})"
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
