"""The production order tables, mapped column by column (unmanaged: orderops never alters them).

Fields are derived from the project's column definition files, with `db_column` carrying the
production names (spaces, apostrophes, slashes). Attribute names follow one rule
(`Column.attname`): lower snake case, e.g. "AAG ORDER NUMBER" -> `aag_order_number`.
The 245 size columns are not fields; see `order_tables.discover_size_columns`. Nor are the three
columns whose names hold a percent sign (Django's backends read % in SQL as a placeholder); raw SQL
reads them through `order_tables.sql_name`.
"""

from __future__ import annotations

from django.db import models

from syncapp.domain.states import Action, State
from syncapp.order_tables import FACT_TABLE, LINES_TABLE, STAGING_TABLE, line_columns, order_columns, orm_mappable

# Choices for forms and the admin, from the one definition of the states in domain/states.py.
SyncState = models.TextChoices("SyncState", [(s.name, s.value) for s in State])
ActionType = models.TextChoices("ActionType", [(a.name, a.value) for a in Action])


def _mapped_fields(columns, *, key: str) -> dict[str, models.Field]:
    return {
        column.attname: column.django_field(primary_key=column.name == key)
        for column in columns
        if orm_mappable(column)
    }


def _abstract_base(name: str, fields: dict[str, models.Field]) -> type[models.Model]:
    meta = type("Meta", (), {"abstract": True})
    return type(name, (models.Model,), {"__module__": __name__, "Meta": meta, **fields})


OrderColumns = _abstract_base("OrderColumns", _mapped_fields(order_columns(), key="record_uuid"))
LineColumns = _abstract_base("LineColumns", _mapped_fields(line_columns(), key="line_uuid"))


class FactOrderList(OrderColumns):
    """One row per order line (a style and colour on a PO). Mirrors the production board's ids."""

    class Meta:
        managed = False
        db_table = FACT_TABLE
        verbose_name = "order line"
        verbose_name_plural = "order lines (FACT_ORDER_LIST)"

    def __str__(self) -> str:
        return f"{self.aag_order_number} ({self.customer_name} PO {self.po_number})"

    @property
    def is_cancelled(self) -> bool:
        return (self.order_type or "").strip().upper() == "CANCELLED"


class StagedOrder(OrderColumns):
    """swp_ORDER_LIST_SYNC: refreshed every hour from the customers' spreadsheets."""

    class Meta:
        managed = False
        db_table = STAGING_TABLE
        verbose_name = "staged order"
        verbose_name_plural = "staged orders (swp_ORDER_LIST_SYNC)"

    def __str__(self) -> str:
        return f"{self.aag_order_number} (staged)"


class OrderLine(LineColumns):
    """ORDER_LIST_LINES: one row per order line and size with qty > 0 (or a size set back to 0)."""

    class Meta:
        managed = False
        db_table = LINES_TABLE
        verbose_name = "size line"
        verbose_name_plural = "size lines (ORDER_LIST_LINES)"

    def __str__(self) -> str:
        return f"{self.record_uuid} {self.size_code} x{self.qty}"
