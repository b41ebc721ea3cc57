"""Sync and retry runs: what they select and how they are recorded. One code path for the console,
the CLI, the queue and the API; the lifecycle (start, finish, busy, confirmation) is services/runs.py."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from syncapp.domain.errors import RunRefusedError
from syncapp.domain.scope import Scope
from syncapp.domain.states import RETRY, Action, State
from syncapp.engine.row_states import lines_transition, rows_transition
from syncapp.models import FactOrderList, ItemLink, OrderLine, RowResult, SyncRun
from syncapp.raw_sql import chunks
from syncapp.services.runs import run_cancel, run_create, run_execute, run_writes_require
from syncapp.sync_config import get_sync_config

# SQL Server accepts at most 2,100 parameters per statement; id lists are queried in chunks.
IN_CHUNK = 1000


def sync_run_create(
    *,
    environment: str,
    scope: Scope,
    dry_run: bool,
    actor=None,
    via: str = "console",
    kind: str = SyncRun.Kind.SYNC,
    parent: SyncRun | None = None,
    enqueue: bool = True,
    confirm_text: str = "",
) -> SyncRun:
    """Record a sync (or retry) of `scope`; a run that writes is refused while another one writes to
    the same board, without the token, and on production unless `confirm_text` is the board's name or
    id (ProductionConfirmationError)."""
    env = get_sync_config().environment(environment)
    retry = kind == SyncRun.Kind.RETRY
    return run_create(
        env=env,
        kind=kind,
        dry_run=dry_run,
        scope=scope.to_dict(),
        actor=actor,
        via=via,
        parent=parent,
        confirm_text=confirm_text,
        confirm_action="retry the failed rows" if retry else "sync",
        busy_retry="start this sync",
        audit_action="sync_dry_run" if dry_run else f"{kind}_start",
        audit_summary=f"{'dry run' if dry_run else kind} of {scope.describe()} to {env.describe()}",
        audit_details={"scope": scope.to_dict()},
        enqueue=enqueue,
    )


def sync_run_execute(*, run_id: int) -> SyncRun:
    """Execute a queued run by id (any kind: a rollback run undoes its parent, never syncs rows)."""
    return run_execute(run_id=run_id)


def sync_run_cancel(*, run_id: int, actor=None, via: str = "console") -> SyncRun:
    return run_cancel(run_id=run_id, actor=actor, via=via)


def sync_run_retry_failed(
    *, run_id: int, actor=None, via: str = "console", enqueue: bool = True, confirm_text: str = ""
) -> SyncRun:
    """A new run, linked to the first, for the rows that ended in ERROR there and are still ERROR.

    Refused for a dry run (it wrote nothing), and on production without the board's name or id.
    """
    run = SyncRun.objects.get(pk=run_id)
    if run.dry_run:
        raise RunRefusedError("A preview wrote nothing, so there is nothing to retry; start a sync instead.")
    env = get_sync_config().environment(run.environment)
    # Refused before any row changes state: a refused retry must leave the failed rows as they are.
    run_writes_require(env=env, confirm_text=confirm_text, action="retry the failed rows", retry="retry")
    failed = [str(u) for u in run.results.filter(outcome=RowResult.Outcome.ERROR).values_list("record_uuid", flat=True)]
    still = [
        str(u)
        for chunk in chunks(failed, IN_CHUNK)
        for u in FactOrderList.objects.filter(record_uuid__in=chunk, sync_state=State.ERROR).values_list(
            "record_uuid", flat=True
        )
    ]
    if not still:
        raise RunRefusedError(f"run {run.pk} has no failed rows left to retry.")
    linked = {
        str(u)
        for chunk in chunks(still, IN_CHUNK)
        for u in ItemLink.objects.filter(environment=run.environment, record_uuid__in=chunk).values_list(
            "record_uuid", flat=True
        )
    }
    now = timezone.now()
    with transaction.atomic():
        for action, uuids in (
            (Action.UPDATE, [u for u in still if u in linked]),
            (Action.INSERT, [u for u in still if u not in linked]),
        ):
            for chunk in chunks(uuids, 500):
                rows_transition(
                    FactOrderList.objects.filter(record_uuid__in=chunk), RETRY, action=action, sync_pending_at=now
                )
                lines_transition(OrderLine.objects.filter(record_uuid__in=chunk), RETRY)
        return sync_run_create(
            environment=run.environment,
            scope=Scope.parse(record_uuids=still),
            dry_run=False,
            actor=actor,
            via=via,
            kind=SyncRun.Kind.RETRY,
            parent=run,
            enqueue=enqueue,
            confirm_text=confirm_text,
        )
