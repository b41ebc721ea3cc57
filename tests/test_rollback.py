"""Rolling back a sync run against the emulator over real HTTP: the board and the rows as they were."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from syncapp.domain.errors import ProductionConfirmationError, RunBusyError
from syncapp.domain.scope import Scope
from syncapp.models import AuditEntry, BoardChange, BoardGroup, FactOrderList, ItemLink, OrderLine, SubitemLink, SyncRun
from syncapp.monday.client import MondayClient
from syncapp.monday.column_values import restore_value
from syncapp.monday.errors import MondayUnavailableError
from syncapp.monday.types import Mutation
from syncapp.services.rollback import (
    RollbackRefusedError,
    rollback_plan,
    rollback_run_create,
    rollback_run_execute,
)
from syncapp.services.sync import sync_run_create
from tests.sync_helpers import (
    AAG_COLUMN,
    DEV_ITEMS,
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

UOM_COLUMN = "color_mkr5yf27"
PATTERN_COLUMN = "text_mkr5cz8m"


@pytest.fixture
def greyson(emulator, settings):
    point_at(emulator, settings)
    stage_and_merge(120)
    only_po_pending("4755")
    return emulator


def _rollback(run_id: int, *, batch_size: int | None = None, **options) -> SyncRun:
    rollback = rollback_run_create(run_id=run_id, via="cli", **options)
    return rollback_run_execute(rollback_run_id=rollback.pk, batch_size=batch_size)


def _mutations(emulator, field: str) -> list[str]:
    """Ids sent to monday in `field` mutations (archive_item, delete_item, ...), in order."""
    ids = []
    for entry in emulator.request_log:
        try:
            body = json.loads(entry["body"])
        except ValueError:
            continue
        query = body.get("query") or ""
        for line in query.splitlines():
            if f": {field}(" in line:
                alias_args = line.split("(", 1)[1].split(")", 1)[0]
                variable = next(a.split("$")[1] for a in alias_args.split(",") if "item_id" in a or "group_id" in a)
                ids.append(str(body["variables"][variable]))
    return ids


def _snapshot(emulator) -> dict[str, tuple]:
    return {
        item.values[AAG_COLUMN]: (
            item.id,
            item.name,
            item.group,
            {k: v for k, v in item.values.items() if not k.startswith(("lookup", "formula", "pulse", "subtasks"))},
            {name: (s["size"], s["qty"]) for name, s in item.subitems.items()},
        )
        for item in board(emulator, DEV_ITEMS)
    }


def _rows(po: str = "4755") -> set[tuple[str, str]]:
    return set(FactOrderList.objects.filter(po_number=po).values_list("sync_state", "action_type"))


def test_it_archives_what_a_run_created_and_returns_its_rows_to_pending_insert(greyson):
    groups_before = group_titles(greyson, DEV_ITEMS)
    run = sync("development")
    assert run.created_count == 7 and "GREYSON SP26" in group_titles(greyson, DEV_ITEMS)
    created = {i.id for i in board(greyson, DEV_ITEMS)}

    rollback = _rollback(run.pk)

    assert rollback.status == "completed" and rollback.outcome == "SUCCESS", rollback.error_message
    assert rollback.kind == "rollback" and rollback.parent_id == run.pk
    assert board(greyson, DEV_ITEMS) == [], "every item the run created is off the board"
    assert group_titles(greyson, DEV_ITEMS) == groups_before, "the group the run created is gone"
    assert sorted(_mutations(greyson, "archive_item")) == sorted(created)
    assert _mutations(greyson, "delete_item") == []
    assert _rows() == {("PENDING", "INSERT")}
    assert set(
        OrderLine.objects.filter(
            record_uuid__in=FactOrderList.objects.filter(po_number="4755").values("pk")
        ).values_list("sync_state", flat=True)
    ) == {"PENDING"}
    assert not ItemLink.objects.filter(environment="development").exists()
    assert not SubitemLink.objects.filter(environment="development").exists()
    assert not BoardGroup.objects.filter(board_id=int(DEV_ITEMS), group_name="GREYSON SP26").exists()
    assert not BoardChange.objects.filter(run=run, reverted_at__isnull=True).exists()
    assert set(BoardChange.objects.filter(run=run).values_list("reverted_by_run", flat=True)) == {rollback.pk}
    assert rollback.results.filter(outcome="synced").count() == 7
    assert AuditEntry.objects.filter(action="rollback_start", target_id=str(rollback.pk)).exists()
    assert AuditEntry.objects.filter(action="rollback_finish", target_id=str(rollback.pk)).exists()

    again = sync("development")
    assert again.created_count == 7 and again.failed_count == 0, "the rows sync again as new items"
    items = board(greyson, DEV_ITEMS)
    assert len(items) == 7 and not duplicates(items) and not {i.id for i in items} & created


def test_it_deletes_instead_of_archiving_when_asked(greyson, capsys):
    run = sync("development")
    created = {i.id for i in board(greyson, DEV_ITEMS)}
    call_command("rollback_run", str(run.pk), "--execute", "--delete")
    out = capsys.readouterr().out.strip().splitlines()
    rollback = SyncRun.objects.get(kind="rollback")
    assert out[-1].startswith(f"run {rollback.pk}: rollback of run {run.pk} completed SUCCESS")
    assert sorted(_mutations(greyson, "delete_item")) == sorted(created)
    assert _mutations(greyson, "archive_item") == []
    with greyson.state.lock:
        assert {greyson.state.items[i]["state"] for i in created} == {"deleted"}
    assert _rows() == {("PENDING", "INSERT")}


def test_it_restores_the_values_an_update_replaced(greyson):
    first = sync("development")
    assert first.created_count == 7
    before = _snapshot(greyson)
    links_before = dict(ItemLink.objects.values_list("record_uuid", "group_id"))
    sizes_before = set(SubitemLink.objects.values_list("record_uuid", "size_code", "monday_subitem_id", "qty"))
    rows = list(FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number"))
    changed, moved = rows[0], rows[1]
    sizes = sorted(line.size_code for line in OrderLine.objects.filter(record_uuid=changed.pk, qty__gt=0))
    added = next(s for s in ["XS", "S", "M", "L", "XL", "XXL", "30x30", "38x32", "O/S"] if s not in sizes)
    uom = next(u for u in ("EACH", "PACK", "SET") if u != changed.unit_of_measure)
    set_staged(changed.aag_order_number, "UNIT OF MEASURE", uom)  # status
    set_staged(changed.aag_order_number, "NOTES", "rush order, ship by air")  # long text
    set_staged(changed.aag_order_number, "CUSTOMER PRICE", "123.45")  # numbers
    set_staged(changed.aag_order_number, "EX FACTORY DATE", "2031-12-24")  # date
    set_staged(changed.aag_order_number, "CUSTOMER ALT PO", "ALT-999")  # text
    set_staged(changed.aag_order_number, "CUSTOMER STYLE", "RENAMED STYLE")  # the item name
    set_staged(changed.aag_order_number, sizes[0], 777)  # a subitem quantity
    set_staged(changed.aag_order_number, added, 5)  # a new subitem
    set_staged(moved.aag_order_number, "CUSTOMER SEASON", "FA31")  # a new dropdown label and a new group
    call_command("merge_orders")
    update = sync("development")
    assert update.updated_count == 2 and update.failed_count == 0, update.error_message
    after = _snapshot(greyson)
    assert after != before and "GREYSON FA31" in group_titles(greyson, DEV_ITEMS)
    assert after[moved.aag_order_number][2] == "GREYSON FA31"
    assert after[changed.aag_order_number][3][UOM_COLUMN] == uom

    plan = "\n".join(rollback_plan(run_id=update.pk).lines())
    assert "NOTES -> " in plan and "UNIT OF MEASURE -> " in plan and "name -> " in plan
    assert "AAG ORDER NUMBER -> " not in plan, "columns the update did not change are not written back"
    # Someone edits a column the update did not change: the rollback must leave that edit alone.
    item_id = int(after[changed.aag_order_number][0])
    with greyson.client("development") as person:
        edit = Mutation(
            "edit",
            "change_columns",
            {"board_id": DEV_ITEMS, "item_id": item_id, "column_values": {PATTERN_COLUMN: "HAND-EDIT"}},
        )
        assert person.run_batch([edit], operation="hand_edit", idempotency_scope="person")["edit"].ok
    before[changed.aag_order_number][3][PATTERN_COLUMN] = "HAND-EDIT"

    rollback = _rollback(update.pk)

    assert rollback.status == "completed" and rollback.failed_count == 0, rollback.error_message
    assert _snapshot(greyson) == before, "names, groups, values and quantities are back"
    assert "GREYSON FA31" not in group_titles(greyson, DEV_ITEMS)
    assert set(
        FactOrderList.objects.filter(pk__in=[changed.pk, moved.pk]).values_list("sync_state", "action_type")
    ) == {("PENDING", "UPDATE")}
    assert set(
        FactOrderList.objects.filter(po_number="4755")
        .exclude(pk__in=[changed.pk, moved.pk])
        .values_list("sync_state", flat=True)
    ) == {"SYNCED"}, "rows the update did not touch stay as they are"
    assert dict(ItemLink.objects.values_list("record_uuid", "group_id")) == links_before
    assert set(SubitemLink.objects.values_list("record_uuid", "size_code", "monday_subitem_id", "qty")) == sizes_before


def test_an_interrupted_rollback_finishes_when_run_again_without_repeating_work(greyson, monkeypatch):
    run = sync("development")
    created = sorted(i.id for i in board(greyson, DEV_ITEMS))
    original = MondayClient.run_batch
    calls = []

    def stop_on_second_archive_batch(self, mutations, *, operation, idempotency_scope, **kwargs):
        if operation == "rollback_archive_items":
            calls.append(len(mutations))
            if len(calls) == 2:
                raise MondayUnavailableError("monday (development) did not answer (simulated outage)")
        return original(self, mutations, operation=operation, idempotency_scope=idempotency_scope, **kwargs)

    monkeypatch.setattr(MondayClient, "run_batch", stop_on_second_archive_batch)
    first = _rollback(run.pk, batch_size=3)
    monkeypatch.undo()

    assert first.status == "failed" and "roll back the run again" in first.error_message
    assert len(board(greyson, DEV_ITEMS)) == 4, "the first batch of three was archived before the stop"
    assert BoardChange.objects.filter(run=run, kind="item_created", reverted_at__isnull=False).count() == 3
    assert _rows() == {("SYNCED", "INSERT")}, "rows go back only once all their board changes are undone"

    plan = rollback_plan(run_id=run.pk)
    assert plan.counts()["items_to_remove"] == 4 and plan.already_reverted > 0

    second = _rollback(run.pk, batch_size=3)
    assert second.status == "completed" and second.failed_count == 0, second.error_message
    assert board(greyson, DEV_ITEMS) == []
    assert sorted(_mutations(greyson, "archive_item")) == created, "each item was archived exactly once"
    assert "GREYSON SP26" not in group_titles(greyson, DEV_ITEMS)
    assert _rows() == {("PENDING", "INSERT")}
    assert not ItemLink.objects.filter(environment="development").exists()
    with pytest.raises(RollbackRefusedError, match="already been rolled back"):
        rollback_run_create(run_id=run.pk, via="cli")


def test_a_rollback_whose_answer_was_lost_finishes_without_errors(greyson, monkeypatch):
    """monday archived the items but the worker died before recording it: the next rollback finds them gone."""
    run = sync("development")
    original = MondayClient.run_batch

    def applied_then_lost(self, mutations, *, operation, idempotency_scope, **kwargs):
        result = original(self, mutations, operation=operation, idempotency_scope=idempotency_scope, **kwargs)
        if operation == "rollback_archive_items":
            raise MondayUnavailableError("the connection dropped before monday's answer arrived (simulated)")
        return result

    monkeypatch.setattr(MondayClient, "run_batch", applied_then_lost)
    first = _rollback(run.pk)
    monkeypatch.undo()
    assert first.status == "failed" and board(greyson, DEV_ITEMS) == []
    assert not BoardChange.objects.filter(run=run, reverted_at__isnull=False, kind="item_created").exists()

    # Other batches than the first attempt's, so monday's idempotency cache cannot answer for them.
    second = _rollback(run.pk, batch_size=4)
    assert second.status == "completed" and second.failed_count == 0 and second.outcome == "SUCCESS"
    assert second.plan["done"]["already_gone"] == 7 and "items_archived" not in second.plan["done"]
    assert _rows() == {("PENDING", "INSERT")}
    assert "GREYSON SP26" not in group_titles(greyson, DEV_ITEMS)


def test_production_needs_the_board_name_or_id_typed_and_clears_the_mirrored_ids(greyson, capsys):
    call_command("mark_orders", "pending", "--po", "4755", "--env", "production")
    run = sync("production")
    assert (
        run.created_count == 7
        and FactOrderList.objects.filter(po_number="4755", monday_item_id__isnull=False).count() == 7
    )
    board_name = rollback_plan(run_id=run.pk).board_name

    # The one production confirmation rule and message, as for sync and retry.
    with pytest.raises(ProductionConfirmationError, match=r"To roll back run \d+ on production, type the production"):
        rollback_run_create(run_id=run.pk, via="cli")
    with pytest.raises(ProductionConfirmationError, match=str(PROD_ITEMS)):
        rollback_run_create(run_id=run.pk, via="cli", confirm_text="yes")
    with pytest.raises(SystemExit) as exit_:
        call_command("rollback_run", str(run.pk), "--execute")
    assert exit_.value.code == 2 and '--confirm "<board name or id>"' in capsys.readouterr().err
    assert not SyncRun.objects.filter(kind="rollback").exists()
    assert len(board(greyson, PROD_ITEMS)) == 7

    rollback = _rollback(run.pk, confirm_text=f"  {board_name} ")
    assert rollback.status == "completed" and rollback.outcome == "SUCCESS", rollback.error_message
    assert board(greyson, PROD_ITEMS) == []
    rows = FactOrderList.objects.filter(po_number="4755")
    assert set(rows.values_list("sync_state", "action_type", "monday_item_id", "group_id")) == {
        ("PENDING", "INSERT", None, None)
    }
    lines = OrderLine.objects.filter(record_uuid__in=rows.values("pk"))
    assert set(lines.values_list("monday_subitem_id", "parent_item_id", "monday_item_id")) == {(None, None, None)}
    assert not ItemLink.objects.filter(environment="production").exists()


def test_the_dry_run_prints_the_plan_and_changes_nothing(greyson, capsys):
    run = sync("development")
    items = _snapshot(greyson)
    requests = len(greyson.request_log)
    call_command("rollback_run", str(run.pk))
    out = capsys.readouterr().out
    assert f"Rollback plan for run {run.pk}" in out
    assert out.count("archive item ") == 7 and "delete group 'GREYSON SP26'" in out
    assert out.count("return row ") == 7 and "SYNCED/INSERT -> PENDING/INSERT" in out
    assert out.strip().splitlines()[-1].startswith("Dry run: nothing was changed")
    assert _snapshot(greyson) == items and len(greyson.request_log) == requests, "nothing was sent to monday"
    assert _rows() == {("SYNCED", "INSERT")}
    assert not SyncRun.objects.filter(kind="rollback").exists()
    assert not BoardChange.objects.filter(reverted_at__isnull=False).exists()
    assert ItemLink.objects.filter(environment="development").count() == 7


def test_it_refuses_runs_that_cannot_be_rolled_back(greyson):
    dry = sync_run_create(environment="development", scope=Scope(), dry_run=True, via="cli", enqueue=False)
    with pytest.raises(RollbackRefusedError, match="dry run"):
        rollback_run_create(run_id=dry.pk, via="cli")
    first = sync("development")
    set_staged(FactOrderList.objects.filter(po_number="4755").first().aag_order_number, "NOTES", "changed later")
    call_command("merge_orders")
    later = sync("development")
    assert later.updated_count == 1
    with pytest.raises(RollbackRefusedError, match=f"later run\\(s\\) {later.pk} changed items"):
        rollback_run_create(run_id=first.pk, via="cli")
    active = sync_run_create(environment="development", scope=Scope(), dry_run=False, via="cli", enqueue=False)
    with pytest.raises(RollbackRefusedError, match="still queued"):
        rollback_run_create(run_id=active.pk, via="cli")
    with pytest.raises(RunBusyError, match=f"run {active.pk} is already writing"):
        rollback_run_create(run_id=later.pk, via="cli")
    SyncRun.objects.filter(pk=active.pk).update(status="cancelled")
    rollback = _rollback(later.pk)
    assert rollback.status == "completed"
    with pytest.raises(RollbackRefusedError, match="only sync and retry runs"):
        rollback_run_create(run_id=rollback.pk, via="cli")
    assert rollback_plan(run_id=first.pk).refusal == "", "once the later run is rolled back, the first one can be"


@pytest.mark.parametrize(
    ("column_type", "before", "expected"),
    [
        ("text", {"text": "ALT-1", "value": "ALT-1"}, "ALT-1"),
        ("text", {"text": "", "value": None}, None),
        ("numbers", {"text": "12.5", "value": "12.5"}, "12.5"),
        ("long_text", {"text": "a\nb", "value": {"text": "a\nb", "changed_at": "2025-01-01"}}, {"text": "a\nb"}),
        ("date", {"text": "2025-01-31", "value": {"date": "2025-01-31", "changed_at": "x"}}, {"date": "2025-01-31"}),
        ("date", {}, None),  # null: monday refuses {} on a date
        ("dropdown", {"text": "A, B", "value": {"ids": [1, "3"]}}, {"ids": [1, 3]}),
        ("dropdown", {"text": None, "value": None}, None),
        ("status", {"text": "PACK", "value": {"index": 2, "post_id": None}}, {"index": 2}),
        ("status", {"text": None, "value": None}, None),
        ("numbers", {"text": "", "value": None}, None),  # "" would write 0
    ],
)
def test_it_writes_back_values_in_mondays_format(column_type, before, expected):
    assert restore_value(column_type, before) == expected


def test_it_refuses_to_write_back_a_computed_column():
    with pytest.raises(ValueError, match="formula"):
        restore_value("formula", {"text": "1"})


def test_the_queue_runs_a_rollback_enqueued_on_commit_and_never_syncs_with_it(
    greyson, django_capture_on_commit_callbacks
):
    from django_q.models import OrmQ

    from syncapp.services.sync import sync_run_execute
    from syncapp.tasks import run_task

    run = sync("development")
    with django_capture_on_commit_callbacks(execute=True):
        rollback = rollback_run_create(run_id=run.pk, via="console", enqueue=True)
    queued = OrmQ.objects.get()
    assert queued.task["func"] == "syncapp.tasks.run_task" and tuple(queued.task["args"]) == (rollback.pk,)
    call_command("mark_orders", "pending", "--po", "4756")  # rows a sync would take, were it one
    assert run_task(rollback.pk) == f"run {rollback.pk}: completed", "the one task undoes a rollback, never syncs"
    assert run_task(rollback.pk) == f"run {rollback.pk}: completed", "running it again changes nothing"
    assert sync_run_execute(run_id=rollback.pk).status == "completed"
    assert board(greyson, DEV_ITEMS) == [] and _rows() == {("PENDING", "INSERT")}
    assert FactOrderList.objects.filter(po_number="4756", sync_state="SYNCED").count() == 0
