"""Reads for the alerts: what a finished run says about its customers and causes, whether monday's
limits stopped it, how long PENDING rows have waited, and the alert history for the console."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Min, Q, QuerySet
from django.db.models.functions import Coalesce

from syncapp.domain.states import Action, State
from syncapp.models import Alert, AlertDelivery, FactOrderList, SyncRun
from syncapp.monday.errors import DAILY_LIMIT_CODES
from syncapp.selectors.runs import failure_groups, run_outcome_counts
from syncapp.sync_config import ConfigError, get_sync_config

# Causes named in a message: enough to act on, not the run page again.
TOP_CAUSES = 3
ALERT_STATUSES = ("firing", "resolved", "test")


@dataclass(frozen=True)
class AlertFilters:
    status: str = ""
    environment: str = ""

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in {"status": self.status, "environment": self.environment}.items() if v}


def alerts_matching(filters: AlertFilters) -> QuerySet[Alert]:
    """The history, newest first, each with its deliveries (one query for all of them)."""
    alerts = Alert.objects.select_related("run", "resolved_by_run").prefetch_related("deliveries")
    if filters.status in ALERT_STATUSES:
        alerts = alerts.filter(status=filters.status)
    if filters.environment:
        alerts = alerts.filter(environment=filters.environment)
    return alerts.order_by("-id")


def alert_environments() -> list[str]:
    return sorted(e for e in Alert.objects.values_list("environment", flat=True).distinct() if e)


def firing_alert(key: str) -> Alert | None:
    return Alert.objects.filter(key=key, status=Alert.Status.FIRING).first()


def firing_alerts(condition: str, environment: str | None = None) -> list[Alert]:
    alerts = Alert.objects.filter(condition=condition, status=Alert.Status.FIRING)
    if environment is not None:
        alerts = alerts.filter(environment=environment)
    return list(alerts.order_by("id"))


def alert_seen_since(key: str, run_id: int) -> bool:
    """Has this run, or a later one, already opened, seen or resolved the condition? Then evaluating
    the run again (the task ran twice, or late) changes nothing."""
    return (
        Alert.objects.filter(key=key)
        .filter(Q(run_id__gte=run_id) | Q(last_run_id__gte=run_id) | Q(resolved_by_run_id__gte=run_id))
        .exists()
    )


def deliveries_due(*, now: datetime, ids: list[int] | None = None, limit: int = 200) -> list[AlertDelivery]:
    """Deliveries to send now: pending, and their next attempt is due (or never tried)."""
    due = AlertDelivery.objects.filter(status=AlertDelivery.Status.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    if ids is not None:
        due = due.filter(pk__in=ids[:1000])
    return list(due.select_related("alert").order_by("id")[:limit])


# --- a finished run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunAlertFacts:
    """What a finished run says for the alerts: its board, its customers under the thresholds, its
    top causes of failure in ops words, and whether monday's limits stopped it."""

    board_name: str
    customers: dict[str, dict]  # customer -> the run's per-customer outcome (selectors.runs.customer_outcomes)
    top_causes: list[dict] = field(default_factory=list)
    limit_stop: str = ""
    success_at_least: float = 95.0
    needs_attention_at_least: float = 80.0

    @property
    def below(self) -> dict[str, dict]:
        """Customers the thresholds put at NEEDS ATTENTION or FAILED (not those merely unfinished)."""
        return {
            name: outcome
            for name, outcome in self.customers.items()
            if outcome.get("outcome") in (SyncRun.Outcome.NEEDS_ATTENTION, SyncRun.Outcome.FAILED)
        }


def run_alert_facts(run: SyncRun) -> RunAlertFacts:
    try:
        config = get_sync_config()
        board_name = config.environment(run.environment).items_board.name
        success, attention = config.success_at_least, config.needs_attention_at_least
    except ConfigError:
        board_name, success, attention = "", 95.0, 80.0
    groups = failure_groups(run, run_outcome_counts(run))
    causes = [
        {"cause": g.cause, "rows": g.count, "text": g.text, "fix": g.fix, "monday_said": g.raw_message[:500]}
        for g in groups[:TOP_CAUSES]
    ]
    return RunAlertFacts(
        board_name=board_name,
        # The outcome the run recorded as it finished; the same reading the run page shows.
        customers=dict(run.summary or {}),
        top_causes=causes,
        limit_stop=run_limit_stop(run),
        success_at_least=success,
        needs_attention_at_least=attention,
    )


def run_limit_stop(run: SyncRun) -> str:
    """Why monday's limits stopped the run, in ops words; "" when they did not. The lifecycle keeps
    only the stop's text (run.error_message, as the monday client words it), so it is read from
    there: the daily call limit, or a rate limit / complexity budget the client waited on in vain."""
    if run.status != SyncRun.Status.FAILED:
        return ""
    error = run.error_message or ""
    if any(code in error for code in DAILY_LIMIT_CODES) or "daily API call limit" in error:
        return "monday's daily API call limit for the account is used up; the sync resumes after it resets"
    if "last problem: rate limited" in error or "COMPLEXITY_BUDGET_EXHAUSTED" in error:
        return "monday's rate limit (the complexity budget) held the run back until its retries ran out"
    return ""


# --- PENDING rows ------------------------------------------------------------------------------


def pending_waiting(*, older_than: datetime) -> tuple[int, datetime | None]:
    """PENDING rows (INSERT/UPDATE) waiting since before `older_than`, and the oldest's time.

    FACT_ORDER_LIST's `sync_pending_at` says when a row was marked PENDING (marking, the merge and
    a retry set it). A row without one (set PENDING by a hand-written UPDATE) is dated by its
    `updated_at`, the best evidence the table holds."""
    since = Coalesce("sync_pending_at", "updated_at")
    waiting = (
        FactOrderList.objects.filter(sync_state=State.PENDING, action_type__in=[Action.INSERT, Action.UPDATE])
        .annotate(waiting_since=since)
        .filter(waiting_since__lt=older_than)
    )
    figures = waiting.aggregate(oldest=Min("waiting_since"))
    return waiting.count(), figures["oldest"]
