"""The preview, the confirmation and the PO page say what will really happen (issue #13 items 3, 5,
6, 7 and 10), through the views, a real database and the emulator over HTTP."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from syncapp.domain.errors import RunBusyError
from syncapp.domain.scope import Scope
from syncapp.domain.sizes import size_sort_key
from syncapp.models import AuditEntry, FactOrderList, OrderLine, RowResult, SyncRun
from syncapp.order_tables import declared_size_columns
from syncapp.selectors.error_causes import error_groups
from syncapp.services.production_step import po_production_sync
from syncapp.services.sync import sync_run_create, sync_run_execute
from syncapp.views import orders as orders_views
from tests.console_helpers import DEV_BOARD, PROD_BOARD, activate, key, make_run, orders
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


# --- 6. an "all matching" preview counts the whole selection -------------------------------------


def test_a_sampled_preview_counts_the_whole_selection_and_says_it_is_a_sample(
    ops_client, data, emulator, settings, monkeypatch
):
    point_at(emulator, settings)
    monkeypatch.setattr(orders_views, "PREVIEW_LIMIT", 10)
    response = ops_client.post(reverse("orders_preview"), {"all_matching": "1"}, follow=True)
    assert response.context["run"].status == "completed", response.context["run"].error_message
    assert len(response.context["plan"].rows) == 10
    counts = response.context["selection_counts"]
    assert (counts.pending, counts.pos) == (30, 4)
    html = response.content.decode()
    assert "The whole selection: 30 pending order lines" in html and "in 4 POs" in html
    assert "This preview checked a sample: the first 10 of them." in html


# --- 7. one state, two boards --------------------------------------------------------------------


def _sync_po(environment: str, confirm: str = "") -> SyncRun:
    run = sync_run_create(
        environment=environment,
        scope=Scope.parse(customer="GREYSON", pos=["4755"]),
        dry_run=False,
        actor=None,
        via="cli",
        enqueue=False,
        confirm_text=confirm,
    )
    return sync_run_execute(run_id=run.pk)


def test_the_po_page_says_which_board_a_synced_refers_to(ops_client, data, emulator, settings):
    point_at(emulator, settings)
    assert _sync_po("development").status == "completed"
    html = ops_client.get(reverse("po_detail"), {"customer": "GREYSON", "po": "4755"}).content.decode()
    assert "SYNCED on <a href=" in html and f"the Development board {DEV_BOARD}</a> 7" in html


def test_the_po_page_sends_a_po_synced_on_development_to_production_in_one_confirmed_step(
    ops_prod_client, data, emulator, settings, django_capture_on_commit_callbacks
):
    point_at(emulator, settings)
    _sync_po("development")
    page = ops_prod_client.get(reverse("po_detail"), {"customer": "GREYSON", "po": "4755"})
    assert page.context["can_production_step"]
    assert "7 order lines of this PO are not on the production board" in page.content.decode()
    scope = page.context["key"]
    confirm = ops_prod_client.post(reverse("po_production_step"), {"scope": scope})
    assert confirm.status_code == 200 and 'data-testid="production-step"' in confirm.content.decode()
    # A mistyped board: asked again, nothing marked, nothing started.
    again = ops_prod_client.post(reverse("po_production_step"), {"scope": scope, "confirm_board": str(DEV_BOARD)})
    assert again.status_code == 200 and "which is not this board" in again.content.decode()
    assert not FactOrderList.objects.filter(po_number="4755", sync_state="PENDING").exists()
    assert SyncRun.objects.filter(environment="production").count() == 0
    with django_capture_on_commit_callbacks(execute=False):
        done = ops_prod_client.post(reverse("po_production_step"), {"scope": scope, "confirm_board": str(PROD_BOARD)})
    assert done.status_code == 302
    run = SyncRun.objects.get(environment="production")
    lines = FactOrderList.objects.filter(po_number="4755")
    assert {(line.sync_state, line.action_type) for line in lines} == {("PENDING", "INSERT")}
    entry = AuditEntry.objects.get(action="po_production_step")
    assert entry.actor_name == page.wsgi_request.user.get_username()
    assert f"started run {run.pk}" in entry.summary
    sync_run_execute(run_id=run.pk)
    assert FactOrderList.objects.filter(po_number="4755", sync_state="SYNCED").count() == 7
    html = ops_prod_client.get(reverse("po_detail"), {"customer": "GREYSON", "po": "4755"}).content.decode()
    assert f"the Production board {PROD_BOARD}</a> 7" in html


def test_the_production_step_is_refused_to_ops_without_sync_production(ops_client, data):
    FactOrderList.objects.filter(po_number="4755").update(sync_state="COMPLETED", action_type="NONE")
    scope = '{"customer": "GREYSON", "pos": ["4755"]}'
    response = ops_client.post(reverse("po_production_step"), {"scope": scope, "confirm_board": str(PROD_BOARD)})
    assert response.status_code == 403
    assert not FactOrderList.objects.filter(po_number="4755", sync_state="PENDING").exists()
    assert not AuditEntry.objects.filter(action="po_production_step").exists()
    page = ops_client.get(reverse("po_detail"), {"customer": "GREYSON", "po": "4755"})
    assert 'data-testid="production-step"' not in page.content.decode()


def test_a_busy_production_board_undoes_the_marking(ops_prod_client, data):
    FactOrderList.objects.filter(po_number="4755").update(sync_state="COMPLETED", action_type="NONE")
    make_run(environment="production", status="running")
    with pytest.raises(RunBusyError):
        po_production_sync(
            scope=Scope.parse(customer="GREYSON", pos=["4755"]), confirm_text=str(PROD_BOARD), enqueue=False
        )
    assert not FactOrderList.objects.filter(po_number="4755", sync_state="PENDING").exists()


# --- 10. apparel order ---------------------------------------------------------------------------


def test_the_po_page_lists_sizes_in_apparel_order(ops_client, data):
    line = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    OrderLine.objects.filter(record_uuid=line.record_uuid).delete()
    for code in ("XXL", "L", "XS", "M", "XL", "S"):
        OrderLine.objects.create(line_uuid=uuid.uuid4(), record_uuid=line.record_uuid, size_code=code, qty=1)
    detail = ops_client.get(reverse("po_detail"), {"customer": "GREYSON", "po": "4755"}).context["detail"]
    (po_line,) = [pl for pl in detail.lines if pl.line.pk == line.pk]
    assert [s["size_code"] for s in po_line.sizes] == ["XS", "S", "M", "L", "XL", "XXL"]


def test_sizes_sort_as_the_production_size_columns():
    key = size_sort_key(declared_size_columns())
    assert sorted(["XL", "L", "XXL", "S", "XS", "M"], key=key) == ["XS", "S", "M", "L", "XL", "XXL"]
    assert sorted(["10", "4", "0", "2"], key=key) == ["0", "2", "4", "10"]
    assert sorted(["32-32L", "30-30L", "32-30L", "ZZZ"], key=key) == ["30-30L", "32-30L", "32-32L", "ZZZ"]


def test_a_preview_plans_sizes_in_apparel_order_and_shows_groups_without_a_customer_season(
    ops_client, data, emulator, settings
):
    point_at(emulator, settings)
    first = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    FactOrderList.objects.filter(pk=first.pk).update(customer_season="")
    response = _preview(ops_client)
    key = size_sort_key(declared_size_columns())
    for row in response.context["plan"].rows:
        codes = [s["size"] for s in row["sizes"]]
        assert codes == sorted(codes, key=key)
    (fallback,) = response.context["plan_fallback_groups"]
    assert fallback.rows == 1 and fallback.siblings  # beside the season's own group
    html = response.content.decode()
    assert "Groups named without a customer season" in html
    assert f"<strong>{fallback.group}</strong> (1 order line), beside {fallback.siblings[0]}" in html
