"""The typed Scope, and the one case rule from the orders list to the sync.

Customer names and PO numbers are compared without case and outer spaces (SQL Server's `_CI_`
collation in production). The bug this pins down: seven order lines of `GREYSON` and one of
`greyson` on PO 4755 were listed as 7 on the PO page, while the sync started from that page
processed 8. Every page, count and run now says 8.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from syncapp.domain.scope import Scope, ScopeError, customer_equals
from syncapp.models import FactOrderList, RowResult, SyncRun
from syncapp.services.sync import sync_run_execute
from tests.console_helpers import key, orders
from tests.sync_helpers import point_at

pytestmark = pytest.mark.django_db

UUID_A = "6f1c1f2e-8d1a-4c8e-9a53-0a8f4c9b1d11"
UUID_B = "0b9e4c3a-2f7d-4e61-8c1b-5d2e7f9a3c22"


# --- the GREYSON / greyson bug through the views and the sync service ------------------------------


@pytest.fixture
def two_spellings():
    """GREYSON PO 4755 has seven order lines; one more, of another PO, becomes `greyson` PO 4755."""
    orders(30)
    other = FactOrderList.objects.exclude(po_number="4755").order_by("aag_order_number").first()
    FactOrderList.objects.filter(pk=other.pk).update(customer_name="greyson", po_number="4755")
    assert FactOrderList.objects.filter(customer_name="GREYSON", po_number="4755").count() == 7
    assert FactOrderList.objects.filter(customer_name="greyson", po_number="4755").count() == 1
    return other.record_uuid


def test_it_lists_one_po_of_eight_lines_for_both_spellings(ops_client, two_spellings):
    rows = [r for r in ops_client.get(reverse("orders")).context["rows"] if r.po == "4755"]
    assert len(rows) == 1, [(r.customer, r.po) for r in rows]
    assert rows[0].customer.upper() == "GREYSON" and rows[0].lines == 8
    filtered = ops_client.get(reverse("orders"), {"customer": "greyson"}).context["rows"]
    assert [(r.customer.upper(), r.po, r.lines) for r in filtered if r.po == "4755"] == [("GREYSON", "4755", 8)]


def test_it_shows_eight_lines_on_the_po_page_and_counts_eight_in_its_selection(ops_client, two_spellings):
    page = ops_client.get(reverse("po_detail"), {"customer": "GREYSON", "po": "4755"})
    assert page.status_code == 200
    assert len(page.context["detail"].lines) == 8
    assert str(two_spellings) in {str(pl.line.record_uuid) for pl in page.context["detail"].lines}
    lower = ops_client.get(reverse("po_detail"), {"customer": "greyson", "po": " 4755 "})
    assert len(lower.context["detail"].lines) == 8, "either spelling opens the same PO"

    confirm = ops_client.post(reverse("sync_confirm"), {"scope": page.context["key"]})
    assert confirm.status_code == 200
    assert (confirm.context["counts"].lines, confirm.context["counts"].pos) == (8, 1)
    mark = ops_client.post(reverse("orders_mark"), {"state": "completed", "key": [key("GREYSON", "4755")]})
    assert (mark.context["counts"].lines, mark.context["counts"].pos) == (8, 1)


def test_it_previews_and_syncs_the_eight_lines_the_po_page_shows(ops_client, two_spellings, emulator, settings):
    point_at(emulator, settings)
    page = ops_client.get(reverse("po_detail"), {"customer": "GREYSON", "po": "4755"})
    shown = {str(pl.line.record_uuid) for pl in page.context["detail"].lines}

    preview = ops_client.post(reverse("orders_preview"), {"scope": page.context["key"]}, follow=True)
    assert preview.context["run"].dry_run and preview.context["run"].total_rows == 8

    confirm = ops_client.post(reverse("sync_confirm"), {"scope": page.context["key"]})
    fields = {
        "scope": confirm.context["scope_json"],
        "environment": confirm.context["env"].name,
        "token": confirm.context["token"],
    }
    ops_client.post(reverse("sync_start"), fields)
    run = SyncRun.objects.get(dry_run=False)
    run = sync_run_execute(run_id=run.pk)
    assert run.total_rows == 8 == len(shown), run.error_message
    assert {str(u) for u in RowResult.objects.filter(run=run).values_list("record_uuid", flat=True)} == shown


def test_it_marks_the_eight_lines_of_the_po_page(ops_client, two_spellings):
    page = ops_client.get(reverse("po_detail"), {"customer": "GREYSON", "po": "4755"})
    ops_client.post(reverse("orders_mark"), {"state": "completed", "scope": page.context["key"], "confirmed": "yes"})
    assert FactOrderList.objects.filter(po_number="4755", sync_state="COMPLETED").count() == 8


# --- Scope.parse / from_dict / to_dict ------------------------------------------------------------


def test_it_parses_a_scope_trimmed_sorted_and_one_po_per_spelling():
    scope = Scope.parse(customer=" GREYSON ", pos=[" 4755 ", "4755", "abc", "ABC", ""], limit=5)
    assert scope == Scope(customer="GREYSON", pos=("4755", "abc"), limit=5)
    assert Scope.parse() == Scope() and Scope().is_everything and not Scope()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"customer": 7}, "customer"),
        ({"pos": "4755"}, "pos"),
        ({"pos": [None]}, "pos"),
        ({"record_uuids": ["not-a-uuid"]}, "record_uuids"),
        ({"record_uuids": UUID_A}, "record_uuids"),
        ({"limit": "5"}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": 0}, "limit"),
    ],
)
def test_it_names_the_field_a_bad_scope_got_wrong(kwargs, field):
    with pytest.raises(ScopeError) as error:
        Scope.parse(**kwargs)
    assert error.value.field == field


def test_it_round_trips_the_json_stored_on_runs():
    stored = {"customer": "GREYSON", "pos": ["4755"], "record_uuids": [UUID_B, UUID_A], "limit": 3}
    scope = Scope.from_dict(stored)
    assert scope.record_uuids == tuple(sorted([UUID_A, UUID_B]))
    assert Scope.from_dict(scope.to_dict()) == scope
    assert Scope.from_dict({}).to_dict() == {} and Scope.from_dict(None) == Scope()
    with pytest.raises(ScopeError) as error:
        Scope.from_dict({"customer": "GREYSON", "board": 1})
    assert error.value.field == "board"
    with pytest.raises(ScopeError):
        Scope.from_dict(["GREYSON"])


def test_it_describes_a_scope_in_words():
    assert Scope().describe() == "all pending order lines"
    assert Scope.parse(customer="GREYSON", pos=["4755"]).describe() == "customer GREYSON, PO 4755"
    many = Scope.parse(pos=[str(n) for n in range(7)], record_uuids=[UUID_A], limit=2)
    assert many.describe() == "PO 0, 1, 2, 3, 4 and 2 more, 1 order lines, at most 2 lines"


def test_it_matches_a_row_under_the_case_rule():
    scope = Scope.parse(customer="GREYSON", pos=["4755", "po-1"])
    assert scope.matches("greyson", " 4755 ") and scope.matches("Greyson ", "PO-1")
    assert not scope.matches("GREYSON LTD", "4755") and not scope.matches("GREYSON", "4756")
    lines = Scope.parse(record_uuids=[UUID_A])
    assert lines.matches("anyone", "any", UUID_A) and not lines.matches("anyone", "any", UUID_B)
    assert Scope().matches("anyone", "any")


def test_it_queries_the_lines_of_a_scope_under_the_case_rule():
    orders(30)
    other = FactOrderList.objects.exclude(po_number="4755").order_by("aag_order_number").first()
    FactOrderList.objects.filter(pk=other.pk).update(customer_name="greyson", po_number="4755")
    base = FactOrderList.objects.all()
    (query,) = Scope.parse(customer="Greyson", pos=["4755"]).querysets(base)
    assert query.count() == 8
    assert base.filter(customer_equals("customer_name", " greyson ")).filter(po_number="4755").count() == 8
    (only_one,) = Scope.parse(pos=["4755"], record_uuids=[str(other.record_uuid)]).querysets(base)
    assert list(only_one.values_list("record_uuid", flat=True)) == [other.record_uuid]


def test_it_queries_long_lists_in_chunks_under_the_parameter_limit():
    scope = Scope.parse(pos=[f"PO-{n}" for n in range(2500)], record_uuids=[UUID_A, UUID_B])
    queries = scope.querysets(FactOrderList.objects.all())
    assert len(queries) == 3
    assert all(q.count() == 0 for q in queries)


def test_it_reads_a_scope_posted_as_json_with_the_forms_messages():
    from syncapp.forms import SelectionError, scope_from_json, scope_to_json

    scope = scope_from_json(json.dumps({"customer": "GREYSON", "pos": ["4755"]}))
    assert scope == Scope(customer="GREYSON", pos=("4755",))
    assert json.loads(scope_to_json(scope)) == {"customer": "GREYSON", "pos": ["4755"]}
    for raw in ("", "null", "[]", '{"pos": [4755]}', '{"pos": "4755"}', '{"board": 1}', '{"limit": "5"}'):
        with pytest.raises(SelectionError, match="could not be read"):
            scope_from_json(raw)
    with pytest.raises(SelectionError, match="positive number"):
        scope_from_json('{"limit": 0}')
