"""Rollback runs: undo on the board what a sync or retry run did, and give its rows back.

What a run did is read from its journal (BoardChange); `engine/rollback_plan.py` plans the undo and
`engine/rollback.py` executes it (quantities, item values, removals, groups, then the rows). This
service says what a rollback run is: its refusals, its record and audit entries, its summary line.

A rollback is itself a SyncRun (kind "rollback", parent = the run it undoes), so it takes the
environment's one-active-run slot and appears in the console's run list. It can be run again: what
an earlier (interrupted) rollback of the same run recorded is not sent again.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from syncapp.engine.progress import stop_reason
from syncapp.engine.rollback import RollbackCancelled, RollbackExecutor, finish_audit_entry
from syncapp.engine.rollback_plan import RollbackPlan, rollback_plan_build
from syncapp.models import RowResult, SyncRun
from syncapp.monday.errors import MondayError
from syncapp.selectors.runs import customer_outcomes
from syncapp.services.audit import audit_record
from syncapp.services.confirmation import production_confirmed
from syncapp.services.runs import RunRefusedError, busy_error, run_enqueue, runs_release_stale
from syncapp.sync_config import ConfigError, EnvironmentConfig, get_sync_config

logger = logging.getLogger(__name__)


class RollbackRefusedError(RunRefusedError):
    """The rollback cannot start; the message says why and what to do."""


def rollback_plan(*, run_id: int, delete: bool = False) -> RollbackPlan:
    """What run `run_id` did on its board and what rolling it back will do. Changes nothing.

    `plan.refusal` says why the run cannot be rolled back (still active, a dry run, a later run
    changed the same items, ...); `plan.nothing_to_do` is true once everything has been undone.
    """
    run = SyncRun.objects.get(pk=run_id)
    return rollback_plan_build(run, _environment(run), delete=delete)


# --- creating and executing a rollback run --------------------------------------------------------


def rollback_run_create(
    *,
    run_id: int,
    actor=None,
    via: str = "console",
    delete: bool = False,
    confirm_text: str = "",
    enqueue: bool = False,
) -> SyncRun:
    """Record a rollback of run `run_id` (a SyncRun of kind "rollback" whose parent is the run).

    Refused (RollbackRefusedError) when the plan refuses, when nothing is left to undo, when the
    environment's token is missing, or on production without `confirm_text` equal to the board's
    name or id. SyncBusyError when another run is active on the environment. `enqueue` hands it to
    the django-q2 worker once committed; otherwise call rollback_run_execute.
    """
    plan = rollback_plan(run_id=run_id, delete=delete)
    if plan.refusal:
        raise RollbackRefusedError(f"run {run_id} cannot be rolled back: {plan.refusal}")
    if plan.nothing_to_do:
        raise RollbackRefusedError(
            f"run {run_id} has already been rolled back"
            + (f" (by run {', '.join(str(r) for r in plan.rolled_back_by)})" if plan.rolled_back_by else "")
            + "; there is nothing left to undo."
        )
    env = get_sync_config().environment(plan.environment)
    if not env.token:
        raise RollbackRefusedError(
            f"{env.token_setting} is not set, so orderops cannot write to the {env.label} board. Set it to the "
            "monday API token of that account and restart the console and the worker, then roll back again."
        )
    if plan.is_production and not production_confirmed(
        typed=confirm_text, board_id=plan.board_id, board_name=plan.board_name
    ):
        raise RollbackRefusedError(
            f"rolling back run {run_id} changes the production board. Type the board's name "
            f"({plan.board_name!r}) or its id ({plan.board_id}) to confirm."
        )
    parent = SyncRun.objects.get(pk=run_id)
    runs_release_stale()
    mode = "delete" if delete else "archive"
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                kind=SyncRun.Kind.ROLLBACK,
                environment=env.name,
                items_board_id=env.items_board_id,
                subitems_board_id=env.subitems_board_id,
                dry_run=False,
                scope={
                    "rollback_of": parent.pk,
                    "delete": delete,
                    "record_uuids": sorted(r.record_uuid for r in plan.rows),
                },
                requested_by=actor if actor is not None and actor.is_authenticated else None,
                requested_via=via,
                parent=parent,
                total_rows=len(plan.rows),
                plan={"rollback": plan.as_dict()},
            )
            counts = plan.counts()
            audit_record(
                actor=actor,
                via=via,
                environment=env.name,
                target_type="run",
                target_id=run.pk,
                action="rollback_start",
                summary=(
                    f"rollback of run {parent.pk} on {env.describe()}: {mode} {counts['items_to_remove']} item(s), "
                    f"restore {counts['items_to_restore']} item(s), return {counts['rows_to_restore']} row(s)"
                ),
                details={"run": run.pk, "rolled_back_run": parent.pk, "mode": mode, "counts": counts},
            )
            if enqueue:
                transaction.on_commit(lambda: run_enqueue(run_id=run.pk))
    except IntegrityError:
        raise busy_error(env.name, env.label, "start the rollback") from None
    return run


def rollback_run_execute(*, rollback_run_id: int, batch_size: int | None = None) -> SyncRun:
    """Execute a queued rollback run. A run that is already running or finished is returned as it is.

    Safe to repeat: what an earlier (interrupted) rollback of the same run recorded is not sent again.
    `batch_size` overrides the mutations per request (sync.updates_per_request).
    """
    if not SyncRun.objects.filter(pk=rollback_run_id, kind=SyncRun.Kind.ROLLBACK).exists():
        raise ValueError(f"run {rollback_run_id} is not a rollback run; execute sync runs with sync_run_execute.")
    started = SyncRun.objects.filter(pk=rollback_run_id, status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(), current_step="starting"
    )
    run = SyncRun.objects.get(pk=rollback_run_id)
    if not started:
        return run
    executor: RollbackExecutor | None = None
    try:
        executor = RollbackExecutor(run, config=get_sync_config(), batch_size=batch_size)
        if run.cancel_requested:
            _finish(run, status=SyncRun.Status.CANCELLED, error="cancelled before it started", executor=executor)
        else:
            executor.execute()
            _finish(run, status=SyncRun.Status.COMPLETED, executor=executor)
    except RollbackCancelled:
        _finish(run, status=SyncRun.Status.CANCELLED, error="the rollback was cancelled", executor=executor)
    except Exception as error:  # the run must end with a status, whatever happened
        logger.exception("rollback run %s stopped", rollback_run_id)
        _finish(run, status=SyncRun.Status.FAILED, error=_stop_message(error), executor=executor)
    run.refresh_from_db()
    return run


def _finish(run: SyncRun, *, status: str, error: str = "", executor: RollbackExecutor | None = None) -> None:
    counts = dict(RowResult.objects.filter(run=run).values_list("outcome").annotate(n=Count("id")).order_by())
    fields = {
        "status": status,
        "finished_at": timezone.now(),
        "error_message": error,
        "current_step": status,
        "summary": customer_outcomes(run),
    }
    if executor is not None:
        fields.update(executor.finish_fields(status=status, counts=counts))
    else:  # the executor could not even be set up: nothing was done
        fields.update(failed_count=counts.get(RowResult.Outcome.ERROR, 0), outcome=SyncRun.Outcome.FAILED)
    SyncRun.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    if executor is not None:
        entry = executor.finish_audit(status=status, error=run.error_message)
    else:
        entry = finish_audit_entry(run, status=status, error=run.error_message, done={})
    audit_record(**entry)


def rollback_summary(run: SyncRun) -> str:
    """One line about a finished rollback run, starting with its id (the CLI's last line)."""
    done = (run.plan or {}).get("done") or {}
    verb = "deleted" if (run.scope or {}).get("delete") else "archived"
    text = (
        f"run {run.pk}: rollback of run {run.parent_id} {run.status} {run.outcome or ''} — "
        f"{verb} {done.get(f'items_{verb}', 0)} item(s) and {done.get(f'subitems_{verb}', 0)} subitem(s), "
        f"restored {done.get('items_restored', 0)} item(s) and {done.get('subitems_restored', 0)} subitem(s), "
        f"deleted {done.get('groups_deleted', 0)} group(s), returned {done.get('rows_restored', 0)} row(s)"
    )
    if done.get("already_gone"):
        text += f"; {done['already_gone']} already gone"
    if done.get("groups_kept"):
        text += f"; kept group(s) not empty: {', '.join(done['groups_kept'])}"
    if run.error_message:
        text += f"; {run.error_message}"
    return text


# --- helpers --------------------------------------------------------------------------------------


def _environment(run: SyncRun) -> EnvironmentConfig | None:
    try:
        return get_sync_config().environment(run.environment)
    except ConfigError:
        return None


def _stop_message(error: Exception) -> str:
    text = stop_reason(error)
    if isinstance(error, MondayError | RollbackCancelled):
        return f"{text} What was undone so far is recorded; roll back the run again to finish."
    return text
