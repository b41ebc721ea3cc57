"""Repair runs: settle the findings of a finished reconcile run on the board.

A repair is a SyncRun of kind "repair" whose parent is the reconcile run, created through the one run
lifecycle (services/runs.run_create): refused without the token, while another run writes to the
board, and on production unless the board's name or id is typed; its start and its finish are
audited, and its board changes are journaled, so a repair is rolled back like a sync run
(services/rollback.py). This service adds what is a repair's own: the reconcile run must be finished
and have open findings, and the person asking must be allowed to write to that board.

What the run does per finding is the engine's (engine/repair.py).
"""

from __future__ import annotations

from collections import Counter

from syncapp.domain.errors import PermissionRefusedError, RunRefusedError
from syncapp.models import ReconcileFinding, SyncRun
from syncapp.raw_sql import chunks
from syncapp.services.runs import run_create, run_execute
from syncapp.sync_config import get_sync_config

# SQL Server accepts at most 2,100 parameters per statement.
IN_CHUNK = 1000
# Callers with no person behind them: the CLI on the server (its operator is trusted with the
# server's configuration already) and the scheduler.
TRUSTED_VIA = ("cli", "task")


class RepairRefusedError(RunRefusedError):
    """The repair cannot start; the message says why and what to do."""


def reconcile_repair_permission_require(*, actor, environment: str, via: str) -> None:
    """A repair writes to the board: the actor needs the permission to sync to that environment."""
    codename = f"sync_{environment}"
    if actor is None or not getattr(actor, "is_authenticated", False):
        if via in TRUSTED_VIA:
            return
        raise PermissionRefusedError(f"sign in with an account that may sync to the {environment} board to repair it.")
    if not actor.has_perm(f"syncapp.{codename}"):
        raise PermissionRefusedError(
            f"{actor.get_username()} may not write to the {environment} board (permission syncapp.{codename}), "
            "so the repair was not started. Ask an admin for that permission, or ask someone who has it to repair."
        )


def reconcile_repair_create(
    *,
    run_id: int,
    finding_ids: list[int] | None,
    actor=None,
    via: str = "console",
    confirm_text: str = "",
    enqueue: bool = True,
) -> SyncRun:
    """Record a repair of the open findings of reconcile run `run_id` (all, or `finding_ids`) and,
    once committed, queue it. Raises PermissionRefusedError without syncapp.sync_<environment>,
    RepairRefusedError when the run is no finished reconcile or nothing selected is open,
    ProductionConfirmationError on production without the board's name or id typed, RunBusyError
    while another run writes to the board. Nothing is written to the board until the run executes."""
    try:
        parent = SyncRun.objects.get(pk=run_id)
    except SyncRun.DoesNotExist:
        raise RepairRefusedError(
            f"there is no run {run_id}; start a reconcile first, then repair its findings."
        ) from None
    reconcile_repair_permission_require(actor=actor, environment=parent.environment, via=via)
    if parent.kind != SyncRun.Kind.RECONCILE:
        raise RepairRefusedError(
            f"run {parent.pk} is a {parent.kind} run; only a reconcile run's findings are repaired."
        )
    if parent.status != SyncRun.Status.COMPLETED:
        raise RepairRefusedError(
            f"reconcile run {parent.pk} is {parent.status}; repair the findings of a completed reconcile "
            "(start a new one if this one did not finish)."
        )
    env = get_sync_config().environment(parent.environment)
    if (env.items_board_id, env.subitems_board_id) != (parent.items_board_id, parent.subitems_board_id):
        raise RepairRefusedError(
            f"reconcile run {parent.pk} read board {parent.items_board_id}, but the configuration now names board "
            f"{env.items_board_id} for {env.label}. Reconcile the board again, then repair."
        )
    findings = _open_findings(parent, finding_ids)
    if not findings:
        raise RepairRefusedError(
            f"reconcile run {parent.pk} has no open findings"
            + (" among the ones selected" if finding_ids is not None else "")
            + " to repair: they are repaired, for review, or left alone already. Reconcile again to check the board."
        )
    kinds = dict(Counter(kind for _pk, kind in findings))
    ids = None if finding_ids is None else sorted(pk for pk, _kind in findings)
    described = ", ".join(f"{n} {ReconcileFinding.Kind(k).label}" for k, n in sorted(kinds.items()))
    return run_create(
        env=env,
        kind=SyncRun.Kind.REPAIR,
        dry_run=False,
        scope={"repair_of": parent.pk, "finding_ids": ids},
        actor=actor,
        via=via,
        parent=parent,
        confirm_text=confirm_text,
        confirm_action=f"repair the board from reconcile run {parent.pk}",
        busy_retry="start the repair",
        audit_action="reconcile_repair_start",
        audit_summary=f"repair of {len(findings)} finding(s) of reconcile run {parent.pk} on {env.describe()}: {described}",
        audit_details={"reconcile_run": parent.pk, "findings": ids, "kinds": kinds},
        plan={"repair": {"reconcile_run": parent.pk, "findings": len(findings), "kinds": kinds}},
        total_rows=len(findings),
        enqueue=enqueue,
    )


def reconcile_repair_execute(*, run_id: int) -> SyncRun:
    """Execute a queued repair run by id (the worker's task, or the CLI and tests synchronously)."""
    if not SyncRun.objects.filter(pk=run_id, kind=SyncRun.Kind.REPAIR).exists():
        raise ValueError(f"run {run_id} is not a repair run")
    return run_execute(run_id=run_id)


def reconcile_repair_summary(run: SyncRun) -> str:
    """One line about a finished repair run, starting with its id (the CLI's last line)."""
    done = (run.plan or {}).get("done") or {}
    statuses = ReconcileFinding.Status
    text = (
        f"run {run.pk}: repair of reconcile run {run.parent_id} {run.status} {run.outcome or ''} — "
        f"repaired {done.get(statuses.REPAIRED, 0)}, kept for review {done.get(statuses.REVIEW, 0)}, "
        f"left alone (not orderops') {done.get(statuses.NOT_OURS, 0)}, failed {done.get(statuses.FAILED, 0)}"
    )
    return text + (f"; {run.error_message}" if run.error_message else "")


def _open_findings(parent: SyncRun, finding_ids: list[int] | None) -> list[tuple[int, str]]:
    findings = ReconcileFinding.objects.filter(run=parent, status=ReconcileFinding.Status.OPEN)
    if finding_ids is None:
        return list(findings.values_list("pk", "kind"))
    found: list[tuple[int, str]] = []
    for chunk in chunks(sorted({int(i) for i in finding_ids}), IN_CHUNK):
        found += findings.filter(pk__in=chunk).values_list("pk", "kind")
    return found
