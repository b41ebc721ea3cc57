"""The Alerts page: the history for everyone with the console, the admins' test alert (through a real
webhook receiver and Django's mail framework), the permission refusal, and the settings checks."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from syncapp.checks import check_alert_settings
from syncapp.domain.errors import PermissionRefusedError
from syncapp.models import Alert, AlertDelivery, AuditEntry
from syncapp.services.alerts import alerts_send_test
from tests import alert_helpers
from tests.alert_helpers import WEBHOOK_SECRET, free_port
from tests.console_helpers import make_run

pytestmark = pytest.mark.django_db

webhook = alert_helpers.webhook  # a real receiver on a loopback port


@pytest.fixture
def channels(settings, webhook):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ORDEROPS_ALERT_EMAILS = ["ops@example.com"]
    return webhook


def _history() -> tuple[Alert, Alert]:
    run = make_run(status="completed")
    old = Alert.objects.create(
        key="customer_below:development:GREYSON",
        condition="customer_below",
        environment="development",
        customer="GREYSON",
        severity="critical",
        status="resolved",
        title="GREYSON below 80 % on development",
        message="Run 1 (sync) completed with GREYSON at FAILED.",
        resolution_title="Resolved: GREYSON back at 100 % on development",
        resolution_message="Run 2 synced all of GREYSON's rows.",
        run=run,
    )
    new = Alert.objects.create(
        key="worker_silent",
        condition="worker_silent",
        severity="critical",
        title="No worker seen for 10 minutes",
        message="m",
    )
    AlertDelivery.objects.create(
        alert=new,
        event="firing",
        channel="webhook",
        target="https://hooks.slack.com/services/…",
        target_hash="x",
        attempts=2,
        last_error="the receiver answered HTTP 500: upstream <b>down</b>",
    )
    return old, new


def test_it_shows_the_history_newest_first_to_everyone_with_the_console(ops_client, trainer_client):
    old, new = _history()
    for client in (ops_client, trainer_client):
        response = client.get(reverse("alerts"))
        html = response.content.decode()
        assert response.status_code == 200 and 'href="/alerts/"' in html, "the nav links the page"
        assert html.index(new.title) < html.index(old.title)
        assert "RESOLVED" in html and "FIRING" in html and old.resolution_title in html
        assert f'href="/runs/{old.run_id}/">run {old.run_id}</a>' in html
        assert "retrying" in html and "2 attempts" in html
        assert "<details><summary>Last error</summary>" in html and "upstream &lt;b&gt;down&lt;/b&gt;" in html
        assert "Send a test alert" not in html, "only admins get the button"


def test_it_filters_the_history_by_status_and_environment(ops_client):
    old, new = _history()
    html = ops_client.get(reverse("alerts"), {"status": "firing"}).content.decode()
    assert new.title in html and old.title not in html
    html = ops_client.get(reverse("alerts"), {"environment": "development"}).content.decode()
    assert old.title in html and new.title not in html
    html = ops_client.get(reverse("alerts"), {"status": "burning"}).content.decode()
    assert "burning" in html and old.title in html and new.title in html, "an unusable filter is named, not applied"


def test_the_page_refuses_users_without_the_console(no_role_user):
    client = Client()
    client.force_login(no_role_user)
    assert client.get(reverse("alerts")).status_code == 403


def test_an_admin_sends_a_test_alert_through_every_channel_and_reads_each_outcome(admin_client_, channels):
    html = admin_client_.get(reverse("alerts")).content.decode()
    assert "Send a test alert" in html and "email <span" in html
    assert WEBHOOK_SECRET not in html and "abc123" not in html, "the webhook's secret is never shown"

    response = admin_client_.post(reverse("alerts_test"), follow=True)
    html = response.content.decode()
    alert = Alert.objects.get()
    assert response.redirect_chain[-1][0].endswith(f"#alert-{alert.pk}")
    assert "Email to ops@example.com: sent." in html and "Webhook http://127.0.0.1" in html and ": sent." in html
    assert [m.subject for m in mail.outbox] == ["[orderops development] Test alert from orderops (development)"]
    assert "ada.admin sent this test" in mail.outbox[0].body
    assert len(channels.bodies) == 1 and channels.bodies[0]["status"] == "test"
    assert channels.bodies[0]["text"].startswith("**Test alert from orderops (development)**")
    assert alert.status == "test" and set(alert.deliveries.values_list("status", flat=True)) == {"sent"}
    entry = AuditEntry.objects.get(action="alert_test")
    assert entry.actor_name == "ada.admin" and entry.target_id == str(alert.pk)
    assert WEBHOOK_SECRET not in entry.summary


def test_a_test_alert_that_cannot_be_delivered_says_so_and_is_not_retried(admin_client_, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ORDEROPS_ALERT_EMAILS = []
    settings.ORDEROPS_ALERT_WEBHOOKS = f"http://127.0.0.1:{free_port()}/hooks/{WEBHOOK_SECRET}"
    html = admin_client_.post(reverse("alerts_test"), follow=True).content.decode()
    assert "not delivered. Check the address or URL" in html
    assert "<details><summary>Last error</summary>" in html and "Connection" in html
    assert WEBHOOK_SECRET not in html
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)


def test_a_test_alert_without_channels_says_how_to_configure_them(admin_client_, settings):
    settings.ORDEROPS_ALERT_EMAILS, settings.ORDEROPS_ALERT_WEBHOOKS = [], ""
    html = admin_client_.post(reverse("alerts_test"), follow=True).content.decode()
    assert "no channel is configured" in html and "ORDEROPS_ALERT_WEBHOOKS" in html


def test_non_admins_cannot_send_a_test_alert(ops_client, ops_user, channels):
    response = ops_client.post(reverse("alerts_test"))
    assert response.status_code == 403 and "switch the active environment" in response.content.decode()
    with pytest.raises(PermissionRefusedError):
        alerts_send_test(actor=ops_user)
    assert not Alert.objects.exists() and not mail.outbox and not channels.bodies
    assert ops_client.get(reverse("alerts_test")).status_code == 405


def test_the_test_alert_needs_the_csrf_token(admin_user, channels):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(reverse("alerts_test")).status_code == 403
    assert not Alert.objects.exists() and not channels.bodies


def test_the_checks_name_each_bad_alert_setting_and_its_fix(settings):
    settings.ORDEROPS_ALERT_WEBHOOKS = '["https://ok.example.com/x", "ftp://files.example.com/secret/path"'
    assert [m.id for m in check_alert_settings()] == ["orderops.E030"]
    assert "not valid JSON" in check_alert_settings()[0].msg
    settings.ORDEROPS_ALERT_WEBHOOKS = json.dumps(["https://ok.example.com/x", "ftp://files.example.com/secret/path"])
    settings.ORDEROPS_ALERT_EMAILS = ["ops@example.com", "not-an-address"]
    settings.ORDEROPS_ALERT_PENDING_MAX_AGE_MINUTES = 0
    settings.ORDEROPS_ALERT_RETRY_MINUTES = [1, -5]
    settings.ORDEROPS_CONSOLE_URL = "orderops.example.com"
    messages = {m.id: m for m in check_alert_settings()}
    assert set(messages) == {"orderops.E030", "orderops.E031", "orderops.E032", "orderops.E033", "orderops.E034"}
    assert (
        "ftp://files.example.com/secret/…" in messages["orderops.E030"].msg
        and "/path" not in messages["orderops.E030"].msg
    )
    assert "'not-an-address'" in messages["orderops.E031"].msg
    assert messages["orderops.E032"].msg.startswith("ORDEROPS_ALERT_PENDING_MAX_AGE_MINUTES")
    assert all(m.hint for m in messages.values())
    settings.ORDEROPS_ALERT_WEBHOOKS = "https://a.example.com/1, https://b.example.com/2"
    settings.ORDEROPS_ALERT_EMAILS = ["ops@example.com"]
    settings.ORDEROPS_ALERT_PENDING_MAX_AGE_MINUTES = 180
    settings.ORDEROPS_ALERT_RETRY_MINUTES = [1, 5, 15, 60]
    settings.ORDEROPS_CONSOLE_URL = "https://orderops.example.com"
    assert check_alert_settings() == []
