"""The audit log page: who did what, when, where, with links to what it touched."""

from __future__ import annotations

import pytest
from django.urls import reverse

from syncapp.services.audit import audit_record
from tests.console_helpers import make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def entries(ops_user, admin_user):
    run = make_run()
    audit_record(
        actor=ops_user,
        action="sync_start",
        environment="development",
        target_type="run",
        target_id=run.pk,
        summary=f"sync of PO 4755 (run {run.pk})",
    )
    audit_record(
        actor=ops_user,
        action="mark_pending",
        environment="development",
        target_type="orders",
        target_id="4755",
        summary="marked 7 order lines PENDING <b>bold</b>",
    )
    audit_record(
        actor=admin_user,
        action="environment_switch",
        environment="production",
        target_type="environment",
        target_id="production",
        summary="switched to production",
    )
    return run


def test_it_lists_entries_newest_first_with_links(trainer_client, entries):
    response = trainer_client.get(reverse("audit_log"))
    html = response.content.decode()
    actions = [e.action for e in response.context["page"].object_list]
    assert actions == ["environment_switch", "mark_pending", "sync_start"]
    assert reverse("run_detail", kwargs={"run_id": entries.pk}) in html
    assert "/orders/?po=4755" in html
    assert reverse("environments") in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "mark_pending"}, ["mark_pending"]),
        ({"actor": "ADA.ADMIN"}, ["environment_switch"]),
        ({"environment": "production"}, ["environment_switch"]),
        ({"target": "4755"}, ["mark_pending"]),
    ],
)
def test_it_filters_entries(ops_client, entries, params, expected):
    response = ops_client.get(reverse("audit_log"), params)
    assert [e.action for e in response.context["page"].object_list] == expected


def test_it_filters_by_run_target(ops_client, entries):
    response = ops_client.get(reverse("audit_log"), {"target": f"run:{entries.pk}"})
    assert [e.action for e in response.context["page"].object_list] == ["sync_start"]


def test_it_shows_an_empty_audit_log(ops_client):
    assert "Nothing has been recorded yet" in ops_client.get(reverse("audit_log")).content.decode()


def test_it_filters_entries_made_through_the_api_and_by_the_scheduler(ops_client, entries):
    audit_record(actor=None, via="api", action="sync_start", summary="sync requested by token kestra-hourly")
    audit_record(actor=None, via="schedule", action="schedule_slot", summary="scheduled sync: nothing pending")
    for via, expected in (("api", ["sync_start"]), ("schedule", ["schedule_slot"])):
        response = ops_client.get(reverse("audit_log"), {"via": via})
        page = response.context["page"].object_list
        assert [(e.action, e.via) for e in page] == [(a, via) for a in expected]
    html = ops_client.get(reverse("audit_log")).content.decode()
    assert '<option value="api">API (tokens)</option>' in html and '<option value="schedule">Scheduler</option>' in html
