"""Alerts: open one per condition when it starts, resolve it once when it recovers, and tell people.

Conditions and their stable keys (at most one firing alert per key, a partial unique index):
- `run_failed:<env>`: a sync or retry (not a dry run) ended FAILED (status failed, or the FAILED
  outcome); resolved by the next run on that environment that completes without the FAILED outcome.
  A cancelled run neither opens nor resolves anything: it proves nothing about the board.
- `customer_below:<env>:<CUSTOMER>`: a completed run rated the customer NEEDS ATTENTION (warning, below
  the success threshold, 95 % by default) or FAILED (critical, below 80 %), as its run page reads
  (selectors.runs.customer_outcomes, recorded on the run); resolved by a later completed run that
  rates the customer SUCCESS, e.g. the retry of its failed rows.
- `run_stopped_by_limit:<env>`: monday's daily limit or complexity budget stopped the run; resolved
  by the next run that completes or fails for another reason.
- `pending_age:<env>`: PENDING rows of the active environment have waited longer than
  ORDEROPS_ALERT_PENDING_MAX_AGE_MINUTES; resolved when none have.
- `worker_silent`: no django-q2 worker seen for ORDEROPS_ALERT_WORKER_SILENCE_MINUTES.
- `reconcile_drift:<env>`: a reconcile (scheduled or not, any scope) completed with findings;
  resolved by a later reconcile of the whole board that completes in step.

A run's conditions are evaluated by a task queued when it ends (`alerts_enqueue_run`, called by
the run lifecycle); the last two every minute (`alerts_evaluate_periodic`, a django-q2 schedule,
which also sends the deliveries whose retry is due). Both are idempotent: a run evaluated twice, or
after a later run, changes nothing (selectors.alerts.alert_seen_since).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from syncapp.domain.errors import PermissionRefusedError
from syncapp.domain.scope import key as customer_key
from syncapp.models import Alert, AlertDelivery, SyncRun
from syncapp.selectors.alerts import (
    RunAlertFacts,
    alert_seen_since,
    firing_alert,
    firing_alerts,
    pending_waiting,
    run_alert_facts,
)
from syncapp.selectors.environments import active_environment_name
from syncapp.selectors.health import worker_last_seen
from syncapp.selectors.reconcile import stored_counts
from syncapp.services.alert_delivery import alert_deliveries_send, alert_targets, deliveries_create
from syncapp.services.audit import audit_record
from syncapp.sync_config import ConfigError, get_sync_config

logger = logging.getLogger(__name__)

SEVERITY_ORDER = {Alert.Severity.INFO: 0, Alert.Severity.WARNING: 1, Alert.Severity.CRITICAL: 2}
ALERTED_KINDS = (SyncRun.Kind.SYNC, SyncRun.Kind.RETRY)
Message = tuple[str, str, dict]  # title, text, structured details


# --- where the messages point ------------------------------------------------------------------


def console_url(path: str) -> str:
    return settings.ORDEROPS_CONSOLE_URL.rstrip("/") + path


def _at(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%b %d, %Y %H:%M %Z") if moment else "never"


def _board(environment: str) -> tuple[str, str]:
    """(the environment in words with its board, the board alone) for the message's first line."""
    try:
        env = get_sync_config().environment(environment)
    except ConfigError:
        return environment, ""
    board = f"{env.items_board.name} ({env.items_board_id})"
    return f"{env.label} ({environment}), board {board}", board


def _run_words(run: SyncRun) -> str:
    kind = f"retry of run {run.parent_id}" if run.kind == SyncRun.Kind.RETRY and run.parent_id else run.kind
    return f"run {run.pk} ({kind})"


def _base_details(environment: str, run: SyncRun | None = None) -> dict:
    details = {"environment": environment, "board": _board(environment)[1], "alerts_url": console_url("/alerts/")}
    if run is not None:
        details |= {"run_id": run.pk, "run_url": console_url(f"/runs/{run.pk}/")}
    return details


def _customer_line(name: str, outcome: dict, facts: RunAlertFacts) -> str:
    failed, synced, rate = outcome.get("failed", 0), outcome.get("synced", 0), outcome.get("success_rate")
    below = (
        facts.needs_attention_at_least if outcome.get("outcome") == SyncRun.Outcome.FAILED else facts.success_at_least
    )
    rate_words = f"{rate:g} % synced, below {below:g} %" if rate is not None else "the run did not finish"
    return f"{name}: {failed} of {failed + synced} rows failed ({rate_words})"


def _customers(outcomes: dict[str, dict]) -> list[dict]:
    return [
        {
            "customer": name,
            "failed": o.get("failed", 0),
            "synced": o.get("synced", 0),
            "success_rate": o.get("success_rate"),
        }
        for name, o in outcomes.items()
    ]


def _run_lines(run: SyncRun, facts: RunAlertFacts, customers: dict[str, dict]) -> list[str]:
    """The lines every run alert carries: where, the customers below threshold, the top causes, the link."""
    lines = [f"Environment: {_board(run.environment)[0]}"]
    if customers:
        lines.append("Customers below threshold:")
        lines += [f"- {_customer_line(name, o, facts)}" for name, o in customers.items()]
    if facts.top_causes:
        lines.append("Top causes:")
        lines += [
            f"- {c['rows']} row{'s' if c['rows'] != 1 else ''}: {c['text']}: {c['fix']}" for c in facts.top_causes
        ]
    lines.append(f"Open the run: {console_url(f'/runs/{run.pk}/')}")
    return lines


def _run_details(run: SyncRun, facts: RunAlertFacts, customers: dict[str, dict]) -> dict:
    return _base_details(run.environment, run) | {
        "customers": _customers(customers),
        "top_causes": facts.top_causes,
    }


# --- opening and resolving ----------------------------------------------------------------------


def _open(
    *,
    key: str,
    condition: str,
    environment: str,
    severity: str,
    message: Callable[[], Message],
    run: SyncRun | None = None,
    customer: str = "",
) -> str:
    """Open the alert for `key` unless one is firing (then it is seen again, its severity raised if
    need be, and nobody is told twice). Returns what changed, for the task's result."""
    now = timezone.now()
    if run is not None and alert_seen_since(key, run.pk):
        return ""
    current = firing_alert(key)
    if current is not None:
        fields = {"last_seen_at": now, "last_run": run or current.last_run}
        if SEVERITY_ORDER[severity] > SEVERITY_ORDER[current.severity]:
            fields["severity"] = severity
        Alert.objects.filter(pk=current.pk, status=Alert.Status.FIRING).update(**fields)
        return ""
    title, text, details = message()
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                key=key,
                condition=condition,
                environment=environment,
                customer=customer[:100],
                severity=severity,
                title=title[:300],
                message=text,
                details=details | {"severity": severity, "status": "firing"},
                run=run,
                last_run=run,
                last_seen_at=now,
            )
            deliveries_create(alert=alert, event=AlertDelivery.Event.FIRING)
    except IntegrityError:  # another worker opened it a moment ago: one alert per condition
        return ""
    return f"opened {key}"


def _resolve(*, key: str, message: Callable[[Alert], Message], run: SyncRun | None = None) -> str:
    """Resolve the firing alert for `key` once (a compare-and-set UPDATE; only the winner tells)."""
    alert = firing_alert(key)
    if alert is None or (run is not None and alert.last_run_id is not None and alert.last_run_id >= run.pk):
        return ""
    title, text, details = message(alert)
    with transaction.atomic():
        resolved = Alert.objects.filter(pk=alert.pk, status=Alert.Status.FIRING).update(
            status=Alert.Status.RESOLVED,
            resolved_at=timezone.now(),
            resolved_by_run=run,
            resolution_title=title[:300],
            resolution_message=text,
            resolution_details=details | {"severity": alert.severity, "status": "resolved"},
        )
        if not resolved:
            return ""
        alert.refresh_from_db()
        deliveries_create(alert=alert, event=AlertDelivery.Event.RESOLVED)
    return f"resolved {key}"


def _opened_by(alert: Alert) -> str:
    return f"opened {_at(alert.opened_at)}" + (f" by run {alert.run_id}" if alert.run_id else "")


# --- a finished run ------------------------------------------------------------------------------


def alerts_enqueue_run(*, run_id: int, kind: str = SyncRun.Kind.SYNC, dry_run: bool = False) -> None:
    """Called by the run lifecycle as a run ends: evaluate its alerts once it is committed. Never
    raises: an alert that cannot be queued is logged, and the run ends as it would have. Previews
    and rollbacks bear on no condition, so they queue nothing; a reconcile (a dry run) does."""
    if kind != SyncRun.Kind.RECONCILE and (dry_run or kind not in ALERTED_KINDS):
        return
    try:
        transaction.on_commit(lambda: _enqueue_evaluation(run_id), robust=True)
    except Exception:
        logger.warning("the alerts of run %s could not be queued", run_id, exc_info=True)


def _enqueue_evaluation(run_id: int) -> None:
    try:
        # django_q imports its cluster machinery on import; only a process that queues work needs it.
        from django_q.tasks import async_task

        # Inside a transaction django-q2's ORM broker leaves the caller's connection open; outside
        # one it closes it, under the run lifecycle that is still finishing the run.
        with transaction.atomic():
            async_task(
                "syncapp.tasks.alerts.alerts_evaluate_run_task",
                run_id,
                task_name=f"alerts-run-{run_id}",
                group="orderops-alerts",
            )
    except Exception:
        logger.warning("the alerts of run %s could not be queued", run_id, exc_info=True)


def alerts_evaluate_run(*, run_id: int) -> list[str]:
    """Open or resolve the alerts a finished run bears on. Idempotent. Returns what changed."""
    run = SyncRun.objects.filter(pk=run_id).first()
    if run is not None and run.kind == SyncRun.Kind.RECONCILE and run.status == SyncRun.Status.COMPLETED:
        return [c for c in [_evaluate_reconcile(run)] if c]
    if run is None or run.dry_run or run.kind not in ALERTED_KINDS or run.is_active:
        return []
    env = run.environment
    facts = run_alert_facts(run)
    completed, failed = run.status == SyncRun.Status.COMPLETED, run.status == SyncRun.Status.FAILED
    changes = []
    if failed or run.outcome == SyncRun.Outcome.FAILED:
        changes.append(
            _open(
                key=f"run_failed:{env}",
                condition=Alert.Condition.RUN_FAILED,
                environment=env,
                severity=Alert.Severity.CRITICAL,
                run=run,
                message=lambda: _run_failed_message(run, facts),
            )
        )
    elif completed:
        changes.append(_resolve(key=f"run_failed:{env}", run=run, message=lambda a: _run_ok_message(a, run)))
    if facts.limit_stop:
        changes.append(
            _open(
                key=f"run_stopped_by_limit:{env}",
                condition=Alert.Condition.RUN_STOPPED_BY_LIMIT,
                environment=env,
                severity=Alert.Severity.WARNING,
                run=run,
                message=lambda: _limit_message(run, facts),
            )
        )
    elif completed or failed:
        changes.append(
            _resolve(key=f"run_stopped_by_limit:{env}", run=run, message=lambda a: _limit_ok_message(a, run))
        )
    if completed:
        changes += _evaluate_customers(run, facts)
    return [c for c in changes if c]


def _evaluate_customers(run: SyncRun, facts: RunAlertFacts) -> list[str]:
    changes = []
    below = facts.below
    for name, outcome in facts.customers.items():
        key = f"customer_below:{run.environment}:{customer_key(name)}"
        if name in below:
            critical = outcome["outcome"] == SyncRun.Outcome.FAILED
            changes.append(
                _open(
                    key=key,
                    condition=Alert.Condition.CUSTOMER_BELOW,
                    environment=run.environment,
                    customer=name,
                    severity=Alert.Severity.CRITICAL if critical else Alert.Severity.WARNING,
                    run=run,
                    message=lambda name=name, outcome=outcome: _customer_message(run, facts, name, outcome),
                )
            )
        elif outcome.get("outcome") == SyncRun.Outcome.SUCCESS:
            changes.append(
                _resolve(
                    key=key,
                    run=run,
                    message=lambda a, name=name, outcome=outcome: _customer_ok_message(a, run, name, outcome),
                )
            )
    return changes


def _run_failed_message(run: SyncRun, facts: RunAlertFacts) -> Message:
    ended = "stopped" if run.status == SyncRun.Status.FAILED else "ended FAILED"
    title = f"Run {run.pk} {ended} on {run.environment}"
    first = (
        f"{_run_words(run).capitalize()} {ended}: {run.failed_count} row{'s' if run.failed_count != 1 else ''} failed"
    )
    if run.success_rate is not None:
        first += f", {run.success_rate:g} % synced"
    if run.error_message:
        first += f". Why it stopped: {run.error_message.split('. ')[0]}"
    lines = [first + ".", *_run_lines(run, facts, facts.below)]
    return title, "\n".join(lines), _run_details(run, facts, facts.below)


def _run_ok_message(alert: Alert, run: SyncRun) -> Message:
    title = f"Resolved: runs on {alert.environment} succeed again"
    text = (
        f"{_run_words(run).capitalize()} completed ({run.outcome or 'no outcome'}"
        + (f", {run.success_rate:g} % synced" if run.success_rate is not None else "")
        + f"). The failed-run alert {_opened_by(alert)} is resolved.\n"
        f"Environment: {_board(run.environment)[0]}\nOpen the run: {console_url(f'/runs/{run.pk}/')}"
    )
    return title, text, _base_details(run.environment, run)


def _limit_message(run: SyncRun, facts: RunAlertFacts) -> Message:
    title = f"Run {run.pk} on {run.environment} stopped by monday's limits"
    lines = [
        f"{_run_words(run).capitalize()} stopped: {facts.limit_stop}.",
        "Rows it did not finish are PENDING again; the next sync after the limit resets takes them.",
        *_run_lines(run, facts, facts.below),
    ]
    return title, "\n".join(lines), _run_details(run, facts, facts.below)


def _limit_ok_message(alert: Alert, run: SyncRun) -> Message:
    title = f"Resolved: runs on {alert.environment} are no longer stopped by monday's limits"
    text = (
        f"{_run_words(run).capitalize()} finished without a limit stop; the alert {_opened_by(alert)} is resolved.\n"
        f"Open the run: {console_url(f'/runs/{run.pk}/')}"
    )
    return title, text, _base_details(run.environment, run)


def _customer_message(run: SyncRun, facts: RunAlertFacts, name: str, outcome: dict) -> Message:
    critical = outcome["outcome"] == SyncRun.Outcome.FAILED
    threshold = facts.needs_attention_at_least if critical else facts.success_at_least
    title = f"{name} below {threshold:g} % on {run.environment} (run {run.pk})"
    lines = [
        f"{_run_words(run).capitalize()} completed with {name} at {outcome['outcome']}.",
        *_run_lines(run, facts, {name: outcome}),
    ]
    return title, "\n".join(lines), _run_details(run, facts, {name: outcome})


def _customer_ok_message(alert: Alert, run: SyncRun, name: str, outcome: dict) -> Message:
    rate = outcome.get("success_rate")
    title = f"Resolved: {name} back at {rate:g} % on {run.environment}"
    text = (
        f"{_run_words(run).capitalize()} synced {outcome.get('synced', 0)} of {name}'s rows "
        f"({outcome.get('failed', 0)} failed, {rate:g} % synced). The alert {_opened_by(alert)} is resolved.\n"
        f"Environment: {_board(run.environment)[0]}\nOpen the run: {console_url(f'/runs/{run.pk}/')}"
    )
    details = _base_details(run.environment, run) | {"customers": _customers({name: outcome})}
    return title, text, details


def _evaluate_reconcile(run: SyncRun) -> str:
    """Findings open the drift alert; only a whole-board reconcile in step says the board is clean."""
    key, counts = f"reconcile_drift:{run.environment}", stored_counts(run)
    total, url = sum(counts.values()), console_url(f"/reconcile/{run.pk}/")
    details = _base_details(run.environment, run) | {"run_url": url, "findings": counts}
    if not total:
        if run.scope:  # a scoped reconcile compared only part of the board
            return ""
        text = f"Reconcile run {run.pk} compared the whole board and found it in step with the order tables; "
        return _resolve(
            key=key,
            run=run,
            message=lambda a: (
                f"Resolved: the {run.environment} board is in step again",
                f"{text}the alert {_opened_by(a)} is resolved.\nOpen the reconcile: {url}",
                details,
            ),
        )
    kinds = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items() if n)
    found = f"found {total} difference{'s' if total != 1 else ''}"
    lines = [
        f"{'Scheduled r' if run.requested_via == 'schedule' else 'R'}econcile run {run.pk} {found} between the "
        f"board and the order tables: {kinds}.",
        f"Environment: {_board(run.environment)[0]}",
        "People changed the board by hand: read the findings, then repair them from the reconcile page.",
        f"Open the reconcile: {url}",
    ]
    return _open(
        key=key,
        condition=Alert.Condition.RECONCILE_DRIFT,
        environment=run.environment,
        severity=Alert.Severity.WARNING,
        run=run,
        message=lambda: (f"Reconcile {found} on {run.environment}", "\n".join(lines), details),
    )


# --- every minute --------------------------------------------------------------------------------


def alerts_evaluate_periodic(*, now: datetime | None = None) -> list[str]:
    """PENDING rows waiting too long and a silent worker; then the deliveries whose retry is due."""
    now = now or timezone.now()
    changes = [*_evaluate_pending(now), _evaluate_worker(now)]
    sent = alert_deliveries_send(now=now)
    changes += [f"delivery {d.pk} {d.status}" for d in sent]
    return [c for c in changes if c]


def _evaluate_pending(now: datetime) -> list[str]:
    env = active_environment_name()
    max_age = settings.ORDEROPS_ALERT_PENDING_MAX_AGE_MINUTES
    count, oldest = pending_waiting(older_than=now - timedelta(minutes=max_age))
    changes = []
    # PENDING rows wait for the active environment's board; after a switch the old one's alert ends.
    for alert in firing_alerts(Alert.Condition.PENDING_AGE):
        if alert.environment != env:
            changes.append(_resolve(key=alert.key, message=lambda a: _pending_ok_message(a, max_age, switched=env)))
    key = f"pending_age:{env}"
    if not count:
        changes.append(_resolve(key=key, message=lambda a: _pending_ok_message(a, max_age)))
        return changes

    def message() -> Message:
        waited = int((now - oldest).total_seconds() // 60) if oldest else max_age
        title = f"{count} PENDING row{'s' if count != 1 else ''} waiting over {max_age} minutes on {env}"
        text = (
            f"{count} order line{'s' if count != 1 else ''} marked PENDING for {_board(env)[0]} have waited more than "
            f"{max_age} minutes; the oldest since {_at(oldest)} ({waited} minutes).\n"
            "Check that the worker runs and that a sync is started (runbook 01, the daily sync).\n"
            f"Open the orders: {console_url('/orders/')}"
        )
        return (
            title,
            text,
            _base_details(env) | {"pending_rows": count, "oldest_since": oldest.isoformat() if oldest else None},
        )

    changes.append(
        _open(
            key=key,
            condition=Alert.Condition.PENDING_AGE,
            environment=env,
            severity=Alert.Severity.WARNING,
            message=message,
        )
    )
    return changes


def _pending_ok_message(alert: Alert, max_age: int, switched: str = "") -> Message:
    if switched:
        title = f"Resolved: PENDING rows on {alert.environment} are no longer watched"
        text = f"The console now acts on {switched}; its PENDING rows are watched instead. The alert {_opened_by(alert)} is resolved."
    else:
        title = f"Resolved: no PENDING row on {alert.environment} waits over {max_age} minutes"
        text = f"Every PENDING row has been synced or waited less than {max_age} minutes; the alert {_opened_by(alert)} is resolved."
    return title, text, _base_details(alert.environment)


def _evaluate_worker(now: datetime) -> str:
    silence = settings.ORDEROPS_ALERT_WORKER_SILENCE_MINUTES
    seen = worker_last_seen()
    if seen is not None and seen >= now - timedelta(minutes=silence):
        return _resolve(key="worker_silent", message=lambda a: _worker_ok_message(a, seen))

    def message() -> Message:
        title = f"No worker seen for {silence} minutes" if seen else "No worker has ever been seen"
        text = (
            f"No django-q2 worker has sent a heartbeat since {_at(seen)}. Syncs started now stay queued and "
            "alerts are not sent until a worker runs.\n"
            "Start the worker (docs/deployment.md, the worker as a service) and read its log.\n"
            f"Open the console: {console_url('/')}"
        )
        return title, text, _base_details("") | {"worker_last_seen": seen.isoformat() if seen else None}

    return _open(
        key="worker_silent",
        condition=Alert.Condition.WORKER_SILENT,
        environment="",
        severity=Alert.Severity.CRITICAL,
        message=message,
    )


def _worker_ok_message(alert: Alert, seen: datetime) -> Message:
    title = "Resolved: a worker is running again"
    text = f"A worker sent a heartbeat at {_at(seen)}; the alert {_opened_by(alert)} is resolved."
    return title, text, _base_details("")


# --- the test alert ------------------------------------------------------------------------------


def alerts_send_test(*, actor, via: str = "console") -> tuple[Alert, list[AlertDelivery]]:
    """Send a test alert through every configured channel now, and say how each went. Admins only
    (the permission to switch environments); audited. A failed test is not retried."""
    if actor is None or not actor.has_perm("syncapp.switch_environment"):
        raise PermissionRefusedError(
            "Only an admin (who may switch environments) can send a test alert; ask one to press the button."
        )
    env = active_environment_name()
    who = actor.get_username()
    title = f"Test alert from orderops ({env})"
    text = (
        f"{who} sent this test from the console's Alerts page. If you read it, alerts reach this channel.\n"
        f"Environment: {_board(env)[0]}\nAlert history: {console_url('/alerts/')}"
    )
    with transaction.atomic():
        alert = Alert.objects.create(
            key="test",
            condition=Alert.Condition.TEST,
            environment=env,
            severity=Alert.Severity.INFO,
            status=Alert.Status.TEST,
            title=title,
            message=text,
            details=_base_details(env) | {"severity": "info", "status": "test"},
        )
        ids = deliveries_create(alert=alert, event=AlertDelivery.Event.TEST, enqueue=False)
        audit_record(
            actor=actor,
            via=via,
            action="alert_test",
            environment=env,
            target_type="alert",
            target_id=alert.pk,
            summary=f"sent a test alert to {len(ids)} target(s): " + ", ".join(t.shown for t in alert_targets()),
            details={"alert": alert.pk, "deliveries": ids},
        )
    alert_deliveries_send(ids=ids)
    return alert, list(alert.deliveries.order_by("id"))
