"""The sync engine end to end, against the emulator over real HTTP on loopback."""

from __future__ import annotations

import pytest

from syncapp.domain.scope import Scope
from syncapp.models import FactOrderList, ItemLink, OrderLine, RowResult, SubitemLink, SyncRun
from tests.sync_helpers import (
    AAG_COLUMN,
    CUSTOMER_COLUMN,
    DEV_ITEMS,
    ORDER_TYPE_COLUMN,
    PROD_ITEMS,
    board,
    duplicates,
    group_titles,
    only_po_pending,
    point_at,
    set_staged,
    stage_and_merge,
    sync,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def monday(emulator, settings):
    point_at(emulator, settings)
    return emulator


@pytest.fixture
def greyson(monday):
    stage_and_merge(120)
    only_po_pending("4755")
    return monday


def _expected_sizes(record_uuid) -> dict[str, int]:
    return {line.size_code: line.qty for line in OrderLine.objects.filter(record_uuid=record_uuid) if line.qty}


def test_it_syncs_one_po_to_development_as_groups_items_and_subitems(greyson):
    run = sync("development")
    assert run.status == "completed" and run.outcome == "SUCCESS", run.error_message
    assert (run.created_count, run.failed_count) == (7, 0)
    items = board(greyson, DEV_ITEMS)
    rows = list(FactOrderList.objects.filter(po_number="4755"))
    assert len(items) == len(rows) == 7 and not duplicates(items)
    assert set(group_titles(greyson, DEV_ITEMS)) >= {"GREYSON SP26"}
    by_aag = {i.values[AAG_COLUMN]: i for i in items}
    for row in rows:
        item = by_aag[row.aag_order_number]
        assert item.group == "GREYSON SP26"
        assert item.values[CUSTOMER_COLUMN] == "GREYSON"
        assert item.values["date_mkr5zp5"] == row.order_date_po_received.isoformat()
        assert item.name.startswith(row.customer_style) and row.aag_order_number in item.name
        assert {s["size"]: int(s["qty"]) for s in item.subitems.values()} == _expected_sizes(row.record_uuid)
        assert all(name == f"Size {s['size']}" for name, s in item.subitems.items())
        assert (row.sync_state, row.api_status) == ("SYNCED", "SUCCESS")
        assert row.monday_item_id is None, "a development sync never writes the production mirror"
    assert ItemLink.objects.filter(environment="development").count() == 7
    assert not FactOrderList.objects.exclude(po_number="4755").filter(sync_state="SYNCED").exists()
    assert run.requests_count < run.mutations_count, "mutations are batched"


def test_it_updates_the_same_items_when_staging_changes(greyson):
    sync("development")
    before = {i.values[AAG_COLUMN]: i for i in board(greyson, DEV_ITEMS)}
    rows = list(FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number"))
    changed, cancelled = rows[0], rows[1]
    sizes = _expected_sizes(changed.record_uuid)
    removed, kept = sorted(sizes)[0], sorted(sizes)[-1]
    added = next(s for s in ["XS", "S", "M", "L", "XL", "XXL", "30x30", "38x32", "O/S"] if s not in sizes)
    set_staged(changed.aag_order_number, removed, 0)
    set_staged(changed.aag_order_number, kept, 777)
    set_staged(changed.aag_order_number, added, 5)
    set_staged(cancelled.aag_order_number, "ORDER TYPE", "Cancelled")
    from django.core.management import call_command

    call_command("merge_orders")
    assert FactOrderList.objects.filter(sync_state="PENDING", action_type="UPDATE").count() == 2
    run = sync("development")
    assert run.status == "completed" and run.failed_count == 0, run.error_message
    assert (run.updated_count, run.cancelled_count, run.created_count) == (1, 1, 0)
    after = {i.values[AAG_COLUMN]: i for i in board(greyson, DEV_ITEMS)}
    assert set(after) == set(before) and not duplicates(list(after.values()))
    assert {i.id for i in after.values()} == {i.id for i in before.values()}, "the same items were updated"
    sizes_now = {s["size"]: int(s["qty"]) for s in after[changed.aag_order_number].subitems.values()}
    assert sizes_now[removed] == 0 and sizes_now[kept] == 777 and sizes_now[added] == 5
    gone = after[cancelled.aag_order_number]
    assert gone.values[ORDER_TYPE_COLUMN] == "CANCELLED"
    assert all(int(s["qty"]) == 0 for s in gone.subitems.values())


def test_it_keeps_production_apart_and_mirrors_its_ids(greyson):
    sync("development")
    dev_links = dict(ItemLink.objects.filter(environment="development").values_list("record_uuid", "monday_item_id"))
    from django.core.management import call_command

    call_command("mark_orders", "pending", "--po", "4755", "--env", "production")
    assert FactOrderList.objects.filter(po_number="4755", action_type="INSERT").count() == 7
    run = sync("production")
    assert run.status == "completed" and run.created_count == 7, run.error_message
    assert len(board(greyson, PROD_ITEMS)) == 7 and len(board(greyson, DEV_ITEMS)) == 7
    assert (
        dict(ItemLink.objects.filter(environment="development").values_list("record_uuid", "monday_item_id"))
        == dev_links
    )
    prod_links = dict(ItemLink.objects.filter(environment="production").values_list("record_uuid", "monday_item_id"))
    assert not set(prod_links.values()) & set(dev_links.values())
    for row in FactOrderList.objects.filter(po_number="4755"):
        assert row.monday_item_id == prod_links[row.record_uuid] and row.group_id
    for line in OrderLine.objects.filter(record_uuid__in=list(prod_links), qty__gt=0):
        link = SubitemLink.objects.get(environment="production", record_uuid=line.record_uuid, size_code=line.size_code)
        assert line.monday_subitem_id == link.monday_subitem_id and line.parent_item_id == prod_links[line.record_uuid]


def test_it_fails_a_row_whose_customer_label_is_missing_and_syncs_its_batch_mates(greyson):
    row = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    FactOrderList.objects.filter(pk=row.pk).update(customer_name="NEWCO <script>")
    run = sync("development")
    assert run.failed_count == 1 and run.created_count == 6
    assert run.outcome == "FAILED" or run.outcome == "NEEDS ATTENTION"
    failed = FactOrderList.objects.get(pk=row.pk)
    assert failed.sync_state == "ERROR" and failed.api_status == "ERROR" and failed.retry_count == 1
    assert "NEWCO <script>" in failed.api_error_message
    result = RowResult.objects.get(run=run, record_uuid=row.pk)
    assert result.outcome == "error" and result.error_code == "ColumnValueException"
    assert len(board(greyson, DEV_ITEMS)) == 6


def test_it_skips_a_cancelled_order_never_synced(greyson):
    row = FactOrderList.objects.filter(po_number="4755").first()
    FactOrderList.objects.filter(pk=row.pk).update(order_type="CANCELLED")
    run = sync("development")
    assert run.skipped_count == 1 and run.created_count == 6 and run.outcome == "SUCCESS"
    assert RowResult.objects.get(run=run, record_uuid=row.pk).outcome == "skipped"
    assert FactOrderList.objects.get(pk=row.pk).sync_state == "COMPLETED"


def test_it_fails_rows_without_a_group_instead_of_making_a_junk_group(greyson):
    row = FactOrderList.objects.filter(po_number="4755").first()
    FactOrderList.objects.filter(pk=row.pk).update(customer_season=None, aag_season=None)
    run = sync("development")
    assert run.failed_count == 1
    assert "neither CUSTOMER SEASON nor AAG SEASON" in FactOrderList.objects.get(pk=row.pk).api_error_message
    assert all(t in ("Group Title", "GREYSON SP26") for t in group_titles(greyson, DEV_ITEMS))


def test_it_falls_back_to_the_aag_season_for_the_group(greyson):
    row = FactOrderList.objects.filter(po_number="4755").first()
    FactOrderList.objects.filter(pk=row.pk).update(customer_season=None, aag_season="2026 SPRING")
    sync("development")
    assert "GREYSON 2026 SPRING" in group_titles(greyson, DEV_ITEMS)


def test_it_recovers_items_a_dead_run_created_without_duplicating_them(greyson):
    sync("development")
    ItemLink.objects.all().delete()
    SubitemLink.objects.all().delete()
    FactOrderList.objects.filter(po_number="4755").update(sync_state="PENDING", action_type="INSERT")
    run = sync("development")
    assert run.status == "completed" and run.failed_count == 0
    items = board(greyson, DEV_ITEMS)
    assert len(items) == 7 and not duplicates(items)
    assert ItemLink.objects.filter(environment="development").count() == 7


def test_it_survives_500s_429s_and_lost_responses_with_the_same_board(greyson, settings):
    greyson.faults.rates.update({"500": 0.15, "429": 0.1, "lost": 0.1})
    greyson.faults.delay_seconds = 0.2
    greyson.faults.retry_in_seconds = 0
    run = sync("development")
    assert run.status == "completed", run.error_message
    items = board(greyson, DEV_ITEMS)
    assert not duplicates(items) and len(items) == 7
    assert group_titles(greyson, DEV_ITEMS).count("GREYSON SP26") == 1
    states = set(FactOrderList.objects.filter(po_number="4755").values_list("sync_state", flat=True))
    assert states <= {"SYNCED", "ERROR"} and "CLAIMED" not in states
    assert run.retries_count > 0
    for row in FactOrderList.objects.filter(po_number="4755", sync_state="ERROR"):
        assert row.api_error_message


def test_it_refuses_a_second_active_run_for_the_same_environment(greyson):
    from syncapp.domain.errors import RunBusyError
    from syncapp.services.sync import sync_run_create

    first = sync_run_create(environment="development", scope=Scope(), dry_run=False, enqueue=False)
    with pytest.raises(RunBusyError, match=f"run {first.pk} is already writing"):
        sync_run_create(environment="development", scope=Scope(), dry_run=False, enqueue=False)
    sync_run_create(environment="production", scope=Scope(), dry_run=False, enqueue=False, confirm_text="9200517329")
    sync_run_create(environment="development", scope=Scope(), dry_run=True, enqueue=False)


def test_a_dry_run_plans_everything_and_sends_no_mutation(greyson):
    from syncapp.services.sync import sync_run_create, sync_run_execute

    run = sync_run_create(
        environment="development", scope=Scope.from_dict({"pos": ["4755"]}), dry_run=True, enqueue=False
    )
    run = sync_run_execute(run_id=run.pk)
    assert run.status == "completed"
    assert run.plan["groups_to_create"] == ["GREYSON SP26"]
    assert len(run.plan["rows"]) == 7 and {r["action"] for r in run.plan["rows"]} == {"create"}
    assert all(r["sizes"] for r in run.plan["rows"])
    assert not board(greyson, DEV_ITEMS)
    assert set(FactOrderList.objects.filter(po_number="4755").values_list("sync_state", flat=True)) == {"PENDING"}
    assert not any("mutation" in (call.get("query") or "") for call in greyson.request_log)


def test_a_killed_run_is_released_and_the_next_run_finishes_without_duplicates(greyson, monkeypatch):
    """The worker dies after monday created items (and some sizes) but before any write-back."""
    from datetime import timedelta

    from django.utils import timezone

    from syncapp.engine.sync import SyncEngine
    from syncapp.engine.sync_run import SyncRunExecutor
    from syncapp.services.runs import runs_release_stale
    from syncapp.services.sync import sync_run_create
    from syncapp.sync_config import get_sync_config

    original = SyncEngine._write_subitems

    def some_sizes_then_killed(self, outcomes):
        original(self, dict(list(outcomes.items())[:2]))
        raise SystemExit("worker killed")

    monkeypatch.setattr(SyncEngine, "_write_subitems", some_sizes_then_killed)
    monkeypatch.setattr(SyncEngine, "_write_back", lambda self, outcomes: None)
    run = sync_run_create(environment="development", scope=Scope(), dry_run=False, enqueue=False)
    SyncRun.objects.filter(pk=run.pk).update(status="running", started_at=timezone.now())
    with pytest.raises(SystemExit):
        SyncRunExecutor(SyncRun.objects.get(pk=run.pk), config=get_sync_config()).execute()
    assert FactOrderList.objects.filter(sync_state="CLAIMED").count() == 7
    assert len(board(greyson, DEV_ITEMS)) == 7
    # Some links were lost with the worker: natural-key recovery must find those items on the board.
    ItemLink.objects.filter(pk__in=list(ItemLink.objects.values_list("pk", flat=True)[:3])).delete()
    monkeypatch.undo()
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert runs_release_stale() == [run.pk]
    assert not FactOrderList.objects.filter(sync_state="CLAIMED").exists()
    second = sync("development")
    assert second.status == "completed" and second.failed_count == 0, second.error_message
    items = board(greyson, DEV_ITEMS)
    assert len(items) == 7 and not duplicates(items)
    for item in items:
        row = FactOrderList.objects.get(aag_order_number=item.values[AAG_COLUMN])
        assert {s["size"]: int(s["qty"]) for s in item.subitems.values()} == _expected_sizes(row.record_uuid)


def test_a_daily_limit_mid_run_stops_cleanly_and_a_later_run_resumes(greyson):
    greyson.daily.limit = greyson.daily.calls_today(greyson.tokens["development"]) + 4
    run = sync("development")
    assert run.status == "failed" and "daily" in run.error_message.lower()
    assert not FactOrderList.objects.filter(sync_state="CLAIMED").exists()
    assert FactOrderList.objects.filter(po_number="4755", sync_state="PENDING").exists()
    greyson.daily.limit = None
    again = sync("development")
    assert again.status == "completed" and again.failed_count == 0, again.error_message
    items = board(greyson, DEV_ITEMS)
    assert len(items) == 7 and not duplicates(items)
    assert set(FactOrderList.objects.filter(po_number="4755").values_list("sync_state", flat=True)) == {"SYNCED"}


def test_retry_failed_rows_makes_a_linked_run_for_the_errors_only(greyson):
    from syncapp.domain.errors import RunRefusedError
    from syncapp.services.sync import sync_run_execute, sync_run_retry_failed

    row = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    FactOrderList.objects.filter(pk=row.pk).update(customer_name="NOT YET ON THE BOARD")
    first = sync("development")
    assert first.failed_count == 1
    FactOrderList.objects.filter(pk=row.pk).update(customer_name="GREYSON")
    retry = sync_run_retry_failed(run_id=first.pk, enqueue=False)
    assert retry.parent_id == first.pk and retry.kind == "retry"
    assert retry.scope == {"record_uuids": [str(row.pk)]}
    retry = sync_run_execute(run_id=retry.pk)
    assert (retry.created_count, retry.failed_count) == (1, 0)
    assert len(board(greyson, DEV_ITEMS)) == 7
    with pytest.raises(RunRefusedError, match="no failed rows left"):
        sync_run_retry_failed(run_id=first.pk, enqueue=False)


def test_a_cancelled_run_stops_between_batches_and_releases_its_rows(greyson):
    from syncapp.engine.sync import SyncEngine
    from syncapp.services.sync import sync_run_cancel, sync_run_create, sync_run_execute

    run = sync_run_create(environment="development", scope=Scope(), dry_run=False, enqueue=False)
    original = SyncEngine.process_chunk

    def cancel_after_first_chunk(self, chunk):
        original(self, chunk)
        sync_run_cancel(run_id=run.pk)

    import unittest.mock

    with (
        unittest.mock.patch.object(SyncEngine, "process_chunk", cancel_after_first_chunk),
        unittest.mock.patch.object(SyncEngine, "__init__", _small_chunks(SyncEngine.__init__)),
    ):
        run = sync_run_execute(run_id=run.pk)
    assert run.status == "cancelled"
    assert FactOrderList.objects.filter(po_number="4755", sync_state="SYNCED").count() == 3
    assert FactOrderList.objects.filter(po_number="4755", sync_state="PENDING").count() == 4
    assert not FactOrderList.objects.filter(sync_state="CLAIMED").exists()


def _small_chunks(init):
    def wrapper(self, run, **kwargs):
        init(self, run, chunk_rows=3, **{k: v for k, v in kwargs.items() if k != "chunk_rows"})

    return wrapper
