"""Reads about sync runs for the console: lists, results, API calls, the worker's health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import caches
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from syncapp.domain.scope import SCOPE_KEYS, Scope
from syncapp.logging import redact
from syncapp.models import ApiCall, RowResult, SyncRun
from syncapp.sync_config import get_sync_config

RUN_LIST_FIELDS_DEFERRED = ("plan", "summary")


@dataclass(frozen=True)
class RunFilters:
    environment: str = ""
    status: str = ""
    kind: str = ""
    dry_run: str = ""  # "" real runs only, "include" all, "only" dry runs

    def as_params(self) -> dict[str, str]:
        params = {"environment": self.environment, "status": self.status, "kind": self.kind, "dry_run": self.dry_run}
        return {k: v for k, v in params.items() if v}


def runs_matching(filters: RunFilters) -> QuerySet[SyncRun]:
    runs = SyncRun.objects.select_related("requested_by", "parent").defer(*RUN_LIST_FIELDS_DEFERRED)
    if filters.environment:
        runs = runs.filter(environment=filters.environment)
    if filters.status:
        runs = runs.filter(status=filters.status)
    if filters.kind:
        runs = runs.filter(kind=filters.kind)
    if filters.dry_run == "only":
        runs = runs.filter(dry_run=True)
    elif filters.dry_run != "include":
        runs = runs.filter(dry_run=False)
    return runs.order_by("-id")


def run_scope(run: SyncRun) -> Scope:
    """The selection a run was for. A rollback run stores what it undoes (`rollback_of`, `delete`)
    next to the order lines it touches; those keys are not part of the selection."""
    return Scope.from_dict({k: v for k, v in (run.scope or {}).items() if k in SCOPE_KEYS})


def run_get(run_id: int) -> SyncRun | None:
    return SyncRun.objects.select_related("requested_by", "parent").filter(pk=run_id).first()


def run_children(run: SyncRun) -> list[SyncRun]:
    return list(run.children.defer(*RUN_LIST_FIELDS_DEFERRED).order_by("id"))


def run_results(run: SyncRun, *, outcome: str = "") -> QuerySet[RowResult]:
    results = RowResult.objects.filter(run=run)
    if outcome:
        results = results.filter(outcome=outcome)
    return results.order_by("id")


def run_outcome_counts(run: SyncRun) -> dict[str, int]:
    return dict(RowResult.objects.filter(run=run).values_list("outcome").annotate(n=Count("id")).order_by())


def run_api_calls(run: SyncRun) -> QuerySet[ApiCall]:
    return ApiCall.objects.filter(run=run).order_by("id")


def api_call_bodies(call: ApiCall) -> tuple[str, str]:
    """Request and response bodies with any configured token removed (the client never records
    one; this guards against a token pasted into order data or an error message)."""
    return redact(call.request_body or ""), redact(call.response_body or "")


def active_run_for(environment: str) -> SyncRun | None:
    return (
        SyncRun.objects.filter(environment=environment, status__in=SyncRun.ACTIVE_STATUSES, dry_run=False)
        .defer(*RUN_LIST_FIELDS_DEFERRED)
        .order_by("id")
        .first()
    )


# --- the task queue --------------------------------------------------------------------------


@dataclass
class WorkerHealth:
    clusters: int
    queued_tasks: int | None
    last_success: datetime | None
    last_failure: datetime | None
    last_failure_name: str
    stuck_runs: int  # runs queued for more than a minute
    error: str = ""

    @property
    def alive(self) -> bool:
        return self.clusters > 0

    @property
    def state(self) -> str:
        if self.error:
            return "unknown"
        if not self.alive:
            return "down"
        return "ok"


QUEUED_TOO_LONG = timedelta(minutes=1)


def worker_health() -> WorkerHealth:
    """Is a django-q2 cluster alive, and how much is waiting for it.

    Clusters publish a stat in the cache every few seconds with a 3-second expiry. This reads those
    entries directly: `Stat.get_all()` would also rewrite the cache's key list on every page view.
    """
    from django_q.conf import Conf
    from django_q.models import Failure, OrmQ, Success

    error = ""
    clusters = 0
    try:
        cache = caches[Conf.CACHE]
        keys = cache.get(Conf.Q_STAT) or []
        clusters = len(cache.get_many(list(keys))) if keys else 0
    except Exception as exc:  # the cache table may be missing on a fresh install
        error = f"the worker status cannot be read ({type(exc).__name__}); run python manage.py migrate, which creates the cache table"
    queued: int | None
    if settings.Q_CLUSTER.get("orm"):
        queued = OrmQ.objects.count()
    else:
        try:
            from django_q.brokers import get_broker

            queued = get_broker().queue_size()
        except Exception:
            queued = None
    success = Success.objects.order_by("-stopped").values_list("stopped", flat=True).first()
    failure = Failure.objects.order_by("-stopped").values_list("stopped", "name").first()
    stuck = SyncRun.objects.filter(
        status=SyncRun.Status.QUEUED, dry_run=False, created_at__lt=timezone.now() - QUEUED_TOO_LONG
    ).count()
    return WorkerHealth(
        clusters=clusters,
        queued_tasks=queued,
        last_success=success,
        last_failure=failure[0] if failure else None,
        last_failure_name=failure[1] if failure else "",
        stuck_runs=stuck,
        error=error,
    )


# --- the dry-run plan ------------------------------------------------------------------------


@dataclass
class PlanSummary:
    groups_to_create: list[str]
    rows: list[dict]
    by_action: dict[str, int]

    @property
    def writes(self) -> int:
        return sum(n for action, n in self.by_action.items() if action in ("create", "update", "cancel"))

    @property
    def sizes_to_write(self) -> int:
        return sum(1 for row in self.rows for size in row.get("sizes") or [] if size.get("write"))

    @property
    def not_sent(self) -> list[dict]:
        return [row for row in self.rows if row.get("action") in ("skip", "fail")]


def plan_summary(run: SyncRun) -> PlanSummary:
    plan = run.plan or {}
    rows = list(plan.get("rows") or [])
    by_action: dict[str, int] = {}
    for row in rows:
        by_action[row.get("action", "")] = by_action.get(row.get("action", ""), 0) + 1
    return PlanSummary(groups_to_create=list(plan.get("groups_to_create") or []), rows=rows, by_action=by_action)


def customer_outcomes(run: SyncRun) -> dict[str, dict]:
    """Per customer: rows synced and failed, success rate and outcome by the customer's thresholds."""
    config = get_sync_config()
    outcomes = {}
    for row in (
        RowResult.objects.filter(run=run)
        .values("customer_name")
        .annotate(synced=Count("id", filter=Q(outcome="synced")), failed=Count("id", filter=Q(outcome="error")))
    ):
        total = row["synced"] + row["failed"]
        rate = round(100.0 * row["synced"] / total, 1) if total else None
        outcomes[row["customer_name"] or "(none)"] = {
            "synced": row["synced"],
            "failed": row["failed"],
            "success_rate": rate,
            "outcome": config.outcome_for(rate),
        }
    return outcomes
