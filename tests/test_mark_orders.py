"""mark_orders: the safe replacement for hand-written sync_state UPDATEs."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from syncapp.domain.scope import Scope
from syncapp.models import AuditEntry, FactOrderList, ItemLink, OrderLine
from syncapp.services.orders import orders_mark

pytestmark = pytest.mark.django_db


@pytest.fixture
def merged():
    call_command("seed_demo", orders=120, no_users=True)
    call_command("merge_orders")


def test_it_isolates_one_po_with_invert(merged, capsys):
    call_command("mark_orders", "completed", "--po", "4755", "--invert")
    call_command("mark_orders", "pending", "--po", "4755")
    pending = FactOrderList.objects.filter(sync_state="PENDING")
    assert set(pending.values_list("po_number", flat=True)) == {"4755"}
    assert pending.count() == 7
    assert (
        FactOrderList.objects.exclude(po_number="4755").filter(sync_state="COMPLETED", action_type="NONE").count()
        == 113
    )
    assert (
        not OrderLine.objects.filter(sync_state="PENDING")
        .exclude(record_uuid__in=pending.values("record_uuid"))
        .exists()
    )
    out = capsys.readouterr().out
    assert "marked 113 order lines COMPLETED" in out and "marked 7 order lines PENDING" in out


def test_it_chooses_insert_or_update_by_the_item_on_the_active_board(merged):
    rows = list(FactOrderList.objects.filter(po_number="4755"))
    ItemLink.objects.create(
        environment="development", board_id=9609317401, record_uuid=rows[0].record_uuid, monday_item_id=111
    )
    ItemLink.objects.create(
        environment="production", board_id=9200517329, record_uuid=rows[1].record_uuid, monday_item_id=222
    )
    report = orders_mark(state="pending", scope=Scope.parse(pos=["4755"]), environment="development")
    assert (report.updates, report.inserts) == (1, 6)
    assert FactOrderList.objects.get(pk=rows[0].pk).action_type == "UPDATE"
    assert FactOrderList.objects.get(pk=rows[1].pk).action_type == "INSERT", (
        "a production item says nothing about development"
    )


def test_it_leaves_rows_claimed_by_a_running_sync_alone(merged):
    row = FactOrderList.objects.filter(po_number="4755").first()
    FactOrderList.objects.filter(pk=row.pk).update(sync_state="CLAIMED", api_status="CLAIMED 3")
    report = orders_mark(state="completed", scope=Scope.parse(pos=["4755"]))
    assert report.completed == 6 and report.skipped_claimed == 1
    assert FactOrderList.objects.get(pk=row.pk).sync_state == "CLAIMED"


def test_it_audits_every_marking(merged):
    orders_mark(state="completed", scope=Scope.parse(customer="greyson"), via="cli")
    entry = AuditEntry.objects.first()
    assert entry.action == "mark_completed" and entry.via == "cli" and "COMPLETED" in entry.summary


def test_it_accepts_ten_thousand_pos_and_odd_characters(merged):
    pos = [f"PO-{n}'; DROP TABLE x;--" for n in range(10_000)] + ["4755"]
    report = orders_mark(state="completed", scope=Scope.parse(pos=pos))
    assert report.completed == 7
    report = orders_mark(state="pending", scope=Scope.parse(pos=pos), invert=True)
    assert report.inserts == 113


def test_it_refuses_invert_without_a_filter(merged):
    with pytest.raises(CommandError, match="--invert needs a filter"):
        call_command("mark_orders", "completed", "--invert")
