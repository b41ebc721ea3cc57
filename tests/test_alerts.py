"""Alert conditions: each opens once and resolves once, through real runs against the emulator,
the real PENDING rows and worker heartbeats. Email goes through Django's in-memory backend here;
tests/test_alert_delivery.py sends to a real SMTP server and webhook receiver."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from syncapp.domain.scope import Scope
from syncapp.models import Alert, AlertDelivery, FactOrderList, SyncRun, WorkerHeartbeat
from syncapp.services.alerts import alerts_evaluate_periodic, alerts_evaluate_run
from syncapp.services.sync import sync_run_create, sync_run_execute
from tests.alert_helpers import settle
from tests.sync_helpers import point_at, stage_and_merge, sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerts_by_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ORDEROPS_ALERT_EMAILS = ["ops@example.com", "it@example.com"]
    settings.ORDEROPS_ALERT_WEBHOOKS = ""


@pytest.fixture
def monday(emulator, settings, alerts_by_mail):
    point_at(emulator, settings)
    stage_and_merge(120)
    return emulator


def _subjects() -> list[str]:
    return [m.subject for m in mail.outbox]


def _alerts(changes: list[str]) -> list[str]:
    """The alerts a periodic check opened or resolved (it also reports the deliveries it sent)."""
    return [c for c in changes if not c.startswith("delivery ")]


def _evaluate(capture, run: SyncRun) -> list[str]:
    """The run's evaluation as its task does it, its deliveries sent through the queue."""
    with capture(execute=True):
        changes = alerts_evaluate_run(run_id=run.pk)
    settle(capture)
    return changes


# --- runs ----------------------------------------------------------------------------------------


def test_it_opens_one_alert_per_condition_however_many_rows_fail(monday, django_capture_on_commit_callbacks):
    pending = FactOrderList.objects.filter(sync_state="PENDING").exclude(order_type__iexact="CANCELLED")
    customer = pending.values_list("customer_name", flat=True).order_by("customer_name").first()
    bad = pending.filter(customer_name=customer)
    assert bad.count() >= 5
    bad.update(unit_of_measure="CRATES")
    run = sync("development")
    changes = _evaluate(django_capture_on_commit_callbacks, run)

    keys = set(Alert.objects.values_list("key", flat=True))
    assert f"customer_below:development:{customer.upper()}" in keys
    assert Alert.objects.count() == len(keys) == len(changes), "one alert per condition, not per row"
    assert all(c.startswith("opened ") for c in changes)
    # Each alert went once to each address, whatever the number of failed rows.
    assert len(mail.outbox) == 2 * len(keys)
    assert AlertDelivery.objects.filter(status="sent").count() == 2 * len(keys)
    assert sorted(m.to[0] for m in mail.outbox[:2]) == ["it@example.com", "ops@example.com"]


def test_a_failed_run_and_a_limit_stop_resolve_with_the_next_good_run(monday, django_capture_on_commit_callbacks):
    monday.daily.limit = monday.daily.calls_today(monday.tokens["development"]) + 12
    stopped = sync("development")
    monday.daily.limit = None
    assert stopped.status == "failed"
    _evaluate(django_capture_on_commit_callbacks, stopped)
    firing = dict(Alert.objects.filter(status="firing").values_list("key", "severity"))
    assert firing == {"run_failed:development": "critical", "run_stopped_by_limit:development": "warning"}
    limit = Alert.objects.get(key="run_stopped_by_limit:development")
    assert "daily API call limit" in limit.message and f"/runs/{stopped.pk}/" in limit.message
    assert "customer_below" not in " ".join(firing), "an unfinished run rates no customer"

    again = sync("development")
    assert again.status == "completed" and again.outcome == "SUCCESS", again.error_message
    changes = _evaluate(django_capture_on_commit_callbacks, again)
    assert sorted(changes) == ["resolved run_failed:development", "resolved run_stopped_by_limit:development"]
    assert not Alert.objects.filter(status="firing").exists()
    assert set(Alert.objects.values_list("resolved_by_run_id", flat=True)) == {again.pk}
    resolved = [s for s in _subjects() if "Resolved:" in s]
    assert len(resolved) == 4 and len(mail.outbox) == 8, "two opened, two resolved, each to two addresses"


def test_evaluating_a_run_twice_or_after_a_later_run_changes_nothing(monday, django_capture_on_commit_callbacks):
    monday.daily.limit = monday.daily.calls_today(monday.tokens["development"]) + 12
    stopped = sync("development")
    monday.daily.limit = None
    _evaluate(django_capture_on_commit_callbacks, stopped)
    assert _evaluate(django_capture_on_commit_callbacks, stopped) == []
    again = sync("development")
    _evaluate(django_capture_on_commit_callbacks, again)
    sent = len(mail.outbox)
    # The stopped run's task arriving late must not open its alerts again.
    assert _evaluate(django_capture_on_commit_callbacks, stopped) == []
    assert _evaluate(django_capture_on_commit_callbacks, again) == []
    assert len(mail.outbox) == sent and not Alert.objects.filter(status="firing").exists()


def test_dry_runs_and_cancelled_runs_neither_open_nor_resolve(monday, django_capture_on_commit_callbacks):
    Alert.objects.create(
        key="run_failed:development", condition="run_failed", environment="development", title="t", message="m"
    )
    preview = sync_run_create(environment="development", scope=Scope(), dry_run=True, enqueue=False)
    with django_capture_on_commit_callbacks() as queued:
        preview = sync_run_execute(run_id=preview.pk)
    assert preview.status == "completed" and queued == [], "a preview queues no evaluation"
    assert _evaluate(django_capture_on_commit_callbacks, preview) == []
    cancelled = SyncRun.objects.create(
        environment="development", items_board_id=1, subitems_board_id=2, status="cancelled", finished_at=timezone.now()
    )
    assert _evaluate(django_capture_on_commit_callbacks, cancelled) == []
    assert Alert.objects.get().status == "firing" and not mail.outbox


@pytest.mark.django_db(transaction=True)
def test_a_run_ends_normally_when_its_alerts_cannot_be_queued(monday, caplog):
    """Committed as a worker commits: the evaluation is queued inside the run's finish, and the
    broker refusing it is logged, never raised into the run."""
    with mock.patch("django_q.tasks.async_task", side_effect=ConnectionError("broker down")) as queue:
        run = sync("development", pos=["4755"])
    assert queue.call_args.args[:2] == ("syncapp.tasks.alerts.alerts_evaluate_run_task", run.pk)
    assert run.status == "completed" and run.finished_at is not None and run.created_count == 7
    assert f"the alerts of run {run.pk} could not be queued" in caplog.text


def test_the_unique_index_allows_one_firing_alert_per_key(db):
    Alert.objects.create(key="worker_silent", condition="worker_silent", title="t", message="m")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(key="worker_silent", condition="worker_silent", title="t", message="m")
    Alert.objects.filter(key="worker_silent").update(status="resolved")
    Alert.objects.create(key="worker_silent", condition="worker_silent", title="t", message="m")
    assert Alert.objects.filter(key="worker_silent").count() == 2


# --- every minute --------------------------------------------------------------------------------


@pytest.fixture
def worker_alive(db):
    return WorkerHeartbeat.objects.create(host="worker-1/orderops", seen_at=timezone.now())


def test_pending_rows_waiting_too_long_open_one_alert_and_resolve_when_synced(
    monday, worker_alive, settings, django_capture_on_commit_callbacks
):
    settings.ORDEROPS_ALERT_PENDING_MAX_AGE_MINUTES = 180
    now = timezone.now()
    waiting = FactOrderList.objects.filter(sync_state="PENDING", po_number="4755")
    assert waiting.exists()
    assert alerts_evaluate_periodic(now=now) == [], "rows merged just now are not late"
    waiting.update(sync_pending_at=now - timedelta(hours=4))
    with django_capture_on_commit_callbacks(execute=True):
        changes = alerts_evaluate_periodic(now=now)
    settle(django_capture_on_commit_callbacks)
    assert _alerts(changes) == ["opened pending_age:development"]
    alert = Alert.objects.get(key="pending_age:development")
    assert f"{waiting.count()} PENDING row" in alert.title and "over 180 minutes" in alert.title
    assert "240 minutes" in alert.message
    assert _alerts(alerts_evaluate_periodic(now=now + timedelta(minutes=1))) == [], "still late: no second alert"
    assert Alert.objects.filter(condition="pending_age").count() == 1

    sync("development", pos=["4755"])
    with django_capture_on_commit_callbacks(execute=True):
        changes = alerts_evaluate_periodic(now=now + timedelta(minutes=2))
    settle(django_capture_on_commit_callbacks)
    assert _alerts(changes) == ["resolved pending_age:development"]
    assert [s.split("] ", 1)[1] for s in _subjects()] == [
        f"WARNING: {alert.title}",
        f"WARNING: {alert.title}",
        "Resolved: no PENDING row on development waits over 180 minutes",
        "Resolved: no PENDING row on development waits over 180 minutes",
    ]


def test_a_pending_row_without_its_pending_time_is_dated_by_its_last_update(monday, worker_alive):
    now = timezone.now()
    row = FactOrderList.objects.filter(sync_state="PENDING").first()
    FactOrderList.objects.filter(pk=row.pk).update(sync_pending_at=None, updated_at=now - timedelta(hours=5))
    assert _alerts(alerts_evaluate_periodic(now=now)) == ["opened pending_age:development"]
    assert "1 PENDING row waiting" in Alert.objects.get().title


def test_a_silent_worker_opens_an_alert_and_its_next_heartbeat_resolves_it(
    db, alerts_by_mail, settings, django_capture_on_commit_callbacks
):
    settings.ORDEROPS_ALERT_WORKER_SILENCE_MINUTES = 10
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert _alerts(alerts_evaluate_periodic(now=now)) == ["opened worker_silent"]
    assert Alert.objects.get().title == "No worker has ever been seen"
    Alert.objects.update(status="resolved")
    beat = WorkerHeartbeat.objects.create(host="worker-1/orderops", seen_at=now - timedelta(minutes=11))
    with django_capture_on_commit_callbacks(execute=True):
        assert _alerts(alerts_evaluate_periodic(now=now)) == ["opened worker_silent"]
    assert _alerts(alerts_evaluate_periodic(now=now + timedelta(minutes=1))) == []
    silent = Alert.objects.get(status="firing")
    assert silent.title == "No worker seen for 10 minutes" and silent.severity == "critical"

    WorkerHeartbeat.objects.filter(pk=beat.pk).update(seen_at=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert _alerts(alerts_evaluate_periodic(now=now + timedelta(minutes=2))) == ["resolved worker_silent"]
    settle(django_capture_on_commit_callbacks)
    silent.refresh_from_db()
    assert silent.status == "resolved" and silent.resolution_title == "Resolved: a worker is running again"
    assert "Resolved: a worker is running again" in _subjects()[-1]


def test_the_periodic_check_sends_deliveries_whose_retry_is_due(db, alerts_by_mail, worker_alive):
    alert = Alert.objects.create(
        key="k", condition="run_failed", environment="development", title="Run 9 failed", message="m"
    )
    due = AlertDelivery.objects.create(
        alert=alert,
        event="firing",
        channel="email",
        target="ops@example.com",
        target_hash="h",
        attempts=1,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    changes = alerts_evaluate_periodic()
    assert f"delivery {due.pk} sent" in changes
    assert _subjects() == ["[orderops development] WARNING: Run 9 failed"]
