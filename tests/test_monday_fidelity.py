"""The client and the engine against monday as it really answers (issue #12, "The client").

Every test runs against the strict emulator over real HTTP: documented clears only ("" on a numbers
column writes 0, {} on a date or dropdown is refused), monday's limits, throttles inside HTTP 200,
a whole-request 500 for one stale id, replay that is not honoured, 409s that are not about
idempotency, three-policy RateLimit headers and the API-Version response header.
"""

from __future__ import annotations

import functools
import json
import re

import pytest
import requests
from django.core.management import call_command

from syncapp.engine.progress import RunProgress
from syncapp.models import FactOrderList, ItemLink, OrderLine, RowResult, SubitemLink
from syncapp.monday import client as client_module
from syncapp.monday import column_values, factory, responses
from syncapp.monday.column_values import format_column_value
from syncapp.monday.types import Mutation
from syncapp.selectors.preflight import preflight_checks
from syncapp.services.rollback import rollback_run_create, rollback_run_execute
from tests.emulator_fixtures import DEV_ITEMS_BOARD
from tests.sync_helpers import (
    DEV_ITEMS,
    board,
    duplicates,
    only_po_pending,
    point_at,
    set_staged,
    stage_and_merge,
    sync,
)

pytestmark = pytest.mark.django_db

AAG = "text_mkr5wya6"
PRICE = "numeric_mkr5cact"
PO_DATE = "date_mkr5zp5"
AAG_SEASON = "dropdown_mkr58de6"
NOTES = "long_text_mkr5hass"
QTY = "numeric_mkra7j8e"


@pytest.fixture
def monday(emulator, settings):
    point_at(emulator, settings)
    return emulator


@pytest.fixture
def greyson(monday):
    stage_and_merge(120)
    only_po_pending("4755")
    return monday


def create(key: str, name: str = "Item", **column_values: object) -> Mutation:
    return Mutation(
        key, "create_item", {"board_id": DEV_ITEMS_BOARD, "item_name": name, "column_values": column_values}
    )


def change(key: str, item_id: object, **column_values: object) -> Mutation:
    return Mutation(
        key, "change_columns", {"board_id": DEV_ITEMS_BOARD, "item_id": item_id, "column_values": column_values}
    )


def _sent_values(emulator, column_id: str) -> list[object]:
    """Every value the client sent for `column_id` in a change of column values."""
    sent = []
    for entry in emulator.request_log:
        body = json.loads(entry["body"])
        for value in (body.get("variables") or {}).values():
            if isinstance(value, str) and value.startswith("{") and column_id in value:
                sent.append(json.loads(value).get(column_id, "<absent>"))
    return sent


# --- 1. clearing values ------------------------------------------------------------------------------


def test_a_blank_price_date_and_dropdown_in_an_update_end_empty_on_the_board_not_zero(greyson):
    first = sync("development")
    assert first.status == "completed" and first.failed_count == 0, first.error_message
    row = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    item_id = ItemLink.objects.get(record_uuid=row.pk).monday_item_id
    item = greyson.state.item(item_id)
    assert {PRICE, PO_DATE, AAG_SEASON} <= set(item["values"]), "the test needs the three columns filled first"

    for column in ("CUSTOMER PRICE", "ORDER DATE PO RECEIVED", "AAG SEASON"):
        set_staged(row.aag_order_number, column, None)
    call_command("merge_orders")
    requests_before = len(greyson.request_log)
    second = sync("development")

    assert second.status == "completed" and (second.updated_count, second.failed_count) == (1, 0), [
        r.message for r in RowResult.objects.filter(run=second, outcome="error")
    ]
    values = greyson.state.item(item_id)["values"]
    assert PRICE not in values, f"the price must be empty, not {values.get(PRICE)}"
    assert PO_DATE not in values and AAG_SEASON not in values
    update = [e for e in greyson.request_log[requests_before:] if "change_multiple_column_values" in e["body"]]
    assert update and all(e["status"] == 200 and "ColumnValueException" not in e["body"] for e in update)
    sent = json.loads(next(v for v in json.loads(update[0]["body"])["variables"].values() if PRICE in str(v)))
    assert sent[PRICE] is None and sent[PO_DATE] is None and sent[AAG_SEASON] is None, "null, the documented clear"


def test_a_client_clear_is_accepted_by_the_strict_emulator_for_every_type(monday):
    client = monday.client()
    types = {
        AAG: "text",
        NOTES: "long_text",
        PRICE: "numbers",
        "dropdown_mkr542p2": "dropdown",
        "color_mkr5yf27": "status",
        PO_DATE: "date",
    }
    sources = {AAG: "AAG-1", NOTES: "a note", PRICE: "12.5", "dropdown_mkr542p2": "GREYSON"}
    sources.update({"color_mkr5yf27": "PACK", PO_DATE: "2026-01-31"})
    filled = {c: format_column_value(types[c], sources[c]) for c in types}
    item_id = client.run_batch([create("k", **filled)], operation="c", idempotency_scope="s")["k"].data["id"]
    clears = {c: format_column_value(types[c], "") for c in types}
    cleared = client.run_batch([change("k", item_id, **clears)], operation="clear", idempotency_scope="s")["k"]
    assert cleared.ok, cleared
    assert not set(filled) & set(monday.state.item(item_id)["values"]), "every column is empty, none holds 0"


def test_a_rollback_restores_an_empty_price_date_and_dropdown_as_empty_not_zero(greyson):
    row = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    for column in ("CUSTOMER PRICE", "ORDER DATE PO RECEIVED", "AAG SEASON"):
        set_staged(row.aag_order_number, column, None)
    call_command("merge_orders")
    first = sync("development")
    assert first.failed_count == 0, first.error_message
    item_id = ItemLink.objects.get(record_uuid=row.pk).monday_item_id
    assert not {PRICE, PO_DATE, AAG_SEASON} & set(greyson.state.item(item_id)["values"])

    set_staged(row.aag_order_number, "CUSTOMER PRICE", 12.5)
    set_staged(row.aag_order_number, "ORDER DATE PO RECEIVED", "2026-02-01")
    set_staged(row.aag_order_number, "AAG SEASON", "2026 SPRING")
    call_command("merge_orders")
    update = sync("development")
    assert update.updated_count == 1 and update.failed_count == 0, update.error_message
    assert {PRICE, PO_DATE, AAG_SEASON} <= set(greyson.state.item(item_id)["values"])

    rollback = rollback_run_execute(rollback_run_id=rollback_run_create(run_id=update.pk, via="cli").pk)

    assert rollback.status == "completed", rollback.error_message
    values = greyson.state.item(item_id)["values"]
    assert PRICE not in values, f"the price is empty again, not {values.get(PRICE)}"
    assert PO_DATE not in values and AAG_SEASON not in values


# --- 2. limits -----------------------------------------------------------------------------------------


def test_a_value_over_a_monday_limit_fails_its_own_row_naming_column_and_limit(greyson, monkeypatch):
    # NOTES is NVARCHAR(1000) in the production layout, under monday's 2,000: the rule is exercised
    # with the long-text limit lowered to 900, as a mapping of a wider column would meet it.
    monkeypatch.setattr(column_values, "LONG_TEXT_MAX", 900)
    rows = list(FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number"))
    FactOrderList.objects.filter(pk=rows[0].pk).update(notes="n" * 901)
    FactOrderList.objects.filter(pk=rows[1].pk).update(unit_of_measure="A STATUS LABEL OF THIRTY-ONE CH")
    run = sync("development")
    assert run.status == "completed" and (run.created_count, run.failed_count) == (5, 2)
    notes = FactOrderList.objects.get(pk=rows[0].pk)
    assert notes.sync_state == "ERROR"
    assert "NOTES (long_text_mkr5hass): 901 characters" in notes.api_error_message
    assert "at most 900" in notes.api_error_message
    label = FactOrderList.objects.get(pk=rows[1].pk).api_error_message
    assert "UNIT OF MEASURE (color_mkr5yf27)" in label and "at most 30" in label
    assert not [e for e in greyson.request_log if "n" * 901 in e["body"]], "checked before anything was sent"
    assert len(board(greyson, DEV_ITEMS)) == 5


def test_a_group_name_over_monday_limit_fails_the_row_not_the_batch(greyson, monkeypatch):
    # CUSTOMER NAME and CUSTOMER SEASON are NVARCHAR(100) in the production layout, so a group name
    # stays under monday's 255 today; the rule is exercised with the limit lowered to 100.
    monkeypatch.setattr(column_values, "GROUP_NAME_MAX", 100)
    row = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    FactOrderList.objects.filter(pk=row.pk).update(customer_season="S" * 100)
    run = sync("development")
    assert (run.created_count, run.failed_count) == (6, 1)
    message = FactOrderList.objects.get(pk=row.pk).api_error_message
    assert "at most 100" in message and "group name" in message


# --- 3. throttles inside HTTP 200 ---------------------------------------------------------------------


@pytest.mark.parametrize("code", ["tooManyRequests", "API_TEMPORARILY_BLOCKED", "COMPLEXITY_BUDGET_EXHAUSTED"])
def test_a_throttle_inside_http_200_is_waited_out_on_reads_and_mutations(monday, code):
    monday.faults.throttle_codes = (code,)
    monday.faults.retry_in_seconds = 9
    monday.faults.queue("throttle_200", "none", "throttle_200")
    client = monday.client()
    assert client.get_board(DEV_ITEMS_BOARD).id == DEV_ITEMS_BOARD
    results = client.run_batch([create(f"k{i}", f"Item {i}") for i in range(3)], operation="c", idempotency_scope="s")
    assert all(r.ok for r in results.values()), results
    assert monday.sleeps == [9.0, 9.0], "monday's retry_in_seconds, on the read and on the mutation"
    assert [e["status"] for e in monday.request_log] == [200, 200, 200, 200]
    assert len(list(monday.state.active_items(str(DEV_ITEMS_BOARD)))) == 3
    assert client.stats.retries == 2


def test_throttled_aliases_of_an_applied_batch_are_sent_again_alone(monday, monkeypatch):
    client = monday.client()
    original = client_module.MondayClient._send
    calls = []

    def throttle_second_alias(self, body, headers):
        outcome = original(self, body, headers)
        calls.append(outcome)
        if len(calls) == 1:  # monday applied m0 and m2 and throttled m1 inside the same 200
            data = outcome.body["data"]
            data["m1"] = None
            outcome.body["errors"] = [
                {
                    "message": "Too many requests",
                    "path": ["m1"],
                    "extensions": {"code": "tooManyRequests", "retry_in_seconds": 3},
                }
            ]
        return outcome

    monkeypatch.setattr(client_module.MondayClient, "_send", throttle_second_alias)
    results = client.run_batch([create(f"k{i}", f"Item {i}") for i in range(3)], operation="c", idempotency_scope="s")
    assert all(r.ok for r in results.values())
    assert monday.sleeps == [3.0]
    second = json.loads(monday.request_log[1]["body"])
    assert second["query"].count("create_item(") == 1, "only the throttled alias went again"
    assert results["k1"].data["id"] != results["k0"].data["id"] and client.stats.retries == 1


# --- 4. replay not honoured ---------------------------------------------------------------------------


def test_a_lost_create_is_looked_up_by_natural_key_when_replay_is_not_honoured(greyson):
    greyson.faults.no_replay = True
    fired = []

    def lose_first_creates(body: bytes) -> None:
        if len(fired) < 2 and (b"create_item" in body or b"create_subitem" in body):
            fired.append(True)
            greyson.faults.queue("lost")

    original = greyson.api.handle

    def handle(headers, body, peer=""):
        lose_first_creates(body)
        return original(headers, body, peer)

    greyson.api.handle = handle
    run = sync("development")
    assert run.status == "completed" and run.failed_count == 0, run.error_message
    items = board(greyson, DEV_ITEMS)
    assert len(items) == 7 and not duplicates(items), duplicates(items)
    assert greyson.faults.injected["lost"] == 2
    assert not [e for e in greyson.request_log if e.get("replayed")], "nothing was answered from a cache"
    assert ItemLink.objects.count() == 7
    assert SubitemLink.objects.count() == sum(len(i.subitems) for i in items)


def test_the_client_sends_only_the_mutations_recovery_did_not_find(monday):
    monday.faults.no_replay = True
    monday.faults.queue("lost")
    client = monday.client()
    asked: list[list[str]] = []

    def recover(chunk: list[Mutation]) -> dict[str, dict]:
        asked.append([m.key for m in chunk])
        found = {}
        for item in monday.state.active_items(str(DEV_ITEMS_BOARD)):
            for m in chunk:
                if m.args["item_name"] == item["name"] and m.key != "k2":  # pretend k2 was not found
                    found[m.key] = {"id": item["id"]}
        return found

    results = client.run_batch(
        [create(f"k{i}", f"Item {i}") for i in range(3)], operation="c", idempotency_scope="s", recover=recover
    )
    assert asked == [["k0", "k1", "k2"]]
    assert all(r.ok for r in results.values())
    resent = json.loads(monday.request_log[-1]["body"])
    assert resent["query"].count("create_item(") == 1 and "Item 2" in json.dumps(resent["variables"])
    names = sorted(i["name"] for i in monday.state.active_items(str(DEV_ITEMS_BOARD)))
    assert names == ["Item 0", "Item 1", "Item 2", "Item 2"], "k2 was sent again, k0 and k1 were not"


# --- 5. one bad id in a batch -------------------------------------------------------------------------


def test_a_whole_request_500_for_one_stale_id_fails_that_change_and_applies_the_others(monday):
    client = monday.client()
    ids = [
        r.data["id"]
        for r in client.run_batch(
            [create(f"k{i}", f"Item {i}") for i in range(6)], operation="c", idempotency_scope="s"
        ).values()
    ]
    client.run_batch([Mutation("gone", "delete_item", {"item_id": ids[3]})], operation="d", idempotency_scope="s")
    monday.faults.batch_500 = True
    requests_before = len(monday.request_log)

    results = client.run_batch(
        [change(f"c{i}", item_id, **{AAG: f"AAG-{i}"}) for i, item_id in enumerate(ids)],
        operation="u",
        idempotency_scope="s",
    )

    assert [k for k, r in results.items() if not r.ok] == ["c3"]
    assert results["c3"].error_code == "WholeRequestError"
    assert "stale item id" in results["c3"].error_message and "batch-mates were sent" in results["c3"].error_message
    for i, item_id in enumerate(ids):
        if i != 3:
            assert monday.state.item(item_id)["values"][AAG]["text"] == f"AAG-{i}"
    statuses = [e["status"] for e in monday.request_log[requests_before:]]
    assert statuses.count(500) <= 9 and len(statuses) <= 14, f"bisected, not retried until the run aborts: {statuses}"


def _change_one_size_of_each(rows, sizes: dict[str, str] | None = None) -> None:
    for row in rows:
        line = OrderLine.objects.filter(record_uuid=row.pk, qty__gt=0).order_by("size_code").first()
        set_staged(row.aag_order_number, (sizes or {}).get(str(row.pk), line.size_code), 4242)
    call_command("merge_orders")


def test_a_sync_with_one_stale_subitem_id_syncs_the_other_rows(greyson):
    """The subitem is deleted on the board while the run is under way (after the run read the items),
    and monday answers the whole request naming it with HTTP 500."""
    first = sync("development")
    assert first.failed_count == 0
    rows = list(FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number"))
    stale = SubitemLink.objects.filter(record_uuid=rows[0].pk).order_by("size_code").first()
    _change_one_size_of_each(rows, {str(rows[0].pk): stale.size_code})
    greyson.faults.batch_500 = True
    original = greyson.api.handle

    def delete_it_mid_run(headers, body, peer=""):
        if b"change_multiple_column_values" in body and str(stale.monday_subitem_id).encode() in body:
            with greyson.state.lock:
                subitem = greyson.state.item(stale.monday_subitem_id)
                if subitem is not None:
                    greyson.state.set_item_state(subitem, "deleted")
        return original(headers, body, peer)

    greyson.api.handle = delete_it_mid_run
    second = sync("development")

    assert second.status == "completed", second.error_message
    assert (second.updated_count, second.failed_count) == (6, 1)
    failed = FactOrderList.objects.get(pk=rows[0].pk)
    assert failed.sync_state == "ERROR" and f"size {stale.size_code}" in failed.api_error_message
    assert "stale item id" in failed.api_error_message
    others = FactOrderList.objects.filter(pk__in=[r.pk for r in rows[1:]])
    assert set(others.values_list("sync_state", flat=True)) == {"SYNCED"}
    assert any(e["status"] == 500 for e in greyson.request_log), "monday answered a whole request with 500"

    greyson.faults.batch_500 = False  # the next sync finds the size gone and creates it again
    FactOrderList.objects.filter(pk=rows[0].pk).update(sync_state="PENDING")
    third = sync("development")
    assert (third.updated_count, third.failed_count) == (1, 0), third.error_message
    items = board(greyson, DEV_ITEMS)
    assert not duplicates(items)
    item = next(i for i in items if i.values[AAG] == rows[0].aag_order_number)
    assert item.subitems[f"Size {stale.size_code}"]["qty"] == "4242"


# --- 6. a 409 that is not about idempotency -----------------------------------------------------------


def test_delete_last_group_is_an_answer_about_that_mutation_not_a_wait(monday):
    client = monday.client()
    with monday.state.lock:
        groups = [g["id"] for g in monday.state.active_groups(monday.state.board(DEV_ITEMS_BOARD))]
    others = [
        Mutation(f"d{i}", "delete_group", {"board_id": DEV_ITEMS_BOARD, "group_id": g})
        for i, g in enumerate(groups[1:])
    ]
    if others:
        client.run_batch(others, operation="d", idempotency_scope="s")
    requests_before = len(monday.request_log)
    result = client.run_batch(
        [Mutation("last", "delete_group", {"board_id": DEV_ITEMS_BOARD, "group_id": groups[0]})],
        operation="last",
        idempotency_scope="s",
    )["last"]
    assert not result.ok and result.error_code == "DeleteLastGroupException"
    assert len(monday.request_log) - requests_before == 1 and monday.sleeps == [], "not retried as a running request"


# --- 7. the RateLimit header's three policies ---------------------------------------------------------


def test_it_reads_the_complexity_policy_of_the_rate_limit_header_not_the_first(monday):
    response = requests.post(
        monday.url,
        json={"query": "query { complexity { before after reset_in_x_seconds } }"},
        headers={"Authorization": monday.tokens["development"], "API-Version": "2026-10"},
        timeout=5,
    )
    header = response.headers["RateLimit"]
    assert header.index("complexityMinute") > header.index("minuteRate"), "the test needs complexity after the first"
    remaining, reset, limit = responses.rate_limit_headers(response.headers)
    complexity = response.json()["data"]["complexity"]
    assert limit == monday.budget.per_minute
    assert remaining == complexity["after"] and reset == complexity["reset_in_x_seconds"]


# --- 8. API versions ----------------------------------------------------------------------------------


def test_preflight_says_which_api_version_answered(monday):
    result = next(r for r in preflight_checks(environment="development") if r.key == "board")
    assert result.ok, result.detail
    assert "monday answered with API version 2026-10, the version orderops pins." in result.detail


# --- 9. the run page while monday's budget is spent ---------------------------------------------------


def test_the_status_line_says_the_run_waits_for_mondays_budget_in_plain_words(greyson, monkeypatch):
    steps: list[str] = []
    original = RunProgress.step

    def step(self, text: str) -> None:
        steps.append(text)
        original(self, text)

    monkeypatch.setattr(RunProgress, "step", step)
    waits: list[float] = []
    monkeypatch.setattr(factory, "MondayClient", functools.partial(client_module.MondayClient, sleep=waits.append))
    greyson.faults.retry_in_seconds = 42
    greyson.faults.rate_limit_code = "COMPLEXITY_BUDGET_EXHAUSTED"
    greyson.faults.queue("none", "none", "none", "429")
    run = sync("development")
    assert run.status == "completed" and run.failed_count == 0
    assert waits == [42.0]
    waiting = [s for s in steps if s.startswith("Waiting for monday's budget")]
    assert waiting and re.fullmatch(
        r"Waiting for monday's budget \(development\): resumes at \d\d:\d\d:\d\d P[SD]T \(in \d+ s\)\.", waiting[0]
    ), waiting
    assert not [s for s in steps if "{" in s or "create_item" in s or "_" in s], steps
