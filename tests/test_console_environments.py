"""Environments: both boards, token configured or not, checking a board, switching (admins only)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from syncapp.models import ApiCall, AuditEntry, ConsoleSettings
from syncapp.selectors.environments import active_environment_name
from syncapp.services.environments import EnvironmentSwitchError, environment_switch
from tests.sync_helpers import point_at

pytestmark = pytest.mark.django_db


def test_it_lists_both_environments_with_boards_and_token_status_never_the_token(admin_client_, settings):
    settings.MONDAY_API_TOKEN_DEVELOPMENT = "dev-secret-abc123"
    settings.MONDAY_API_TOKEN_PRODUCTION = ""
    html = admin_client_.get(reverse("environments")).content.decode()
    assert "9609317401" in html and "9200517329" in html
    assert "Customer Master Schedule" in html
    assert "configured" in html and "not configured" in html
    assert "MONDAY_API_TOKEN_PRODUCTION" in html
    assert "dev-secret-abc123" not in html
    assert "Switch to Production" in html and "Check board" in html


def test_it_shows_ops_the_active_environment_without_the_switch(ops_client):
    html = ops_client.get(reverse("environments")).content.decode()
    assert "active" in html
    assert "Switch to" not in html and "Check board" not in html
    assert "Only admins can switch" in html


def test_it_asks_for_confirmation_before_switching(admin_client_):
    response = admin_client_.get(reverse("environment_switch", kwargs={"name": "production"}))
    assert response.status_code == 200
    assert "Syncs will then write to the live production board" in response.content.decode()
    assert active_environment_name() == "development"


def test_it_switches_to_production_audits_it_and_the_banner_turns_red(admin_client_):
    response = admin_client_.post(reverse("environment_switch", kwargs={"name": "production"}), follow=True)
    assert active_environment_name() == "production"
    assert ConsoleSettings.objects.get(pk=1).changed_by.username == "ada.admin"
    entry = AuditEntry.objects.get(action="environment_switch")
    assert entry.details == {"from": "development", "to": "production", "board_id": 9200517329}
    html = response.content.decode()
    assert "banner-production" in html and "PRODUCTION" in html


def test_it_refuses_switching_to_the_active_or_an_unknown_environment(admin_client_):
    response = admin_client_.post(reverse("environment_switch", kwargs={"name": "development"}), follow=True)
    assert "already the active environment" in response.content.decode()
    response = admin_client_.post(reverse("environment_switch", kwargs={"name": "staging"}), follow=True)
    assert "unknown environment" in response.content.decode()
    assert not AuditEntry.objects.filter(action="environment_switch").exists()


def test_it_validates_the_switch_in_the_service(admin_user):
    with pytest.raises(EnvironmentSwitchError):
        environment_switch(name="staging", actor=admin_user)


@pytest.mark.parametrize("fixture", ["ops_client", "ops_prod_client", "trainer_client"])
def test_it_forbids_switching_for_the_wrong_role(request, fixture):
    client = request.getfixturevalue(fixture)
    assert client.get(reverse("environment_switch", kwargs={"name": "production"})).status_code == 403
    assert client.post(reverse("environment_switch", kwargs={"name": "production"})).status_code == 403
    assert active_environment_name() == "development"


@pytest.mark.parametrize("fixture", ["ops_client", "trainer_client"])
def test_it_forbids_checking_boards_for_the_wrong_role(request, fixture):
    response = request.getfixturevalue(fixture).post(reverse("environment_check", kwargs={"name": "development"}))
    assert response.status_code == 403


def test_it_checks_a_board_against_the_mapping(admin_client_, emulator, settings):
    point_at(emulator, settings)
    response = admin_client_.post(reverse("environment_check", kwargs={"name": "development"}))
    check = response.context["rows"][0]["check"]
    assert check.ok, (check.error, check.problems)
    assert len(check.columns) == 45
    assert "The boards match the mapping" in response.content.decode()
    calls = ApiCall.objects.filter(environment="development", operation="get_board", run__isnull=True)
    assert calls.count() == 2, "a board check is logged like every monday call"


def test_it_reports_missing_columns_and_type_changes(admin_client_, emulator, settings):
    point_at(emulator, settings)
    with emulator.state.lock:
        board = emulator.state.board("9609317401")
        board["columns"] = [c for c in board["columns"] if c["id"] != "text_mkr5wya6"]
        for column in board["columns"]:
            if column["id"] == "numeric_mkr5cact":
                column["type"] = "text"
    response = admin_client_.post(
        reverse("environment_check", kwargs={"name": "development"}), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html  # the htmx partial
    problems = {c.column_id: c for c in response.context["check"].problems}
    assert problems["text_mkr5wya6"].missing
    assert problems["numeric_mkr5cact"].type_mismatch and problems["numeric_mkr5cact"].found_type == "text"
    assert "2 mapped columns do not match the board" in html


def test_it_says_when_monday_cannot_be_reached(admin_client_, settings):
    settings.MONDAY_API_URL = "http://127.0.0.1:9/v2"
    settings.MONDAY_API_TOKEN_DEVELOPMENT = "t"
    response = admin_client_.post(reverse("environment_check", kwargs={"name": "development"}))
    html = response.content.decode()
    assert "monday could not be reached" in html
    assert "did not complete get_board" in html
