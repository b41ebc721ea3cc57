"""The monday emulator over raw HTTP: validation, auth, column semantics, limits, faults, views."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from syncapp.emulator.faults import FaultConfig
from syncapp.emulator.server import EmulatorServer
from syncapp.emulator.state import EmulatorState
from syncapp.monday.column_values import format_column_value
from tests.emulator_fixtures import DEV_ITEMS_BOARD, DEV_SUBITEMS_BOARD, PROD_ITEMS_BOARD

CREATE = """mutation ($board: ID!, $name: String!, $values: JSON, $labels: Boolean) {
  m0: create_item(board_id: $board, item_name: $name, column_values: $values, create_labels_if_missing: $labels) { id name }
  complexity { before after query reset_in_x_seconds }
}"""
CHANGE = """mutation ($board: ID!, $item: ID, $values: JSON!) {
  m0: change_multiple_column_values(board_id: $board, item_id: $item, column_values: $values) { id }
}"""
READ = """query ($ids: [ID!]) { items(ids: $ids) { id name state column_values { id text value type } } }"""


def post(
    emulator,
    query: str,
    variables: dict | None = None,
    *,
    token: str = "dev-token",
    version: str | None = "2026-10",
    headers: dict | None = None,
    timeout: float = 5,
) -> requests.Response:
    all_headers = {"Content-Type": "application/json", "Authorization": token}
    if version is not None:
        all_headers["API-Version"] = version
    all_headers.update(headers or {})
    return requests.post(
        emulator.url,
        data=json.dumps({"query": query, "variables": variables or {}}),
        headers=all_headers,
        timeout=timeout,
    )


def create_item(
    emulator, name: str = "Item", values: dict | None = None, *, labels: bool = False, board: int = DEV_ITEMS_BOARD
) -> dict:
    variables = {"board": str(board), "name": name, "values": json.dumps(values or {}), "labels": labels}
    return post(emulator, CREATE, variables).json()


def column_text(emulator, item_id: str, column_id: str) -> str | None:
    item = post(emulator, READ, {"ids": [item_id]}).json()["data"]["items"][0]
    return next(cv["text"] for cv in item["column_values"] if cv["id"] == column_id)


def error_codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


# --- GraphQL validation, authentication, versions ---------------------------------------------------


def test_it_rejects_an_unknown_field_the_way_monday_does(emulator):
    body = post(emulator, "query { boards(ids: [9609317401]) { id colour } }").json()

    assert body["errors"][0]["message"] == "Field 'colour' doesn't exist on type 'Board'"
    assert error_codes(body) == ["undefinedField"]
    assert "data" not in body


def test_it_rejects_an_unknown_argument(emulator):
    body = post(emulator, 'mutation { create_item(board_id: 1, item_name: "x", colour: "red") { id } }').json()

    assert body["errors"][0]["message"] == "Field 'create_item' doesn't accept argument 'colour'"
    assert error_codes(body) == ["argumentNotAccepted"]
    assert emulator.state.item_count() == 0


def test_it_reports_a_parse_error(emulator):
    body = post(emulator, "query { boards { id ").json()
    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED"]


@pytest.mark.parametrize("token", ["", "not-a-token", "Bearer nope"])
def test_it_answers_401_without_a_configured_token(emulator, token):
    response = post(emulator, "query { complexity { before } }", token=token)

    assert response.status_code == 401
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


def test_it_accepts_a_bearer_prefixed_token(emulator):
    assert post(emulator, "query { complexity { before } }", token="Bearer dev-token").status_code == 200


def test_it_rejects_a_malformed_api_version_and_defaults_a_missing_one(emulator):
    rejected = post(emulator, "query { complexity { before } }", version="v2")
    defaulted = post(emulator, "query { complexity { before } }", version=None)

    assert rejected.status_code == 400
    assert error_codes(rejected.json()) == ["InvalidVersionException"]
    assert "'v2'" in rejected.json()["errors"][0]["message"]
    assert defaulted.status_code == 200 and defaulted.headers["API-Version"] == "2026-10"


def test_it_keeps_each_token_to_its_own_environments_boards(emulator):
    dev_token_on_prod = post(emulator, CREATE, {"board": str(PROD_ITEMS_BOARD), "name": "x"})
    prod_token_on_prod = post(emulator, CREATE, {"board": str(PROD_ITEMS_BOARD), "name": "x"}, token="prod-token")
    visible = post(emulator, "query { boards { id } }").json()["data"]["boards"]

    assert error_codes(dev_token_on_prod.json()) == ["UserUnauthorizedException"]
    assert dev_token_on_prod.json()["errors"][0]["extensions"]["status_code"] == 403
    assert prod_token_on_prod.json()["data"]["m0"]["name"] == "x"
    assert {b["id"] for b in visible} == {str(DEV_ITEMS_BOARD), str(DEV_SUBITEMS_BOARD)}


# --- column semantics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column_id", "value", "expected_text"),
    [
        ("text_mkr5wya6", "AAG-1", "AAG-1"),
        ("text_mkr5wya6", 42, "42"),
        ("long_text_mkr5hass", {"text": "a\nb"}, "a\nb"),
        ("long_text_mkr5hass", "plain", "plain"),
        ("numeric_mkr5cact", "12.5", "12.5"),
        ("numeric_mkr5cact", -3, "-3"),
        ("date_mkr5zp5", {"date": "2025-02-28"}, "2025-02-28"),
        ("date_mkr5zp5", {"date": "2025-02-28", "time": "10:30:00"}, "2025-02-28 10:30:00"),
        ("dropdown_mkr542p2", {"labels": ["GREYSON", "RHONE"]}, "GREYSON, RHONE"),
        ("dropdown_mkr542p2", {"ids": [2]}, "PELOTON"),
        ("dropdown_mkr542p2", "VUORI", "VUORI"),
        ("color_mkr5yf27", {"label": "SET"}, "SET"),
        ("color_mkr5yf27", {"index": 1}, "PACK"),
        ("color_mkr5yf27", "EACH", "EACH"),
    ],
)
def test_it_accepts_mondays_write_formats(emulator, column_id, value, expected_text):
    body = create_item(emulator, values={column_id: value})

    assert "errors" not in body, body
    assert column_text(emulator, body["data"]["m0"]["id"], column_id) == expected_text


@pytest.mark.parametrize(
    ("column_id", "value"),
    [
        ("text_mkr5wya6", {"text": "x"}),
        ("long_text_mkr5hass", {"body": "x"}),
        ("numeric_mkr5cact", "12,5"),
        ("numeric_mkr5cact", "1e5"),
        ("numeric_mkr5cact", True),
        ("date_mkr5zp5", {"date": "31/01/2025"}),
        ("date_mkr5zp5", {"date": "2025-02-30"}),
        ("date_mkr5zp5", {"day": "2025-01-01"}),
        ("dropdown_mkr542p2", {"labels": "GREYSON"}),
        ("dropdown_mkr542p2", {"ids": [999]}),
        ("color_mkr5yf27", {"label": ""}),
        ("color_mkr5yf27", {"index": 17}),
        ("color_mkr5yf27", ["EACH"]),
    ],
)
def test_it_refuses_malformed_values_with_column_value_exception(emulator, column_id, value):
    body = create_item(emulator, values={column_id: value})

    assert error_codes(body) == ["ColumnValueException"]
    assert body["errors"][0]["path"] == ["m0"]
    assert body["errors"][0]["extensions"]["error_data"]["column_id"] == column_id
    assert emulator.state.item_count() == 0


@pytest.mark.parametrize(
    ("column_id", "kind"),
    [
        ("lookup_mkrbrdr1", "mirror"),
        ("formula_mkrb53jx", "formula"),
        ("pulse_id_mkr5pb5q", "item_id"),
        ("subtasks_mkr5c0kp", "subtasks"),
        ("pulse_updated_mks8qpqh", "last_updated"),
    ],
)
def test_it_refuses_writes_to_read_only_columns(emulator, column_id, kind):
    body = create_item(emulator, values={column_id: "anything"})

    assert error_codes(body) == ["ColumnValueException"]
    assert f"is a {kind} column" in body["errors"][0]["message"]
    assert emulator.state.item_count() == 0


def test_it_names_the_missing_label_and_creates_nothing(emulator):
    body = create_item(
        emulator, values={"text_mkr5wya6": "AAG-9", "dropdown_mkr542p2": {"labels": ["GREYSON", "NEWCO"]}}
    )

    assert error_codes(body) == ["ColumnValueException"]
    assert "'NEWCO'" in body["errors"][0]["message"]
    assert emulator.state.item_count() == 0  # no item, and not half of its values either
    board = emulator.state.board(DEV_ITEMS_BOARD)
    assert emulator.state.find_label(board, "dropdown_mkr542p2", "NEWCO") is None


def test_it_creates_missing_labels_only_with_create_labels_if_missing(emulator):
    status = create_item(emulator, values={"color_mkr5yf27": {"label": "DOZEN"}})
    created = create_item(emulator, values={"color_mkr5yf27": {"label": "DOZEN"}}, labels=True)

    assert "DOZEN" in status["errors"][0]["message"]
    assert column_text(emulator, created["data"]["m0"]["id"], "color_mkr5yf27") == "DOZEN"
    labels = [e["label"] for e in emulator.state.labels(emulator.state.board(DEV_ITEMS_BOARD), "color_mkr5yf27")]
    assert labels == ["EACH", "PACK", "SET", "DOZEN"]


def test_it_reports_unknown_columns_boards_items_and_long_names(emulator):
    unknown_column = create_item(emulator, values={"text_nope": "x"})
    unknown_board = create_item(emulator, board=42)
    long_name = create_item(emulator, name="x" * 256)
    missing_item = post(emulator, CHANGE, {"board": str(DEV_ITEMS_BOARD), "item": "77", "values": "{}"}).json()

    assert error_codes(unknown_column) == ["InvalidColumnIdException"]
    assert error_codes(unknown_board) == ["InvalidBoardIdException"]
    assert error_codes(long_name) == ["ItemNameTooLongException"]
    assert error_codes(missing_item) == ["ResourceNotFoundException"]
    assert create_item(emulator, name="x" * 255)["data"]["m0"]["id"]


@pytest.mark.parametrize(
    ("column_id", "column_type", "value"),
    [
        ("text_mkr5wya6", "text", "AAG-1"),
        ("long_text_mkr5hass", "long_text", "notes"),
        ("numeric_mkr5cact", "numbers", "9.99"),
        ("dropdown_mkr542p2", "dropdown", ["GREYSON"]),
        ("color_mkr5yf27", "status", "PACK"),
        ("date_mkr5zp5", "date", "2025-03-01"),
    ],
)
def test_it_clears_a_column_with_the_clients_clear_value(emulator, column_id, column_type, value):
    item_id = create_item(emulator, values={column_id: format_column_value(column_type, value)})["data"]["m0"]["id"]
    assert column_text(emulator, item_id, column_id)

    clear = json.dumps({column_id: format_column_value(column_type, None)})
    body = post(emulator, CHANGE, {"board": str(DEV_ITEMS_BOARD), "item": item_id, "values": clear}).json()

    assert "errors" not in body, body
    assert column_text(emulator, item_id, column_id) in ("", None)
    assert column_id not in emulator.state.item(item_id)["values"]


def test_it_finds_items_by_text_column_value_and_pages_with_a_cursor(emulator):
    for i in range(5):
        create_item(emulator, f"Order {i}", {"text_mkr5wya6": "AAG-7" if i % 2 == 0 else f"AAG-{i}"})
    query = """query ($board: ID!, $columns: [ItemsPageByColumnValuesQuery!], $limit: Int!) {
      items_page_by_column_values(board_id: $board, columns: $columns, limit: $limit) { cursor items { name } } }"""
    columns = [{"column_id": "text_mkr5wya6", "column_values": ["AAG-7", "AAG-3"]}]

    first = post(emulator, query, {"board": str(DEV_ITEMS_BOARD), "columns": columns, "limit": 2}).json()["data"]
    page = first["items_page_by_column_values"]
    rest = post(
        emulator,
        "query ($c: String!) { next_items_page(cursor: $c, limit: 2) { cursor items { name } } }",
        {"c": page["cursor"]},
    ).json()["data"]["next_items_page"]

    assert [i["name"] for i in page["items"]] == ["Order 0", "Order 2"]
    assert [i["name"] for i in rest["items"]] == ["Order 3", "Order 4"]
    assert rest["cursor"] is None


FIND = """query ($board: ID!, $columns: [ItemsPageByColumnValuesQuery!], $limit: Int!) {
  items_page_by_column_values(board_id: $board, columns: $columns, limit: $limit) { cursor items { name } } }"""
NEXT = "query ($c: String!, $limit: Int!) { next_items_page(cursor: $c, limit: $limit) { cursor items { name } } }"


def found_names(emulator, column_id: str, values: list[str]) -> list[str]:
    columns = [{"column_id": column_id, "column_values": values}]
    body = post(emulator, FIND, {"board": str(DEV_ITEMS_BOARD), "columns": columns, "limit": 50}).json()
    return [i["name"] for i in body["data"]["items_page_by_column_values"]["items"]]


def test_it_matches_a_text_search_on_the_whole_value_ignoring_case(emulator):
    create_item(emulator, "Upper", {"text_mkr5wya6": "AAG-7"})
    create_item(emulator, "Longer", {"text_mkr5wya6": "AAG-77"})
    create_item(emulator, "Comma", {"text_mkr5wya6": "AAG-7, AAG-8"})
    create_item(emulator, "Dropdown", {"dropdown_mkr542p2": {"labels": ["GREYSON", "RHONE"]}})

    assert found_names(emulator, "text_mkr5wya6", ["aag-7"]) == ["Upper"]
    assert found_names(emulator, "text_mkr5wya6", ["AAG"]) == []
    assert found_names(emulator, "text_mkr5wya6", ["AAG-8"]) == []  # a text value is one value, commas and all
    assert found_names(emulator, "text_mkr5wya6", ["aag-7, aag-8", "AAG-77"]) == ["Longer", "Comma"]
    assert found_names(emulator, "name", ["upper"]) == ["Upper"]
    assert found_names(emulator, "dropdown_mkr542p2", ["rhone"]) == ["Dropdown"]  # each label is a value


def test_it_lets_a_cursor_be_reused_until_60_minutes_after_the_first_page(emulator):
    now = [1000.0]
    emulator.api.cursors.clock = lambda: now[0]
    for i in range(4):
        create_item(emulator, f"Order {i}", {"text_mkr5wya6": "AAG-1"})
    columns = [{"column_id": "text_mkr5wya6", "column_values": ["AAG-1"]}]
    first = post(emulator, FIND, {"board": str(DEV_ITEMS_BOARD), "columns": columns, "limit": 1}).json()
    cursor = first["data"]["items_page_by_column_values"]["cursor"]

    now[0] += 30 * 60
    second = post(emulator, NEXT, {"c": cursor, "limit": 1}).json()["data"]["next_items_page"]
    again = post(emulator, NEXT, {"c": cursor, "limit": 1}).json()["data"]["next_items_page"]
    now[0] += 29 * 60
    third = post(emulator, NEXT, {"c": second["cursor"], "limit": 1}).json()["data"]["next_items_page"]
    now[0] += 2 * 60  # 61 minutes after the first page, though the last cursor is 2 minutes old
    expired = post(emulator, NEXT, {"c": third["cursor"], "limit": 1}).json()
    unknown = post(emulator, NEXT, {"c": "MSwnot-a-cursor", "limit": 1}).json()

    assert [i["name"] for i in second["items"]] == ["Order 1"]
    assert again == second | {"cursor": again["cursor"]}  # the same page again
    assert [i["name"] for i in third["items"]] == ["Order 2"]
    assert error_codes(expired) == ["CursorExpiredError"] and "60 minutes" in expired["errors"][0]["message"]
    assert error_codes(unknown) == ["CursorExpiredError"]


def test_it_refuses_columns_and_cursor_in_one_call(emulator):
    for i in range(2):
        create_item(emulator, f"Order {i}", {"text_mkr5wya6": "AAG-1"})
    columns = [{"column_id": "text_mkr5wya6", "column_values": ["AAG-1"]}]
    first = post(emulator, FIND, {"board": str(DEV_ITEMS_BOARD), "columns": columns, "limit": 1}).json()
    cursor = first["data"]["items_page_by_column_values"]["cursor"]
    both = """query ($board: ID!, $columns: [ItemsPageByColumnValuesQuery!], $c: String) {
      items_page_by_column_values(board_id: $board, columns: $columns, cursor: $c, limit: 1) { items { name } } }"""

    refused = post(emulator, both, {"board": str(DEV_ITEMS_BOARD), "columns": columns, "c": cursor}).json()
    by_cursor = post(emulator, both, {"board": str(DEV_ITEMS_BOARD), "c": cursor}).json()

    assert error_codes(refused) == ["InvalidArgumentException"]
    assert "not both" in refused["errors"][0]["message"]
    assert [i["name"] for i in by_cursor["data"]["items_page_by_column_values"]["items"]] == ["Order 1"]


def test_it_returns_at_most_100_items_by_id(emulator):
    item_id = create_item(emulator, "Only")["data"]["m0"]["id"]
    query = "query ($ids: [ID!], $limit: Int) { items(ids: $ids, limit: $limit) { id } }"
    hundred = [item_id] + [str(i) for i in range(1, 100)]

    allowed = post(emulator, query, {"ids": hundred, "limit": 100}).json()
    refused = post(emulator, query, {"ids": [*hundred, "100"], "limit": 100}).json()

    assert [i["id"] for i in allowed["data"]["items"]] == [item_id]
    assert error_codes(refused) == ["InvalidArgumentException"]
    assert "100" in refused["errors"][0]["message"]


@pytest.mark.parametrize("name", ["", "   "])
def test_it_refuses_an_empty_item_name(emulator, name):
    parent = create_item(emulator, "Parent")["data"]["m0"]["id"]
    subitem = post(
        emulator,
        "mutation ($p: ID!, $n: String!) { create_subitem(parent_item_id: $p, item_name: $n) { id } }",
        {"p": parent, "n": name},
    ).json()

    assert error_codes(create_item(emulator, name)) == ["InvalidItemNameException"]
    assert error_codes(subitem) == ["InvalidItemNameException"]
    assert emulator.state.item_count() == 1


def test_it_changes_one_column_in_json_or_in_the_simple_string_form(emulator):
    item_id = create_item(emulator, "Item")["data"]["m0"]["id"]
    one = """mutation ($b: ID!, $i: ID, $c: String!, $v: JSON!) {
      change_column_value(board_id: $b, item_id: $i, column_id: $c, value: $v) { id } }"""
    simple = """mutation ($b: ID!, $i: ID, $c: String!, $v: String) {
      change_simple_column_value(board_id: $b, item_id: $i, column_id: $c, value: $v) { id name } }"""
    board = str(DEV_ITEMS_BOARD)

    post(emulator, one, {"b": board, "i": item_id, "c": "color_mkr5yf27", "v": json.dumps({"label": "PACK"})})
    post(emulator, simple, {"b": board, "i": item_id, "c": "date_mkr5zp5", "v": "2025-03-01"})
    renamed = post(emulator, simple, {"b": board, "i": item_id, "c": "name", "v": "Renamed"}).json()
    bad = post(emulator, one, {"b": board, "i": item_id, "c": "numeric_mkr5cact", "v": json.dumps("12,5")}).json()

    assert column_text(emulator, item_id, "color_mkr5yf27") == "PACK"
    assert column_text(emulator, item_id, "date_mkr5zp5") == "2025-03-01"
    assert renamed["data"]["change_simple_column_value"]["name"] == "Renamed"
    assert error_codes(bad) == ["ColumnValueException"]


def test_it_answers_fields_it_does_not_model_with_mondays_nothing(emulator):
    item_id = create_item(emulator, "Item")["data"]["m0"]["id"]
    query = """query ($ids: [ID!]) { items(ids: $ids) { id email creator_id updates { id body } assets { id }
      subscribers { id } board { board_kind top_group { id } owners { id } tags { id } workspace { id } }
      column_values(ids: ["color_mkr5yf27"]) { ... on StatusValue { is_done label_style { color } } } } }"""

    body = post(emulator, query, {"ids": [item_id]}).json()

    assert "errors" not in body, body
    item = body["data"]["items"][0]
    assert item["updates"] == [] and item["assets"] == [] and item["subscribers"] == []
    assert item["email"] == "" and item["creator_id"] == "1"
    assert item["board"] == {
        "board_kind": "public",
        "top_group": {"id": "topics"},
        "owners": [{"id": "1"}],
        "tags": [],
        "workspace": None,
    }
    assert item["column_values"] == [{"is_done": None, "label_style": None}]


def test_it_hides_archived_and_deleted_items(emulator):
    ids = [create_item(emulator, f"Item {i}", {"text_mkr5wya6": "AAG-1"})["data"]["m0"]["id"] for i in range(3)]
    post(emulator, "mutation ($i: ID) { archive_item(item_id: $i) { id } }", {"i": ids[0]})
    post(emulator, "mutation ($i: ID) { delete_item(item_id: $i) { id } }", {"i": ids[1]})
    query = """query ($b: ID!, $c: [ItemsPageByColumnValuesQuery!]) {
      items_page_by_column_values(board_id: $b, columns: $c) { items { id } } }"""

    found = post(
        emulator, query, {"b": str(DEV_ITEMS_BOARD), "c": [{"column_id": "text_mkr5wya6", "column_values": ["AAG-1"]}]}
    ).json()
    by_id = post(
        emulator, "query ($ids: [ID!]) { items(ids: $ids, exclude_nonactive: true) { id } }", {"ids": ids}
    ).json()
    change_deleted = post(emulator, CHANGE, {"board": str(DEV_ITEMS_BOARD), "item": ids[1], "values": "{}"}).json()

    assert [i["id"] for i in found["data"]["items_page_by_column_values"]["items"]] == [ids[2]]
    assert [i["id"] for i in by_id["data"]["items"]] == [ids[2]]
    assert error_codes(change_deleted) == ["ResourceNotFoundException"]


def test_it_creates_subitems_on_the_linked_subitems_board(emulator):
    parent = create_item(emulator, "Parent")["data"]["m0"]["id"]
    query = """mutation ($p: ID!, $v: JSON) { create_subitem(parent_item_id: $p, item_name: "M", column_values: $v) {
      id board { id } parent_item { id } } }"""

    body = post(emulator, query, {"p": parent, "v": json.dumps({"numeric_mkra7j8e": "4"})}).json()

    assert body["data"]["create_subitem"]["board"]["id"] == str(DEV_SUBITEMS_BOARD)
    assert body["data"]["create_subitem"]["parent_item"]["id"] == parent


# --- limits and idempotency ------------------------------------------------------------------------


def test_it_reports_complexity_and_rate_limit_headers(emulator):
    response = post(emulator, CREATE, {"board": str(DEV_ITEMS_BOARD), "name": "x"})
    complexity = response.json()["data"]["complexity"]

    assert complexity["query"] == 10_000
    assert complexity["before"] - complexity["after"] == 10_000
    assert 0 < complexity["reset_in_x_seconds"] <= 60
    assert '"complexityMinute";q=10000000;w=60' in response.headers["RateLimit-Policy"]
    assert f'"complexityMinute";r={complexity["after"]}' in response.headers["RateLimit"]


def test_it_answers_429_with_retry_in_seconds_when_the_budget_is_exhausted(emulator):
    emulator.budget.per_minute = 15_000
    first = post(emulator, CREATE, {"board": str(DEV_ITEMS_BOARD), "name": "one"})
    second = post(emulator, CREATE, {"board": str(DEV_ITEMS_BOARD), "name": "two"})

    assert first.status_code == 200
    assert second.status_code == 429
    error = second.json()["errors"][0]
    assert error["extensions"]["code"] == "COMPLEXITY_BUDGET_EXHAUSTED"
    assert 0 < error["extensions"]["retry_in_seconds"] <= 60
    assert second.headers["Retry-After"] == str(error["extensions"]["retry_in_seconds"])
    assert emulator.state.item_count() == 1


def test_it_refuses_a_single_query_above_five_million_complexity(emulator):
    body = post(
        emulator,
        "query { a: items_page_by_column_values(board_id: 1, limit: 500) { cursor } "
        + " ".join(f'b{i}: next_items_page(cursor: "x", limit: 500) {{ cursor }}' for i in range(20))
        + " }",
    ).json()
    assert error_codes(body) == ["ComplexityException"]


def test_it_counts_daily_calls_and_stops_past_the_limit(emulator):
    emulator.daily.limit = 2
    statuses = [post(emulator, "query { complexity { query } }").status_code for _ in range(3)]
    body = post(emulator, "query { complexity { query } }").json()

    assert statuses == [200, 200, 429]
    assert error_codes(body) == ["DAILY_LIMIT_EXCEEDED"]
    assert post(emulator, "query { complexity { query } }", token="prod-token").status_code == 200  # per token


def test_it_replays_a_mutation_with_the_same_idempotency_key_and_body(emulator):
    variables = {"board": str(DEV_ITEMS_BOARD), "name": "once"}
    first = post(emulator, CREATE, variables, headers={"Idempotency-Key": "k-1"})
    replay = post(emulator, CREATE, variables, headers={"Idempotency-Key": "k-1"})
    other_body = post(emulator, CREATE, {**variables, "name": "twice"}, headers={"Idempotency-Key": "k-1"})
    new_key = post(emulator, CREATE, variables, headers={"Idempotency-Key": "k-2"})

    assert replay.content == first.content
    assert replay.headers["Idempotency-Replayed"] == "true"
    assert "Idempotency-Replayed" not in first.headers
    assert other_body.status_code == 400 and error_codes(other_body.json()) == ["IDEMPOTENCY_KEY_REUSED"]
    assert new_key.json()["data"]["m0"]["id"] != first.json()["data"]["m0"]["id"]
    assert [i["name"] for i in emulator.state.active_items(str(DEV_ITEMS_BOARD))] == ["once", "once"]


def test_it_does_not_cache_queries_or_rejected_requests_by_idempotency_key(emulator):
    emulator.budget.per_minute = 5_000
    rejected = post(emulator, CREATE, {"board": str(DEV_ITEMS_BOARD), "name": "x"}, headers={"Idempotency-Key": "k"})
    emulator.budget.per_minute = None
    accepted = post(emulator, CREATE, {"board": str(DEV_ITEMS_BOARD), "name": "x"}, headers={"Idempotency-Key": "k"})

    assert rejected.status_code == 429
    assert accepted.status_code == 200 and "Idempotency-Replayed" not in accepted.headers
    assert emulator.state.item_count() == 1


# --- faults ----------------------------------------------------------------------------------------


def test_it_applies_a_mutation_whose_response_it_then_loses(emulator):
    emulator.faults.queue("lost")
    with pytest.raises(requests.ConnectionError):
        create_item(emulator, "applied anyway")
    assert [i["name"] for i in emulator.state.active_items(str(DEV_ITEMS_BOARD))] == ["applied anyway"]


def test_it_does_not_apply_a_mutation_answered_with_an_injected_error(emulator):
    emulator.faults.queue("500", "502", "423", "malformed", "html", "429_bare")
    responses = [post(emulator, CREATE, {"board": str(DEV_ITEMS_BOARD), "name": "x"}) for _ in range(6)]

    assert [r.status_code for r in responses] == [500, 502, 423, 200, 200, 429]
    assert "<html>" in responses[1].text and "<html>" in responses[4].text
    with pytest.raises(ValueError):
        responses[3].json()
    assert emulator.state.item_count() == 0
    assert emulator.faults.injected == {"500": 1, "502": 1, "423": 1, "malformed": 1, "html": 1, "429_bare": 1}


def test_it_draws_faults_at_the_configured_share():
    faults = FaultConfig.parse("500=0.25,lost=0.25,latency_ms=5", seed=7)
    draws = [faults.pick() for _ in range(2000)]

    assert faults.latency_ms == 5
    assert 400 < draws.count("500") < 600
    assert 400 < draws.count("lost") < 600
    with pytest.raises(ValueError, match="Unknown fault"):
        FaultConfig.parse("501=0.1")
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultConfig.parse("500=2")


def test_it_configures_faults_from_the_environment_and_lets_flags_win(monkeypatch):
    from syncapp.management.commands.monday_emulator import Command

    monkeypatch.setenv("MONDAY_EMULATOR_FAULTS", "500=0.1,lost=0.02,latency_ms=40")
    options = {"faults": None, "seed": 1, "fault_500": 0.3, "latency_ms": None, "delay_seconds": 2.5}

    faults = Command()._faults(options)

    assert faults.rates == {"500": 0.3, "lost": 0.02}
    assert faults.latency_ms == 40 and faults.delay_seconds == 2.5
    assert Command()._tokens("development=abc, production=xyz") == {"development": "abc", "production": "xyz"}


def test_it_adds_the_configured_latency(emulator):
    slept: list[float] = []
    emulator.api._sleep = slept.append
    emulator.faults.latency_ms = 250
    post(emulator, "query { complexity { query } }")
    assert slept == [0.25]


# --- state, views, health --------------------------------------------------------------------------


def test_it_persists_changes_and_loads_them_at_start(tmp_path: Path):
    path = tmp_path / "monday.json"
    server = EmulatorServer(EmulatorState.load_or_create(path), port=0, state_file=path, save_interval=0.05).start()
    try:
        emulator = type("E", (), {"url": server.url})()
        item_id = create_item(emulator, "Survives", {"dropdown_mkr58de6": {"labels": ["SS26"]}}, labels=True)["data"][
            "m0"
        ]["id"]
    finally:
        server.stop()

    restored = EmulatorState.load_or_create(path)
    assert restored.item(item_id)["name"] == "Survives"
    assert restored.find_label(restored.board(DEV_ITEMS_BOARD), "dropdown_mkr58de6", "SS26") is not None
    next_id = restored.create_item(restored.board(DEV_ITEMS_BOARD), "topics", "next")["id"]
    assert int(next_id) > int(item_id)


def test_it_escapes_names_and_values_in_the_board_view(emulator):
    create_item(emulator, "<script>alert('x')</script>", {"text_mkr5wya6": '<b>AAG</b> & "co"'})

    page = requests.get(f"{emulator.base_url}/boards/{DEV_ITEMS_BOARD}", timeout=5)

    assert page.status_code == 200
    assert "EMULATOR" in page.text
    assert "<script>" not in page.text and "<b>AAG" not in page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;AAG&lt;/b&gt; &amp; &quot;co&quot;" in page.text
    assert "AAG ORDER NUMBER" in page.text


def test_it_shows_groups_items_and_subitems_in_the_board_view(emulator):
    parent = create_item(emulator, "Parent item")["data"]["m0"]["id"]
    post(
        emulator,
        'mutation ($p: ID!, $v: JSON) { create_subitem(parent_item_id: $p, item_name: "Size M", '
        "column_values: $v) { id } }",
        {"p": parent, "v": json.dumps({"numeric_mkra7j8e": "12"})},
    )
    post(emulator, 'mutation { create_group(board_id: 9609317401, group_name: "Empty group") { id } }')

    page = requests.get(f"{emulator.base_url}/boards/{DEV_ITEMS_BOARD}", timeout=5).text
    listing = requests.get(f"{emulator.base_url}/boards/", timeout=5).text

    assert "<h2>Group Title</h2>" in page and "<h2>Empty group</h2>" in page
    assert "Parent item" in page and "Size M" in page and "Order Qty: 12" in page
    assert f"/boards/{DEV_ITEMS_BOARD}" in listing
    assert requests.get(f"{emulator.base_url}/boards/1", timeout=5).status_code == 404


def test_it_reports_health(emulator):
    create_item(emulator)
    health = requests.get(f"{emulator.base_url}/health", timeout=5).json()

    assert health["status"] == "ok" and health["emulator"] is True
    assert health["active_items"] == 1
    assert health["api_versions"] == ["2026-10"]
    assert str(DEV_ITEMS_BOARD) in health["boards"]
    assert "dev-token" not in json.dumps(health)


def test_it_moves_items_between_groups_and_deletes_groups_with_their_items(emulator):
    group = post(emulator, 'mutation { create_group(board_id: 9609317401, group_name: "RHONE") { id } }').json()
    group_id = group["data"]["create_group"]["id"]
    item_id = create_item(emulator)["data"]["m0"]["id"]

    moved = post(
        emulator,
        "mutation ($i: ID, $g: String!) { move_item_to_group(item_id: $i, group_id: $g) { group { id } } }",
        {"i": item_id, "g": group_id},
    ).json()
    deleted = post(
        emulator, "mutation ($g: String!) { delete_group(board_id: 9609317401, group_id: $g) { id } }", {"g": group_id}
    ).json()
    last = post(emulator, 'mutation { delete_group(board_id: 9609317401, group_id: "topics") { id } }').json()

    assert moved["data"]["move_item_to_group"]["group"]["id"] == group_id
    assert deleted["data"]["delete_group"]["id"] == group_id
    assert emulator.state.item(item_id) is None
    assert error_codes(last) == ["DeleteLastGroupException"]


def test_it_resets_the_budget_after_a_shortened_window():
    from syncapp.emulator import limits

    now = [0.0]
    budget = limits.ComplexityBudget(100, clock=lambda: now[0], window_seconds=5)
    budget.charge("t", 100)
    with pytest.raises(limits.BudgetExhausted) as exhausted:
        budget.charge("t", 1)
    assert exhausted.value.retry_in_seconds == 5
    now[0] = 5.0
    assert budget.charge("t", 100).after == 0
