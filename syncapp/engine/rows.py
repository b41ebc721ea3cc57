"""Loading claimed order lines and their size lines into plain objects the planner works on."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection
from django.db.models.expressions import Col

from syncapp.models import OrderLine
from syncapp.order_tables import FACT_TABLE, canonical_uuid, columns_by_name, db_uuid, sql_name
from syncapp.sync_config import SyncConfig


@dataclass
class SizeLine:
    size_code: str
    qty: int


@dataclass
class OrderRow:
    record_uuid: str
    values: dict[str, object]  # production column name -> value
    row_hash: str
    sync_state: str
    action_type: str
    sizes: list[SizeLine] = field(default_factory=list)

    @property
    def aag_order_number(self) -> str:
        return str(self.values.get("AAG ORDER NUMBER") or "")

    @property
    def customer_name(self) -> str:
        return str(self.values.get("CUSTOMER NAME") or "")

    @property
    def po_number(self) -> str:
        return str(self.values.get("PO NUMBER") or "")

    @property
    def is_cancelled(self) -> bool:
        return str(self.values.get("ORDER TYPE") or "").strip().upper() == "CANCELLED"


def needed_columns(config: SyncConfig) -> list[str]:
    names = set(config.mapped_columns) | set(config.naming.group_columns) | set(config.naming.item_name_columns)
    names |= {config.naming.group_fallback_column, "AAG ORDER NUMBER", "CUSTOMER NAME", "PO NUMBER", "ORDER TYPE"}
    return sorted(n for n in names if n)


def rows_load(config: SyncConfig, record_uuids: list[str]) -> list[OrderRow]:
    """The order lines with every column the sync needs, and all their size lines (qty 0 included).

    Read with raw SQL: some mapped columns ("USA ONLY LSTP 75% EX WORKS") cannot be model fields.
    """
    columns = needed_columns(config)
    fields = ["record_uuid", "row_hash", "sync_state", "action_type", *columns]
    converters = _converters(fields)
    select = f"SELECT {', '.join(sql_name(c) for c in fields)} FROM {sql_name(FACT_TABLE)} "  # noqa: S608
    rows: dict[str, OrderRow] = {}
    for start in range(0, len(record_uuids), 500):
        chunk = record_uuids[start : start + 500]
        with connection.cursor() as cursor:
            cursor.execute(
                select + f"WHERE {sql_name('record_uuid')} IN ({', '.join(['%s'] * len(chunk))})",
                [db_uuid(u) for u in chunk],
            )
            for raw in cursor.fetchall():
                data = {f: convert(v) for f, convert, v in zip(fields, converters, raw, strict=True)}
                key = canonical_uuid(data["record_uuid"])
                rows[key] = OrderRow(
                    record_uuid=key,
                    values={c: data[c] for c in columns},
                    row_hash=data["row_hash"] or "",
                    sync_state=data["sync_state"] or "",
                    action_type=data["action_type"] or "",
                )
        for line in OrderLine.objects.filter(record_uuid__in=chunk).values("record_uuid", "size_code", "qty"):
            row = rows.get(str(line["record_uuid"]))
            if row:
                row.sizes.append(SizeLine(line["size_code"], int(line["qty"] or 0)))
    ordered = [rows[r] for r in record_uuids if r in rows]
    for row in ordered:
        row.sizes.sort(key=lambda s: s.size_code)
    return ordered


def _converters(fields: list[str]):
    """Backend values -> Python (SQLite returns dates and decimals as text or float)."""
    by_name = columns_by_name()
    converters = []
    for name in fields:
        field = by_name[name].django_field()
        field.set_attributes_from_name(by_name[name].attname)
        column = Col(FACT_TABLE, field)
        backend = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        converters.append(_chain(backend, column))
    return converters


def _chain(backend, column):
    def convert(value):
        for converter in backend:
            value = converter(value, column, connection)
        return value

    return convert
