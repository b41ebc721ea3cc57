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
from syncapp.models import ApiCall, AuditEntry, BoardChange, FactOrderList, RowResult, SyncRun
from syncapp.selectors.error_causes import SAMPLE_ROWS, ErrorGroup, error_groups
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


# Interrupted rows: the run changed the row's item on the board, then stopped before the row was
# finished (daily limit, cancel, monday unreachable). The lifecycle records them as errors with this
# code (services/runs.py); the row itself is PENDING again and the next sync finishes it.
INTERRUPTED_CODE = "RunInterrupted"

# What the results tabs filter on: RowResult outcomes, where "skipped" is the planner's skip (nothing
# to send) and "not_sent" a row the run released unsent when it stopped (its action is still create,
# update or cancel).
RESULT_FILTERS = ("error", "synced", "skipped", "not_sent", "planned")


def run_results(run: SyncRun, *, outcome: str = "") -> QuerySet[RowResult]:
    results = RowResult.objects.filter(run=run)
    if outcome == "skipped":
        results = results.filter(outcome=RowResult.Outcome.SKIPPED, action=RowResult.Action.SKIP)
    elif outcome == "not_sent":
        results = results.filter(outcome=RowResult.Outcome.SKIPPED).exclude(action=RowResult.Action.SKIP)
    elif outcome:
        results = results.filter(outcome=outcome)
    return results.order_by("id")


def run_outcome_counts(run: SyncRun) -> dict[str, int]:
    """Rows per tab of the results, and rows synced per action, in one query."""
    synced, skipped = Q(outcome=RowResult.Outcome.SYNCED), Q(outcome=RowResult.Outcome.SKIPPED)
    return RowResult.objects.filter(run=run).aggregate(
        error=Count("id", filter=Q(outcome=RowResult.Outcome.ERROR)),
        interrupted=Count("id", filter=Q(outcome=RowResult.Outcome.ERROR, error_code=INTERRUPTED_CODE)),
        synced=Count("id", filter=synced),
        skipped=Count("id", filter=skipped & Q(action=RowResult.Action.SKIP)),
        not_sent=Count("id", filter=skipped & ~Q(action=RowResult.Action.SKIP)),
        planned=Count("id", filter=Q(outcome=RowResult.Outcome.PLANNED)),
        created=Count("id", filter=synced & Q(action=RowResult.Action.CREATE)),
        updated=Count("id", filter=synced & Q(action=RowResult.Action.UPDATE)),
        cancelled=Count("id", filter=synced & Q(action=RowResult.Action.CANCEL)),
    )


def result_status(result: RowResult, *, active: bool) -> str:
    """A result's outcome in the words of the results table."""
    if result.outcome == RowResult.Outcome.PLANNED:
        return "in progress" if active else "not done"
    if result.outcome == RowResult.Outcome.SKIPPED and result.action != RowResult.Action.SKIP:
        return "not sent"
    if result.outcome == RowResult.Outcome.ERROR and result.error_code == INTERRUPTED_CODE:
        return "interrupted"
    return result.outcome


@dataclass(frozen=True)
class RunFigures:
    """The counts the run page shows. While a run is active they are read live from its results
    (written chunk by chunk), its board journal (items monday created) and its API log (every
    request); once it ended they are the counts its finish recorded."""

    created: int
    updated: int
    cancelled: int
    skipped: int
    failed: int
    interrupted: int
    not_sent: int
    in_progress: int
    groups_created: int
    api_calls: int
    retries: int

    @property
    def done(self) -> int:
        return self.created + self.updated + self.cancelled


def run_figures(run: SyncRun, counts: dict[str, int]) -> RunFigures:
    """`counts` is `run_outcome_counts(run)`."""
    api_calls = ApiCall.objects.filter(run=run).count()
    if run.is_active:
        # Items are journaled as monday confirms each batch, before their rows are written back.
        created = max(
            counts["created"], BoardChange.objects.filter(run=run, kind=BoardChange.Kind.ITEM_CREATED).count()
        )
        updated, cancelled, skipped, failed = counts["updated"], counts["cancelled"], counts["skipped"], counts["error"]
    else:
        created, updated, cancelled = run.created_count, run.updated_count, run.cancelled_count
        skipped, failed = run.skipped_count, run.failed_count
    return RunFigures(
        created=created,
        updated=updated,
        cancelled=cancelled,
        skipped=skipped,
        failed=failed,
        interrupted=counts["interrupted"],
        not_sent=counts["not_sent"],
        in_progress=counts["planned"],
        groups_created=run.groups_created,
        api_calls=api_calls,
        retries=run.retries_count,
    )


@dataclass(frozen=True)
class FailedRowsNow:
    """Where a finished run's failed rows stand today: still failed (what a retry takes), settled
    by later runs (run id -> rows), or PENDING again for the next sync."""

    failed: int
    still_failed: int
    settled_by: list[tuple[int, int]]  # (later run, rows it synced), oldest run first

    @property
    def settled(self) -> int:
        return sum(n for _, n in self.settled_by)

    @property
    def pending_again(self) -> int:
        return max(0, self.failed - self.still_failed - self.settled)


def failed_rows_now(run: SyncRun, failed: int) -> FailedRowsNow | None:
    """None when the run has no failed rows. Later runs are real runs on the same environment that
    synced the row; a row synced by several is credited to the first. The failed rows are read
    through a subquery, so a run with 20,000 failures stays one statement of a few parameters."""
    if not failed or run.dry_run:
        return None
    failed_uuids = RowResult.objects.filter(run=run, outcome=RowResult.Outcome.ERROR).values("record_uuid")
    still = FactOrderList.objects.filter(record_uuid__in=failed_uuids, sync_state="ERROR").count()
    first_by_row: dict[str, int] = {}
    later = (
        RowResult.objects.filter(
            run__environment=run.environment,
            run__dry_run=False,
            run_id__gt=run.pk,
            outcome=RowResult.Outcome.SYNCED,
            record_uuid__in=failed_uuids,
        )
        .exclude(run__kind=SyncRun.Kind.ROLLBACK)
        .order_by("run_id")
        .values_list("record_uuid", "run_id")
    )
    for uuid, later_run in later.iterator(chunk_size=2000):
        first_by_row.setdefault(str(uuid), later_run)
    per_run: dict[int, int] = {}
    for later_run in first_by_row.values():
        per_run[later_run] = per_run.get(later_run, 0) + 1
    return FailedRowsNow(failed=failed, still_failed=still, settled_by=sorted(per_run.items()))


def interrupted_rows(run: SyncRun) -> QuerySet[RowResult]:
    return RowResult.objects.filter(run=run, outcome=RowResult.Outcome.ERROR, error_code=INTERRUPTED_CODE)


def run_failures(run: SyncRun) -> QuerySet[RowResult]:
    """The rows monday (or the planner) refused: every failed row but the interrupted ones."""
    return RowResult.objects.filter(run=run, outcome=RowResult.Outcome.ERROR).exclude(error_code=INTERRUPTED_CODE)


def failure_groups(run: SyncRun, counts: dict[str, int]) -> list[ErrorGroup]:
    """The run's failed rows grouped by cause, in ops words with the fix (selectors/error_causes),
    the rows the stop interrupted as one group of their own. Largest group first."""
    if not counts["error"]:
        return []
    fields = ("message", "error_code", "customer_name", "po_number", "aag_order_number")
    groups = []
    if counts["error"] > counts["interrupted"]:
        groups = error_groups(run_failures(run).values(*fields).iterator(chunk_size=2000), board_id=run.items_board_id)
    if counts["interrupted"]:
        n = counts["interrupted"]
        samples = list(interrupted_rows(run).order_by("id").values(*fields)[:SAMPLE_ROWS])
        groups.append(
            ErrorGroup(
                cause="interrupted",
                text="the run stopped after monday had created or changed the items of these rows, before the "
                "rows were finished",
                fix="nothing to retry: the rows are PENDING again, and the next sync of this selection finishes them "
                "on the same items (no duplicates)",
                raw_message=run.error_message,
                count=n,
                samples=[
                    {"customer": r["customer_name"], "po": r["po_number"], "aag_order_number": r["aag_order_number"]}
                    for r in samples
                ],
            )
        )
        groups.sort(key=lambda g: -g.count)
    return groups


def cancelled_by(run: SyncRun) -> str:
    """Who asked a cancelled run to stop, from the audit log ("" when nobody is recorded)."""
    entry = (
        AuditEntry.objects.filter(action="run_cancel", target_type="run", target_id=str(run.pk))
        .order_by("id")
        .values_list("actor_name", "via")
        .first()
    )
    return f"{entry[0] or 'someone'} ({entry[1]})" if entry else ""


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


NOT_FINISHED = "NOT FINISHED"


def customer_outcomes(run: SyncRun, *, status: str = SyncRun.Status.COMPLETED) -> dict[str, dict]:
    """Per customer: rows synced, failed and not sent, the success rate and the outcome by the
    customer's thresholds. A run that did not complete gives no customer SUCCESS: a customer with
    failed rows FAILED, one with rows the stop left unsent NOT FINISHED. `status` is the status the
    run ends with (the lifecycle calls this before recording it)."""
    config = get_sync_config()
    completed = status == SyncRun.Status.COMPLETED
    skipped = Q(outcome=RowResult.Outcome.SKIPPED)
    outcomes = {}
    for row in (
        RowResult.objects.filter(run=run)
        .values("customer_name")
        .annotate(
            synced=Count("id", filter=Q(outcome=RowResult.Outcome.SYNCED)),
            failed=Count("id", filter=Q(outcome=RowResult.Outcome.ERROR)),
            not_sent=Count(
                "id", filter=(skipped & ~Q(action=RowResult.Action.SKIP)) | Q(outcome=RowResult.Outcome.PLANNED)
            ),
        )
        .order_by("customer_name")
    ):
        total = row["synced"] + row["failed"]
        rate = round(100.0 * row["synced"] / total, 1) if total else None
        if completed:
            outcome = config.outcome_for(rate)
        elif row["failed"]:
            outcome = SyncRun.Outcome.FAILED
        elif row["not_sent"]:
            outcome = NOT_FINISHED
        else:
            outcome = config.outcome_for(rate)
        outcomes[row["customer_name"] or "(customer not recorded)"] = {
            "synced": row["synced"],
            "failed": row["failed"],
            "not_sent": row["not_sent"],
            "success_rate": rate if completed else None,
            "outcome": outcome,
        }
    return outcomes
