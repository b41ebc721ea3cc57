"""Marking order lines PENDING or COMPLETED: the safe replacement for hand-written UPDATEs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet, Subquery
from django.utils import timezone

from syncapp.domain.scope import IN_CHUNK, Scope
from syncapp.domain.states import MARK_COMPLETED, MARK_PENDING, Action, State
from syncapp.engine.row_states import lines_transition, rows_transition
from syncapp.models import FactOrderList, ItemLink, OrderLine
from syncapp.raw_sql import chunks
from syncapp.selectors.environments import active_environment_name
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


def _selections(scope: Scope, invert: bool) -> Iterator[QuerySet]:
    """Querysets to update. A scope of at most a thousand PO numbers and a thousand record uuids
    is one statement. SQL Server takes at most 2,100 parameters per statement, so a longer scope is
    one statement per chunk; inverted, it is resolved to the record uuids outside it, updated in
    chunks."""
    queries = scope.querysets(FactOrderList.objects.all())
    if not invert:
        yield from queries
        return
    if len(queries) == 1:
        yield FactOrderList.objects.exclude(record_uuid__in=Subquery(queries[0].values("record_uuid")))
        return
    matching = {str(u) for query in queries for u in query.values_list("record_uuid", flat=True)}
    targets = [str(u) for u in FactOrderList.objects.values_list("record_uuid", flat=True) if str(u) not in matching]
    for chunk in chunks(targets, IN_CHUNK):
        yield FactOrderList.objects.filter(record_uuid__in=chunk)


def orders_mark(
    *,
    state: str,
    scope: Scope,
    invert: bool = False,
    actor=None,
    via: str = "console",
    environment: str | None = None,
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
            report.skipped_claimed += selection.filter(sync_state=State.CLAIMED).count()
            # The transitions leave CLAIMED order lines alone; this keeps their size lines alone too.
            rows = selection.exclude(sync_state=State.CLAIMED)
            if state == PENDING:
                with_item = rows.filter(record_uuid__in=Subquery(linked))
                without_item = rows.exclude(record_uuid__in=Subquery(linked))
                lines_transition(_lines_for(with_item), MARK_PENDING, action=Action.UPDATE, updated_at=now)
                lines_transition(_lines_for(without_item), MARK_PENDING, action=Action.INSERT, updated_at=now)
                report.updates += rows_transition(
                    with_item, MARK_PENDING, action=Action.UPDATE, sync_pending_at=now, updated_at=now
                )
                report.inserts += rows_transition(
                    without_item, MARK_PENDING, action=Action.INSERT, sync_pending_at=now, updated_at=now
                )
            else:
                lines_transition(_lines_for(rows), MARK_COMPLETED, updated_at=now)
                report.completed += rows_transition(rows, MARK_COMPLETED, updated_at=now)
        stored = scope.to_dict()
        stored.pop("record_uuids", None)
        audit_record(
            actor=actor,
            via=via,
            action=f"mark_{state}",
            environment=environment,
            target_type="orders",
            target_id=",".join(scope.pos)[:100],
            summary=report.summary(),
            details={
                "scope": stored,
                "invert": invert,
                "inserts": report.inserts,
                "updates": report.updates,
                "completed": report.completed,
            },
        )
    return report


def _lines_for(rows: QuerySet) -> QuerySet:
    return OrderLine.objects.filter(record_uuid__in=Subquery(rows.values("record_uuid")))
