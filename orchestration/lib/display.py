"""Figures as the Dagster UI shows them: amounts with thousands separators, typed preview tables.

Amounts stay exact decimals until here; a table cell gets the amount's text (`1,234,567.89`), never
a float. The column's type still says what it holds (`money`, `number`, `date`, `text`), and its
description carries the unit (the reporting currency, hours, a 0-1 ratio).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import dagster as dg

CELL_CHARS = 60


def money(value: object) -> str:
    """An amount with thousands separators and cents (`-1,234.50`); empty for none."""
    if value is None:
        return ""
    return f"{Decimal(value):,.2f}"


def number(value: object) -> str:
    """A number as written, with thousands separators (`12,345`, `0.8125`, `1,234.5`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:,}"


def change(new: Decimal, old: Decimal | None) -> str:
    """`+1,234.00 (+2.5%)` against a previous amount; `new` when there was none."""
    if old is None:
        return "new"
    delta = Decimal(new) - Decimal(old)
    share = f" ({delta / Decimal(old):+.1%})" if old else ""
    return f"{'+' if delta >= 0 else '-'}{money(abs(delta))}{share}"


def column_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, (dt.date, dt.datetime)):
        return "date"
    return "text"


def cell(value: object, kind: str) -> str | int | bool | None:
    """A value as a table cell: integers and booleans as themselves, amounts and other numbers as text."""
    if value is None:
        return None
    if kind == "money":
        return money(value)
    if isinstance(value, bool) or (isinstance(value, int) and kind == "number"):
        return value
    if kind == "number":
        return number(value)
    text = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def table(columns: Sequence[tuple[str, str, str | None]], rows: Sequence[Sequence[object]]) -> dg.TableMetadataValue:
    """A typed table: `columns` as (name, type, description), type one of money/number/date/text/boolean."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind, description) for name, kind, description in columns])
    records = [
        dg.TableRecord({name: cell(value, kind) for (name, kind, _), value in zip(columns, row, strict=True)})
        for row in rows
    ]
    return dg.MetadataValue.table(records=records, schema=schema)
