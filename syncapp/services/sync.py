"""Sync runs: create, execute, cancel, retry. One code path for the console, the CLI and the queue."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from syncapp.engine.claims import rows_claim, rows_release
from syncapp.engine.runner import RunStopped, SyncEngine, stop_reason
from syncapp.models import FactOrderList, ItemLink, OrderLine, RowResult, SyncRun
from syncapp.monday.errors import MondayError
from syncapp.raw_sql import chunks
from syncapp.selectors.runs import customer_outcomes
from syncapp.selectors.sync import IN_CHUNK, pending_record_uuids
from syncapp.services.audit import audit_record
from syncapp.services.confirmation import production_confirmation_require
from syncapp.sync_config import get_sync_config

logger = logging.getLogger(__name__)


class SyncBusyError(Exception):
    """Another run is already writing to this environment's board."""


class SyncRefusedError(Exception):
    """The run cannot start (bad scope, missing token, ...); the message says what to do."""


def normalise_scope(
    *,
    customer: str | None = None,
    pos: list[str] | None = None,
    limit: int | None = None,
    record_uuids: list[str] | None = None,
) -> dict:
    scope: dict = {}
    if customer and customer.strip():
        scope["customer"] = customer.strip()
    cleaned = sorted({str(p).strip() for p in pos or [] if str(p).strip()})
    if cleaned:
        scope["pos"] = cleaned
    if record_uuids:
        scope["record_uuids"] = sorted({str(u) for u in record_uuids})
    if limit is not None:
        if limit < 1:
            raise SyncRefusedError("--limit must be a positive number of order lines.")
        scope["limit"] = limit
    return scope


def describe_scope(scope: dict) -> str:
    parts = []
    if scope.get("customer"):
        parts.append(f"customer {scope['customer']}")
    if scope.get("pos"):
        pos = scope["pos"]
        parts.append(f"PO {', '.join(pos[:5])}" + (f" and {len(pos) - 5} more" if len(pos) > 5 else ""))
    if scope.get("record_uuids"):
        parts.append(f"{len(scope['record_uuids'])} order lines")
    if scope.get("limit"):
        parts.append(f"at most {scope['limit']} lines")
    return ", ".join(parts) or "all pending order lines"


def sync_run_create(
    *,
    environment: str,
    scope: dict,
    dry_run: bool,
    actor=None,
    via: str = "console",
    kind: str = SyncRun.Kind.SYNC,
    parent: SyncRun | None = None,
    enqueue: bool = True,
    confirm_text: str = "",
) -> SyncRun:
    """Record a run; a non-dry run is refused while another one is active on the same environment,
    and on production unless `confirm_text` is the board's name or id (ProductionConfirmationError)."""
    config = get_sync_config()
    env = config.environment(environment)
    if not dry_run and not env.token:
        raise SyncRefusedError(
            f"{env.token_setting} is not set, so orderops cannot write to the {env.label} board. "
            f"Set it to the monday API token of that account and restart the console and the worker."
        )
    if not dry_run and env.is_production:
        production_confirmation_require(
            typed=confirm_text,
            board_id=env.items_board_id,
            board_name=env.items_board.name,
            action="retry the failed rows" if kind == SyncRun.Kind.RETRY else "sync",
        )
    runs_release_stale()
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                kind=kind,
                environment=env.name,
                items_board_id=env.items_board_id,
                subitems_board_id=env.subitems_board_id,
                dry_run=dry_run,
                scope=scope,
                requested_by=actor if actor is not None and actor.is_authenticated else None,
                requested_via=via,
                parent=parent,
            )
            audit_record(
                actor=actor,
                via=via,
                environment=env.name,
                target_type="run",
                target_id=run.pk,
                action="sync_dry_run" if dry_run else f"{kind}_start",
                summary=f"{'dry run' if dry_run else kind} of {describe_scope(scope)} to {env.describe()}",
                details={"scope": scope, "run": run.pk},
            )
            if enqueue:
                transaction.on_commit(lambda: sync_run_enqueue(run_id=run.pk))
    except IntegrityError:
        raise busy_error(env.name, env.label, "start this sync") from None
    return run


def busy_error(environment: str, label: str, retry: str) -> SyncBusyError:
    """The refusal when another run already writes to the environment's board (one at a time)."""
    active = SyncRun.objects.filter(environment=environment, status__in=SyncRun.ACTIVE_STATUSES, dry_run=False).first()
    return SyncBusyError(
        f"run {active.pk if active else '?'} is already writing to the {label} board. Wait for it to finish "
        f"or cancel it, then {retry} again."
    )


def sync_run_enqueue(*, run_id: int) -> None:
    from django_q.tasks import async_task

    async_task("syncapp.tasks.sync_run_task", run_id, task_name=f"run-{run_id}", group="orderops-sync")


def sync_run_execute(*, run_id: int) -> SyncRun:
    """Execute a queued run. Idempotent: a run that is already running or finished is left alone."""
    if SyncRun.objects.filter(pk=run_id, kind=SyncRun.Kind.ROLLBACK).exists():
        # A rollback run executed through this path must undo its parent, never sync pending rows.
        from syncapp.services.rollback import rollback_run_execute

        return rollback_run_execute(rollback_run_id=run_id)
    started = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(), current_step="starting"
    )
    run = SyncRun.objects.get(pk=run_id)
    if not started:
        return run
    try:
        _execute(run)
    except Exception as error:  # the run must end with a status and its rows released, whatever happened
        logger.exception("run %s stopped", run_id)
        _finish(run, status=SyncRun.Status.FAILED, error=stop_reason(error))
    run.refresh_from_db()
    return run


def _execute(run: SyncRun) -> None:
    if run.cancel_requested:
        _finish(run, status=SyncRun.Status.CANCELLED, error="cancelled before it started")
        return
    candidates = pending_record_uuids(run.scope)
    if run.dry_run:
        record_uuids = candidates
    else:
        claimed = rows_claim(run=run, record_uuids=candidates)
        record_uuids = list(claimed)
        # A planned result per claimed row keeps the state it had, for release and rollback.
        RowResult.objects.bulk_create(
            [
                RowResult(
                    run=run,
                    record_uuid=u,
                    action=RowResult.Action.CREATE if action == "INSERT" else RowResult.Action.UPDATE,
                    outcome=RowResult.Outcome.PLANNED,
                    previous_sync_state="PENDING",
                    previous_action_type=action,
                )
                for u, action in claimed.items()
            ],
            batch_size=500,
        )
    SyncRun.objects.filter(pk=run.pk).update(total_rows=len(record_uuids))
    engine = SyncEngine(run)
    try:
        engine.execute(record_uuids)
    except (RunStopped, MondayError) as stop:
        cancelled = isinstance(stop, RunStopped)
        _finish(
            run,
            status=SyncRun.Status.CANCELLED if cancelled else SyncRun.Status.FAILED,
            error=stop_reason(stop),
            engine=engine,
        )
        return
    if run.dry_run:
        SyncRun.objects.filter(pk=run.pk).update(
            plan={"groups_to_create": sorted(engine.groups_to_create), "rows": engine.preview}
        )
    _finish(run, status=SyncRun.Status.COMPLETED, engine=engine)


def _finish(run: SyncRun, *, status: str, error: str = "", engine: SyncEngine | None = None) -> None:
    if not run.dry_run:
        rows_release(run=run, reason=f"the run stopped ({error})" if error else "the run ended.")
    config = get_sync_config()
    counts = dict(RowResult.objects.filter(run=run).values_list("outcome").annotate(n=Count("id")))
    by_action = dict(
        RowResult.objects.filter(run=run, outcome=RowResult.Outcome.SYNCED)
        .values_list("action")
        .annotate(n=Count("id"))
    )
    synced, failed = counts.get("synced", 0), counts.get("error", 0)
    rate = round(100.0 * synced / (synced + failed), 1) if synced + failed else None
    per_customer = customer_outcomes(run)
    fields = {
        "status": status,
        "finished_at": timezone.now(),
        "error_message": error,
        "current_step": status,
        "created_count": by_action.get("create", 0),
        "updated_count": by_action.get("update", 0),
        "cancelled_count": by_action.get("cancel", 0),
        "skipped_count": counts.get("skipped", 0),
        "failed_count": failed,
        "success_rate": rate,
        "summary": per_customer,
        "outcome": "" if run.dry_run else config.outcome_for(rate) if status == "completed" else SyncRun.Outcome.FAILED,
    }
    if engine is not None:
        fields.update(engine._stats())
        if run.dry_run:
            fields["processed_rows"] = len(engine.preview)
    SyncRun.objects.filter(pk=run.pk).update(**fields)


def runs_release_stale() -> list[int]:
    """Runs whose worker stopped sending heartbeats: mark them failed and give their rows back."""
    config = get_sync_config()
    cutoff = timezone.now() - timedelta(seconds=config.sync.stale_run_seconds)
    stale = SyncRun.objects.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=cutoff)
    released = []
    for run in stale:
        if SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING, heartbeat_at__lt=cutoff).update(
            status=SyncRun.Status.FAILED,
            finished_at=timezone.now(),
            error_message="the worker running this sync stopped (no heartbeat); its rows were released",
        ):
            rows_release(run=run, reason="the worker running this sync stopped.")
            released.append(run.pk)
    return released


def run_release_dead(*, run_id: int, reason: str) -> None:
    """Mark one run failed now (its worker is known to be gone) and release its rows."""
    run = SyncRun.objects.get(pk=run_id)
    if SyncRun.objects.filter(pk=run_id, status__in=SyncRun.ACTIVE_STATUSES).update(
        status=SyncRun.Status.FAILED, finished_at=timezone.now(), error_message=reason
    ):
        rows_release(run=run, reason=reason)


def sync_run_cancel(*, run_id: int, actor=None, via: str = "console") -> SyncRun:
    run = SyncRun.objects.get(pk=run_id)
    if not run.is_active:
        raise SyncRefusedError(f"run {run.pk} has already ended ({run.status}); there is nothing to cancel.")
    SyncRun.objects.filter(pk=run_id).update(cancel_requested=True)
    # A queued run no worker has picked up yet is cancelled at once; a running one stops between batches.
    SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.CANCELLED, finished_at=timezone.now(), error_message="cancelled before it started"
    )
    audit_record(
        actor=actor,
        via=via,
        action="run_cancel",
        environment=run.environment,
        target_type="run",
        target_id=run.pk,
        summary=f"cancelled run {run.pk}",
    )
    run.refresh_from_db()
    return run


def sync_run_retry_failed(
    *, run_id: int, actor=None, via: str = "console", enqueue: bool = True, confirm_text: str = ""
) -> SyncRun:
    """A new run, linked to the first, for the rows that ended in ERROR there and are still ERROR.

    Refused for a dry run (it wrote nothing), and on production without the board's name or id.
    """
    run = SyncRun.objects.get(pk=run_id)
    if run.dry_run:
        raise SyncRefusedError("A preview wrote nothing, so there is nothing to retry; start a sync instead.")
    env = get_sync_config().environment(run.environment)
    if env.is_production:
        production_confirmation_require(
            typed=confirm_text,
            board_id=env.items_board_id,
            board_name=env.items_board.name,
            action="retry the failed rows",
        )
    failed = [str(u) for u in run.results.filter(outcome=RowResult.Outcome.ERROR).values_list("record_uuid", flat=True)]
    # In chunks: SQL Server takes at most 2,100 parameters per statement.
    still = [
        str(u)
        for chunk in chunks(failed, IN_CHUNK)
        for u in FactOrderList.objects.filter(record_uuid__in=chunk, sync_state="ERROR").values_list(
            "record_uuid", flat=True
        )
    ]
    if not still:
        raise SyncRefusedError(f"run {run.pk} has no failed rows left to retry.")
    linked = {
        str(u)
        for chunk in chunks(still, IN_CHUNK)
        for u in ItemLink.objects.filter(environment=run.environment, record_uuid__in=chunk).values_list(
            "record_uuid", flat=True
        )
    }
    with transaction.atomic():
        for action, uuids in (
            ("UPDATE", [u for u in still if u in linked]),
            ("INSERT", [u for u in still if u not in linked]),
        ):
            for start in range(0, len(uuids), 500):
                FactOrderList.objects.filter(record_uuid__in=uuids[start : start + 500], sync_state="ERROR").update(
                    sync_state="PENDING", action_type=action, sync_pending_at=timezone.now()
                )
                OrderLine.objects.filter(record_uuid__in=uuids[start : start + 500]).update(sync_state="PENDING")
        return sync_run_create(
            environment=run.environment,
            scope={"record_uuids": sorted(still)},
            dry_run=False,
            actor=actor,
            via=via,
            kind=SyncRun.Kind.RETRY,
            parent=run,
            enqueue=enqueue,
            confirm_text=confirm_text,
        )
