"""Reads for the sync: which rows a scope selects."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from syncapp.engine.claims import CLAIMABLE_ACTIONS
from syncapp.models import FactOrderList

# SQL Server accepts at most 2,100 parameters per statement; large PO lists are queried in chunks.
IN_CHUNK = 1000


def scope_filter(scope: dict) -> Q:
    condition = Q()
    if scope.get("customer"):
        condition &= Q(customer_name__iexact=scope["customer"].strip())
    return condition


def pending_record_uuids(scope: dict) -> list[str]:
    """PENDING INSERT/UPDATE order lines in scope, ordered by customer, PO and order number."""
    base = FactOrderList.objects.filter(scope_filter(scope), sync_state="PENDING", action_type__in=CLAIMABLE_ACTIONS)
    return _in_scope(base, scope)


def scope_record_uuids(scope: dict, base: QuerySet | None = None) -> list[str]:
    """Every order line in scope, whatever its state (used by marking and the preview)."""
    return _in_scope(base if base is not None else FactOrderList.objects.filter(scope_filter(scope)), scope)


def _in_scope(base: QuerySet, scope: dict) -> list[str]:
    order = ("customer_name", "po_number", "aag_order_number")
    pos = [str(p).strip() for p in scope.get("pos") or [] if str(p).strip()]
    uuids = [str(u) for u in scope.get("record_uuids") or []]
    if pos:
        rows = []
        for start in range(0, len(pos), IN_CHUNK):
            rows += base.filter(po_number__in=pos[start : start + IN_CHUNK]).values_list(*order, "record_uuid")
    elif uuids:
        rows = []
        for start in range(0, len(uuids), IN_CHUNK):
            rows += base.filter(record_uuid__in=uuids[start : start + IN_CHUNK]).values_list(*order, "record_uuid")
    else:
        rows = list(base.values_list(*order, "record_uuid"))
    rows.sort(key=lambda r: tuple(v or "" for v in r[:3]))
    result = [str(r[3]) for r in rows]
    if uuids and pos:
        wanted = set(uuids)
        result = [r for r in result if r in wanted]
    limit = scope.get("limit")
    return result[:limit] if limit else result
