"""Alert conditions: each opens once and resolves once, through real runs against the emulator,
the real PENDING rows and worker heartbeats. Email goes through Django's in-memory backend here;
tests/test_alert_delivery.py sends to a real SMTP server and webhook receiver."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from syncapp.domain.scope import Scope
from syncapp.models import Alert, AlertDelivery, FactOrderList, ItemLink, SyncRun, WorkerHeartbeat
from syncapp.services.alerts import alerts_evaluate_periodic, alerts_evaluate_run
from syncapp.services.reconcile import reconcile_run_create, reconcile_run_execute
from syncapp.services.reconcile_repair import reconcile_repair_create, reconcile_repair_execute
from syncapp.services.sync import sync_run_create, sync_run_execute
from syncapp.sync_config import get_sync_config
from tests.alert_helpers import drain_queue, settle
from tests.reconcile_helpers import EDITED_ORDER_COLUMN, EDITED_VALUE, graphql
from tests.sync_helpers import only_po_pending, point_at, stage_and_merge, sync

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


# --- reconcile -----------------------------------------------------------------------------------


@pytest.fixture
def po_on_board(emulator, settings, alerts_by_mail):
    """PO 4755 (7 order lines) synced to the development board."""
    point_at(emulator, settings)
    stage_and_merge(20)
    only_po_pending("4755")
    run = sync("development")
    assert run.created_count == 7 and run.failed_count == 0, run.error_message
    return emulator


def _reconcile(capture, **scope) -> SyncRun:
    """A reconcile as the CLI runs it; the evaluation its end queues is run as a worker runs it."""
    run = reconcile_run_create(environment="development", scope=Scope.parse(**scope), via="cli", enqueue=False)
    with capture(execute=True):
        run = reconcile_run_execute(run_id=run.pk)
    assert run.status == "completed", run.error_message
    assert "syncapp.tasks.alerts.alerts_evaluate_run_task" in settle(capture)
    return run


def test_a_reconcile_with_drift_opens_one_alert_and_a_whole_board_reconcile_in_step_resolves_it(
    po_on_board, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    env = get_sync_config().environment("development")
    link = ItemLink.objects.filter(environment="development").order_by("aag_order_number").first()
    graphql(
        po_on_board,
        "mutation ($b: ID!, $i: ID, $v: JSON!) { change_multiple_column_values(board_id: $b, item_id: $i, "
        "column_values: $v) { id } }",
        {
            "b": str(env.items_board_id),
            "i": str(link.monday_item_id),
            "v": f'{{"{env.item_columns[EDITED_ORDER_COLUMN]}": "{EDITED_VALUE}"}}',
        },
    )
    drift = _reconcile(capture)
    alert = Alert.objects.get()
    assert (alert.key, alert.condition, alert.severity, alert.status, alert.run_id) == (
        "reconcile_drift:development",
        "reconcile_drift",
        "warning",
        "firing",
        drift.pk,
    )
    assert alert.title == "Reconcile found 1 difference on development"
    assert f"Reconcile run {drift.pk} found 1 difference between the board and the order tables: 1 value drift." in (
        alert.message
    )
    assert f"http://127.0.0.1:8000/reconcile/{drift.pk}/" in alert.message
    assert alert.details["findings"]["value_drift"] == 1 and alert.details["run_url"].endswith(
        f"/reconcile/{drift.pk}/"
    )
    assert _subjects() == ["[orderops development] WARNING: Reconcile found 1 difference on development"] * 2

    again = _reconcile(capture)
    assert Alert.objects.get().last_run_id == again.pk and len(mail.outbox) == 2, "still drifting: no second alert"

    repair = reconcile_repair_create(run_id=again.pk, finding_ids=None, via="cli", enqueue=False)
    assert reconcile_repair_execute(run_id=repair.pk).status == "completed"
    _reconcile(capture, pos=["4755"])
    assert Alert.objects.get().status == "firing", "a reconcile of part of the board does not say the board is clean"
    clean = _reconcile(capture)
    alert.refresh_from_db()
    assert (alert.status, alert.resolved_by_run_id) == ("resolved", clean.pk)
    assert alert.resolution_title == "Resolved: the development board is in step again"
    assert _subjects()[2:] == ["[orderops development] Resolved: the development board is in step again"] * 2


def test_a_reconcile_in_step_opens_nothing(po_on_board, django_capture_on_commit_callbacks):
    _reconcile(django_capture_on_commit_callbacks)
    assert not Alert.objects.exists() and not mail.outbox


# --- the alerts check from the host's cron ---------------------------------------------------------


def _alerts_check(**options) -> list[str]:
    out = StringIO()
    call_command("alerts_check", stdout=out, **options)
    return out.getvalue().splitlines()


def test_the_alerts_check_command_reports_a_silent_worker_without_any_worker(
    db, alerts_by_mail, settings, django_capture_on_commit_callbacks
):
    settings.ORDEROPS_ALERT_WORKER_SILENCE_MINUTES = 10
    beat = WorkerHeartbeat.objects.create(host="worker-1/orderops", seen_at=timezone.now() - timedelta(minutes=30))
    with django_capture_on_commit_callbacks(execute=True):
        lines = _alerts_check()
    deliveries = list(AlertDelivery.objects.order_by("id"))
    assert lines == [
        "opened worker_silent",
        *(f"delivery {d.pk} to email {d.target}: sent" for d in deliveries),
    ]
    assert _subjects() == ["[orderops alerts] CRITICAL: No worker seen for 10 minutes"] * 2
    assert drain_queue() == ["syncapp.tasks.alerts.alerts_deliver_task"]
    assert len(mail.outbox) == 2, "the sending queued for a worker finds the messages sent"

    assert _alerts_check() == [], "nothing changed: nothing printed, so cron mails nothing"
    assert _alerts_check(verbosity=2) == ["alerts check: no change"]
    WorkerHeartbeat.objects.filter(pk=beat.pk).update(seen_at=timezone.now())
    assert _alerts_check()[0] == "resolved worker_silent"
    assert _subjects()[2:] == ["[orderops alerts] Resolved: a worker is running again"] * 2
