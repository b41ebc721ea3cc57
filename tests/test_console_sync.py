"""Preview, sync confirmation and sync start from the console; roles and the production guard."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django_q.models import OrmQ

from syncapp.models import AuditEntry, FactOrderList, SyncRun
from tests.console_helpers import PROD_BOARD, PROD_BOARD_NAME, activate, key, make_run, orders
from tests.sync_helpers import point_at

pytestmark = pytest.mark.django_db

GREYSON = json.dumps({"customer": "GREYSON", "pos": ["4755"]})


@pytest.fixture
def data():
    orders(30)


def _confirm(client, **extra):
    """The confirmation page for GREYSON PO 4755; returns (response, form fields for the start POST)."""
    response = client.post(reverse("sync_confirm"), {"key": [key("GREYSON", "4755")], **extra})
    assert response.status_code == 200, response.content.decode()[:500]
    fields = {
        "scope": response.context["scope_json"],
        "environment": response.context["env"].name,
        "token": response.context["token"],
    }
    return response, fields


# --- preview -----------------------------------------------------------------------------------


def test_it_previews_the_selection_as_a_dry_run_plan(ops_client, data, emulator, settings):
    point_at(emulator, settings)
    response = ops_client.post(reverse("orders_preview"), {"key": [key("GREYSON", "4755")]}, follow=True)
    run = response.context["run"]
    assert run.dry_run and run.status == "completed", run.error_message
    plan = response.context["plan"]
    assert plan.by_action == {"create": 7}
    assert plan.groups_to_create
    html = response.content.decode()
    assert "Items to create" in html and "Groups to create" in html
    assert "GREYSON" in html and "Sync this selection" in html
    assert not emulator.state.items  # nothing was written
    assert AuditEntry.objects.filter(action="sync_dry_run", actor_name="olivia.ops").exists()


def test_it_shows_a_failed_preview_when_monday_is_unreachable(ops_client, data, settings, monkeypatch):
    from syncapp.engine import sync as engine_sync
    from syncapp.monday.errors import MondayUnavailableError
    from syncapp.monday.types import ClientStats

    class Unreachable:
        stats = ClientStats()

        def get_board(self, board_id):
            raise MondayUnavailableError("monday (development) did not complete get_board after 7 attempts")

    monkeypatch.setattr(engine_sync, "monday_client", lambda env, **kwargs: Unreachable())
    response = ops_client.post(reverse("orders_preview"), {"key": [key("GREYSON", "4755")]}, follow=True)
    html = response.content.decode()
    assert response.context["run"].status == "failed"
    assert "The preview failed" in html and "did not complete get_board" in html


def test_it_says_a_preview_of_nothing_pending_would_send_nothing(ops_client, data, emulator, settings):
    point_at(emulator, settings)
    FactOrderList.objects.update(sync_state="COMPLETED", action_type="NONE")
    response = ops_client.post(reverse("orders_preview"), {"key": [key("GREYSON", "4755")]}, follow=True)
    assert "a sync would send nothing" in response.content.decode()


def test_it_forbids_previews_for_trainers(trainer_client, data):
    response = trainer_client.post(reverse("orders_preview"), {"key": [key("GREYSON", "4755")]})
    assert response.status_code == 403
    assert not SyncRun.objects.exists()


# --- confirmation ------------------------------------------------------------------------------


def test_it_confirms_a_development_sync_with_counts_and_board(ops_client, data):
    response, _ = _confirm(ops_client)
    html = response.content.decode()
    counts = response.context["counts"]
    assert (counts.pos, counts.lines, counts.pending, counts.pending_insert) == (1, 7, 7, 7)
    assert "9609317401" in html and "Customer Master Schedule" in html
    assert 'name="confirm_board"' not in html


def test_it_asks_production_syncs_to_type_the_board(ops_prod_client, data):
    activate("production")
    response, _ = _confirm(ops_prod_client)
    html = response.content.decode()
    assert 'name="confirm_board"' in html and str(PROD_BOARD) in html
    assert "PRODUCTION" in html


@pytest.mark.parametrize("fixture", ["trainer_client"])
def test_it_forbids_the_sync_confirmation_for_the_wrong_role(request, data, fixture):
    response = request.getfixturevalue(fixture).post(reverse("sync_confirm"), {"key": [key("GREYSON", "4755")]})
    assert response.status_code == 403


def test_it_forbids_a_production_sync_to_ops_without_sync_production(ops_client, data):
    activate("production")
    response = ops_client.post(reverse("sync_confirm"), {"key": [key("GREYSON", "4755")]})
    assert response.status_code == 403
    assert "sync to the production board" in response.content.decode()
    response = ops_client.post(
        reverse("sync_start"),
        {"scope": GREYSON, "environment": "production", "token": "x", "confirm_board": str(PROD_BOARD)},
    )
    assert response.status_code == 403
    assert not SyncRun.objects.exists()


# --- start ---------------------------------------------------------------------------------------


def test_it_starts_a_development_sync_and_enqueues_it(ops_client, data, django_capture_on_commit_callbacks):
    _, fields = _confirm(ops_client)
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(reverse("sync_start"), fields)
    run = SyncRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("run_detail", kwargs={"run_id": run.pk})
    assert (run.environment, run.dry_run, run.status) == ("development", False, "queued")
    assert run.scope == {"customer": "GREYSON", "pos": ["4755"]}
    assert run.requested_by.username == "olivia.ops"
    assert OrmQ.objects.count() == 1
    assert AuditEntry.objects.filter(action="sync_start", target_id=str(run.pk)).exists()


def test_it_starts_one_run_when_sync_now_is_clicked_twice(ops_client, data, django_capture_on_commit_callbacks):
    _, fields = _confirm(ops_client)
    with django_capture_on_commit_callbacks(execute=True):
        first = ops_client.post(reverse("sync_start"), fields)
        second = ops_client.post(reverse("sync_start"), fields)
    run = SyncRun.objects.get()
    assert first.url == second.url == reverse("run_detail", kwargs={"run_id": run.pk})
    assert OrmQ.objects.count() == 1


def test_it_refuses_a_second_sync_while_one_runs_and_links_to_it(ops_client, data):
    running = make_run(status="running")
    _, fields = _confirm(ops_client)
    response = ops_client.post(reverse("sync_start"), fields)
    assert response.status_code == 409
    html = response.content.decode()
    assert "already writing" in html and reverse("run_detail", kwargs={"run_id": running.pk}) in html
    assert SyncRun.objects.count() == 1


def test_it_refuses_a_production_sync_without_the_typed_confirmation(ops_prod_client, data):
    activate("production")
    _, fields = _confirm(ops_prod_client)
    for typed in ("", "9609317401", "Customer Master"):
        response = ops_prod_client.post(reverse("sync_start"), {**fields, "confirm_board": typed})
        # Asked again on the same confirmation (tests/test_preview_truth.py covers the page).
        assert response.status_code == 200
        assert "type the production board" in response.content.decode()
    assert not SyncRun.objects.exists()


@pytest.mark.parametrize("typed", [str(PROD_BOARD), PROD_BOARD_NAME.lower(), f"  {PROD_BOARD_NAME} "])
def test_it_starts_a_production_sync_with_the_board_typed(ops_prod_client, data, typed):
    activate("production")
    _, fields = _confirm(ops_prod_client)
    response = ops_prod_client.post(reverse("sync_start"), {**fields, "confirm_board": typed})
    assert response.status_code == 302
    assert SyncRun.objects.get().environment == "production"


def test_it_refuses_a_start_when_the_environment_changed_since_confirming(admin_client_, data):
    _, fields = _confirm(admin_client_)
    activate("production")
    response = admin_client_.post(reverse("sync_start"), {**fields, "confirm_board": str(PROD_BOARD)})
    assert response.status_code == 400
    assert "The active environment is now production" in response.content.decode()
    assert not SyncRun.objects.exists()


def test_it_refuses_an_unknown_confirmation_token(ops_client, data):
    response = ops_client.post(reverse("sync_start"), {"scope": GREYSON, "environment": "development", "token": "x"})
    assert response.status_code == 400 and not SyncRun.objects.exists()


def test_it_refuses_a_sync_when_the_token_is_missing(ops_client, data, settings):
    settings.MONDAY_API_TOKEN_DEVELOPMENT = ""
    _, fields = _confirm(ops_client)
    response = ops_client.post(reverse("sync_start"), fields)
    assert response.status_code == 400
    assert "MONDAY_API_TOKEN_DEVELOPMENT is not set" in response.content.decode()


@pytest.mark.parametrize("fixture", ["trainer_client"])
def test_it_forbids_starting_a_sync_for_the_wrong_role(request, data, fixture):
    response = request.getfixturevalue(fixture).post(
        reverse("sync_start"), {"scope": GREYSON, "environment": "development", "token": "x"}
    )
    assert response.status_code == 403 and not SyncRun.objects.exists()


def test_it_starts_a_sync_from_the_preview_page_scope_without_the_preview_limit(ops_client, data):
    preview = make_run(
        dry_run=True, scope={"customer": "GREYSON", "pos": ["4755"], "limit": 500}, requested_via="console"
    )
    response = ops_client.get(reverse("run_detail", kwargs={"run_id": preview.pk}))
    assert json.loads(response.context["sync_scope_json"]) == {"customer": "GREYSON", "pos": ["4755"]}
