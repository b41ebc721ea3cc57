"""The preflight page: every check live, green or red with its fix, recorded in the audit log."""

from __future__ import annotations

import pytest
from django.urls import reverse

from syncapp.domain.scope import Scope
from syncapp.models import AuditEntry
from syncapp.selectors.preflight import CheckResult
from tests.console_helpers import activate
from tests.sync_helpers import point_at

pytestmark = pytest.mark.django_db

RESULTS = [
    CheckResult("configuration valid", True, "configs/sync_order_list.toml has no problems.", "", "config"),
    CheckResult(
        "task worker (django-q2 cluster) alive",
        False,
        "no django-q2 cluster has reported in the last few seconds.",
        "Start the worker (systemctl start orderops-worker, or python manage.py qcluster) and keep it running.",
        "worker",
    ),
]


@pytest.fixture
def fake_checks(monkeypatch):
    calls = []

    def fake(*, environment, scope=None):
        calls.append((environment, scope))
        return RESULTS

    monkeypatch.setattr("syncapp.services.preflight.preflight_checks", fake)
    return calls


def test_it_shows_the_form_for_the_active_environment(ops_client):
    activate("production")
    response = ops_client.get(reverse("preflight"))
    assert response.status_code == 200 and response.context["environment"] == "production"
    assert "Run the preflight" in response.content.decode() and "results" not in response.context


def test_it_fills_the_form_from_a_runbook_link(ops_client):
    response = ops_client.get(reverse("preflight"), {"env": "production", "customer": "GREYSON", "po": "4755"})
    assert (response.context["environment"], response.context["customer"], response.context["po"]) == (
        "production",
        "GREYSON",
        "4755",
    )


def test_it_runs_every_check_and_shows_green_red_and_the_fix(ops_client, ops_user, fake_checks):
    data = {"env": "production", "customer": "GREYSON", "po": "4755, 4756"}
    response = ops_client.post(reverse("preflight"), data)
    html = response.content.decode()
    assert fake_checks == [("production", Scope(customer="GREYSON", pos=("4755", "4756")))]
    assert "Not ready: 1 of 2 checks red" in html
    assert 'data-check="config" data-state="ok"' in html and 'data-check="worker" data-state="red"' in html
    assert "Fix: Start the worker (systemctl start orderops-worker" in html
    entry = AuditEntry.objects.get(action="preflight")
    assert (entry.actor, entry.environment, entry.via) == (ops_user, "production", "console")


def test_it_says_ready_when_every_check_is_green(admin_client_, monkeypatch):
    monkeypatch.setattr("syncapp.services.preflight.preflight_checks", lambda **kw: RESULTS[:1])
    html = admin_client_.post(reverse("preflight"), {"env": "development"}).content.decode()
    assert "Ready: all 1 checks green" in html and "panel-error" not in html


def test_it_runs_the_real_checks_against_the_emulator(ops_client, emulator, settings):
    point_at(emulator, settings)
    response = ops_client.post(reverse("preflight"), {"env": "development"})
    results = {r.key: r for r in response.context["results"]}
    assert results["config"].ok and results["token"].ok and results["board"].ok and results["database"].ok
    assert not results["worker"].ok, "no django-q2 cluster runs during the tests"
    assert response.content.decode().count('data-testid="preflight-check"') == len(results) == 10


def test_it_forbids_the_preflight_to_trainers_and_users_without_a_role(
    trainer_client, client, no_role_user, fake_checks
):
    assert trainer_client.get(reverse("preflight")).status_code == 403
    assert trainer_client.post(reverse("preflight"), {"env": "production"}).status_code == 403
    client.force_login(no_role_user)
    assert client.post(reverse("preflight"), {"env": "production"}).status_code == 403
    assert fake_checks == [] and not AuditEntry.objects.filter(action="preflight").exists()
