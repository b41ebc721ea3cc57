"""merge_orders: staging -> FACT_ORDER_LIST and ORDER_LIST_LINES, DELTA-free."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from syncapp.models import FactOrderList, OrderLine, StagedOrder
from syncapp.services.merge import MergeError, orders_merge

pytestmark = pytest.mark.django_db
Q = connection.ops.quote_name


def _stage(orders: int = 40) -> None:
    call_command("seed_demo", orders=orders, no_users=True)


def _set_staged(aag: str, column: str, value) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Q('swp_ORDER_LIST_SYNC')} SET {Q(column)} = %s WHERE {Q('AAG ORDER NUMBER')} = %s", [value, aag]
        )


def _first_with_size(size: str) -> StagedOrder:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {Q('AAG ORDER NUMBER')} FROM {Q('swp_ORDER_LIST_SYNC')} WHERE {Q(size)} > 0 "
            f"AND {Q('ORDER TYPE')} = 'ACTIVE'"
        )
        return StagedOrder.objects.get(aag_order_number=cursor.fetchone()[0])


def test_it_inserts_new_rows_as_pending_insert_with_their_size_lines():
    _stage(40)
    report = orders_merge()
    assert report.new == 40 and report.changed == report.unchanged == 0 and not report.rejected
    assert FactOrderList.objects.filter(sync_state="PENDING", action_type="INSERT").count() == 40
    row = FactOrderList.objects.filter(po_number="4755").first()
    lines = OrderLine.objects.filter(record_uuid=row.record_uuid)
    assert lines.exists() and all(line.qty > 0 and line.sync_state == "PENDING" for line in lines)
    assert sum(line.qty for line in lines) == row.total_qty
    assert len(row.row_hash) == 64


def test_it_leaves_unchanged_rows_untouched():
    _stage(30)
    orders_merge()
    FactOrderList.objects.update(sync_state="SYNCED", action_type="INSERT")
    report = orders_merge()
    assert report.unchanged == 30 and report.new == report.changed == 0
    assert FactOrderList.objects.filter(sync_state="SYNCED").count() == 30


def test_it_marks_a_changed_synced_row_pending_update_and_corrects_its_sizes():
    _stage(30)
    orders_merge()
    FactOrderList.objects.update(sync_state="SYNCED")
    OrderLine.objects.update(sync_state="SYNCED")
    staged = _first_with_size("M")
    _set_staged(staged.aag_order_number, "M", 0)
    _set_staged(staged.aag_order_number, "XXL", 999)
    report = orders_merge()
    assert (report.changed, report.unchanged) == (1, 29)
    row = FactOrderList.objects.get(aag_order_number=staged.aag_order_number)
    assert (row.sync_state, row.action_type) == ("PENDING", "UPDATE")
    lines = {line.size_code: line for line in OrderLine.objects.filter(record_uuid=row.record_uuid)}
    assert lines["M"].qty == 0 and lines["M"].sync_state == "PENDING"
    assert lines["XXL"].qty == 999
    assert report.lines_zeroed == 1


def test_it_keeps_insert_for_a_changed_row_never_synced():
    _stage(10)
    orders_merge()
    staged = StagedOrder.objects.first()
    _set_staged(staged.aag_order_number, "NOTES", "changed before the first sync")
    orders_merge()
    assert FactOrderList.objects.get(aag_order_number=staged.aag_order_number).action_type == "INSERT"


def test_it_counts_a_cancellation_in_any_case_as_a_change():
    _stage(20)
    orders_merge()
    FactOrderList.objects.update(sync_state="SYNCED")
    staged = StagedOrder.objects.filter(order_type="ACTIVE").first()
    _set_staged(staged.aag_order_number, "ORDER TYPE", "cancelled")
    report = orders_merge()
    assert report.cancelled == 1 and report.changed == 1


def test_it_rejects_duplicates_blank_keys_and_bad_quantities_row_by_row():
    _stage(12)
    rows = list(StagedOrder.objects.order_by("aag_order_number")[:5])
    _set_staged(rows[1].aag_order_number, "AAG ORDER NUMBER", rows[0].aag_order_number)
    _set_staged(rows[2].aag_order_number, "AAG ORDER NUMBER", "   ")
    _set_staged(rows[3].aag_order_number, "S", -4)
    # Only SQLite lets text into an INT column; SQL Server and PostgreSQL refuse it themselves.
    text_in_int = connection.vendor == "sqlite"
    _set_staged(rows[4].aag_order_number, "M", "twelve" if text_in_int else -1)
    report = orders_merge()
    reasons = [str(r) for r in report.rejected]
    assert sum("appears more than once" in r for r in reasons) == 2
    assert any("AAG ORDER NUMBER is blank" in r for r in reasons)
    assert any("size 'S': -4 is negative" in r for r in reasons)
    expected = "size 'M': 'twelve' is not a whole number" if text_in_int else "size 'M': -1 is negative"
    assert any(expected in r for r in reasons)
    assert report.new == 12 - 5
    assert not FactOrderList.objects.filter(aag_order_number=rows[0].aag_order_number).exists()
    assert not FactOrderList.objects.filter(aag_order_number=rows[3].aag_order_number).exists()


def test_it_rejects_huge_quantities():
    _stage(3)
    staged = StagedOrder.objects.first()
    _set_staged(staged.aag_order_number, "L", 50_000_000)
    report = orders_merge()
    assert report.rejected and "larger than 1,000,000" in str(report.rejected[0])


def test_it_writes_nothing_on_a_dry_run():
    _stage(15)
    report = orders_merge(dry_run=True)
    assert report.new == 15 and report.lines_inserted > 0
    assert FactOrderList.objects.count() == 0 and OrderLine.objects.count() == 0


def test_it_handles_an_empty_staging_table():
    report = orders_merge()
    assert report.staged == 0 and "merged 0 staged rows" in report.summary()


def test_it_refuses_a_staging_table_missing_columns_and_changes_nothing():
    _stage(5)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {Q('swp_ORDER_LIST_SYNC')} RENAME COLUMN {Q('CUSTOMER NAME')} TO {Q('CUSTOMER')}")
    try:
        with pytest.raises(MergeError, match="missing the column\\(s\\) 'CUSTOMER NAME'"):
            orders_merge()
        assert FactOrderList.objects.count() == 0
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                f"ALTER TABLE {Q('swp_ORDER_LIST_SYNC')} RENAME COLUMN {Q('CUSTOMER')} TO {Q('CUSTOMER NAME')}"
            )


def test_it_prints_counts_and_rejections_from_the_command(capsys):
    _stage(8)
    first = StagedOrder.objects.first()
    _set_staged(first.aag_order_number, "AAG ORDER NUMBER", "")
    call_command("merge_orders")
    captured = capsys.readouterr()
    assert "merged 8 staged rows: 7 new, 0 changed" in captured.out and "1 rejected" in captured.out
    assert "AAG ORDER NUMBER is blank" in captured.err


def test_it_keeps_a_claimed_row_claimed_but_takes_its_new_values():
    _stage(5)
    orders_merge()
    staged = StagedOrder.objects.first()
    FactOrderList.objects.filter(aag_order_number=staged.aag_order_number).update(
        sync_state="CLAIMED", api_status="CLAIMED 7"
    )
    _set_staged(staged.aag_order_number, "NOTES", "changed during a sync")
    orders_merge()
    row = FactOrderList.objects.get(aag_order_number=staged.aag_order_number)
    assert row.sync_state == "CLAIMED" and row.notes == "changed during a sync"


def test_the_command_reports_a_broken_layout_as_an_error():
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {Q('swp_ORDER_LIST_SYNC')} RENAME COLUMN {Q('TOTAL QTY')} TO {Q('TOTAL')}")
    try:
        with pytest.raises(CommandError, match="TOTAL QTY"):
            call_command("merge_orders")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {Q('swp_ORDER_LIST_SYNC')} RENAME COLUMN {Q('TOTAL')} TO {Q('TOTAL QTY')}")
