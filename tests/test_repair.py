"""Repairing a board from a reconcile's findings, against the emulator over real HTTP: the six hand
edits put back (a copy of orderops' item archived), board_wins columns kept for review, copies of
items orderops did not create left alone, production's permission and confirmation, and a repair
rolled back like a sync run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from syncapp.domain.errors import PermissionRefusedError, ProductionConfirmationError
from syncapp.domain.scope import Scope
from syncapp.models import (
    AuditEntry,
    BoardChange,
    FactOrderList,
    ItemLink,
    OrderLine,
    ReconcileFinding,
    SubitemLink,
    SyncRun,
)
from syncapp.services.reconcile import reconcile_run_create, reconcile_run_execute
from syncapp.services.reconcile_repair import (
    RepairRefusedError,
    reconcile_repair_create,
    reconcile_repair_execute,
)
from syncapp.services.rollback import rollback_plan, rollback_run_create, rollback_run_execute
from tests.reconcile_helpers import EDITED_ORDER_COLUMN, EDITED_VALUE, MOVED_TO_GROUP, graphql, six_hand_edits
from tests.sync_helpers import (
    AAG_COLUMN,
    DEV_ITEMS,
    PROD_ITEMS,
    QTY_COLUMN,
    SIZE_COLUMN,
    board,
    duplicates,
    only_po_pending,
    point_at,
    stage_and_merge,
    sync,
)

pytestmark = pytest.mark.django_db

PRICE_COLUMN = "numeric_mkr5cact"  # CUSTOMER PRICE, the column the hand edit changes
REAL_CONFIG = Path(django_settings.BASE_DIR) / "configs" / "sync_order_list.toml"


@pytest.fixture
def synced(emulator, settings):
    """PO 4755 (7 order lines) synced to the development board."""
    point_at(emulator, settings)
    stage_and_merge(20)
    only_po_pending("4755")
    run = sync("development")
    assert run.created_count == 7 and run.failed_count == 0
    return emulator


def _reconcile(environment: str = "development") -> SyncRun:
    run = reconcile_run_create(environment=environment, scope=Scope(), via="cli", enqueue=False)
    run = reconcile_run_execute(run_id=run.pk)
    assert run.status == "completed", run.error_message
    return run


def _repair(reconcile: SyncRun, **options) -> SyncRun:
    options = {"finding_ids": None, "via": "cli", **options}
    run = reconcile_repair_create(run_id=reconcile.pk, enqueue=False, **options)
    return reconcile_repair_execute(run_id=run.pk)


def _findings(run: SyncRun) -> list[ReconcileFinding]:
    return list(ReconcileFinding.objects.filter(run=run))


def _by_aag(emulator, items_board: str = DEV_ITEMS) -> dict[str, list]:
    found: dict[str, list] = {}
    for item in board(emulator, items_board):
        found.setdefault(item.values.get(AAG_COLUMN), []).append(item)
    return found


def _sent(emulator, mutation: str) -> int:
    return sum(f": {mutation}(" in (entry.get("body") or "") for entry in emulator.request_log)


def _links_alive(emulator) -> list[str]:
    """Order lines whose linked item is not an active item on the board (an item lost)."""
    alive = {int(i.id) for i in board(emulator, DEV_ITEMS)}
    return [
        link.aag_order_number
        for link in ItemLink.objects.filter(environment="development")
        if link.monday_item_id not in alive
    ]


def _duplicate(emulator, item_id: int) -> dict:
    """A person's duplicate_item on the board: the copy, with its subitems."""
    return graphql(
        emulator,
        "mutation ($b: ID!, $i: ID) { duplicate_item(board_id: $b, item_id: $i) { id subitems { id name } } }",
        {"b": DEV_ITEMS, "i": str(item_id)},
    )["duplicate_item"]


def _link_to_copy(emulator, link: ItemLink) -> int:
    """Link the order line to a copy of its item, sizes included (as a lost link found again on another
    item); returns the item it was linked to."""
    copy = _duplicate(emulator, link.monday_item_id)
    original = link.monday_item_id
    link.monday_item_id = int(copy["id"])
    link.save()
    prefix = "Size "
    for sub in copy["subitems"]:
        SubitemLink.objects.filter(
            environment="development", record_uuid=link.record_uuid, size_code=sub["name"][len(prefix) :]
        ).update(monday_subitem_id=int(sub["id"]), parent_item_id=int(copy["id"]))
    return original


def _made_by_orderops_copy(emulator) -> tuple[ItemLink, int]:
    """A second item of one order line that orderops created: the line's link moved to a copy of its
    item, the item orderops created left over."""
    link = ItemLink.objects.filter(environment="development").order_by("aag_order_number").last()
    return link, _link_to_copy(emulator, link)


def test_it_repairs_the_six_hand_edits_so_a_second_reconcile_finds_no_drift(synced):
    before = {aag: items[0] for aag, items in _by_aag(synced).items()}
    edits = six_hand_edits(synced)
    reconcile = _reconcile()
    kinds = {(f.aag_order_number, f.kind) for f in _findings(reconcile)}
    for edit in edits.values():
        assert (edit.aag_order_number, edit.kind) in kinds, f"{edit.name}: the reconcile must report it"

    repair = _repair(reconcile)

    assert repair.kind == "repair" and repair.parent_id == reconcile.pk and not repair.dry_run
    assert repair.status == "completed" and repair.failed_count == 0, repair.error_message
    findings = _findings(reconcile)
    assert len(findings) == 6 and {f.status for f in findings} == {"repaired"}, [
        (f.kind, f.status, f.message) for f in findings
    ]
    assert all(f.repaired_by_run_id == repair.pk and f.repaired_at for f in findings)
    # The copy a person made with duplicate_item copies orderops' item: archived, never deleted; the
    # line's own item stays.
    dup = edits["duplicate"]
    copy = ReconcileFinding.objects.get(run=reconcile, kind="duplicate")
    assert (copy.monday_item_id, copy.created_by_orderops) == (dup.details["copy_item_id"], True)
    assert "archived, never deleted" in copy.message and "30 days in the board's archive" in copy.message
    assert f"Item {dup.item_id} is kept" in copy.message
    with synced.state.lock:
        assert synced.state.items[str(dup.details["copy_item_id"])]["state"] == "archived"
    assert _sent(synced, "delete_item") == 0, "a repair never deletes"

    after = _by_aag(synced)
    assert sorted(after) == sorted(before), "every order line still has an item, and only those"
    for edit in edits.values():
        (item,) = after[edit.aag_order_number]
        old = before[edit.aag_order_number]
        assert (item.group, item.values.get(PRICE_COLUMN)) == (old.group, old.values.get(PRICE_COLUMN)), edit.name
        assert {n: s["qty"] for n, s in item.subitems.items()} == {n: s["qty"] for n, s in old.subitems.items()}
    assert int(after[edits["delete"].aag_order_number][0].id) != edits["delete"].item_id, "re-created"
    assert int(after[dup.aag_order_number][0].id) == dup.item_id, "the linked item is kept, the copy archived"
    assert _links_alive(synced) == [], "no item lost: every order line's link names a live item"
    assert duplicates(board(synced, DEV_ITEMS)) == []

    second = _reconcile()
    assert _findings(second) == [] and second.summary["reconcile"]["total"] == 0, "zero drift"
    assert second.outcome == "SUCCESS"
    journal = Counter(BoardChange.objects.filter(run=repair).values_list("kind", flat=True))
    assert journal["item_created"] == 2 and journal["item_updated"] == 1 and journal["item_moved"] == 1
    assert journal["subitem_updated"] == 1 and journal["item_archived"] == 1
    assert repair.created_count == 2 and repair.updated_count == 3 and repair.skipped_count == 0
    assert repair.cancelled_count == 1, "the archived copy"
    assert AuditEntry.objects.filter(action="reconcile_repair_start", target_id=str(repair.pk), via="cli").exists()
    finish = AuditEntry.objects.get(action="reconcile_repair_finish", target_id=str(repair.pk))
    assert "6 repaired" in finish.summary and "not_ours" not in finish.summary


def test_it_archives_a_duplicate_orderops_created_and_leaves_no_duplicate(synced):
    _link, original = _made_by_orderops_copy(synced)
    reconcile = _reconcile()
    (finding,) = _findings(reconcile)
    assert (finding.kind, finding.monday_item_id, finding.created_by_orderops) == ("duplicate", original, True)

    repair = _repair(reconcile)

    finding.refresh_from_db()
    assert finding.status == "repaired" and "archived" in finding.message, finding.message
    with synced.state.lock:
        assert synced.state.items[str(original)]["state"] == "archived", "archived, never deleted"
    assert _sent(synced, "delete_item") == 0
    assert duplicates(board(synced, DEV_ITEMS)) == [] and _links_alive(synced) == []
    assert _findings(_reconcile()) == []

    # Rolled back: monday's API cannot un-archive, so the plan hands that step to a person.
    plan = rollback_plan(run_id=repair.pk)
    assert plan.refusal == "" and plan.counts()["items_to_unarchive_by_hand"] == 1
    text = "\n".join(plan.lines())
    assert f"by hand: item {original}" in text and "board's archive" in text
    rollback = rollback_run_execute(rollback_run_id=rollback_run_create(run_id=repair.pk, via="cli").pk)
    assert rollback.status == "completed", rollback.error_message
    assert rollback_plan(run_id=repair.pk).nothing_to_do, "the by-hand step is recorded as handed over"
    with synced.state.lock:
        assert synced.state.items[str(original)]["state"] == "archived"


def test_it_leaves_a_copy_of_an_item_orderops_did_not_create_alone(synced):
    # The order line was linked to an item made on monday (no run created it, the journal has no
    # ITEM_CREATED for it); the item orderops created is gone; a person then copies the line's item.
    link = ItemLink.objects.filter(environment="development").order_by("aag_order_number").first()
    original = _link_to_copy(synced, link)
    ItemLink.objects.filter(pk=link.pk).update(created_by_run=None)
    graphql(synced, "mutation ($i: ID) { delete_item(item_id: $i) { id } }", {"i": str(original)})
    assert not BoardChange.objects.filter(kind="item_created", monday_id=str(link.monday_item_id)).exists()
    copy = _duplicate(synced, link.monday_item_id)
    reconcile = _reconcile()
    (finding,) = _findings(reconcile)
    assert (finding.kind, finding.monday_item_id, finding.created_by_orderops) == ("duplicate", int(copy["id"]), False)
    assert "orderops did not create" in finding.message

    repair = _repair(reconcile)

    finding.refresh_from_db()
    assert finding.status == "not_ours", finding.message
    assert str(copy["id"]) in finding.message and "by hand" in finding.message
    assert repair.status == "completed" and repair.skipped_count == 1 and repair.failed_count == 0
    assert _sent(synced, "archive_item") == 0 and _sent(synced, "delete_item") == 0
    items = _by_aag(synced)[link.aag_order_number]
    assert sorted(int(i.id) for i in items) == sorted([link.monday_item_id, int(copy["id"])]), "both stay"
    assert not BoardChange.objects.filter(run=repair).exists()


def test_it_archives_no_copy_while_the_order_lines_item_is_missing(synced):
    link = ItemLink.objects.filter(environment="development").order_by("aag_order_number").first()
    first, second = _duplicate(synced, link.monday_item_id), _duplicate(synced, link.monday_item_id)
    graphql(synced, "mutation ($i: ID) { delete_item(item_id: $i) { id } }", {"i": str(link.monday_item_id)})
    reconcile = _reconcile()
    found = {f.kind: f for f in _findings(reconcile)}
    assert sorted(found) == ["duplicate", "missing"]
    copy = found["duplicate"]
    assert copy.monday_item_id == max(int(first["id"]), int(second["id"])) and not copy.created_by_orderops
    assert "link the line again first" in copy.message

    repair = _repair(reconcile, finding_ids=[copy.pk])

    copy.refresh_from_db()
    assert copy.status == "failed" and "nothing was archived" in copy.message and "link the line again" in copy.message
    assert _sent(synced, "archive_item") == 0 and len(_by_aag(synced)[link.aag_order_number]) == 2
    assert repair.failed_count == 1 and not BoardChange.objects.filter(run=repair).exists()
    found["missing"].refresh_from_db()
    assert found["missing"].status == "open", "only the finding asked for was settled"


def test_it_keeps_a_board_wins_column_and_reports_it_for_review(synced, settings, tmp_path):
    text = REAL_CONFIG.read_text(encoding="utf-8")
    old = "[environments.development.reconcile]\nboard_wins = []"
    assert old in text, "test setup: the development reconcile table is not in the config"
    path = tmp_path / "sync.toml"
    path.write_text(text.replace(old, f'[environments.development.reconcile]\nboard_wins = ["{EDITED_ORDER_COLUMN}"]'))
    settings.ORDEROPS_SYNC_CONFIG = path
    link = ItemLink.objects.filter(environment="development").order_by("aag_order_number").first()
    graphql(
        synced,
        "mutation ($b: ID!, $i: ID, $v: JSON!) { change_multiple_column_values(board_id: $b, item_id: $i, "
        "column_values: $v) { id } }",
        {"b": DEV_ITEMS, "i": str(link.monday_item_id), "v": f'{{"{PRICE_COLUMN}": "{EDITED_VALUE}"}}'},
    )
    reconcile = _reconcile()
    (finding,) = _findings(reconcile)
    assert (finding.kind, finding.policy, finding.column_id) == ("value_drift", "board_wins", PRICE_COLUMN)

    repair = _repair(reconcile)

    finding.refresh_from_db()
    assert finding.status == "review", finding.message
    assert "kept the board's value" in finding.message and EDITED_VALUE in finding.message
    assert _by_aag(synced)[link.aag_order_number][0].values[PRICE_COLUMN] == EDITED_VALUE, "the hand edit stays"
    assert _sent(synced, "change_multiple_column_values") == 1, "only the hand edit itself wrote the column"
    assert repair.skipped_count == 1 and repair.outcome == "SUCCESS"
    again = _findings(_reconcile())
    assert [(f.kind, f.policy, f.board_value) for f in again] == [("value_drift", "board_wins", EDITED_VALUE)]


def test_it_settles_the_other_findings_when_one_cannot_be_repaired(synced):
    edits = six_hand_edits(synced)
    reconcile = _reconcile()
    gone = edits["delete"].record_uuid
    OrderLine.objects.filter(record_uuid=gone).delete()
    FactOrderList.objects.filter(record_uuid=gone).delete()

    repair = _repair(reconcile)

    findings = {f.aag_order_number: f for f in _findings(reconcile) if f.kind != "duplicate"}
    failed = findings.pop(edits["delete"].aag_order_number)
    assert failed.status == "failed" and "no longer in the order tables" in failed.message
    assert {f.status for f in findings.values()} == {"repaired"}
    assert repair.status == "completed" and repair.failed_count == 1 and repair.outcome != "SUCCESS"
    assert "1 finding(s) could not be repaired" in repair.error_message


def test_it_refuses_a_production_repair_without_permission_or_confirmation(emulator, settings, ops_user, ops_prod_user):
    point_at(emulator, settings)
    stage_and_merge(20)
    only_po_pending("4755", env="production")
    assert sync("production").created_count == 7
    link = ItemLink.objects.filter(environment="production").order_by("aag_order_number").first()
    graphql(
        emulator,
        "mutation ($b: ID!, $i: ID, $v: JSON!) { change_multiple_column_values(board_id: $b, item_id: $i, "
        "column_values: $v) { id } }",
        {"b": PROD_ITEMS, "i": str(link.monday_item_id), "v": f'{{"{PRICE_COLUMN}": "{EDITED_VALUE}"}}'},
        environment="production",
    )
    reconcile = _reconcile("production")
    (finding,) = _findings(reconcile)
    requests_before = len(emulator.request_log)

    with pytest.raises(PermissionRefusedError, match=r"syncapp\.sync_production"):
        reconcile_repair_create(run_id=reconcile.pk, finding_ids=None, actor=ops_user, confirm_text=PROD_ITEMS)
    with pytest.raises(PermissionRefusedError, match="sign in"):
        reconcile_repair_create(run_id=reconcile.pk, finding_ids=None, actor=None, via="console")
    with pytest.raises(ProductionConfirmationError):
        reconcile_repair_create(run_id=reconcile.pk, finding_ids=None, actor=ops_prod_user, confirm_text="yes")

    assert not SyncRun.objects.filter(kind="repair").exists()
    assert len(emulator.request_log) == requests_before, "nothing was sent to monday"
    finding.refresh_from_db()
    assert finding.status == "open" and finding.repaired_by_run_id is None
    assert _by_aag(emulator, PROD_ITEMS)[link.aag_order_number][0].values[PRICE_COLUMN] == EDITED_VALUE

    run = reconcile_repair_create(
        run_id=reconcile.pk, finding_ids=[finding.pk], actor=ops_prod_user, confirm_text=PROD_ITEMS, enqueue=False
    )
    run = reconcile_repair_execute(run_id=run.pk)
    finding.refresh_from_db()
    assert run.status == "completed" and finding.status == "repaired", finding.message
    assert _by_aag(emulator, PROD_ITEMS)[link.aag_order_number][0].values[PRICE_COLUMN] != EDITED_VALUE
    start = AuditEntry.objects.get(action="reconcile_repair_start", target_id=str(run.pk))
    assert start.actor_id == ops_prod_user.pk and start.environment == "production"
    with pytest.raises(RepairRefusedError, match="no open findings"):
        reconcile_repair_create(run_id=reconcile.pk, finding_ids=None, actor=ops_prod_user, confirm_text=PROD_ITEMS)


def test_it_rolls_a_repair_back_to_the_board_it_found(synced):
    edits = six_hand_edits(synced)
    reconcile = _reconcile()
    edited = _by_aag(synced)
    repair = _repair(reconcile)
    assert repair.status == "completed", repair.error_message
    recreated = {edits["delete"].record_uuid, edits["archive"].record_uuid}
    dup, copy_id = edits["duplicate"], edits["duplicate"].details["copy_item_id"]
    plan = rollback_plan(run_id=repair.pk)
    assert plan.counts()["items_to_unarchive_by_hand"] == 1
    assert f"by hand: item {copy_id}" in "\n".join(plan.lines())

    rollback = rollback_run_create(run_id=repair.pk, via="cli")
    rollback = rollback_run_execute(rollback_run_id=rollback.pk)

    assert rollback.status == "completed" and rollback.outcome == "SUCCESS", rollback.error_message
    now = _by_aag(synced)
    # monday's API cannot un-archive: the copy the repair archived stays in the board's archive, the
    # step the plan handed to a person. Everything else is as the repair found it.
    with synced.state.lock:
        assert synced.state.items[str(copy_id)]["state"] == "archived"
    edited[dup.aag_order_number] = [i for i in edited[dup.aag_order_number] if int(i.id) != copy_id]
    assert sorted(now) == sorted(edited), "the items the repair re-created are archived again"
    for aag, items in edited.items():
        assert [(i.id, i.group, i.values.get(PRICE_COLUMN)) for i in now[aag]] == [
            (i.id, i.group, i.values.get(PRICE_COLUMN)) for i in items
        ], aag
        assert [{n: s["qty"] for n, s in i.subitems.items()} for i in now[aag]] == [
            {n: s["qty"] for n, s in i.subitems.items()} for i in items
        ], aag
    assert now[edits["edit"].aag_order_number][0].values[PRICE_COLUMN] == EDITED_VALUE
    assert now[edits["move"].aag_order_number][0].group == MOVED_TO_GROUP
    assert not BoardChange.objects.filter(run=repair, reverted_at__isnull=True).exists()
    # The lines whose re-created item is gone again wait for the next sync, which creates them once.
    assert set(FactOrderList.objects.filter(record_uuid__in=recreated).values_list("sync_state", "action_type")) == {
        ("PENDING", "INSERT")
    }
    assert not ItemLink.objects.filter(environment="development", record_uuid__in=recreated).exists()
    again = sync("development")
    assert again.created_count == 2 and again.failed_count == 0
    assert duplicates(board(synced, DEV_ITEMS)) == []
    assert _links_alive(synced) == []


def test_it_repairs_from_the_command_line(synced, capsys):
    edits = six_hand_edits(synced)
    with pytest.raises(SystemExit) as exit_:
        call_command("reconcile_board", "--env", "development", "--repair")
    out = capsys.readouterr().out
    assert exit_.value.code == 1, "differences were found"
    repair = SyncRun.objects.get(kind="repair")
    assert f"repair run {repair.pk}: completed" in out and repair.requested_via == "cli"
    assert edits["edit"].aag_order_number in out
    assert "findings now repaired 6" in out and "not ours" not in out, out
    capsys.readouterr()
    call_command("reconcile_board", "--env", "development")  # no SystemExit: exit 0, in step
    second = SyncRun.objects.filter(kind="reconcile").order_by("-pk").first()
    assert "board and database are in step" in capsys.readouterr().out
    assert not ReconcileFinding.objects.filter(run=second).exists()


def test_it_repairs_sizes_and_leaves_a_size_a_person_added(synced):
    links = list(ItemLink.objects.filter(environment="development").order_by("aag_order_number"))
    first, second = (
        list(SubitemLink.objects.filter(environment="development", record_uuid=link.record_uuid, qty__gt=0))
        for link in links[:2]
    )
    gone, relabelled = first[0], second[0]
    other_size = next(s.size_code for s in second if s.size_code != relabelled.size_code)
    graphql(synced, "mutation ($i: ID) { delete_item(item_id: $i) { id } }", {"i": str(gone.monday_subitem_id)})
    graphql(
        synced,
        "mutation ($b: ID!, $i: ID, $v: JSON!) { change_multiple_column_values(board_id: $b, item_id: $i, "
        "column_values: $v) { id } }",
        {"b": "9609317948", "i": str(relabelled.monday_subitem_id), "v": f'{{"{SIZE_COLUMN}": "{other_size}"}}'},
    )
    added = graphql(
        synced,
        'mutation ($p: ID!, $v: JSON) { create_subitem(parent_item_id: $p, item_name: "Size 4XL", column_values: $v, '
        "create_labels_if_missing: true) { id } }",
        {"p": str(links[2].monday_item_id), "v": f'{{"{SIZE_COLUMN}": "4XL", "{QTY_COLUMN}": "3"}}'},
    )["create_subitem"]
    reconcile = _reconcile()
    found = {(f.aag_order_number, f.kind, f.size_code) for f in _findings(reconcile)}
    assert found == {
        (links[0].aag_order_number, "missing", gone.size_code),
        (links[1].aag_order_number, "size_drift", relabelled.size_code),
        (links[2].aag_order_number, "size_drift", "4XL"),
    }, found

    repair = _repair(reconcile)

    by_size = {f.size_code: f for f in _findings(reconcile)}
    assert by_size[gone.size_code].status == "repaired" and "created" in by_size[gone.size_code].message
    assert by_size[relabelled.size_code].status == "repaired", by_size[relabelled.size_code].message
    assert by_size["4XL"].status == "not_ours" and "not create" in by_size["4XL"].message
    items = {i.values.get(AAG_COLUMN): i for i in board(synced, DEV_ITEMS)}
    assert items[links[0].aag_order_number].subitems[f"Size {gone.size_code}"]["qty"] == str(gone.qty)
    assert items[links[1].aag_order_number].subitems[f"Size {relabelled.size_code}"]["size"] == relabelled.size_code
    assert items[links[2].aag_order_number].subitems["Size 4XL"]["id"] == added["id"], "the person's size stays"
    assert [(f.kind, f.size_code) for f in _findings(_reconcile())] == [("size_drift", "4XL")]
    assert repair.subitems_written == 1 and repair.failed_count == 0
