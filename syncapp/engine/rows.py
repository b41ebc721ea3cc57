"""Loading claimed order lines and their size lines into plain objects the planner works on."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncapp.models import FactOrderList, OrderLine
from syncapp.order_tables import columns_by_name
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
    """The order lines with every column the sync needs, and all their size lines (qty 0 included)."""
    by_name = columns_by_name()
    columns = needed_columns(config)
    attnames = {by_name[c].attname: c for c in columns}
    rows: dict[str, OrderRow] = {}
    for start in range(0, len(record_uuids), 500):
        chunk = record_uuids[start : start + 500]
        query = FactOrderList.objects.filter(record_uuid__in=chunk).values(
            "record_uuid", "row_hash", "sync_state", "action_type", *attnames
        )
        for data in query:
            key = str(data["record_uuid"])
            rows[key] = OrderRow(
                record_uuid=key,
                values={attnames[a]: data[a] for a in attnames},
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
