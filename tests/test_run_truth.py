"""The run page tells the truth while a run is live and after it stopped (issue 13, items 1, 2 and 4).

Runs go through the real lifecycle against the emulator over HTTP; the page is read through
Django's test client. The live page in a browser is tested in tests/test_console_browser.py.
"""

from __future__ import annotations

import re
import unittest.mock

import pytest
from django.urls import reverse

from syncapp.domain.scope import Scope
from syncapp.engine.sync import SyncEngine
from syncapp.models import ApiCall, BoardChange, FactOrderList, RowResult, SyncRun
from syncapp.services.sync import sync_run_cancel, sync_run_create, sync_run_execute, sync_run_retry_failed
from tests.console_helpers import add_result, make_run
from tests.sync_helpers import point_at, stage_and_merge, sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def monday(emulator, settings):
    point_at(emulator, settings)
    stage_and_merge(120)
    return emulator


def _page(client, run: SyncRun, **params) -> str:
    return client.get(reverse("run_detail", kwargs={"run_id": run.pk}), params).content.decode()


def _count(html: str, label: str) -> int:
    """The number after a <dt>label</dt> in the counts block."""
    match = re.search(rf"<dt>{label}</dt><dd>(?:<strong[^>]*>)?(\d+)", html)
    assert match, f"no {label} count on the page"
    return int(match.group(1))


def _stop_by_daily_limit(monday) -> SyncRun:
    """Every PENDING row (120, one chunk): monday creates the items, then the daily limit stops the
    run while it writes their labels, before any row is written back."""
    monday.daily.limit = monday.daily.calls_today(monday.tokens["development"]) + 12
    run = sync("development")
    monday.daily.limit = None
    assert run.status == "failed" and "daily" in run.error_message
    return run


# --- 2. a run stopped by the daily limit ---------------------------------------------------------


def test_a_daily_limit_stop_counts_the_items_monday_created_and_the_rows_it_left_unfinished(monday, ops_client):
    run = _stop_by_daily_limit(monday)
    created_on_board = BoardChange.objects.filter(run=run, kind="item_created").count()
    create_calls = ApiCall.objects.filter(run=run, operation="create_item", ok=True).count()
    assert created_on_board > 100 and create_calls >= 5

    html = _page(ops_client, run)
    assert _count(html, "Created") == created_on_board == run.created_count
    assert _count(html, "Failed") == created_on_board, "the rows left unfinished are the run's failures"
    assert _count(html, "Skipped") == 3, "only the planner's skips (cancelled orders never on the board)"
    assert f"Failures ({created_on_board})" in html
    assert "Success rate" not in html
    # Each failed row names its customer and PO, and says what reached the board.
    failures = ops_client.get(reverse("run_results", kwargs={"run_id": run.pk}), {"outcome": "error"}).context
    rows = list(failures["results_page"].object_list)
    assert rows and all(r.customer_name and r.po_number and r.aag_order_number for r in rows)
    assert "interrupted" in {status for _, status in failures["result_rows"]}
    assert "created the item on the board" in rows[0].message
    items = dict(BoardChange.objects.filter(run=run, kind="item_created").values_list("record_uuid", "monday_id"))
    assert all(str(r.monday_item_id) == items[r.record_uuid] for r in rows), "each row names the item monday made"
    # One cause, in ops words, with what to do; the run's own reason one click away.
    assert "Why rows failed" in html and "Nothing to retry: the rows are PENDING again" in html
    assert "<details><summary>Why the run stopped</summary>" in html
    # No customer reads SUCCESS under the FAILED badge, and no row is credited to "(none)".
    assert 'outcome-failed">FAILED</span>' in html
    assert run.summary and all(s["outcome"] != "SUCCESS" or not s["not_sent"] for s in run.summary.values())
    assert "(none)" not in html and not any(s["outcome"] == "SUCCESS" and s["failed"] for s in run.summary.values())
    # Nothing monday refused, so nothing to retry: the next sync finishes the rows on the same items.
    assert "Retry the" not in html


def test_the_sync_after_a_daily_limit_stop_finishes_the_interrupted_rows_on_the_same_items(monday, ops_client):
    run = _stop_by_daily_limit(monday)
    items = set(BoardChange.objects.filter(run=run, kind="item_created").values_list("monday_id", flat=True))
    again = sync("development")
    assert again.status == "completed" and again.failed_count == 0, again.error_message
    html = _page(ops_client, run)
    assert f"{len(items)} settled by" in html and f"run {again.pk}" in html
    assert not BoardChange.objects.filter(run=again, kind="item_created", monday_id__in=items).exists()


# --- 2. a cancelled run ----------------------------------------------------------------------------


def _small_chunks(init):
    def wrapper(self, run, **kwargs):
        init(self, run, chunk_rows=10, **{k: v for k, v in kwargs.items() if k != "chunk_rows"})

    return wrapper


def test_a_cancelled_run_reads_cancelled_in_plain_words_without_a_success_rate(monday, ops_client, ops_user):
    run = sync_run_create(environment="development", scope=Scope(), dry_run=False, enqueue=False)
    original = SyncEngine.process_chunk

    def cancel_after_first_chunk(self, chunk):
        original(self, chunk)
        sync_run_cancel(run_id=run.pk, actor=ops_user)

    with (
        unittest.mock.patch.object(SyncEngine, "process_chunk", cancel_after_first_chunk),
        unittest.mock.patch.object(SyncEngine, "__init__", _small_chunks(SyncEngine.__init__)),
    ):
        run = sync_run_execute(run_id=run.pk)
    assert run.status == "cancelled" and run.outcome == "" and run.success_rate is None
    html = _page(ops_client, run)
    assert 'outcome-cancelled">CANCELLED</span>' in html and ">FAILED<" not in html
    assert "Success rate" not in html and "100%" not in html
    assert "RunStopped" not in html and "olivia.ops (console) cancelled it" in html
    not_sent = RowResult.objects.filter(run=run, outcome="skipped").exclude(action="skip")
    assert _count(html, "Not sent") == not_sent.count() > 100
    assert _count(html, "Skipped") == run.skipped_count < 10, "rows the cancel sent back are not 'skipped'"
    assert f"Not sent ({not_sent.count()})" in html
    assert all(r.customer_name and r.po_number for r in not_sent), "released rows keep customer and PO"
    assert "NOT FINISHED" in html and "SUCCESS" not in html


# --- 2. rows in progress -------------------------------------------------------------------------


def test_rows_in_progress_show_as_in_progress_with_customer_and_po(monday, ops_client):
    run = sync_run_create(environment="development", scope=Scope(), dry_run=False, enqueue=False)
    pages = []
    original = SyncEngine.process_chunk

    def look_during_the_run(self, chunk):
        if not pages:
            pages.append(ops_client.get(reverse("run_detail", kwargs={"run_id": run.pk}), {"outcome": "planned"}))
        original(self, chunk)

    with unittest.mock.patch.object(SyncEngine, "process_chunk", look_during_the_run):
        sync_run_execute(run_id=run.pk)
    context = pages[0].context
    rows = context["result_rows"]
    assert rows and {status for _, status in rows} == {"in progress"}
    assert all(r.customer_name and r.po_number and r.aag_order_number for r, _ in rows)
    html = pages[0].content.decode()
    assert "In progress (" in html and ">planned<" not in html


# --- 1. live counts ------------------------------------------------------------------------------


def test_the_polled_progress_block_counts_live_from_the_journal_and_the_api_log(ops_client, lines_4755):
    run = make_run(status="running", total_rows=7, processed_rows=0, current_step="creating 7 item(s)")
    for n, line in enumerate(lines_4755[:4]):
        BoardChange.objects.create(
            run=run,
            environment="development",
            board_id=run.items_board_id,
            kind="item_created",
            monday_id=str(100 + n),
            record_uuid=line.record_uuid,
        )
    for _ in range(3):
        ApiCall.objects.create(run=run, environment="development", operation="create_item", ok=True)
    add_result(run, lines_4755[5], outcome="error", message="bad value")
    partial = ops_client.get(reverse("run_progress", kwargs={"run_id": run.pk}), headers={"HX-Request": "true"})
    html = partial.content.decode()
    assert _count(html, "Created") == 4 and _count(html, "Failed") == 1
    assert "API calls (3)" in html and 'hx-trigger="every 1s"' in html
    # The polled block carries every attribute it needs; the page's wrapper passes none down.
    page = _page(ops_client, run)
    assert 'hx-disinherit="*"' in page and 'hx-select="#run-progress" hx-target="this"' in page


@pytest.fixture
def lines_4755():
    stage_and_merge(30)
    return list(FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number"))


def _po_4755() -> list[str]:
    return [str(u) for u in FactOrderList.objects.filter(po_number="4755").values_list("record_uuid", flat=True)]


# --- 4. failed rows settled by a later run ------------------------------------------------------


def test_a_failed_run_names_the_later_run_that_settled_its_rows_and_offers_no_retry(monday, ops_client):
    bad = list(FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number")[:2])
    FactOrderList.objects.filter(pk__in=[r.pk for r in bad]).update(customer_name="NOT YET ON THE BOARD")
    first = sync("development", record_uuids=_po_4755())
    assert first.failed_count == 2
    html = _page(ops_client, first)
    assert "Retry the 2 rows still failed" in html

    # The first row is fixed and synced by a retry; the second still fails.
    FactOrderList.objects.filter(pk=bad[0].pk).update(customer_name="GREYSON")
    retry = sync_run_execute(run_id=sync_run_retry_failed(run_id=first.pk, enqueue=False).pk)
    assert (retry.created_count, retry.failed_count) == (1, 1)
    html = _page(ops_client, first)
    assert _count(html, "Failed") == 2, "the run's own record is kept"
    assert f"1 of 2 failed rows settled by run {retry.pk}" in html
    assert "Retry the 1 row still failed" in html and "1 still failed" in html

    # Fixed for good: the run still shows what happened then, and what settled it since.
    FactOrderList.objects.filter(pk=bad[1].pk).update(customer_name="GREYSON")
    later = sync_run_execute(run_id=sync_run_retry_failed(run_id=retry.pk, enqueue=False).pk)
    html = _page(ops_client, first)
    assert f"all failed rows settled by run {retry.pk}, run {later.pk}" in html
    assert "Retry the" not in html and "still failed" not in html
    assert _count(html, "Failed") == 2 and "outcome-" in html


def test_a_failed_run_groups_its_failures_by_cause_with_the_fix_and_mondays_words(monday, ops_client):
    FactOrderList.objects.filter(po_number="4755").update(customer_name="NOT YET A LABEL")
    run = sync("development", record_uuids=_po_4755())
    assert run.failed_count == 7
    html = _page(ops_client, run)
    assert "Why rows failed" in html
    section = html[html.index("Why rows failed") :]
    assert "7 rows</strong>" in section and "NOT YET A LABEL" in section
    assert "<details><summary>What monday said</summary>" in section


def test_items_created_before_the_daily_limit_stops_a_create_stage_are_linked_and_journaled(monday):
    """The limit stops the run between two create_item requests: the items of the requests monday
    answered are linked and journaled at once, so the run's counts and its rollback see every one."""
    from syncapp.models import ItemLink
    from syncapp.services.rollback import rollback_plan
    from syncapp.sync_config import get_sync_config
    from tests.sync_helpers import DEV_ITEMS, board

    before_create = 5  # the two boards, two natural-key lookups, one request creating the groups
    per_request = get_sync_config().sync.items_per_request
    monday.daily.limit = monday.daily.calls_today(monday.tokens["development"]) + before_create + 2
    run = sync("development")
    monday.daily.limit = None
    calls = list(ApiCall.objects.filter(run=run).order_by("id").values_list("operation", "ok"))
    answered = [ok for operation, ok in calls if operation == "create_item"]
    assert answered[:2] == [True, True] and "daily" in run.error_message, calls
    on_board = {item.id for item in board(monday, DEV_ITEMS)}
    assert len(on_board) == 2 * per_request, "two create_item requests reached the board"
    linked = set(ItemLink.objects.filter(created_by_run=run).values_list("monday_item_id", flat=True))
    journaled = set(BoardChange.objects.filter(run=run, kind="item_created").values_list("monday_id", flat=True))
    assert {str(i) for i in linked} == journaled == on_board
    assert rollback_plan(run_id=run.pk).counts()["items_to_remove"] == len(on_board)
