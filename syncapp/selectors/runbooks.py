"""Reads for runbooks: the run a runbook step points at, walkthroughs (progress) and the training record.

The runbook files themselves are read by syncapp/runbooks/.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Max, QuerySet

from syncapp.domain.scope import Scope, ScopeError
from syncapp.models import StepTick, SyncRun, Walkthrough

# --- runs a runbook points at ----------------------------------------------------------------------------


def latest_real_run(*, environment: str, scope: Scope | None = None, finished: bool = False) -> SyncRun | None:
    """The newest sync or retry (not a preview, not a rollback) on `environment` of the same customer and
    POs as `scope` (any run when the scope names neither)."""
    runs = SyncRun.objects.filter(
        environment=environment, dry_run=False, kind__in=(SyncRun.Kind.SYNC, SyncRun.Kind.RETRY)
    ).defer("plan", "summary")
    if finished:
        runs = runs.exclude(status__in=SyncRun.ACTIVE_STATUSES)
    if scope is None or not (scope.customer or scope.pos):
        return runs.order_by("-id").first()
    for run in runs.order_by("-id").iterator(chunk_size=100):
        if _same_selection(run, scope):
            return run
    return None


def _same_selection(run: SyncRun, scope: Scope) -> bool:
    try:
        return Scope.from_dict(run.scope).same_selection(scope)
    except ScopeError:  # a scope stored by an older version that no longer reads: not this selection
        return False


# --- walkthroughs ----------------------------------------------------------------------------------------


def walkthrough_latest(user, slug: str) -> Walkthrough | None:
    """The user's latest walkthrough of a runbook: the one in progress if there is one."""
    mine = Walkthrough.objects.filter(user=user, runbook=slug)
    return (
        mine.filter(completed_at__isnull=True).order_by("-started_at", "-id").first()
        or mine.order_by("-started_at", "-id").first()
    )


def walkthrough_ticks(walkthrough: Walkthrough | None) -> dict[int, StepTick]:
    if walkthrough is None:
        return {}
    return {tick.step: tick for tick in walkthrough.ticks.select_related("user")}


def walkthroughs_by_runbook(user) -> dict[str, Walkthrough]:
    """For the runbook list: each runbook's latest walkthrough by this user (in progress first)."""
    latest: dict[str, Walkthrough] = {}
    for walkthrough in Walkthrough.objects.filter(user=user).annotate(ticked=Count("ticks")).order_by("started_at"):
        current = latest.get(walkthrough.runbook)
        if current is None or current.completed_at is not None or walkthrough.completed_at is None:
            latest[walkthrough.runbook] = walkthrough
    return latest


@dataclass(frozen=True)
class TrainingFilters:
    runbook: str = ""
    user: str = ""
    status: str = ""  # "", "completed", "in_progress"

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in (("runbook", self.runbook), ("user", self.user), ("status", self.status)) if v}


def training_record(filters: TrainingFilters) -> QuerySet[Walkthrough]:
    """Walkthroughs, newest first, with who, which runbook, when, and how many steps were ticked."""
    rows = Walkthrough.objects.select_related("user").annotate(ticked=Count("ticks"), last_tick=Max("ticks__ticked_at"))
    if filters.runbook:
        rows = rows.filter(runbook=filters.runbook)
    if filters.user:
        rows = rows.filter(user__username__icontains=filters.user)
    if filters.status == "completed":
        rows = rows.filter(completed_at__isnull=False)
    elif filters.status == "in_progress":
        rows = rows.filter(completed_at__isnull=True)
    return rows.order_by("-started_at", "-id")


def walkthrough_get(walkthrough_id: int) -> Walkthrough | None:
    return Walkthrough.objects.select_related("user").filter(pk=walkthrough_id).first()
