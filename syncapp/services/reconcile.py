"""Reconcile runs: compare an environment's board with the order tables and store what differs.

A reconcile run is a SyncRun of kind "reconcile" with dry_run=True (it writes nothing to the board)
and goes through the one run lifecycle (services/runs.py): audited start, queued on commit, executed
by the worker (engine/reconcile.ReconcileExecutor), finished with its counts. The console, the CLI
(`manage.py reconcile_board`) and the tests share this code path.
"""

from __future__ import annotations

from syncapp.domain.errors import PermissionRefusedError, RunRefusedError
from syncapp.domain.scope import Scope
from syncapp.models import SyncRun
from syncapp.services.runs import busy_error, run_create, run_execute
from syncapp.sync_config import get_sync_config

BUSY_RETRY = "start the reconcile"
# Callers with no person behind them: the CLI on the server (its operator holds the server's
# configuration already) and the scheduler.
TRUSTED_VIA = ("cli", "task")


def reconcile_permission_require(*, actor, environment: str, via: str) -> None:
    """A reconcile reads the board with the environment's token and lists its contents, so it needs
    the permission to sync to that environment (syncapp.sync_<environment>), whoever asks."""
    codename = f"sync_{environment}"
    if actor is None or not getattr(actor, "is_authenticated", False):
        if via in TRUSTED_VIA:
            return
        raise PermissionRefusedError(
            f"sign in with an account that may sync to the {environment} board to reconcile it."
        )
    if not actor.has_perm(f"syncapp.{codename}"):
        raise PermissionRefusedError(
            f"{actor.get_username()} may not reconcile the {environment} board (it needs the permission to sync "
            f"there, syncapp.{codename}), so nothing was started. Ask an admin for that permission, or ask someone "
            "who has it to reconcile."
        )


def reconcile_scope_describe(scope: Scope) -> str:
    """The scope in a reconcile's words (a reconcile compares linked lines, not pending ones)."""
    return scope.describe() if scope else "every order line on the board"


def reconcile_run_create(
    *, environment: str, scope: Scope, actor=None, via: str = "console", enqueue: bool = True
) -> SyncRun:
    """Record a reconcile of `scope` on the environment's board and, once committed, queue it.

    Refused without the environment's token (reading the board needs it) and while a run writes to
    that board (RunBusyError, the sync's words): the board would change under the read and its
    writes would show as differences. Refused (PermissionRefusedError) to an actor who may not sync to
    that environment."""
    env = get_sync_config().environment(environment)
    reconcile_permission_require(actor=actor, environment=env.name, via=via)
    if not env.token:
        raise RunRefusedError(
            f"{env.token_setting} is not set, so orderops cannot read the {env.label} board. Set it to the "
            "monday API token of that account and restart the console and the worker, then start the reconcile again."
        )
    if SyncRun.objects.filter(environment=env.name, status__in=SyncRun.ACTIVE_STATUSES, dry_run=False).exists():
        raise busy_error(env.name, env.label, BUSY_RETRY)
    described = reconcile_scope_describe(scope)
    return run_create(
        env=env,
        kind=SyncRun.Kind.RECONCILE,
        dry_run=True,
        scope=scope.to_dict(),
        actor=actor,
        via=via,
        busy_retry=BUSY_RETRY,
        audit_action="reconcile_start",
        audit_summary=f"reconcile of {described} with {env.describe()}",
        audit_details={"scope": scope.to_dict()},
        enqueue=enqueue,
    )


def reconcile_run_execute(*, run_id: int) -> SyncRun:
    """Execute a queued reconcile run by id (the worker's task, or the CLI synchronously)."""
    return run_execute(run_id=run_id)
