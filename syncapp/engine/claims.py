"""Claiming PENDING rows for a run with a compare-and-set UPDATE, and releasing them again."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from syncapp.domain.scope import Scope
from syncapp.domain.states import CLAIM, CLAIMABLE_ACTIONS, RELEASE, State
from syncapp.engine.row_states import rows_transition
from syncapp.models import FactOrderList, RowResult, SyncRun

logger = logging.getLogger(__name__)

CHUNK = 500


def claim_marker(run_id: int) -> str:
    """Written to api_status while a run owns a row: names the owner, fits NVARCHAR(20)."""
    return f"CLAIMED {run_id}"


def claim_candidates(scope: Scope) -> list[str]:
    """The PENDING INSERT/UPDATE order lines in `scope`, in sync order (customer, PO, order number),
    cut to the scope's limit: what a run tries to claim."""
    base = FactOrderList.objects.filter(sync_state=State.PENDING, action_type__in=CLAIMABLE_ACTIONS)
    order = ("customer_name", "po_number", "aag_order_number")
    rows = [row for query in scope.querysets(base) for row in query.values_list(*order, "record_uuid")]
    rows.sort(key=lambda r: tuple(v or "" for v in r[:3]))
    uuids = list(dict.fromkeys(str(r[3]) for r in rows))
    return uuids[: scope.limit] if scope.limit else uuids


def rows_claim(*, run: SyncRun, record_uuids: list[str]) -> dict[str, str]:
    """Claim the given rows for `run` if they are still PENDING; returns the ones it got, each with
    the action_type it was claimed with, in sync order.

    Each chunk is one UPDATE whose WHERE repeats the PENDING condition, so two runs can never both
    claim a row: the second UPDATE finds it CLAIMED and skips it. The row count is checked against
    what is read back under the run's marker, which is authoritative.
    """
    marker = claim_marker(run.id)
    now = timezone.now()
    claimed_total = 0
    for start in range(0, len(record_uuids), CHUNK):
        chunk = record_uuids[start : start + CHUNK]
        with transaction.atomic():
            claimed_total += rows_transition(
                FactOrderList.objects.filter(record_uuid__in=chunk, action_type__in=CLAIMABLE_ACTIONS),
                CLAIM,
                api_status=marker,
                sync_attempted_at=now,
            )
    claimed = claimed_actions(run.id)
    if len(claimed) != claimed_total:
        # The rows under the run's marker are what it owns: the WHERE made the claim safe, and the
        # count the database reported is only a cross-check. On SQL Server a trigger on the table
        # without SET NOCOUNT ON adds its own row counts to the UPDATE's.
        logger.warning(
            "run %s: the database reported %s rows claimed, %s are under the run's marker; the run goes on with "
            "those %s. If FACT_ORDER_LIST has a trigger, it should SET NOCOUNT ON (docs/deployment.md).",
            run.id,
            claimed_total,
            len(claimed),
            len(claimed),
        )
    return claimed


def claimed_actions(run_id: int) -> dict[str, str]:
    """A run's claimed rows (record uuid -> action_type), ordered by customer, PO and order number."""
    query = FactOrderList.objects.filter(sync_state=State.CLAIMED, api_status=claim_marker(run_id))
    ordered = query.order_by("customer_name", "po_number", "aag_order_number")
    return {str(u): action for u, action in ordered.values_list("record_uuid", "action_type")}


def claimed_rows(run_id: int) -> list[str]:
    return list(claimed_actions(run_id))


def rows_release(*, run: SyncRun, reason: str) -> int:
    """Give a run's unfinished rows back: PENDING with their action, ready for the next run."""
    uuids = claimed_rows(run.id)
    released = 0
    for start in range(0, len(uuids), CHUNK):
        chunk = uuids[start : start + CHUNK]
        released += rows_transition(
            FactOrderList.objects.filter(record_uuid__in=chunk, api_status=claim_marker(run.id)),
            RELEASE,
            api_status=None,
        )
        RowResult.objects.filter(run=run, record_uuid__in=chunk, outcome=RowResult.Outcome.PLANNED).update(
            outcome=RowResult.Outcome.SKIPPED,
            message=f"not sent: {reason} The row is PENDING again and the next run takes it.",
        )
    return released
