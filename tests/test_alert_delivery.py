"""Alerts reach people: a real sync to the emulator where one customer ends below 80 %, an SMTP
server (aiosmtpd) and a webhook receiver (http.server) on loopback ports, the queue drained in
this process as a worker runs it. Then the cause is fixed and the failed rows retried."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from syncapp.models import Alert, AlertDelivery, FactOrderList, SyncRun
from syncapp.services.alert_delivery import alert_deliveries_send, redact_url, webhook_urls
from syncapp.services.sync import sync_run_retry_failed
from tests import alert_helpers
from tests.alert_helpers import WEBHOOK_SECRET, free_port, settle
from tests.sync_helpers import point_at, stage_and_merge, sync

pytestmark = pytest.mark.django_db

# The real SMTP server and webhook receiver (tests/alert_helpers.py).
smtp, webhook = alert_helpers.smtp, alert_helpers.webhook


@pytest.fixture
def monday(emulator, settings):
    point_at(emulator, settings)
    settings.ORDEROPS_CONSOLE_URL = "https://orderops.example.com"
    stage_and_merge(120)
    return emulator


def _smallest_customer() -> tuple[str, list[FactOrderList]]:
    """A customer with a few rows to send, so failing all of them leaves the run as a whole above 80 %."""
    rows = list(
        FactOrderList.objects.filter(sync_state="PENDING", action_type__in=["INSERT", "UPDATE"]).exclude(
            order_type__iexact="CANCELLED"
        )
    )
    counts = Counter(r.customer_name for r in rows)
    name = min((c for c, n in counts.items() if n >= 2), key=lambda c: counts[c])
    assert counts[name] / len(rows) < 0.15, counts
    return name, [r for r in rows if r.customer_name == name]


def _break(rows: list[FactOrderList]) -> dict:
    """UNIT OF MEASURE is a status column whose labels orderops may not create: monday refuses each row."""
    originals = {r.pk: r.unit_of_measure for r in rows}
    FactOrderList.objects.filter(pk__in=list(originals)).update(unit_of_measure="CRATES")
    return originals


def _fix(originals: dict) -> None:
    for pk, value in originals.items():
        FactOrderList.objects.filter(pk=pk).update(unit_of_measure=value)


def _failing_run(capture) -> tuple[SyncRun, str, dict]:
    customer, rows = _smallest_customer()
    originals = _break(rows)
    with capture(execute=True):
        run = sync("development")
    settle(capture)
    run.refresh_from_db()
    assert run.status == "completed" and run.outcome != "FAILED", (run.outcome, run.success_rate)
    assert run.summary[customer]["outcome"] == "FAILED" and run.failed_count == len(rows) >= 2
    return run, customer, originals


def test_it_sends_one_alert_for_a_customer_below_80_percent_and_one_resolved_after_the_retry(
    monday, smtp, webhook, django_capture_on_commit_callbacks
):
    run, customer, originals = _failing_run(django_capture_on_commit_callbacks)

    # One message per channel: the customer's condition, not one per failed row.
    assert len(smtp.messages) == 1 and len(webhook.bodies) == 1, (smtp.subjects(), webhook.bodies)
    mail, body = smtp.messages[0], webhook.bodies[0]
    assert mail["To"] == "ops@example.com" and "CRITICAL" in mail["Subject"] and customer in mail["Subject"]
    text = mail.get_payload()
    assert "development" in text and "9609317401" in text, "names the environment and its board"
    assert f"{customer}: {run.failed_count} of {run.failed_count} rows failed" in text
    assert "CRATES is not a label of the" in text and "add it in monday" in text, "the cause in ops words"
    assert f"https://orderops.example.com/runs/{run.pk}/" in text
    assert body["status"] == "firing" and body["severity"] == "critical" and body["environment"] == "development"
    assert body["run_id"] == run.pk and body["run_url"] == f"https://orderops.example.com/runs/{run.pk}/"
    assert body["customers"] == [{"customer": customer, "failed": run.failed_count, "synced": 0, "success_rate": 0.0}]
    assert body["top_causes"][0]["rows"] == run.failed_count and "CRATES" in body["top_causes"][0]["text"]
    assert customer in body["text"] and body["title"] in body["text"]
    alert = Alert.objects.get()
    assert alert.key == f"customer_below:development:{customer.upper()}" and alert.status == "firing"
    assert set(alert.deliveries.values_list("status", flat=True)) == {"sent"}

    # The cause is fixed and the failed rows retried: one resolved message per channel.
    _fix(originals)
    with django_capture_on_commit_callbacks(execute=True):
        retry = sync_run_retry_failed(run_id=run.pk, enqueue=True)
    settle(django_capture_on_commit_callbacks)
    retry.refresh_from_db()
    assert retry.status == "completed" and retry.failed_count == 0
    assert len(smtp.messages) == 2 and len(webhook.bodies) == 2
    resolved_mail, resolved = smtp.messages[1], webhook.bodies[1]
    assert "Resolved:" in resolved_mail["Subject"] and customer in resolved_mail["Subject"]
    assert f"run {retry.pk} (retry of run {run.pk})" in resolved_mail.get_payload().lower()
    assert resolved["status"] == "resolved" and resolved["run_id"] == retry.pk
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.resolved_by_run_id == retry.pk
    assert Alert.objects.count() == 1

    # Evaluating both runs again (a task run twice, or late) tells nobody anything new.
    settle(django_capture_on_commit_callbacks)
    from syncapp.services.alerts import alerts_evaluate_run

    assert alerts_evaluate_run(run_id=run.pk) == [] and alerts_evaluate_run(run_id=retry.pk) == []
    assert len(smtp.messages) == 2 and len(webhook.bodies) == 2


def test_a_failed_delivery_is_retried_with_backoff_and_the_run_still_completes(
    monday, smtp, webhook, django_capture_on_commit_callbacks, caplog, settings
):
    webhook.statuses = [500, 500]
    with caplog.at_level(logging.WARNING, logger="syncapp.services.alert_delivery"):
        run, _customer, _ = _failing_run(django_capture_on_commit_callbacks)
    assert run.status == "completed"
    hook = AlertDelivery.objects.get(channel="webhook")
    assert (hook.status, hook.attempts) == ("pending", 1) and "HTTP 500" in hook.last_error
    assert hook.next_attempt_at > timezone.now() + timedelta(seconds=30), "the next try waits (1 minute)"
    assert len(smtp.messages) == 1, "the email went out although the webhook failed"
    # The log names the target without the secret part of its URL.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP 500" in logged and redact_url(webhook.url) in logged
    assert WEBHOOK_SECRET not in logged and "abc123" not in logged

    # Nothing is due before the back-off has passed; then the retries run until one succeeds.
    assert alert_deliveries_send() == []
    later = timezone.now() + timedelta(minutes=2)
    assert [d.status for d in alert_deliveries_send(now=later)] == ["pending"]
    assert alert_deliveries_send(now=later + timedelta(minutes=1)) == [], "the second back-off is 5 minutes"
    assert [d.status for d in alert_deliveries_send(now=later + timedelta(minutes=6))] == ["sent"]
    hook.refresh_from_db()
    assert (hook.status, hook.attempts, hook.last_error) == ("sent", 3, "")
    assert len(webhook.bodies) == 1 and webhook.bodies[0]["status"] == "firing"


def test_a_delivery_to_a_refused_connection_gives_up_after_its_retries_without_leaking_the_url(
    monday, django_capture_on_commit_callbacks, settings
):
    url = f"http://127.0.0.1:{free_port()}/hooks/T0001/{WEBHOOK_SECRET}"
    settings.ORDEROPS_ALERT_WEBHOOKS = url
    settings.ORDEROPS_ALERT_RETRY_MINUTES = [1, 5]
    run, _customer, _ = _failing_run(django_capture_on_commit_callbacks)
    assert run.status == "completed"
    hook = AlertDelivery.objects.get()
    assert hook.status == "pending" and "ConnectionError" in hook.last_error
    assert WEBHOOK_SECRET not in hook.last_error and WEBHOOK_SECRET not in hook.target
    now = timezone.now()
    alert_deliveries_send(now=now + timedelta(minutes=2))
    alert_deliveries_send(now=now + timedelta(minutes=10))
    hook.refresh_from_db()
    assert (hook.status, hook.attempts, hook.next_attempt_at) == ("failed", 3, None)
    assert alert_deliveries_send(now=now + timedelta(days=1)) == [], "a failed delivery is not tried again"


def test_it_reads_webhooks_as_a_json_list_or_a_comma_list_and_redacts_their_secrets():
    urls = [
        "https://example.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456",
        "https://hooks.slack.com/services/T1/B2/s3",
    ]
    assert webhook_urls(json.dumps(urls)) == urls
    assert webhook_urls(" , ".join(urls)) == urls
    assert webhook_urls("") == []
    assert redact_url(urls[0]) == "https://example.webhook.office.com/webhookb2/…"
    assert redact_url(urls[1]) == "https://hooks.slack.com/services/…"
    flow = (
        "https://prod-01.westus.logic.azure.com:443/workflows/9f1/triggers/manual/paths/invoke?api-version=1&sig=S3CR3T"
    )
    assert redact_url(flow) == "https://prod-01.westus.logic.azure.com:443/workflows/…"
