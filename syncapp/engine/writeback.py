"""Writing each row's outcome back: FACT_ORDER_LIST, ORDER_LIST_LINES and the run's RowResult.

A few bulk statements per chunk. Only rows still claimed by the run (its marker in api_status) are
written, and every state change is a named transition through `engine.row_states`.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from syncapp.domain.states import CHANGED_WHILE_CLAIMED, FAILED, SKIPPED, SYNCED
from syncapp.engine import plan as planning
from syncapp.engine.claims import claim_marker
from syncapp.engine.plan import RowPlan
from syncapp.engine.row_states import lines_transition, rows_transition
from syncapp.models import FactOrderList, OrderLine, RowResult, SyncRun
from syncapp.order_tables import FACT_TABLE, LINES_TABLE, canonical_uuid, db_uuid, sql_name
from syncapp.sync_config import EnvironmentConfig


class Outcome:
    """What happened to one row during the run."""

    def __init__(self, plan: RowPlan):
        self.plan = plan
        self.error = ""
        self.error_code = ""
        self.item_id = plan.item_id
        self.group_id = plan.current_group_id
        self.subitems_written = 0

    def fail(self, message: str, code: str = "") -> None:
        if not self.error:
            self.error, self.error_code = message, code

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def settled(self) -> bool:
        """Known to have failed or to need no request, whatever happens to the rest of the chunk."""
        return bool(self.error) or self.plan.action in (planning.SKIP, planning.FAIL)


def outcomes_write(*, run: SyncRun, env: EnvironmentConfig, outcomes: dict[str, Outcome]) -> None:
    """Each row's outcome into FACT_ORDER_LIST, ORDER_LIST_LINES and its RowResult, in a few bulk
    statements per chunk. Only rows still claimed by this run are written."""
    if not outcomes:
        return
    now = timezone.now()
    skipped = [o for o in outcomes.values() if o.plan.action == planning.SKIP]
    failed = [
        o for o in outcomes.values() if o.plan.action == planning.FAIL or (o.plan.action != planning.SKIP and not o.ok)
    ]
    synced = [o for o in outcomes.values() if o.plan.action not in (planning.SKIP, planning.FAIL) and o.ok]
    owned = FactOrderList.objects.filter(sync_state="CLAIMED", api_status=claim_marker(run.id))
    with transaction.atomic():
        _write_skipped(owned, skipped, now)
        _write_failed(owned, failed, now)
        _write_synced(owned, synced, now, production=env.is_production)
        _write_results(run, outcomes)


def _write_skipped(owned, skipped: list[Outcome], now) -> None:
    by_message = defaultdict(list)
    for o in skipped:
        by_message[o.plan.message].append(o.plan.record_uuid)
    for message, uuids in by_message.items():
        rows_transition(
            owned.filter(record_uuid__in=uuids),
            SKIPPED,
            api_status="SKIPPED",
            api_error_message=message,
            sync_completed_at=now,
            updated_at=now,
        )
        lines_transition(OrderLine.objects.filter(record_uuid__in=uuids), SKIPPED)


def _write_failed(owned, failed: list[Outcome], now) -> None:
    # Messages differ per row, and failures are few: one statement per row is fine here.
    for o in failed:
        message = _message(o)
        rows_transition(
            owned.filter(record_uuid=o.plan.record_uuid),
            FAILED,
            api_status="ERROR",
            api_error_message=message[:2000],
            sync_error_message=message[:1000],
            api_operation_type=o.plan.action,
            retry_count=F("retry_count") + 1,
            api_response_timestamp=now,
            updated_at=now,
        )
        lines_transition(
            OrderLine.objects.filter(record_uuid=o.plan.record_uuid),
            FAILED,
            api_status="ERROR",
            api_error_message=message[:2000],
            updated_at=now,
        )


def _write_synced(owned, synced: list[Outcome], now, *, production: bool) -> None:
    if not synced:
        return
    uuids = [o.plan.record_uuid for o in synced]
    # Locks the rows (PostgreSQL, SQL Server; SQLite's write transaction serialises anyway) so a
    # merge cannot change a hash between this read and the update below.
    current = {
        canonical_uuid(u): h
        for u, h in owned.select_for_update().filter(record_uuid__in=uuids).values_list("record_uuid", "row_hash")
    }
    # A merge that changed the row while it was claimed wins: the row stays PENDING/UPDATE.
    unchanged = [o.plan.record_uuid for o in synced if current.get(o.plan.record_uuid) == o.plan.row.row_hash]
    changed = [
        o.plan.record_uuid
        for o in synced
        if o.plan.record_uuid in current and current[o.plan.record_uuid] != o.plan.row.row_hash
    ]
    common = {
        "api_status": "SUCCESS",
        "api_error_message": None,
        "sync_error_message": None,
        "sync_completed_at": now,
        "last_synced_at": now,
        "api_response_timestamp": now,
        "updated_at": now,
    }
    fields = ["group_name", "item_name", "api_operation_type"]
    if production:
        fields += ["monday_item_id", "group_id"]
    # One prepared statement for the values that differ per row: Django's bulk_update builds a
    # CASE per field, which costs more than the sync itself at this size.
    _update_each(
        FACT_TABLE,
        fields,
        "record_uuid",
        [
            (o.plan.group_name, o.plan.item_name, o.plan.action)
            + ((o.item_id, o.group_id) if production else ())
            + (db_uuid(o.plan.record_uuid),)
            for o in synced
            if o.plan.record_uuid in current
        ],
    )
    rows_transition(owned.filter(record_uuid__in=unchanged), SYNCED, **common)
    rows_transition(owned.filter(record_uuid__in=changed), CHANGED_WHILE_CLAIMED, action="UPDATE", **common)
    # Only the size lines of unchanged rows are SYNCED: a merge during the run may have changed a
    # changed row's quantities after they were read, and those lines stay PENDING with their row.
    lines_transition(
        OrderLine.objects.filter(record_uuid__in=unchanged),
        SYNCED,
        api_status="SUCCESS",
        api_error_message=None,
        sync_completed_at=now,
        updated_at=now,
    )
    if production:
        _mirror_subitems([o for o in synced if o.plan.record_uuid in current])


def _mirror_subitems(synced: list[Outcome]) -> None:
    """FACT and ORDER_LIST_LINES carry the production board's ids (and only those)."""
    q = sql_name
    per_line = [
        (s.subitem_id, o.item_id, o.item_id, db_uuid(o.plan.record_uuid), s.size_code)
        for o in synced
        for s in o.plan.sizes
        if s.subitem_id
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {q(LINES_TABLE)} SET {q('monday_subitem_id')} = %s, {q('parent_item_id')} = %s, "  # noqa: S608
            f"{q('monday_item_id')} = %s WHERE {q('record_uuid')} = %s AND {q('size_code')} = %s",
            per_line,
        )


def _update_each(table: str, fields: list[str], key: str, rows: list[tuple]) -> None:
    if not rows:
        return
    assignments = ", ".join(f"{sql_name(f)} = %s" for f in fields)
    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {sql_name(table)} SET {assignments} WHERE {sql_name(key)} = %s", rows)  # noqa: S608


def _write_results(run: SyncRun, outcomes: dict[str, Outcome]) -> None:
    # The claim created a planned result per row holding its earlier state; it is replaced by the
    # final one (a delete and a bulk insert cost far less than Django's bulk_update).
    planned = RowResult.objects.filter(run=run, record_uuid__in=list(outcomes))
    earlier = {
        canonical_uuid(u): (state, action)
        for u, state, action in planned.values_list("record_uuid", "previous_sync_state", "previous_action_type")
    }
    planned.delete()
    fresh = []
    for key, o in outcomes.items():
        p = o.plan
        action = p.action
        if action == planning.FAIL:
            action = RowResult.Action.CREATE if o.item_id is None else RowResult.Action.UPDATE
        if p.action == planning.SKIP:
            outcome = RowResult.Outcome.SKIPPED
        elif o.ok and p.action != planning.FAIL:
            outcome = RowResult.Outcome.SYNCED
        else:
            outcome = RowResult.Outcome.ERROR
        previous_state, previous_action = earlier.get(key, ("", ""))
        fresh.append(
            RowResult(
                run=run,
                record_uuid=key,
                aag_order_number=p.row.aag_order_number[:100],
                customer_name=p.row.customer_name[:100],
                po_number=p.row.po_number[:255],
                action=action,
                outcome=outcome,
                monday_item_id=o.item_id,
                group_id=o.group_id or "",
                sizes_written=o.subitems_written,
                message=p.message if p.action in (planning.SKIP, planning.FAIL) else o.error,
                error_code=o.error_code[:100],
                previous_sync_state=previous_state,
                previous_action_type=previous_action,
            )
        )
    RowResult.objects.bulk_create(fresh, batch_size=200)


def _message(o: Outcome) -> str:
    return o.plan.message if o.plan.action == planning.FAIL else o.error
