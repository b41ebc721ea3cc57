"""The preflight page: every check live, green or red with its fix, recorded in the audit log."""

from __future__ import annotations

import pytest
from django.urls import reverse

from syncapp.domain.scope import Scope
from syncapp.models import AuditEntry, FactOrderList
from syncapp.selectors.preflight import CheckResult
from tests.console_helpers import activate, orders
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
    orders(60)
    line = FactOrderList.objects.filter(customer_name="GREYSON", po_number="4755").first()
    FactOrderList.objects.filter(pk=line.pk).update(po_number="4756")
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


# --- bad input is said, not ignored (#13 item 9) ------------------------------------------------


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"customer": "NO SUCH BRAND"}, "No order line has the customer “NO SUCH BRAND”"),
        (
            {"customer": "GREYSON", "po": "4755 99999"},
            "No order line of the customer “GREYSON” has the PO number 99999",
        ),
        ({"po": "99998, 99999"}, "No order line of any customer has the PO numbers 99998, 99999"),
        ({"env": "staging"}, "“staging” is not an environment: choose development or production"),
        ({"customer": "X" * 101}, "The customer is longer than 100 characters"),
    ],
    ids=["unknown customer", "unknown PO of the customer", "unknown POs", "unknown environment", "long customer"],
)
def test_a_selection_naming_nothing_is_said_and_no_preflight_runs(ops_client, fake_checks, data, said):
    orders(60)
    response = ops_client.post(reverse("preflight"), {"env": "development", **data})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="preflight-problems"' in html and said in html
    assert "The preflight did not run" in html
    assert fake_checks == [] and "results" not in response.context
    assert not AuditEntry.objects.filter(action="preflight").exists()
    # What was typed stays in the form, so it can be corrected.
    for name in ("customer", "po"):
        if data.get(name):
            assert response.context[name] == data[name].strip()


def test_a_customer_in_other_case_with_its_po_is_found(ops_client, fake_checks):
    orders(60)
    response = ops_client.post(reverse("preflight"), {"env": "development", "customer": " greyson ", "po": "4755"})
    assert "problems" not in response.context and len(fake_checks) == 1
