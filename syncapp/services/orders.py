"""Marking order lines PENDING or COMPLETED: the safe replacement for hand-written UPDATEs."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from syncapp.models import FactOrderList, ItemLink, OrderLine
from syncapp.raw_sql import chunks
from syncapp.selectors.environments import active_environment_name
from syncapp.selectors.sync import IN_CHUNK
from syncapp.services.audit import audit_record

PENDING, COMPLETED = "pending", "completed"


@dataclass
class MarkReport:
    state: str
    environment: str
    inserts: int = 0
    updates: int = 0
    completed: int = 0
    skipped_claimed: int = 0

    @property
    def changed(self) -> int:
        return self.inserts + self.updates + self.completed

    def summary(self) -> str:
        if self.state == PENDING:
            text = (
                f"marked {self.changed} order lines PENDING for the {self.environment} board "
                f"({self.inserts} INSERT, {self.updates} UPDATE)"
            )
        else:
            text = f"marked {self.changed} order lines COMPLETED"
        if self.skipped_claimed:
            text += f"; {self.skipped_claimed} left alone because a running sync holds them"
        return text


def _condition(scope: dict, pos: list[str], uuids: list[str]) -> Q:
    condition = Q()
    if scope.get("customer"):
        condition &= Q(customer_name__iexact=scope["customer"].strip())
    if pos:
        condition &= Q(po_number__in=pos)
    if uuids:
        condition &= Q(record_uuid__in=uuids)
    return condition


def _selections(scope: dict, invert: bool):
    """Querysets to update. A small scope is one statement. SQL Server takes at most 2,100
    parameters per statement, so a longer PO list or uuid list (or both together) is resolved to
    record uuids chunk by chunk, every pair of chunks being one query, and updated in chunks."""
    pos = [str(p).strip() for p in scope.get("pos") or [] if str(p).strip()]
    uuids = [str(u) for u in scope.get("record_uuids") or []]
    if len(pos) + len(uuids) <= IN_CHUNK:
        condition = _condition(scope, pos, uuids)
        yield FactOrderList.objects.exclude(condition) if invert else FactOrderList.objects.filter(condition)
        return
    matching: set[str] = set()
    for pos_chunk in list(chunks(pos, IN_CHUNK)) or [[]]:
        for uuid_chunk in list(chunks(uuids, IN_CHUNK)) or [[]]:
            rows = FactOrderList.objects.filter(_condition(scope, list(pos_chunk), list(uuid_chunk)))
            matching |= {str(u) for u in rows.values_list("record_uuid", flat=True)}
    if invert:
        targets = [
            str(u) for u in FactOrderList.objects.values_list("record_uuid", flat=True) if str(u) not in matching
        ]
    else:
        targets = sorted(matching)
    for chunk in chunks(targets, IN_CHUNK):
        yield FactOrderList.objects.filter(record_uuid__in=chunk)


def orders_mark(
    *, state: str, scope: dict, invert: bool = False, actor=None, via: str = "console", environment: str | None = None
) -> MarkReport:
    """Set the selected order lines (and their size lines) PENDING or COMPLETED in bulk UPDATEs.

    PENDING gets INSERT when the line has no item on `environment`'s board and UPDATE when it has.
    Lines a running sync has claimed are left alone and counted.
    """
    if state not in (PENDING, COMPLETED):
        raise ValueError(f"unknown state {state!r}: use 'pending' or 'completed'")
    environment = environment or active_environment_name()
    report = MarkReport(state=state, environment=environment)
    now = timezone.now()
    linked = ItemLink.objects.filter(environment=environment).values("record_uuid")
    with transaction.atomic():
        for selection in _selections(scope, invert):
            report.skipped_claimed += selection.filter(sync_state="CLAIMED").count()
            rows = selection.exclude(sync_state="CLAIMED")
            if state == PENDING:
                with_item = rows.filter(record_uuid__in=Subquery(linked))
                without_item = rows.exclude(record_uuid__in=Subquery(linked))
                _lines_for(with_item).update(sync_state="PENDING", action_type="UPDATE", updated_at=now)
                _lines_for(without_item).update(sync_state="PENDING", action_type="INSERT", updated_at=now)
                report.updates += with_item.update(
                    sync_state="PENDING", action_type="UPDATE", sync_pending_at=now, updated_at=now
                )
                report.inserts += without_item.update(
                    sync_state="PENDING", action_type="INSERT", sync_pending_at=now, updated_at=now
                )
            else:
                _lines_for(rows).update(sync_state="COMPLETED", action_type="NONE", updated_at=now)
                report.completed += rows.update(sync_state="COMPLETED", action_type="NONE", updated_at=now)
        audit_record(
            actor=actor,
            via=via,
            action=f"mark_{state}",
            environment=environment,
            target_type="orders",
            target_id=",".join(scope.get("pos") or [])[:100],
            summary=report.summary(),
            details={
                "scope": {k: v for k, v in scope.items() if k != "record_uuids"},
                "invert": invert,
                "inserts": report.inserts,
                "updates": report.updates,
                "completed": report.completed,
            },
        )
    return report


def _lines_for(rows):
    return OrderLine.objects.filter(record_uuid__in=Subquery(rows.values("record_uuid")))
