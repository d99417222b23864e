"""Valuation-exception counts on the finance marts' materializations.

dbt lists every row the finance marts could not value (unknown project, invalid hours,
missing rate or FX rate, ...) in `marts.fct_valuation_exceptions`; this module reads the counts
per mart and reason so the Dagster UI shows them beside the figures they affect.
"""

from collections.abc import Iterator

import dagster as dg

from orchestration.lib.warehouse import WAREHOUSE_ERRORS, Warehouse

EXCEPTIONS_TABLE = "marts.fct_valuation_exceptions"
AFFECTED_MODELS = ("fct_project_margin", "fct_backlog", "fct_revenue_forecast")
EXCEPTION_OUTPUTS = {dg.AssetKey(["marts", model]).to_python_identifier(): model for model in AFFECTED_MODELS}


def exception_counts(warehouse: Warehouse) -> dict[str, dict[str, int]]:
    """Rows per affected mart and reason code."""
    with warehouse.connect(read_only=True) as con:
        rows = con.execute(
            f"select affected_model, reason_code, count(*) from {EXCEPTIONS_TABLE}"
            " group by affected_model, reason_code order by affected_model, reason_code"
        ).fetchall()
    counts: dict[str, dict[str, int]] = {model: {} for model in AFFECTED_MODELS}
    for model, reason, count in rows:
        counts.setdefault(model, {})[reason] = count
    return counts


def with_exception_counts(held: list, warehouse: Warehouse, context: dg.AssetExecutionContext) -> Iterator:
    """The held dbt events in order, the finance marts' outputs with `valuation_exceptions` added."""
    if not held:
        return
    try:
        counts = exception_counts(warehouse)
    except WAREHOUSE_ERRORS as err:  # the exceptions model failed to build: say so, keep the events
        context.log.warning(f"valuation exception counts unavailable: {err}")
        yield from held
        return
    for event in held:
        if isinstance(event, dg.Output) and event.output_name in EXCEPTION_OUTPUTS:
            by_reason = counts.get(EXCEPTION_OUTPUTS[event.output_name], {})
            metadata = {
                **event.metadata,
                "valuation_exceptions": sum(by_reason.values()),
                "valuation_exceptions_by_reason": dg.MetadataValue.json(by_reason),
            }
            event = dg.Output(value=None, output_name=event.output_name, metadata=metadata)
        yield event
