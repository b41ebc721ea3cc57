"""Rollback runs: undo on the board what a sync or retry run did, and give its rows back.

What a run did is read from its journal (BoardChange); `engine/rollback_plan.py` plans the undo and
`engine/rollback.py` executes it (quantities, item values, removals, groups, then the rows). This
service says what a rollback run is: its refusals, its record and audit entries, its summary line.

A rollback is itself a SyncRun (kind "rollback", parent = the run it undoes), so it takes the
environment's one-active-run slot and appears in the console's run list. It can be run again: what
an earlier (interrupted) rollback of the same run recorded is not sent again.
"""

from __future__ import annotations

from syncapp.domain.errors import RunRefusedError
from syncapp.engine.rollback_plan import RollbackPlan, rollback_plan_build
from syncapp.models import SyncRun
from syncapp.services.runs import run_create, run_execute
from syncapp.sync_config import ConfigError, EnvironmentConfig, get_sync_config


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
    name or id (ProductionConfirmationError, a RunRefusedError). RunBusyError when another run is
    active on the environment. `enqueue` hands it to the django-q2 worker once committed; otherwise
    call rollback_run_execute.
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
    parent = SyncRun.objects.get(pk=run_id)
    mode = "delete" if delete else "archive"
    counts = plan.counts()
    return run_create(
        env=env,
        kind=SyncRun.Kind.ROLLBACK,
        dry_run=False,
        scope={"rollback_of": parent.pk, "delete": delete, "record_uuids": sorted(r.record_uuid for r in plan.rows)},
        actor=actor,
        via=via,
        parent=parent,
        confirm_text=confirm_text,
        confirm_action=f"roll back run {run_id}",
        busy_retry="start the rollback",
        audit_action="rollback_start",
        audit_summary=(
            f"rollback of run {parent.pk} on {env.describe()}: {mode} {counts['items_to_remove']} item(s), "
            f"restore {counts['items_to_restore']} item(s), return {counts['rows_to_restore']} row(s)"
        ),
        audit_details={"rolled_back_run": parent.pk, "mode": mode, "counts": counts},
        plan={"rollback": plan.as_dict()},
        total_rows=len(plan.rows),
        enqueue=enqueue,
    )


def rollback_run_execute(*, rollback_run_id: int, batch_size: int | None = None) -> SyncRun:
    """Execute a queued rollback run. A run that is already running or finished is returned as it is.

    Safe to repeat: what an earlier (interrupted) rollback of the same run recorded is not sent again.
    `batch_size` overrides the mutations per request (sync.updates_per_request).
    """
    if not SyncRun.objects.filter(pk=rollback_run_id, kind=SyncRun.Kind.ROLLBACK).exists():
        raise ValueError(f"run {rollback_run_id} is not a rollback run; execute sync runs with sync_run_execute.")
    return run_execute(run_id=rollback_run_id, **({"batch_size": batch_size} if batch_size else {}))


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
