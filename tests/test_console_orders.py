"""The orders list (one line per PO), PO detail, and marking POs PENDING/COMPLETED."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from syncapp.domain.scope import Scope
from syncapp.models import AuditEntry, FactOrderList, OrderLine
from syncapp.selectors.orders import OrderFilters, po_page, scope_for_filters, scope_for_keys
from tests.console_helpers import add_result, key, make_run, orders, set_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    orders(60)


def _rows(response):
    return {(r.customer, r.po): r for r in response.context["rows"]}


# --- the list ----------------------------------------------------------------------------------


def test_it_lists_one_line_per_po_with_its_figures(ops_client, data):
    response = ops_client.get(reverse("orders"))
    assert response.status_code == 200
    rows = _rows(response)
    pos = set(FactOrderList.objects.values_list("customer_name", "po_number").distinct())
    assert set(rows) == pos
    greyson = rows[("GREYSON", "4755")]
    lines = FactOrderList.objects.filter(po_number="4755")
    assert greyson.lines == 7 == lines.count()
    assert greyson.total_qty == sum(line.total_qty for line in lines)
    assert greyson.sizes == OrderLine.objects.filter(record_uuid__in=lines.values("record_uuid"), qty__gt=0).count()
    assert greyson.states == [("PENDING", 7)]
    assert greyson.customer_seasons


def test_it_shows_the_last_sync_per_environment(ops_client, data):
    line = FactOrderList.objects.filter(po_number="4755").first()
    add_result(make_run(environment="production"), line)
    row = _rows(ops_client.get(reverse("orders")))[("GREYSON", "4755")]
    assert set(row.last_sync) == {"production"}


def test_it_filters_by_customer_po_and_search(ops_client, data):
    rows = _rows(ops_client.get(reverse("orders"), {"customer": "GREYSON"}))
    assert rows and all(customer == "GREYSON" for customer, _ in rows)
    assert set(_rows(ops_client.get(reverse("orders"), {"po": "4755"}))) == {("GREYSON", "4755")}
    aag = FactOrderList.objects.filter(po_number="4755").first().aag_order_number
    assert set(_rows(ops_client.get(reverse("orders"), {"q": aag.lower()}))) == {("GREYSON", "4755")}


def test_it_filters_by_state_season_and_cancelled(ops_client, data):
    FactOrderList.objects.filter(po_number="4755").update(sync_state="ERROR")
    assert set(_rows(ops_client.get(reverse("orders"), {"state": "ERROR"}))) == {("GREYSON", "4755")}
    season = FactOrderList.objects.get(aag_order_number=FactOrderList.objects.first().aag_order_number).customer_season
    rows = _rows(ops_client.get(reverse("orders"), {"season": season.lower()}))
    assert rows and all(season in r.customer_seasons or r.aag_seasons for r in rows.values())
    cancelled = set(
        FactOrderList.objects.filter(order_type__iexact="CANCELLED").values_list("customer_name", "po_number")
    )
    assert set(_rows(ops_client.get(reverse("orders"), {"cancelled": "only"}))) == cancelled


def test_it_sorts_by_total_qty(ops_client, data):
    rows = ops_client.get(reverse("orders"), {"sort": "-qty"}).context["rows"]
    totals = [r.total_qty for r in rows]
    assert totals == sorted(totals, reverse=True)


def test_it_paginates_the_grouped_pos(data):
    page, rows = po_page(OrderFilters(), 2, per_page=3)
    assert page.number == 2 and len(rows) == 3
    assert page.paginator.count == FactOrderList.objects.values("po_number").distinct().count()


def test_it_ignores_an_invalid_filter_value(ops_client, data):
    response = ops_client.get(reverse("orders"), {"state": "<bad>", "sort": "nope"})
    assert response.status_code == 200 and response.context["rows"]


def test_it_says_when_no_po_matches_the_filter(ops_client, data):
    html = ops_client.get(reverse("orders"), {"po": "no-such-po"}).content.decode()
    assert "No PO matches the filter" in html


def test_it_says_when_there_are_no_orders(ops_client):
    html = ops_client.get(reverse("orders")).content.decode()
    assert "There are no orders yet" in html


def test_it_reads_a_page_in_a_bounded_number_of_queries(ops_client, data, django_assert_max_num_queries):
    for line in FactOrderList.objects.all()[:20]:
        add_result(make_run(), line)
    with django_assert_max_num_queries(14):
        response = ops_client.get(reverse("orders"))
    assert len(response.context["rows"]) > 5
    with django_assert_max_num_queries(14):
        ops_client.get(reverse("orders"), {"sort": "-qty", "state": "PENDING", "q": "4"})


def test_it_escapes_order_data_in_the_list_and_on_the_po_page(ops_client, data):
    aag = FactOrderList.objects.filter(po_number="4755").first().aag_order_number
    set_line(aag, customer_style="<script>alert('x')</script>", customer_colour_description='"><img src=x onerror=1>')
    FactOrderList.objects.filter(po_number="4755").update(customer_name="GREY<b>SON</b> “Ünïcode”")
    html = ops_client.get(reverse("orders")).content.decode()
    assert "<b>SON</b>" not in html and "GREY&lt;b&gt;SON&lt;/b&gt; “Ünïcode”" in html
    detail = ops_client.get(reverse("po_detail"), {"customer": "GREY<b>SON</b> “Ünïcode”", "po": "4755"})
    page = detail.content.decode()
    assert detail.status_code == 200
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert '"><img' not in page


def test_it_shows_the_action_buttons_to_ops(ops_client, data):
    html = ops_client.get(reverse("orders")).content.decode()
    for label in ("Mark PENDING", "Mark COMPLETED", "Preview", "Sync now"):
        assert label in html


def test_it_hides_every_action_from_trainers(trainer_client, data):
    html = trainer_client.get(reverse("orders")).content.decode()
    for label in ("Mark PENDING", "Mark COMPLETED", ">Preview<", "Sync now"):
        assert label not in html
    assert "Read-only" in html


def test_it_ticks_the_whole_page_without_javascript(ops_client, data):
    html = ops_client.get(reverse("orders"), {"select": "page"}).content.decode()
    assert html.count('name="key"') == html.count('name="key" value=') > 0
    assert html.count("checked>") >= html.count('name="key"')


# --- PO detail ---------------------------------------------------------------------------------


def test_it_shows_a_po_with_lines_sizes_items_errors_and_runs(ops_client, data):
    lines = list(FactOrderList.objects.filter(po_number="4755"))
    run = make_run(status="completed", failed_count=1)
    add_result(run, lines[0], outcome="error", message="Column value is not valid", error_code="ColumnValueException")
    add_result(run, lines[1])
    response = ops_client.get(reverse("po_detail"), {"customer": "GREYSON", "po": "4755"})
    html = response.content.decode()
    assert response.status_code == 200
    assert len(response.context["detail"].lines) == 7
    assert "Column value is not valid" in html and "monday refused a column value" in html
    assert f"Run {run.pk}" in html
    assert len(response.context["detail"].lines[0].sizes) > 0
    assert 'class="sizes"' in html


def test_it_links_items_on_each_environments_board(ops_client, data, settings):
    from syncapp.models import ItemLink

    settings.MONDAY_API_URL = "https://api.monday.com/v2"
    line = FactOrderList.objects.filter(po_number="4755").first()
    ItemLink.objects.create(
        environment="production", board_id=9200517329, record_uuid=line.record_uuid, monday_item_id=111
    )
    html = ops_client.get(reverse("po_detail"), {"customer": "GREYSON", "po": "4755"}).content.decode()
    assert "https://monday.com/boards/9200517329/pulses/111" in html


def test_it_answers_404_for_an_unknown_po(ops_client, data):
    assert ops_client.get(reverse("po_detail"), {"customer": "GREYSON", "po": "nope"}).status_code == 404


# --- selections --------------------------------------------------------------------------------


def test_it_scopes_a_selection_of_one_customer_by_customer_and_pos(data):
    assert scope_for_keys([("GREYSON", "4755")]) == Scope(customer="GREYSON", pos=("4755",))
    assert scope_for_keys([("GREYSON", "4755"), ("greyson", " 4755")]) == Scope(customer="GREYSON", pos=("4755",))


def test_it_scopes_shared_po_numbers_to_the_selected_lines_only(data):
    other = FactOrderList.objects.exclude(customer_name="GREYSON").first()
    FactOrderList.objects.filter(pk=other.pk).update(po_number="4755")
    scope = scope_for_keys([("GREYSON", "4755"), (other.customer_name, "9999999")])
    assert str(other.record_uuid) not in scope.record_uuids
    assert len(scope.record_uuids) == 7


def test_it_scopes_all_pos_matching_a_filter(data):
    FactOrderList.objects.filter(po_number="4755").update(sync_state="ERROR")
    assert scope_for_filters(OrderFilters(state="ERROR")) == Scope(customer="GREYSON", pos=("4755",))
    assert scope_for_filters(OrderFilters(customer="GREYSON")) == Scope(customer="GREYSON")
    assert scope_for_filters(OrderFilters(state="CLAIMED")) is None


# --- marking -----------------------------------------------------------------------------------


def test_it_asks_for_confirmation_with_counts_before_marking(ops_client, data):
    response = ops_client.post(reverse("orders_mark"), {"state": "completed", "key": [key("GREYSON", "4755")]})
    assert response.status_code == 200
    assert response.context["counts"].lines == 7 and response.context["counts"].pos == 1
    assert FactOrderList.objects.filter(po_number="4755", sync_state="COMPLETED").count() == 0
    assert not AuditEntry.objects.filter(action__startswith="mark_").exists()


def test_it_marks_the_confirmed_selection_and_audits_it(ops_client, data):
    scope = json.dumps({"customer": "GREYSON", "pos": ["4755"]})
    response = ops_client.post(
        reverse("orders_mark"),
        {"state": "completed", "scope": scope, "confirmed": "yes", "next": "/orders/?po=4755"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/orders/?po=4755"
    assert FactOrderList.objects.filter(po_number="4755", sync_state="COMPLETED").count() == 7
    assert FactOrderList.objects.exclude(po_number="4755").filter(sync_state="COMPLETED").count() == 0
    entry = AuditEntry.objects.get(action="mark_completed")
    assert entry.actor_name == "olivia.ops" and entry.via == "console"
    assert "Marked 7 order lines COMPLETED" in response.content.decode()


def test_it_marks_every_po_matching_the_filter(ops_client, data):
    FactOrderList.objects.update(sync_state="COMPLETED", action_type="NONE")
    response = ops_client.post(reverse("orders_mark"), {"state": "pending", "all_matching": "1", "customer": "GREYSON"})
    assert response.context["counts"].lines == FactOrderList.objects.filter(customer_name="GREYSON").count()
    ops_client.post(
        reverse("orders_mark"), {"state": "pending", "scope": response.context["scope_json"], "confirmed": "yes"}
    )
    assert set(FactOrderList.objects.filter(customer_name="GREYSON").values_list("sync_state", flat=True)) == {
        "PENDING"
    }
    assert set(FactOrderList.objects.exclude(customer_name="GREYSON").values_list("sync_state", flat=True)) == {
        "COMPLETED"
    }


def test_it_says_what_to_do_when_nothing_is_selected(ops_client, data):
    response = ops_client.post(reverse("orders_mark"), {"state": "pending"}, follow=True)
    assert "Select at least one PO first" in response.content.decode()


def test_it_refuses_a_tampered_selection(ops_client, data):
    response = ops_client.post(reverse("orders_mark"), {"state": "pending", "scope": '{"sql": "DROP"}'}, follow=True)
    assert "could not be read" in response.content.decode()
    response = ops_client.post(reverse("orders_mark"), {"state": "pending", "key": ["not json"]}, follow=True)
    assert "could not be read" in response.content.decode()


def test_it_does_not_redirect_to_another_site_after_marking(ops_client, data):
    response = ops_client.post(reverse("orders_mark"), {"state": "bogus", "next": "https://evil.example/"})
    assert response.url == reverse("orders")


@pytest.mark.parametrize("fixture", ["trainer_client", "client"])
def test_it_forbids_marking_for_the_wrong_role(request, data, fixture, no_role_user):
    client = request.getfixturevalue(fixture)
    if fixture == "client":
        client.force_login(no_role_user)
    scope = json.dumps({"customer": "GREYSON", "pos": ["4755"]})
    response = client.post(reverse("orders_mark"), {"state": "completed", "scope": scope, "confirmed": "yes"})
    assert response.status_code == 403
    assert FactOrderList.objects.filter(sync_state="COMPLETED").count() == 0


def test_it_refuses_marking_with_a_get(ops_client, data):
    assert ops_client.get(reverse("orders_mark")).status_code == 405
