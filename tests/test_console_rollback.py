"""Rolling back a run from the console: the button on the run page, the plan (a dry run), and the
rollback run it creates and queues; production needs the board's name or id typed."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from syncapp.models import AuditEntry, FactOrderList, ItemLink, SyncRun
from syncapp.services.rollback import rollback_run_execute
from tests.console_helpers import PROD_BOARD, make_run, orders
from tests.sync_helpers import board, only_po_pending, point_at, sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(emulator, settings):
    """GREYSON PO 4755 synced to the development board (7 items)."""
    point_at(emulator, settings)
    orders(30)
    only_po_pending("4755")
    run = sync("development", customer="GREYSON", pos=["4755"])
    assert (run.status, run.created_count) == ("completed", 7)
    return run


def _plan_url(run: SyncRun, **query) -> str:
    url = reverse("run_rollback", kwargs={"run_id": run.pk})
    return url + ("?delete=1" if query.get("delete") else "")


def test_it_offers_the_rollback_on_a_finished_run_to_those_who_may_sync_there(synced, ops_client, trainer_client):
    detail = reverse("run_detail", kwargs={"run_id": synced.pk})
    assert 'data-testid="rollback-run"' in ops_client.get(detail).content.decode()
    assert 'data-testid="rollback-run"' not in trainer_client.get(detail).content.decode()
    for run in (make_run(status="running"), make_run(dry_run=True, environment="production")):
        html = ops_client.get(reverse("run_detail", kwargs={"run_id": run.pk})).content.decode()
        assert 'data-testid="rollback-run"' not in html


def test_it_shows_the_plan_first_and_changes_nothing(synced, ops_client, emulator):
    response = ops_client.get(_plan_url(synced))
    html = response.content.decode()
    assert response.context["counts"]["items_to_remove"] == 7 and response.context["counts"]["rows_to_restore"] == 7
    assert "Items to archive" in html and "archive item" in html and 'data-testid="start-rollback"' in html
    deleting = ops_client.get(_plan_url(synced, delete=True)).content.decode()
    assert "Items to delete" in deleting and "delete item" in deleting and 'name="delete" value="1"' in deleting
    assert len(board(emulator, "9609317401")) == 7 and ItemLink.objects.filter(environment="development").count() == 7
    assert not SyncRun.objects.filter(kind="rollback").exists()


def test_it_creates_and_queues_a_rollback_run_that_undoes_the_run(
    synced, ops_client, ops_user, emulator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = ops_client.post(reverse("run_rollback_start", kwargs={"run_id": synced.pk}), {"delete": "0"})
    rollback = SyncRun.objects.get(kind="rollback")
    assert response.status_code == 302 and response["Location"] == reverse("run_detail", kwargs={"run_id": rollback.pk})
    assert (rollback.parent, rollback.status, rollback.requested_by, rollback.requested_via) == (
        synced,
        "queued",
        ops_user,
        "console",
    )
    assert len(queued) == 1, "the rollback is handed to the task worker once committed"
    assert AuditEntry.objects.filter(action="rollback_start", actor=ops_user).exists()
    page = ops_client.get(response["Location"]).content.decode()
    assert "Rolls back" in page and f"run {synced.pk}" in page

    rollback_run_execute(rollback_run_id=rollback.pk)  # what the worker does
    assert board(emulator, "9609317401") == []
    assert not ItemLink.objects.filter(environment="development").exists()
    assert set(FactOrderList.objects.filter(po_number="4755").values_list("sync_state", flat=True)) == {"PENDING"}
    html = ops_client.get(_plan_url(synced)).content.decode()
    assert "Nothing is left to undo" in html and 'data-testid="start-rollback"' not in html


def test_it_shows_why_a_run_cannot_be_rolled_back(db, ops_client):
    run = make_run(status="running")
    html = ops_client.get(_plan_url(run)).content.decode()
    assert "This run cannot be rolled back" in html and "is still running" in html
    response = ops_client.post(reverse("run_rollback_start", kwargs={"run_id": run.pk}))
    assert response.status_code == 302
    assert "Nothing was started" in ops_client.get(response["Location"]).content.decode()
    assert not SyncRun.objects.filter(kind="rollback").exists()


@pytest.fixture
def production_run(emulator, settings):
    point_at(emulator, settings)
    orders(30)
    call_command("mark_orders", "completed", "--po", "4755", "--invert")
    call_command("mark_orders", "pending", "--po", "4755", "--env", "production")
    run = sync("production", customer="GREYSON", pos=["4755"])
    assert run.status == "completed"
    return run


def test_it_needs_the_typed_board_to_roll_back_production(production_run, ops_prod_client):
    start = reverse("run_rollback_start", kwargs={"run_id": production_run.pk})
    plan = ops_prod_client.get(_plan_url(production_run)).content.decode()
    assert 'name="confirm_board"' in plan and "PRODUCTION" in plan
    refused = ops_prod_client.post(start, {"confirm_board": "not the board"})
    assert "type the production board&#x27;s name" in ops_prod_client.get(refused["Location"]).content.decode()
    assert not SyncRun.objects.filter(kind="rollback").exists()
    ops_prod_client.post(start, {"confirm_board": str(PROD_BOARD)})
    assert SyncRun.objects.get(kind="rollback").environment == "production"


def test_it_forbids_rollback_to_roles_that_cannot_sync_there(production_run, ops_client, trainer_client):
    for client in (ops_client, trainer_client):
        assert client.get(_plan_url(production_run)).status_code == 403
        start = reverse("run_rollback_start", kwargs={"run_id": production_run.pk})
        assert client.post(start, {"confirm_board": str(PROD_BOARD)}).status_code == 403
    assert not SyncRun.objects.filter(kind="rollback").exists()


def test_it_forbids_rollback_to_users_without_a_role(db, client, no_role_user):
    run = make_run()
    client.force_login(no_role_user)
    assert client.get(_plan_url(run)).status_code == 403
    assert client.post(reverse("run_rollback_start", kwargs={"run_id": run.pk})).status_code == 403
    assert client.get(reverse("run_rollback", kwargs={"run_id": 999_999})).status_code == 403


def test_a_rollback_blocked_by_a_later_run_links_to_that_runs_rollback(synced, ops_client, capsys):
    from tests.sync_helpers import set_staged

    first = SyncRun.objects.get()
    set_staged(FactOrderList.objects.filter(po_number="4755").first().aag_order_number, "NOTES", "changed later")
    call_command("merge_orders")
    later = sync("development")
    html = ops_client.get(_plan_url(first)).content.decode()
    assert "This run cannot be rolled back" in html and "manage.py rollback_run" not in html
    assert f'href="{reverse("run_rollback", kwargs={"run_id": later.pk})}"' in html
    assert f"Open the rollback plan of run {later.pk}" in html
    with pytest.raises(SystemExit):
        call_command("rollback_run", str(first.pk))
    assert f"python manage.py rollback_run {later.pk}" in capsys.readouterr().out, "the CLI says the command"
