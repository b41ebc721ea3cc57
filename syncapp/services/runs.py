"""The run lifecycle, one for every kind of run: create, start, progress, finish, stale release,
the busy refusal, the production confirmation, cancel, and execution by kind.

Sync, retry and rollback runs are all SyncRun rows and all go through here: `services/sync.py` and
`services/rollback.py` say *what* a run is (its scope, its audit text); this module records it,
refuses what must be refused, hands it to the queue on commit, and runs it by id in the worker
(`tasks.run_task`). It imports neither of those services. What a run does on the board is the
engine's: a `SyncRunExecutor` for syncs and retries, a `RollbackExecutor` for rollbacks; both are
given the configuration this module read once when the run started.

An executor has `execute()`, `release(reason=...)` (rows still claimed go back), `stop_message(error)`
(why it stopped, in the words its run page shows), `finish_fields(status=..., counts=...)` and
`finish_audit(status=..., error=...)` (an audit entry to record, or None).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Count, OuterRef, Subquery
from django.db.models.functions import Cast
from django.utils import timezone

from syncapp.domain.errors import RunBusyError, RunRefusedError
from syncapp.engine.claims import rows_release
from syncapp.engine.progress import RunStopped, stop_reason
from syncapp.engine.reconcile import ReconcileExecutor
from syncapp.engine.repair import RepairExecutor
from syncapp.engine.rollback import RollbackExecutor, finish_audit_entry
from syncapp.engine.sync_run import SyncRunExecutor
from syncapp.models import BoardChange, RowResult, SyncRun
from syncapp.monday.errors import MondayError
from syncapp.selectors.runs import INTERRUPTED_CODE, customer_outcomes
from syncapp.services.alerts import alerts_enqueue_run
from syncapp.services.audit import audit_record
from syncapp.services.confirmation import production_confirmation_require
from syncapp.sync_config import EnvironmentConfig, get_sync_config

logger = logging.getLogger(__name__)

EXECUTORS: dict[str, Callable] = {
    SyncRun.Kind.SYNC: SyncRunExecutor,
    SyncRun.Kind.RETRY: SyncRunExecutor,
    SyncRun.Kind.ROLLBACK: RollbackExecutor,
    SyncRun.Kind.REPAIR: RepairExecutor,
    SyncRun.Kind.RECONCILE: ReconcileExecutor,
}


def busy_error(environment: str, label: str, retry: str) -> RunBusyError:
    """The refusal when another run already writes to the environment's board (one at a time)."""
    active = SyncRun.objects.filter(environment=environment, status__in=SyncRun.ACTIVE_STATUSES, dry_run=False).first()
    return RunBusyError(
        f"run {active.pk if active else '?'} is already writing to the {label} board. Wait for it to finish "
        f"or cancel it, then {retry} again."
    )


def run_writes_require(*, env: EnvironmentConfig, confirm_text: str, action: str, retry: str) -> None:
    """The checks before any write to a board: the token is set, and production is confirmed."""
    if not env.token:
        raise RunRefusedError(
            f"{env.token_setting} is not set, so orderops cannot write to the {env.label} board. "
            f"Set it to the monday API token of that account and restart the console and the worker, then {retry}."
        )
    if env.is_production:
        production_confirmation_require(
            typed=confirm_text, board_id=env.items_board_id, board_name=env.items_board.name, action=action
        )


def run_create(
    *,
    env: EnvironmentConfig,
    kind: str,
    dry_run: bool,
    scope: dict,
    actor=None,
    via: str = "console",
    parent: SyncRun | None = None,
    confirm_text: str = "",
    confirm_action: str = "sync",
    busy_retry: str = "start this sync",
    audit_action: str,
    audit_summary: str,
    audit_details: dict,
    plan: dict | None = None,
    total_rows: int = 0,
    enqueue: bool = True,
) -> SyncRun:
    """Record a run and, once committed, queue it. A run that writes is refused without the
    environment's token, on production without the typed confirmation, and while another run
    writes to the same board (RunBusyError; a partial unique index is the guard)."""
    if not dry_run:
        run_writes_require(env=env, confirm_text=confirm_text, action=confirm_action, retry=busy_retry)
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
                total_rows=total_rows,
                plan=plan or {},
            )
            audit_record(
                actor=actor,
                via=via,
                environment=env.name,
                target_type="run",
                target_id=run.pk,
                action=audit_action,
                summary=audit_summary,
                details={"run": run.pk, **audit_details},
            )
            if enqueue:
                transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
    except IntegrityError:
        raise busy_error(env.name, env.label, busy_retry) from None
    return run


def run_enqueue(*, run_id: int) -> None:
    # django_q imports its cluster machinery on import; only a process that queues work needs it.
    from django_q.tasks import async_task

    async_task("syncapp.tasks.run_task", run_id, task_name=f"run-{run_id}", group="orderops-sync")


def run_execute(*, run_id: int, **options) -> SyncRun:
    """Execute a queued run of any kind. Idempotent: a run that is already running or finished is
    returned as it is. The configuration is read once here and passed to the executor."""
    now = timezone.now()
    started = SyncRun.objects.filter(pk=run_id, status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.RUNNING, started_at=now, heartbeat_at=now, current_step="starting"
    )
    run = SyncRun.objects.get(pk=run_id)
    if not started:
        return run
    executor = None
    try:
        config = get_sync_config()
        executor = EXECUTORS[run.kind](run, config=config, **options)
        if run.cancel_requested:
            _finish(run, executor, status=SyncRun.Status.CANCELLED, error="cancelled before it started")
        else:
            executor.execute()
            _finish(run, executor, status=SyncRun.Status.COMPLETED)
    except (RunStopped, MondayError) as stop:
        status = SyncRun.Status.CANCELLED if isinstance(stop, RunStopped) else SyncRun.Status.FAILED
        _finish(run, executor, status=status, error=_stop_message(executor, stop))
    except Exception as error:  # the run must end with a status and its rows released, whatever happened
        logger.exception("run %s stopped", run_id)
        _finish(run, executor, status=SyncRun.Status.FAILED, error=_stop_message(executor, error))
    run.refresh_from_db()
    return run


def _finish(run: SyncRun, executor, *, status: str, error: str = "") -> None:
    """The one place a run ends: rows still claimed are released, counts come from its results."""
    reason = f"the run stopped ({error})" if error else "the run ended."
    if executor is not None:
        executor.release(reason=reason)
    elif not run.dry_run and run.kind != SyncRun.Kind.ROLLBACK:
        rows_release(run=run, reason=reason)
    interrupted_created = 0
    if status != SyncRun.Status.COMPLETED and not run.dry_run and run.kind != SyncRun.Kind.ROLLBACK:
        interrupted_created = _record_interrupted(run, error)
    counts = dict(RowResult.objects.filter(run=run).values_list("outcome").annotate(n=Count("id")).order_by())
    counts["interrupted_created"] = interrupted_created
    fields = {
        "status": status,
        "finished_at": timezone.now(),
        "error_message": error,
        "current_step": status,
        "summary": customer_outcomes(run, status=status),
    }
    if executor is not None:
        extra = executor.finish_fields(status=status, counts=counts)
        fields.update(extra)
    elif not run.dry_run:
        fields["outcome"] = SyncRun.Outcome.FAILED
    SyncRun.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    alerts_enqueue_run(run_id=run.pk, kind=run.kind, dry_run=run.dry_run)  # on commit; never raises into the run
    if executor is not None:
        entry = executor.finish_audit(status=status, error=run.error_message)
    elif run.kind == SyncRun.Kind.ROLLBACK:  # it could not even be set up; a rollback's end is still audited
        entry = finish_audit_entry(run, status=status, error=run.error_message, done={})
    else:
        entry = None
    if entry:
        audit_record(**entry)


def _record_interrupted(run: SyncRun, error: str) -> int:
    """Rows the stop released although the run had already changed their item on the board (it
    created the item, or updated it, then stopped before the sizes or the write-back) are failures
    of this run, not rows "not sent": their results say what reached monday. The rows themselves
    stay PENDING, and the next sync finishes them on the same items. Subqueries keep each UPDATE to
    a few parameters (SQL Server). Returns how many of them had their item created by this run."""
    released = RowResult.objects.filter(run=run, outcome=RowResult.Outcome.SKIPPED).exclude(
        action=RowResult.Action.SKIP
    )
    journal = BoardChange.objects.filter(run=run, record_uuid__isnull=False)
    created = journal.filter(kind=BoardChange.Kind.ITEM_CREATED).values("record_uuid")
    # The whole reason is on the run page once; each row keeps its first sentence (also in the CSV).
    why = (error.split(". ")[0] or "no reason recorded")[:300]
    item = BoardChange.objects.filter(
        run=run, kind=BoardChange.Kind.ITEM_CREATED, record_uuid=OuterRef("record_uuid")
    ).order_by("id")
    created_marked = released.filter(record_uuid__in=created).update(
        outcome=RowResult.Outcome.ERROR,
        error_code=INTERRUPTED_CODE,
        # The item monday created, so the results table links the row to it.
        monday_item_id=Cast(Subquery(item.values("monday_id")[:1]), BigIntegerField()),
        message="interrupted: this run created the item on the board, then stopped before the row was finished "
        f"({why}). The row is PENDING again; the next sync finishes it on the same item (no duplicate).",
    )
    released.filter(record_uuid__in=journal.values("record_uuid")).update(
        outcome=RowResult.Outcome.ERROR,
        error_code=INTERRUPTED_CODE,
        message="interrupted: this run began changing the item on the board, then stopped before the row was "
        f"finished ({why}). The row is PENDING again; the next sync writes it again.",
    )
    return created_marked


def _stop_message(executor, error: Exception) -> str:
    return executor.stop_message(error) if executor is not None else stop_reason(error)


def runs_release_stale() -> list[int]:
    """Runs whose worker stopped sending heartbeats: mark them failed and give their rows back."""
    config = get_sync_config()
    cutoff = timezone.now() - timedelta(seconds=config.sync.stale_run_seconds)
    released = []
    for run in SyncRun.objects.filter(status=SyncRun.Status.RUNNING, heartbeat_at__lt=cutoff):
        if SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING, heartbeat_at__lt=cutoff).update(
            status=SyncRun.Status.FAILED,
            finished_at=timezone.now(),
            error_message="the worker running this sync stopped (no heartbeat); its rows were released",
        ):
            rows_release(run=run, reason="the worker running this sync stopped.")
            alerts_enqueue_run(run_id=run.pk, kind=run.kind, dry_run=run.dry_run)
            released.append(run.pk)
    return released


def run_cancel(*, run_id: int, actor=None, via: str = "console") -> SyncRun:
    """Ask a run to stop: a queued one is cancelled at once, a running one stops between batches."""
    run = SyncRun.objects.get(pk=run_id)
    if not run.is_active:
        raise RunRefusedError(f"run {run.pk} has already ended ({run.status}); there is nothing to cancel.")
    SyncRun.objects.filter(pk=run_id).update(cancel_requested=True)
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
