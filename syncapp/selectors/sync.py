"""Reads for the sync: which order lines a scope selects, in sync order."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import QuerySet

from syncapp.domain.scope import IN_CHUNK, Scope
from syncapp.domain.states import CLAIMABLE_ACTIONS, State
from syncapp.models import FactOrderList

__all__ = ["IN_CHUNK", "pending_record_uuids", "scope_record_uuids"]

SYNC_ORDER = ("customer_name", "po_number", "aag_order_number")


def pending_record_uuids(scope: Scope | Mapping) -> list[str]:
    """PENDING INSERT/UPDATE order lines in scope, ordered by customer, PO and order number, cut to
    the scope's limit."""
    if not isinstance(scope, Scope):  # TEMPORARY: a run's stored scope dict, until callers pass a Scope
        scope = Scope.from_dict(scope)
    base = FactOrderList.objects.filter(sync_state=State.PENDING, action_type__in=CLAIMABLE_ACTIONS)
    return scope_record_uuids(scope, base)


def scope_record_uuids(scope: Scope, base: QuerySet | None = None) -> list[str]:
    """Every order line in scope (of `base`, by default all order lines, whatever their state), in
    sync order and cut to the scope's limit."""
    base = base if base is not None else FactOrderList.objects.all()
    rows = [row for query in scope.querysets(base) for row in query.values_list(*SYNC_ORDER, "record_uuid")]
    rows.sort(key=lambda r: tuple(v or "" for v in r[:3]))
    result = [str(r[3]) for r in rows]
    return result[: scope.limit] if scope.limit else result
