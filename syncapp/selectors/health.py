"""Reads for /health, /metrics and the alerts: the worker's last sign of life, the queue, and the
figures Prometheus scrapes.

Several worker hosts share one database, so every figure is read from the database at scrape time
(no process-local counters). What one scrape costs:
- SyncRun: one GROUP BY over all runs (a few thousand rows a year) and one MAX per environment;
- ORDER_LIST_API_LOG: one GROUP BY (environment, ok), answered from the index api_log_env_ok_id
  without reading the logged bodies (a scan of that narrow index: about a second per ten million
  calls on SQL Server), and per environment and ok one latest row by that index (a seek);
- the heartbeats (a row per worker host) and the queue depth (OrmQ's COUNT, or Redis' LLEN).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, F, Max, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from syncapp.models import ApiCall, Environment, SyncRun, WorkerHeartbeat

logger = logging.getLogger(__name__)

# Runs that count as "the sync works" for the seconds-since-last-success figure.
SYNC_KINDS = (SyncRun.Kind.SYNC, SyncRun.Kind.RETRY)


# --- the worker and the queue ----------------------------------------------------------------


def worker_last_seen() -> datetime | None:
    """When a django-q2 worker last proved it was alive: the latest heartbeat of any host, or the
    heartbeat of a run a worker is executing (a worker busy with a long sync may not get to the
    heartbeat task). Runs started from the CLI execute in the CLI's own process, so they say
    nothing about the worker. None when no worker was ever seen."""
    beat = WorkerHeartbeat.objects.aggregate(last=Max("seen_at"))["last"]
    running = (
        SyncRun.objects.filter(status=SyncRun.Status.RUNNING)
        .exclude(requested_via="cli")
        .aggregate(last=Max("heartbeat_at"))["last"]
    )
    seen = [moment for moment in (beat, running) if moment is not None]
    return max(seen) if seen else None


def worker_heartbeats() -> list[tuple[str, datetime]]:
    """(host, seen_at) of every worker host that ever sent a heartbeat."""
    return list(WorkerHeartbeat.objects.order_by("host").values_list("host", "seen_at"))


@dataclass(frozen=True)
class QueueDepth:
    ok: bool
    broker: str  # "orm" | "redis"
    depth: int | None


def queue_depth() -> QueueDepth:
    """Tasks waiting in django-q2's broker (the database's OrmQ table, or Redis)."""
    # django_q's modules read the cluster configuration on import; only these reads need them.
    from django_q.brokers import get_broker
    from django_q.models import OrmQ

    broker = "orm" if settings.Q_CLUSTER.get("orm") else "redis"
    try:
        depth = OrmQ.objects.count() if broker == "orm" else int(get_broker().queue_size())
    except Exception as exc:  # a broker that cannot be read is reported, not raised
        logger.warning("queue depth cannot be read from the %s broker: %s", broker, type(exc).__name__)
        return QueueDepth(ok=False, broker=broker, depth=None)
    return QueueDepth(ok=True, broker=broker, depth=depth)


# --- /health -----------------------------------------------------------------------------------


@dataclass
class HealthStatus:
    status: str  # "ok" | "degraded" | "down"
    checks: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"status": self.status, "checks": self.checks}


def health_status(*, now: datetime | None = None) -> HealthStatus:
    """The database, the queue and the worker, in a few small queries. No host names, versions,
    settings or exception texts: /health needs no login, so it says only ok or not."""
    now = now or timezone.now()
    try:
        last_seen = worker_last_seen()
        database = {"ok": True}
    except DatabaseError as exc:
        logger.warning("health: the database cannot be read (%s)", type(exc).__name__)
        last_seen, database = None, {"ok": False}
    if database["ok"] or not settings.Q_CLUSTER.get("orm"):
        queue = queue_depth()
    else:
        queue = QueueDepth(ok=False, broker="orm", depth=None)
    silence = settings.ORDEROPS_HEALTH_WORKER_SILENCE_MINUTES * 60
    age = max(0, int((now - last_seen).total_seconds())) if last_seen else None
    worker = {
        "ok": database["ok"] and age is not None and age <= silence,
        "last_seen": last_seen.isoformat() if last_seen else None,
        "age_seconds": age,
    }
    if not database["ok"]:
        status = "down"
    elif queue.ok and worker["ok"]:
        status = "ok"
    else:
        status = "degraded"
    checks = {
        "database": database,
        "queue": {"ok": queue.ok, "broker": queue.broker, "depth": queue.depth},
        "worker": worker,
    }
    return HealthStatus(status=status, checks=checks)


# --- /metrics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunGroup:
    environment: str
    kind: str
    status: str
    outcome: str
    dry_run: bool
    runs: int
    rows_synced: int
    rows_failed: int
    retries: int
    waited_seconds: float


def run_groups() -> list[RunGroup]:
    """Runs and their counters summed by environment, kind, status, outcome and dry run: one GROUP BY."""
    rows = (
        SyncRun.objects.order_by()
        .values("environment", "kind", "status", "outcome", "dry_run")
        .annotate(
            runs=Count("id"),
            synced=Sum(F("created_count") + F("updated_count")),
            failed=Sum("failed_count"),
            retries=Sum("retries_count"),
            waited=Sum("waited_seconds"),
        )
    )
    return [
        RunGroup(
            environment=row["environment"],
            kind=row["kind"],
            status=row["status"],
            outcome=row["outcome"] or "none",
            dry_run=bool(row["dry_run"]),
            runs=row["runs"],
            rows_synced=row["synced"] or 0,
            rows_failed=row["failed"] or 0,
            retries=row["retries"] or 0,
            waited_seconds=float(row["waited"] or 0),
        )
        for row in rows
    ]


def last_successful_runs() -> dict[str, datetime]:
    """Per environment, when the last sync or retry that wrote and succeeded finished."""
    rows = (
        SyncRun.objects.filter(
            kind__in=SYNC_KINDS, dry_run=False, status=SyncRun.Status.COMPLETED, outcome=SyncRun.Outcome.SUCCESS
        )
        .order_by()
        .values("environment")
        .annotate(last=Max("finished_at"))
    )
    return {row["environment"]: row["last"] for row in rows if row["last"] is not None}


def monday_requests() -> dict[tuple[str, bool], int]:
    """Requests sent to monday per (environment, answered ok), counted from the index alone."""
    rows = ApiCall.objects.order_by().values("environment", "ok").annotate(n=Count("id"))
    return {(row["environment"], bool(row["ok"])): row["n"] for row in rows}


def budget_remaining() -> dict[str, tuple[int, datetime]]:
    """Per environment, monday's complexity budget left after the latest call that said, and when.

    Read per (environment, ok) in the index's order (a seek, newest first), so a scrape never scans
    the log."""
    latest: dict[str, tuple[int, int, datetime]] = {}
    for environment in Environment.values:
        for ok in (True, False):
            row = (
                ApiCall.objects.filter(environment=environment, ok=ok, budget_remaining__isnull=False)
                .order_by("-id")
                .values_list("id", "budget_remaining", "created_at")
                .first()
            )
            if row and (environment not in latest or row[0] > latest[environment][0]):
                latest[environment] = row
    return {environment: (row[1], row[2]) for environment, row in latest.items()}


class OrderopsCollector:
    """A prometheus-client collector that reads the database on every scrape."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from _run_metrics(run_groups())
        yield from _success_metrics(last_successful_runs(), now)
        yield from _monday_metrics(monday_requests(), budget_remaining())
        yield from _worker_metrics(worker_last_seen(), worker_heartbeats(), queue_depth(), now)


def _run_metrics(groups: list[RunGroup]) -> Iterator[Metric]:
    runs = GaugeMetricFamily(
        "orderops_runs",
        "Runs recorded, by environment, kind, status, outcome and dry run (a run moves from queued to its end).",
        labels=["environment", "kind", "status", "outcome", "dry_run"],
    )
    synced = CounterMetricFamily(
        "orderops_rows_synced",
        "Order lines runs created or updated on monday (dry runs excluded).",
        labels=["environment", "kind"],
    )
    failed = CounterMetricFamily(
        "orderops_rows_failed", "Order lines runs failed on (dry runs excluded).", labels=["environment", "kind"]
    )
    retries = CounterMetricFamily(
        "orderops_monday_retries",
        "Requests to monday sent again by runs (errors, lost answers, 429s).",
        labels=["environment"],
    )
    waited = CounterMetricFamily(
        "orderops_monday_rate_limit_wait_seconds",
        "Seconds runs waited for monday's rate limits and complexity budget.",
        labels=["environment"],
    )
    rows: dict[tuple[str, str], list[int]] = {}
    per_environment: dict[str, list[float]] = {}
    for group in groups:
        runs.add_metric(
            [group.environment, group.kind, group.status, group.outcome, str(group.dry_run).lower()], group.runs
        )
        if not group.dry_run:
            counts = rows.setdefault((group.environment, group.kind), [0, 0])
            counts[0] += group.rows_synced
            counts[1] += group.rows_failed
        totals = per_environment.setdefault(group.environment, [0, 0.0])
        totals[0] += group.retries
        totals[1] += group.waited_seconds
    for (environment, kind), (synced_rows, failed_rows) in sorted(rows.items()):
        synced.add_metric([environment, kind], synced_rows)
        failed.add_metric([environment, kind], failed_rows)
    for environment, (retry_count, seconds) in sorted(per_environment.items()):
        retries.add_metric([environment], retry_count)
        waited.add_metric([environment], seconds)
    yield from (runs, synced, failed, retries, waited)


def _success_metrics(last: dict[str, datetime], now: datetime) -> Iterator[Metric]:
    at = GaugeMetricFamily(
        "orderops_last_successful_run_timestamp_seconds",
        "When the last sync or retry that succeeded finished (Unix time), per environment.",
        labels=["environment"],
    )
    since = GaugeMetricFamily(
        "orderops_seconds_since_last_successful_run",
        "Seconds since the last sync or retry that succeeded finished, per environment.",
        labels=["environment"],
    )
    for environment, finished in sorted(last.items()):
        at.add_metric([environment], finished.timestamp())
        since.add_metric([environment], max(0.0, (now - finished).total_seconds()))
    yield from (at, since)


def _monday_metrics(requests: dict[tuple[str, bool], int], budget: dict[str, tuple[int, datetime]]) -> Iterator[Metric]:
    sent = CounterMetricFamily(
        "orderops_monday_requests",
        "HTTP requests sent to monday (ORDER_LIST_API_LOG), by environment and whether monday answered ok.",
        labels=["environment", "ok"],
    )
    for (environment, ok), count in sorted(requests.items()):
        sent.add_metric([environment, str(ok).lower()], count)
    remaining = GaugeMetricFamily(
        "orderops_monday_complexity_budget_remaining",
        "monday's complexity budget left after the latest call that reported it, per environment.",
        labels=["environment"],
    )
    observed = GaugeMetricFamily(
        "orderops_monday_complexity_budget_observed_timestamp_seconds",
        "When that budget was reported (Unix time): the budget refills every minute, so an old value is stale.",
        labels=["environment"],
    )
    for environment, (left, at) in sorted(budget.items()):
        remaining.add_metric([environment], left)
        observed.add_metric([environment], at.timestamp())
    yield from (sent, remaining, observed)


def _worker_metrics(
    last_seen: datetime | None, beats: list[tuple[str, datetime]], queue: QueueDepth, now: datetime
) -> Iterator[Metric]:
    depth = GaugeMetricFamily("orderops_queue_depth", "Tasks waiting in the django-q2 broker.", labels=["broker"])
    if queue.depth is not None:
        depth.add_metric([queue.broker], queue.depth)
    up = GaugeMetricFamily("orderops_queue_up", "1 when the django-q2 broker could be read.", labels=["broker"])
    up.add_metric([queue.broker], 1 if queue.ok else 0)
    seen = GaugeMetricFamily(
        "orderops_worker_last_seen_timestamp_seconds",
        "When a worker last proved it was alive (a heartbeat, or a run it executes), Unix time.",
    )
    since = GaugeMetricFamily(
        "orderops_worker_seconds_since_last_seen", "Seconds since a worker last proved it was alive."
    )
    if last_seen is not None:
        seen.add_metric([], last_seen.timestamp())
        since.add_metric([], max(0.0, (now - last_seen).total_seconds()))
    hosts = GaugeMetricFamily(
        "orderops_worker_heartbeat_timestamp_seconds", "Each worker host's last heartbeat, Unix time.", labels=["host"]
    )
    for host, at in beats:
        hosts.add_metric([host], at.timestamp())
    yield from (depth, up, seen, since, hosts)
