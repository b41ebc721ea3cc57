"""Two public monday client libraries against the emulator, over real HTTP, changed only in their URL.

- `monday` 2.2.1 (PyPI "monday", ProdPerfect): documents built as text in monday/query_joins.py,
  sent by urllib3 to the module-level URL in monday/resources/base.py (`_URLS["prod"]`).
- `monday-api-python-sdk` 1.6.8 (PyPI, monday.com's own): documents in monday_sdk/query_templates.py,
  sent by requests to `MondayGraphQL.endpoint`; responses are read into its dataclasses (dacite).

Both are pinned in requirements-test.txt as test dependencies only. Each library keeps its own
default `API-Version` header (2026-01): the emulator answers a deprecated version with the
maintenance version, as monday does. Every document they send must be answered: each request of
a test is checked afterwards to have been valid against monday's official schema, answered
HTTP 200, and without errors.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from graphql import parse, validate

from syncapp.emulator.executable import build_executable_schema
from tests.emulator_fixtures import DEV_ITEMS_BOARD, DEV_SUBITEMS_BOARD

monday = pytest.importorskip("monday")
monday_base = pytest.importorskip("monday.resources.base")
monday_sdk = pytest.importorskip("monday_sdk")

ORDER = "text_mkr5wya6"  # AAG ORDER NUMBER (text)
QTY = "numeric_mkr5cact"  # a numbers column
STATUS = "color_mkr5yf27"  # a status column with the labels EACH, PACK, SET
DATE = "date_mkr5zp5"
SUB_QTY = "numeric_mkra7j8e"  # Order Qty on the subitems board


def assert_every_request_answered(emulator) -> None:
    schema = build_executable_schema()
    log = emulator.request_log
    assert log, "the library sent nothing"
    for entry in log:
        query = json.loads(entry["body"])["query"]
        assert validate(schema, parse(query)) == [], query
        assert entry["status"] == 200, (entry["status"], query)


def values_by_id(item: dict) -> dict[str, str | None]:
    return {cv["id"]: cv["text"] for cv in item["column_values"]}


# --- monday 2.2.1 --------------------------------------------------------------------------------


@pytest.fixture
def prodperfect(emulator, monkeypatch):
    monkeypatch.setitem(monday_base._URLS, "prod", emulator.url)  # the only change: the URL
    return monday.MondayClient(emulator.tokens["development"])


def test_monday_client_creates_changes_and_reads_items_subitems_and_groups(emulator, prodperfect):
    board = DEV_ITEMS_BOARD
    group_id = prodperfect.groups.create_group(board, "GREYSON SS26")["data"]["create_group"]["id"]
    item_id = prodperfect.items.create_item(
        board, group_id, 'Order "one"', column_values={ORDER: "AAG-9001", QTY: "5"}
    )["data"]["create_item"]["id"]
    subitem = prodperfect.items.create_subitem(item_id, "Size M", column_values={SUB_QTY: "4"})["data"]
    prodperfect.items.change_item_value(board, item_id, ORDER, "AAG-9002")
    prodperfect.items.change_multiple_column_values(board, item_id, {QTY: "7", STATUS: {"label": "PACK"}})

    by_id = prodperfect.items.fetch_items_by_id([int(item_id)])["data"]["items"]
    by_value = prodperfect.items.fetch_items_by_column_value(board, ORDER, "aag-9002")["data"]
    by_group = prodperfect.groups.get_items_by_group(board, group_id)["data"]["boards"][0]["groups"][0]
    by_board = prodperfect.boards.fetch_items_by_board_id(board, limit=10)["data"]["boards"][0]["items_page"]
    everything = prodperfect.boards.fetch_all_items_by_board_id(board, limit=1)
    boards = prodperfect.boards.fetch_boards_by_id(board)["data"]["boards"]
    groups = prodperfect.groups.get_groups_by_board([board])["data"]["boards"][0]["groups"]
    updates = prodperfect.updates.fetch_updates_for_item(item_id)["data"]["items"][0]["updates"]
    complexity = prodperfect.complexity.get_complexity()["data"]["complexity"]

    assert subitem["create_subitem"]["name"] == "Size M"
    assert values_by_id(subitem["create_subitem"])[SUB_QTY] == "4"
    assert by_id[0]["name"] == 'Order "one"' and by_id[0]["group"]["id"] == group_id
    assert values_by_id(by_id[0])[ORDER] == "AAG-9002"
    assert values_by_id(by_id[0])[QTY] == "7" and values_by_id(by_id[0])[STATUS] == "PACK"
    found = by_value["items_page_by_column_values"]["items"]
    assert [i["id"] for i in found] == [item_id] and found[0]["updates"] == []
    assert [i["id"] for i in by_group["items_page"]["items"]] == [item_id]
    assert [i["id"] for i in by_board["items"]] == [item_id]
    assert [i["id"] for i in everything] == [item_id]
    assert boards[0]["name"] and {"id": group_id, "title": "GREYSON SS26"} in boards[0]["groups"]
    assert boards[0]["tags"] == [] and boards[0]["permissions"]
    assert any(g["id"] == group_id and g["archived"] is False for g in groups)
    assert updates == [] and complexity["after"] > 0
    assert_every_request_answered(emulator)


def test_monday_client_moves_archives_and_deletes_items_and_groups(emulator, prodperfect):
    board = DEV_ITEMS_BOARD
    first = prodperfect.groups.create_group(board, "First")["data"]["create_group"]["id"]
    second = prodperfect.groups.create_group(board, "Second")["data"]["create_group"]["id"]
    kept = prodperfect.items.create_item(board, first, "Kept")["data"]["create_item"]["id"]
    archived = prodperfect.items.create_item(board, first, "Archived")["data"]["create_item"]["id"]
    deleted = prodperfect.items.create_item(board, first, "Deleted")["data"]["create_item"]["id"]

    prodperfect.items.move_item_to_group(kept, second)
    prodperfect.items.archive_item_by_id(archived)
    prodperfect.items.delete_item_by_id(deleted)
    copy = prodperfect.groups.duplicate_group(board, second)["data"]["duplicate_group"]["id"]
    archived_group = prodperfect.groups.archive_group(board, copy)["data"]["archive_group"]
    deleted_group = prodperfect.groups.delete_group(board, first)["data"]["delete_group"]

    state = emulator.state
    assert state.item(kept)["group_id"] == second
    assert state.items[archived]["state"] == "deleted"  # it was in the deleted group
    assert state.item(deleted) is None
    assert archived_group == {"id": copy, "archived": True}
    assert deleted_group == {"id": first, "deleted": True}
    assert [i["name"] for i in state.active_items(str(board)) if i["group_id"] == second] == ["Kept"]
    assert_every_request_answered(emulator)


# --- monday-api-python-sdk 1.6.8 ------------------------------------------------------------------


@pytest.fixture
def official_sdk(emulator, monkeypatch):
    monkeypatch.setattr("monday_sdk.modules.boards.sleep_according_to_complexity", lambda complexity: None)
    client = monday_sdk.MondayClient(emulator.tokens["development"], max_retry_attempts=1)
    client._graphql_client.endpoint = emulator.url  # the only change: the URL
    return client


def test_monday_sdk_creates_changes_and_reads_items_and_subitems(emulator, official_sdk):
    board = DEV_ITEMS_BOARD
    created = official_sdk.items.create_item(board, "topics", "Order one", column_values={ORDER: "AAG-7001"})
    item_id = created.data.create_item.id
    subitem = official_sdk.items.create_subitem(item_id, "Size L", column_values={SUB_QTY: "3"})
    official_sdk.items.change_simple_column_value(board, item_id, ORDER, "AAG-7002")
    official_sdk.items.change_status_column_value(board, item_id, STATUS, "SET")
    official_sdk.items.change_date_column_value(board, item_id, DATE, dt.datetime(2026, 3, 1, 9, 30))
    official_sdk.items.change_custom_column_value(board, item_id, QTY, "12")
    official_sdk.items.change_multiple_column_values(board, item_id, {QTY: "13"})

    by_id = official_sdk.items.fetch_items_by_id([item_id])
    by_value = official_sdk.items.fetch_items_by_column_value(board, ORDER, "AAG-7002", limit=10)
    everything = official_sdk.boards.fetch_all_items_by_board_id(board, limit=1)
    boards = official_sdk.boards.fetch_boards_by_id(board).data.boards
    updates = official_sdk.updates.fetch_updates_for_item(item_id)

    sub = subitem.response_data["data"]["create_subitem"]
    assert sub["board"]["id"] == str(DEV_SUBITEMS_BOARD)
    item = by_id[0]
    texts = {cv.column.id: cv.text for cv in item.column_values}
    assert item.name == "Order one" and item.state == "active" and item.group.id == "topics"
    assert texts[ORDER] == "AAG-7002" and texts[STATUS] == "SET" and texts[QTY] == "13"
    assert texts[DATE] == "2026-03-01 09:30:00"
    assert [s.name for s in item.subitems] == ["Size L"] and item.subitems[0].parent_item.id == item_id
    found = by_value.data.items_page_by_column_values.items
    assert [i.id for i in found] == [item_id]
    assert [i.id for i in everything] == [item_id] and everything[0].updated_at
    assert boards[0].name and any(g.id == "topics" for g in boards[0].groups)
    assert updates.response_data["data"]["items"][0]["updates"] == []
    assert_every_request_answered(emulator)


def test_monday_sdk_moves_archives_and_deletes_items(emulator, official_sdk):
    board = DEV_ITEMS_BOARD
    group = emulator.state.create_group(emulator.state.board(board), "Elsewhere", None, None, False)["id"]
    ids = [official_sdk.items.create_item(board, "topics", f"Item {i}").data.create_item.id for i in range(3)]

    official_sdk.items.move_item_to_group(ids[0], group)
    official_sdk.items.archive_item_by_id(ids[1])
    official_sdk.items.delete_item_by_id(ids[2])
    remaining = official_sdk.items.fetch_items_by_id(ids)

    # Without exclude_nonactive monday answers archived and deleted items too, `state` saying which.
    assert [(i.id, i.state, i.group.id) for i in remaining] == [
        (ids[0], "active", group),
        (ids[1], "archived", "topics"),
        (ids[2], "deleted", "topics"),
    ]
    assert emulator.state.item(ids[2]) is None
    assert_every_request_answered(emulator)
