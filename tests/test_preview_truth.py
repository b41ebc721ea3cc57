"""The preview, the confirmation and the PO page say what will really happen (issue #13 items 3, 5,
6, 7 and 10), through the views, a real database and the emulator over HTTP."""

from __future__ import annotations

import pytest
from django.urls import reverse

from syncapp.domain.scope import Scope
from syncapp.models import RowResult, SyncRun
from syncapp.selectors.error_causes import error_groups
from syncapp.services.sync import sync_run_create, sync_run_execute
from tests.console_helpers import DEV_BOARD, PROD_BOARD, activate, key, orders
from tests.sync_helpers import point_at

pytestmark = pytest.mark.django_db

CUSTOMER_COLUMN = "dropdown_mkr542p2"


@pytest.fixture
def data():
    orders(30)


def _drop_label(emulator, board_id: int, column_id: str, label: str) -> None:
    board = emulator.state.board(board_id)
    board["labels"][column_id] = [e for e in board["labels"].get(column_id, []) if e["label"] != label]


def _preview(client, customer: str = "GREYSON", po: str = "4755"):
    response = client.post(reverse("orders_preview"), {"key": [key(customer, po)]}, follow=True)
    assert response.context["run"].status == "completed", response.context["run"].error_message
    return response


# --- 3. the preview checks labels against the board ---------------------------------------------


def test_a_preview_says_rows_whose_customer_label_is_missing_will_fail_and_why(ops_client, data, emulator, settings):
    point_at(emulator, settings)
    _drop_label(emulator, DEV_BOARD, CUSTOMER_COLUMN, "GREYSON")
    response = _preview(ops_client)
    plan = response.context["plan"]
    assert plan.by_action == {"fail": 7}
    (group,) = response.context["plan_errors"]
    assert group.count == 7 and group.po_count == 1
    assert group.text == f"GREYSON is not a label of the CUSTOMER column on board {DEV_BOARD}"
    html = response.content.decode()
    assert "Will fail, and why" in html
    assert f"GREYSON is not a label of the CUSTOMER column on board {DEV_BOARD}" in html
    assert "add it in monday" in html and "then preview again and sync these 7 rows" in html
    assert "create_labels_if_missing" not in html  # monday's developer text is not what ops read


def test_a_preview_with_every_label_on_the_board_predicts_no_failure(ops_client, data, emulator, settings):
    point_at(emulator, settings)
    response = _preview(ops_client)
    assert response.context["plan"].by_action == {"create": 7}
    assert response.context["plan_errors"] == []
    assert "Will fail, and why" not in response.content.decode()


def test_the_sync_then_fails_exactly_the_rows_the_preview_named(ops_client, data, emulator, settings):
    """The preview's prediction is the run's outcome, grouped the same way."""
    point_at(emulator, settings)
    _drop_label(emulator, DEV_BOARD, CUSTOMER_COLUMN, "GREYSON")
    predicted = {r["aag_order_number"] for r in _preview(ops_client).context["plan"].rows if r["action"] == "fail"}
    run = sync_run_create(
        environment="development",
        scope=Scope.parse(customer="GREYSON", pos=["4755"]),
        dry_run=False,
        actor=None,
        via="cli",
        enqueue=False,
    )
    sync_run_execute(run_id=run.pk)
    failed = RowResult.objects.filter(run=run, outcome=RowResult.Outcome.ERROR)
    assert {r.aag_order_number for r in failed} == predicted
    (group,) = error_groups(failed, board_id=DEV_BOARD)
    assert group.text == f"GREYSON is not a label of the CUSTOMER column on board {DEV_BOARD}"
    assert "create_labels_if_missing" in group.raw_message  # monday's own words, kept for the details


def test_errors_group_by_cause_in_ops_words():
    monday = (
        "The dropdown label 'TRACKSMITH' does not exist in column 'CUSTOMER' (dropdown_x); possible labels are: "
        "{}. Send create_labels_if_missing: true to create it"
    )
    rows = [{"message": monday, "error_code": "ColumnValueException", "customer": "TRACKSMITH", "po": "1"}] * 239
    rows += [{"message": "boom", "error_code": "DAILY_LIMIT_EXCEEDED", "customer": "X", "po": "2"}]
    first, second = error_groups(rows, board_id=9609317401)
    assert first.sentence == (
        "TRACKSMITH is not a label of the CUSTOMER column on board 9609317401: add it in monday (the column's "
        "label settings), then retry these 239 rows"
    )
    assert first.raw_message == monday and len(first.samples) == 5
    assert second.cause == "daily_limit" and second.count == 1


# --- 5. a mistyped production confirmation asks again --------------------------------------------


def test_a_mistyped_production_confirmation_keeps_the_selection_and_asks_again(ops_prod_client, data):
    activate("production")
    first = ops_prod_client.post(reverse("sync_confirm"), {"key": [key("GREYSON", "4755")]})
    fields = {
        "scope": first.context["scope_json"],
        "environment": "production",
        "token": first.context["token"],
    }
    again = ops_prod_client.post(reverse("sync_start"), {**fields, "confirm_board": str(DEV_BOARD)})
    assert again.status_code == 200
    assert again.templates[0].name == "syncapp/sync_confirm.html"
    html = again.content.decode()
    assert f"You typed “{DEV_BOARD}”, which is not this board." in html and 'aria-invalid="true"' in html
    # The selection and the confirmation token are the same ones: the second try starts the sync.
    assert again.context["scope_json"] == fields["scope"] and again.context["token"] == fields["token"]
    assert again.context["counts"].pending == 7
    assert not SyncRun.objects.exists()
    started = ops_prod_client.post(reverse("sync_start"), {**fields, "confirm_board": str(PROD_BOARD)})
    assert started.status_code == 302
    run = SyncRun.objects.get()
    assert (run.environment, run.items_board_id, run.scope["customer"]) == ("production", PROD_BOARD, "GREYSON")


def test_the_confirmation_tells_the_two_boards_of_one_name_apart(ops_prod_client, data):
    activate("production")
    html = ops_prod_client.post(reverse("sync_confirm"), {"key": [key("GREYSON", "4755")]}).content.decode()
    assert 'class="env-tag env-tag-production"' in html
    assert f'data-testid="confirm-board-id">{PROD_BOARD}<' in html
    assert "The Development board has the same name" in html and str(DEV_BOARD) in html
