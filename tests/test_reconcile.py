"""Reconcile: a board read whole, compared with the order tables, differences stored per order line and size."""

from __future__ import annotations

import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from graphql import build_schema, parse, validate

from syncapp.domain.errors import RunBusyError
from syncapp.domain.scope import Scope
from syncapp.engine import board_read
from syncapp.engine import reconcile_compare as compare
from syncapp.engine.board_read import BoardReader, activity_time
from syncapp.models import ApiCall, AuditEntry, ReconcileFinding, SyncRun
from syncapp.selectors.reconcile import (
    CSV_HEADER,
    finding_counts,
    findings_csv_rows,
    findings_filtered,
    reconcile_summary_line,
)
from syncapp.services.reconcile import reconcile_run_create, reconcile_run_execute
from syncapp.sync_config import get_sync_config
from tests.reconcile_helpers import EDITED_VALUE, QTY_ADDED, graphql, six_hand_edits
from tests.sync_helpers import point_at, stage_and_merge, sync

SCHEMA = Path(__file__).resolve().parent.parent / "syncapp" / "emulator" / "schema.graphql"


def reconcile(environment: str = "development", **scope) -> SyncRun:
    run = reconcile_run_create(environment=environment, scope=Scope.parse(**scope), via="cli", enqueue=False)
    return reconcile_run_execute(run_id=run.pk)


def command(*args: str) -> tuple[int, str, str]:
    """Run reconcile_board; (exit code, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("reconcile_board", *args, stdout=out, stderr=err)
    except SystemExit as stop:
        return int(stop.code), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def synced(emulator, settings):
    point_at(emulator, settings)
    stage_and_merge(20)
    run = sync()
    assert run.status == SyncRun.Status.COMPLETED and run.failed_count == 0, run.error_message
    return emulator


# --- against the emulator, over real HTTP ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_finds_the_board_in_step_after_a_sync(synced):
    code, out, err = command("--env", "development")

    run = SyncRun.objects.filter(kind=SyncRun.Kind.RECONCILE).get()
    assert code == 0, err
    assert out.strip().splitlines()[-1].startswith(f"reconcile run {run.pk}: board and database are in step")
    assert run.dry_run and run.status == SyncRun.Status.COMPLETED and run.outcome == SyncRun.Outcome.SUCCESS
    assert not ReconcileFinding.objects.filter(run=run).exists()
    assert run.summary["reconcile"]["lines_compared"] == 20 and run.summary["reconcile"]["items_read"] == 20
    calls = ApiCall.objects.filter(run=run)
    assert run.requests_count == calls.count() >= 1
    assert run.complexity_used == sum(c.complexity or 0 for c in calls) > 0
    assert AuditEntry.objects.filter(action="reconcile_start", target_id=str(run.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_it_names_exactly_the_six_hand_edited_lines_with_their_kinds(synced):
    edits = six_hand_edits(synced)

    code, out, _ = command("--env", "development")

    run = SyncRun.objects.filter(kind=SyncRun.Kind.RECONCILE).get()
    findings = list(ReconcileFinding.objects.filter(run=run))
    assert code == 1
    assert {(str(f.record_uuid), f.kind) for f in findings} == {(e.record_uuid, e.kind) for e in edits.values()}
    assert len(findings) == 6
    assert (
        out.strip()
        .splitlines()[-1]
        .startswith(
            f"reconcile run {run.pk}: 6 differences (missing 2, orphan 0, duplicate 1, value drift 1, wrong group 1, "
            "size drift 1)"
        )
    )
    by_line = {str(f.record_uuid): f for f in findings}
    assert "deleted" in by_line[edits["delete"].record_uuid].message
    assert "archived" in by_line[edits["archive"].record_uuid].message
    drift = by_line[edits["edit"].record_uuid]
    assert (drift.column_id, drift.board_value) == (edits["edit"].details["column_id"], EDITED_VALUE)
    assert drift.order_value == drift.written_value != EDITED_VALUE
    assert drift.changed_by and drift.changed_at is not None  # from the board's activity log
    copy = by_line[edits["duplicate"].record_uuid]
    # A copy of an item orderops created, whoever made the copy: orderops' to archive, its item kept.
    assert copy.monday_item_id == edits["duplicate"].details["copy_item_id"] and copy.created_by_orderops
    assert f"keeps item {edits['duplicate'].item_id} and archives the copy" in copy.message
    assert "30 days" in copy.message
    moved = by_line[edits["move"].record_uuid]
    assert (moved.group_id, moved.expected_group_id) == (
        edits["move"].details["group_id"],
        edits["move"].details["expected_group_id"],
    )
    size = by_line[edits["qty"].record_uuid]
    qty = edits["qty"].details
    assert (size.size_code, size.monday_subitem_id) == (qty["size_code"], qty["subitem_id"])
    assert (size.board_value, size.order_value) == (str(qty["qty"] + QTY_ADDED), str(qty["qty"]))
    assert all(f.created_by_orderops for f in findings)
    assert run.outcome == SyncRun.Outcome.NEEDS_ATTENTION and run.summary["reconcile"]["total"] == 6


@pytest.mark.django_db(transaction=True)
def test_it_limits_the_comparison_to_the_scope(synced):
    edits = six_hand_edits(synced)
    in_scope = {e.record_uuid for e in edits.values() if e.aag_order_number.split("-")[1] == "4763"}
    assert in_scope, "test setup: no hand edit on PO 4763"

    by_po = reconcile(pos=["4763"])
    by_customer = reconcile(customer="greyson")

    assert {str(u) for u in by_po.findings.values_list("record_uuid", flat=True)} == in_scope
    assert set(by_po.findings.values_list("po_number", flat=True)) == {"4763"}
    assert set(by_customer.findings.values_list("customer_name", flat=True)) == {"GREYSON"}
    assert by_customer.findings.count() == 6 - len(in_scope)


@pytest.mark.django_db(transaction=True)
def test_it_reports_items_no_order_line_owns(synced):
    env = get_sync_config().environment("development")
    aag = env.item_columns["AAG ORDER NUMBER"]
    graphql(
        synced,
        'mutation ($b: ID!, $v: JSON) { create_item(board_id: $b, item_name: "Sample", column_values: $v) { id } }',
        {"b": str(env.items_board_id), "v": f'{{"{aag}": "NOT-AN-ORDER"}}'},
    )

    run = reconcile()

    orphan = run.findings.get()
    assert (orphan.kind, orphan.aag_order_number, orphan.record_uuid) == ("orphan", "NOT-AN-ORDER", None)
    assert not orphan.created_by_orderops


@pytest.mark.django_db(transaction=True)
def test_it_refuses_while_a_run_writes_to_the_board(synced):
    SyncRun.objects.create(
        kind=SyncRun.Kind.SYNC,
        environment="development",
        items_board_id=9609317401,
        subitems_board_id=9609317948,
        status=SyncRun.Status.RUNNING,
    )

    with pytest.raises(RunBusyError, match="is already writing to the Development board"):
        reconcile()
    code, _, err = command("--env", "development")

    assert code == 2 and "is already writing" in err
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.RECONCILE).exists()


@pytest.mark.django_db(transaction=True)
def test_it_exits_2_on_bad_arguments(synced, monkeypatch):
    with pytest.raises(CommandError):
        call_command("reconcile_board", "--env", "staging")
    confirm_alone = command("--env", "development", "--confirm", "Orders")
    monkeypatch.setitem(sys.modules, "syncapp.services.reconcile_repair", None)  # a version without repair
    no_repair = command("--env", "development", "--repair")

    assert confirm_alone[0] == 2 and "--confirm is only used with --repair" in confirm_alone[2]
    assert no_repair[0] == 2 and "--repair is not available" in no_repair[2]
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.RECONCILE).exists()


@pytest.mark.django_db(transaction=True)
def test_it_reads_the_board_page_by_page(synced):
    env = get_sync_config().environment("development")

    read = BoardReader(synced.client("development"), env, page_limit=7).read()

    next_pages = sum("OrderopsBoardReadNext" in entry["body"] for entry in synced.request_log)
    assert len(read.items) == 20 and len({i["id"] for i in read.items}) == 20
    assert all(set(i["column_values"]) <= set(env.item_columns.values()) for i in read.items)
    assert all(i["subitems"] for i in read.items)
    assert next_pages == 2  # 7 + 7 + 6 items


@pytest.mark.django_db(transaction=True)
def test_it_stores_findings_the_console_can_filter_and_download(synced):
    six_hand_edits(synced)

    run = reconcile()

    assert finding_counts(run) == {
        "missing": 2,
        "orphan": 0,
        "duplicate": 1,
        "value_drift": 1,
        "wrong_group": 1,
        "size_drift": 1,
    }
    assert findings_filtered(run, kind="missing").count() == 2
    assert findings_filtered(run, po="4763").count() + findings_filtered(run, customer="Greyson").count() == 6
    assert findings_filtered(run, search="customer price").get().kind == "value_drift"
    rows = list(findings_csv_rows(findings_filtered(run)))
    assert rows[0] == list(CSV_HEADER) and len(rows) == 7
    assert reconcile_summary_line(run).startswith(f"reconcile run {run.pk}: 6 differences")


# --- the documents and the pure comparison --------------------------------------------------------------


def test_it_sends_only_documents_valid_in_mondays_schema():
    schema = build_schema(SCHEMA.read_text(encoding="utf-8"))
    for name, document, _variables in board_read.sample_documents():
        assert validate(schema, parse(document)) == [], name


def test_it_reads_activity_log_times_in_mondays_units():
    at = activity_time("17965378149523170")
    assert (at.year, at.tzinfo is not None) == (2026, True)
    assert activity_time("2026-01-02T03:04:05Z").hour == 3
    assert activity_time("soon") is None


def _board(items: list[dict], **extra) -> compare.Board:
    return compare.Board(
        items={int(i["id"]): i for i in items},
        groups={"g1": "GREYSON SP26", "g2": "Other"},
        columns={"price": ("CUSTOMER PRICE", "numbers"), "aag": ("AAG ORDER NUMBER", "text")},
        aag_column="aag",
        customer_column="customer",
        po_column="po",
        size_column="size",
        qty_column="qty",
        subitem_prefix="Size ",
        **extra,
    )


def _item(item_id: int, aag: str, *, price: str = "10", group: str = "g1", subitems=None, customer="GREYSON") -> dict:
    return {
        "id": str(item_id),
        "group_id": group,
        "state": "active",
        "column_values": {
            "aag": {"text": aag},
            "price": {"text": price},
            "customer": {"text": customer},
            "po": {"text": "4755"},
        },
        "subitems": subitems or [],
    }


def _sub(sub_id: int, size: str, qty: str) -> dict:
    return {"id": str(sub_id), "name": f"Size {size}", "column_values": {"size": {"text": size}, "qty": {"text": qty}}}


def _line(item_id: int = 1, **fields) -> compare.Line:
    defaults = {
        "record_uuid": "00000000-0000-0000-0000-000000000001",
        "aag_order_number": "A-1",
        "customer_name": "GREYSON",
        "po_number": "4755",
        "item_id": item_id,
        "pending": False,
        "created_by_orderops": True,
        "expected": compare.Expected("GREYSON SP26", "g1", {"price": "10"}, {"M": 5}),
        "sizes": {"M": (11, 5)},
    }
    return compare.Line(**{**defaults, **fields})


def _compare(lines, board, **options):
    defaults = {
        "order_lines_by_aag": {"A-1": [("00000000-0000-0000-0000-000000000001", "GREYSON", "4755")]},
        "linked_item_ids": {1},
        "created_item_ids": {1},
        "in_scope": lambda customer, po: True,
    }
    return compare.compare(lines, board, **{**defaults, **options})


def test_it_compares_values_as_monday_shows_them():
    board = _board([_item(1, "A-1", price="10.00", subitems=[_sub(11, "M", "5")])])
    assert _compare([_line()], board) == []


def test_it_keeps_a_value_orderops_wrote_that_the_order_changed_since():
    board = _board([_item(1, "A-1", price="9", subitems=[_sub(11, "M", "5")])])
    pending = _line(pending=True, written={"price": "9"})
    assert _compare([pending], board) == []
    drifted = _compare([_line(written={"price": "8"})], board)
    assert [(f.kind, f.board_value, f.order_value, f.written_value) for f in drifted] == [
        ("value_drift", "9", "10", "8")
    ]


def test_it_does_not_compare_a_pending_line_whose_last_write_is_unknown():
    board = _board([_item(1, "A-1", price="9", subitems=[_sub(11, "M", "5")])])
    assert _compare([_line(pending=True)], board) == []


def test_it_reports_sizes_that_differ_or_should_not_exist():
    subitems = [_sub(11, "M", "7"), _sub(12, "XL", "1"), _sub(13, "M", "5")]
    board = _board([_item(1, "A-1", subitems=subitems)])

    found = _compare([_line()], board)

    assert [(f.kind, f.size_code, f.monday_subitem_id) for f in found] == [
        ("size_drift", "M", 11),
        ("size_drift", "M", 13),
        ("size_drift", "XL", 12),
    ]


def test_it_reports_a_missing_size_and_a_missing_item():
    board = _board([_item(1, "A-1", subitems=[])], looked_up={2: {"id": "2", "state": "archived"}})
    second = _line(2, record_uuid="00000000-0000-0000-0000-000000000002", aag_order_number="A-2")

    found = _compare([_line(), second], board)

    assert [(f.kind, f.size_code, f.monday_item_id) for f in found] == [("missing", "M", 1), ("missing", "", 2)]
    assert "archived" in found[1].message


def test_it_keeps_the_linked_item_and_reports_the_copy_and_strangers_in_scope():
    items = [_item(5, "A-1"), _item(1, "A-1", subitems=[_sub(11, "M", "5")]), _item(7, "ZZ", customer="RHONE")]
    board = _board(items)

    everything = _compare([_line()], board)
    greyson_only = _compare([_line()], board, in_scope=lambda customer, po: customer == "GREYSON")

    assert [(f.kind, f.monday_item_id) for f in everything] == [("duplicate", 5), ("orphan", 7)]
    assert [(f.kind, f.monday_item_id) for f in greyson_only] == [("duplicate", 5)]
    assert everything[0].record_uuid == "00000000-0000-0000-0000-000000000001"
    assert everything[0].created_by_orderops, "a copy of the item orderops created is orderops' to archive"
    assert "keeps item 1 and archives the copy" in everything[0].message


def test_it_leaves_copies_to_people_unless_orderops_created_the_linked_item():
    items = [_item(1, "A-1", subitems=[_sub(11, "M", "5")]), _item(5, "A-1"), _item(6, "A-1")]
    person_linked = _compare([_line(created_by_orderops=False)], _board(items), created_item_ids={5})
    gone = _board(items[1:], looked_up={1: {"id": "1", "state": "deleted"}})
    link_missing = _compare([_line()], gone)

    assert [(f.kind, f.monday_item_id, f.created_by_orderops) for f in person_linked] == [
        ("duplicate", 5, False),
        ("duplicate", 6, False),
    ], "the line's item was made by a person: its copies are not orderops' (even one orderops made)"
    assert "which orderops did not create" in person_linked[0].message and "by hand" in person_linked[0].message
    assert [(f.kind, f.monday_item_id, f.created_by_orderops) for f in link_missing] == [
        ("missing", 1, True),
        ("duplicate", 6, False),
    ], "the oldest item is kept while the linked one is gone; nothing is archived before the line is linked"
    assert "link the line again first" in link_missing[1].message


def test_it_reports_an_item_in_another_group():
    board = _board([_item(1, "A-1", group="g2", subitems=[_sub(11, "M", "5")])])

    found = _compare([_line()], board)

    assert [(f.kind, f.group_id, f.expected_group_id) for f in found] == [("wrong_group", "g2", "g1")]
