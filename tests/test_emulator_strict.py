"""The emulator is as strict as monday: column writes, limits, throttles, faults and API versions.

Everything goes over real HTTP to the `emulator` fixture (raw `requests` posts), so what is
asserted is what a client sees: status, body, headers, and what the board then holds.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
import requests

from syncapp.emulator.faults import THROTTLE_200_CODES, FaultConfig
from syncapp.management.commands.monday_emulator import Command
from syncapp.monday.types import Mutation
from tests.emulator_fixtures import DEV_ITEMS_BOARD
from tests.test_emulator import CHANGE, READ, column_text, create_item, error_codes, post

NUMBERS, DATE, DROPDOWN, STATUS, TEXT, LONG_TEXT = (
    "numeric_mkr5cact",
    "date_mkr5zp5",
    "dropdown_mkr542p2",
    "color_mkr5yf27",
    "text_mkr5wya6",
    "long_text_mkr5hass",
)
SET_VALUES = {
    NUMBERS: "12.5",
    DATE: {"date": "2025-02-28"},
    DROPDOWN: {"labels": ["GREYSON"]},
    STATUS: {"label": "PACK"},
    TEXT: "AAG-1",
    LONG_TEXT: {"text": "notes"},
}
QUERY = "query { complexity { query } }"


def change(emulator, item_id: str, values: dict, **kwargs) -> requests.Response:
    variables = {"board": str(DEV_ITEMS_BOARD), "item": item_id, "values": json.dumps(values)}
    return post(emulator, CHANGE, variables, **kwargs)


def item_with_values(emulator) -> str:
    body = create_item(emulator, "Order", SET_VALUES)
    assert "errors" not in body, body
    return body["data"]["m0"]["id"]


def batch(*changes: tuple[str, dict]) -> tuple[str, dict]:
    """One aliased change_multiple_column_values per (item id, values), like the client's batches."""
    definitions, fields, variables = [], [], {}
    for index, (item_id, values) in enumerate(changes):
        definitions.append(f"$i{index}: ID, $v{index}: JSON!")
        fields.append(
            f"m{index}: change_multiple_column_values(board_id: {DEV_ITEMS_BOARD}, item_id: $i{index}, "
            f"column_values: $v{index}) {{ id }}"
        )
        variables[f"i{index}"] = item_id
        variables[f"v{index}"] = json.dumps(values)
    return f"mutation ({', '.join(definitions)}) {{ {' '.join(fields)} }}", variables


def policies(header: str) -> dict[str, dict[str, int]]:
    """'"a";q=1;w=60, "b";q=2' -> {"a": {"q": 1, "w": 60}, "b": {"q": 2}}."""
    parsed: dict[str, dict[str, int]] = {}
    for part in header.split(","):
        name = re.search(r'"(\w+)"', part).group(1)
        parsed[name] = {key: int(value) for key, value in re.findall(r";\s*(\w+)=(\d+)", part)}
    return parsed


def assert_limit_error(response: requests.Response, code: str) -> dict:
    assert response.status_code == 429
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == code
    assert "status_code" not in error["extensions"]  # dropped from rate and limit errors in API 2025-07
    assert isinstance(error["extensions"]["retry_in_seconds"], int)
    assert response.headers["Retry-After"] == str(error["extensions"]["retry_in_seconds"])
    return error


# --- column writes: the documented clears --------------------------------------------------------


def test_an_empty_string_on_a_numbers_column_writes_zero_and_null_clears_it(emulator):
    item_id = item_with_values(emulator)

    zero = change(emulator, item_id, {NUMBERS: ""}).json()
    text_after_empty_string = column_text(emulator, item_id, NUMBERS)
    cleared = change(emulator, item_id, {NUMBERS: None}).json()

    assert "errors" not in zero and "errors" not in cleared
    assert text_after_empty_string == "0"
    assert column_text(emulator, item_id, NUMBERS) == ""
    assert NUMBERS not in emulator.state.item(item_id)["values"]


@pytest.mark.parametrize(
    ("column_id", "clear"),
    [
        (NUMBERS, None),
        (DATE, None),
        (DROPDOWN, None),
        (DROPDOWN, {"labels": []}),
        (STATUS, None),
        (STATUS, {}),
        (TEXT, None),
        (TEXT, ""),
        (LONG_TEXT, None),
    ],
)
def test_it_accepts_the_documented_clears(emulator, column_id, clear):
    item_id = item_with_values(emulator)

    body = change(emulator, item_id, {column_id: clear}).json()

    assert "errors" not in body, body
    assert column_id not in emulator.state.item(item_id)["values"]


@pytest.mark.parametrize(
    ("column_id", "value", "column_type"),
    [
        (DATE, {}, "date"),
        (DATE, "", "date"),
        (DROPDOWN, {}, "dropdown"),
        (DROPDOWN, "", "dropdown"),
        (DROPDOWN, {"ids": []}, "dropdown"),
        (STATUS, "", "color"),
        (NUMBERS, {}, "numbers"),
        (TEXT, {}, "text"),
        (LONG_TEXT, "", "long_text"),
        (LONG_TEXT, {}, "long_text"),
        (LONG_TEXT, {"text": ""}, "long_text"),
    ],
)
def test_it_refuses_undocumented_clears_like_an_invalid_value(emulator, column_id, value, column_type):
    item_id = item_with_values(emulator)
    before = emulator.state.item(item_id)["values"][column_id]

    body = change(emulator, item_id, {column_id: value}).json()

    assert error_codes(body) == ["ColumnValueException"]
    assert body["errors"][0]["path"] == ["m0"]
    assert body["errors"][0]["extensions"]["error_data"]["column_type"] == column_type
    assert body["errors"][0]["extensions"]["error_data"]["column_id"] == column_id
    assert emulator.state.item(item_id)["values"][column_id] == before  # nothing was cleared


def test_a_status_error_names_the_column_type_color_as_monday_does(emulator):
    body = create_item(emulator, values={STATUS: {"label": "NO SUCH LABEL"}})

    assert error_codes(body) == ["ColumnValueException"]
    assert body["errors"][0]["extensions"]["error_data"]["column_type"] == "color"


# --- column writes: limits -----------------------------------------------------------------------


def test_long_text_is_limited_to_2000_characters(emulator):
    at_limit = create_item(emulator, values={LONG_TEXT: {"text": "x" * 2000}})
    over = create_item(emulator, values={LONG_TEXT: {"text": "x" * 2001}})
    over_plain = create_item(emulator, values={LONG_TEXT: "y" * 2001})

    assert "errors" not in at_limit
    assert error_codes(over) == error_codes(over_plain) == ["ColumnValueException"]
    assert "2,000" in over["errors"][0]["message"]
    assert emulator.state.item_count() == 1


def test_status_labels_are_limited_to_30_characters_and_40_per_column(emulator):
    thirty = create_item(emulator, values={STATUS: {"label": "L" * 30}}, labels=True)
    thirty_one = create_item(emulator, values={STATUS: {"label": "L" * 31}}, labels=True)
    board = emulator.state.board(DEV_ITEMS_BOARD)
    existing = len(emulator.state.labels(board, STATUS))
    for n in range(40 - existing):
        assert "errors" not in create_item(emulator, values={STATUS: f"S{n}"}, labels=True)
    forty_first = create_item(emulator, values={STATUS: "ONE TOO MANY"}, labels=True)

    assert "errors" not in thirty
    assert error_codes(thirty_one) == ["ColumnValueException"]
    assert thirty_one["errors"][0]["extensions"]["error_data"]["column_type"] == "color"
    assert len(emulator.state.labels(board, STATUS)) == 40
    assert error_codes(forty_first) == ["ColumnValueException"]
    assert forty_first["errors"][0]["extensions"]["error_data"]["column_type"] == "color"
    assert emulator.state.find_label(board, STATUS, "ONE TOO MANY") is None


def test_group_names_are_limited_to_255_characters(emulator):
    query = "mutation ($n: String!) { create_group(board_id: 9609317401, group_name: $n) { id title } }"

    ok = post(emulator, query, {"n": "G" * 255}).json()
    too_long = post(emulator, query, {"n": "G" * 256}).json()

    assert ok["data"]["create_group"]["title"] == "G" * 255
    assert too_long["data"] is None or too_long["data"]["create_group"] is None
    assert error_codes(too_long) == ["InvalidArgumentException"]
    titles = [g["title"] for g in emulator.state.board(DEV_ITEMS_BOARD)["groups"]]
    assert "G" * 256 not in titles


# --- per-alias errors in a batch ------------------------------------------------------------------


def test_one_bad_alias_fails_alone_and_the_client_maps_results_by_alias(emulator):
    first, second, third = (item_with_values(emulator) for _ in range(3))
    query, variables = batch((first, {TEXT: "A"}), (second, {DATE: {}}), (third, {TEXT: "C"}))

    response = post(emulator, query, variables)
    body = response.json()
    results = emulator.client().run_batch(
        [
            Mutation(
                "ok-1", "change_columns", {"board_id": DEV_ITEMS_BOARD, "item_id": first, "column_values": {TEXT: "A2"}}
            ),
            Mutation(
                "bad", "change_columns", {"board_id": DEV_ITEMS_BOARD, "item_id": second, "column_values": {DATE: {}}}
            ),
            Mutation(
                "ok-2", "change_columns", {"board_id": DEV_ITEMS_BOARD, "item_id": third, "column_values": {TEXT: "C2"}}
            ),
        ],
        operation="test",
        idempotency_scope="strict",
    )

    assert response.status_code == 200
    assert body["data"]["m0"]["id"] == first and body["data"]["m2"]["id"] == third
    assert body["data"]["m1"] is None
    assert [e["path"] for e in body["errors"]] == [["m1"]]
    assert results["ok-1"].ok and results["ok-2"].ok
    assert not results["bad"].ok and results["bad"].error_code == "ColumnValueException"
    assert column_text(emulator, first, TEXT) == "A2" and column_text(emulator, third, TEXT) == "C2"


# --- limits ---------------------------------------------------------------------------------------


def test_the_defaults_are_mondays_documented_limits(emulator):
    health = requests.get(f"{emulator.base_url}/health", timeout=5).json()

    assert health["minute_limit"] == 1_000
    assert health["concurrency_limit"] == 40
    assert health["ip_limit_per_10s"] == 5_000
    assert health["budget_per_minute"] == 10_000_000


def test_the_minute_limit_counts_requests_per_token(emulator):
    emulator.api.minute.limit = 3
    allowed = [post(emulator, QUERY).status_code for _ in range(3)]
    refused = post(emulator, CREATE_X, {"board": str(DEV_ITEMS_BOARD), "name": "x"})
    other_token = post(emulator, QUERY, token="prod-token")

    assert allowed == [200, 200, 200]
    error = assert_limit_error(refused, "MINUTE_RATE_LIMIT_EXCEEDED")
    assert 1 <= error["extensions"]["retry_in_seconds"] <= 60
    assert emulator.state.item_count() == 0  # a refused mutation is not executed
    assert other_token.status_code == 200


CREATE_X = "mutation ($board: ID!, $name: String!) { m0: create_item(board_id: $board, item_name: $name) { id } }"


def test_the_concurrency_limit_refuses_a_request_while_another_is_in_flight(emulator):
    emulator.api.concurrency.limit = 1
    emulator.faults.latency_ms = 600  # really slept, inside the request's concurrency slot
    responses: list[requests.Response] = []
    slow = threading.Thread(target=lambda: responses.append(post(emulator, QUERY)))
    slow.start()
    time.sleep(0.2)
    second = post(emulator, QUERY)
    slow.join()

    assert responses[0].status_code == 200
    error = assert_limit_error(second, "MAX_CONCURRENCY_EXCEEDED")
    assert error["extensions"]["retry_in_seconds"] >= 1
    emulator.faults.latency_ms = 0
    assert post(emulator, QUERY).status_code == 200  # the slot was given back


def test_the_ip_limit_counts_every_request_from_an_address_before_authentication(emulator):
    emulator.api.ip.limit = 2
    first = post(emulator, QUERY)
    unauthenticated = post(emulator, QUERY, token="nope")
    refused = post(emulator, QUERY, token="prod-token")

    assert first.status_code == 200 and unauthenticated.status_code == 401
    error = assert_limit_error(refused, "IP_RATE_LIMIT_EXCEEDED")
    assert 1 <= error["extensions"]["retry_in_seconds"] <= 10


def test_an_exhausted_complexity_budget_has_no_status_code(emulator):
    emulator.budget.per_minute = 15_000
    post(emulator, CREATE_X, {"board": str(DEV_ITEMS_BOARD), "name": "one"})
    refused = post(emulator, CREATE_X, {"board": str(DEV_ITEMS_BOARD), "name": "two"})

    error = assert_limit_error(refused, "COMPLEXITY_BUDGET_EXHAUSTED")
    assert error["message"] == "Complexity budget exhausted"
    assert set(error["extensions"]) == {"code", "retry_in_seconds"}


def test_the_ratelimit_headers_carry_three_policies(emulator):
    first = post(
        emulator, 'mutation { m0: create_item(board_id: 9609317401, item_name: "x") { id } complexity { after } }'
    )
    second = post(emulator, QUERY)

    policy = policies(first.headers["RateLimit-Policy"])
    now, then = policies(first.headers["RateLimit"]), policies(second.headers["RateLimit"])
    assert list(policy) == ["minuteRate", "concurrency", "complexityMinute"]
    assert policy["minuteRate"] == {"q": 1_000, "w": 60}
    assert policy["concurrency"] == {"q": 40}
    assert policy["complexityMinute"] == {"q": 10_000_000, "w": 60}
    assert now["minuteRate"]["r"] == 999 and then["minuteRate"]["r"] == 998
    assert now["concurrency"]["r"] == 39  # the request itself holds one slot
    assert now["complexityMinute"]["r"] == first.json()["data"]["complexity"]["after"]
    assert 0 < now["complexityMinute"]["t"] <= 60


# --- complexity of nested reads --------------------------------------------------------------------

PAGE = "{ cursor items { id name } }"
PAGE_WITH_SUBITEMS = "{ cursor items { id name subitems { id } } }"


def query_cost(emulator, document: str, variables: dict | None = None) -> int:
    """What the emulator charged for `document`, which selects `complexity { query }` at its root."""
    body = post(emulator, document, variables).json()
    assert "errors" not in body, body
    return body["data"]["complexity"]["query"]


def nested_page(selection: str, *, groups: int | None = None) -> str:
    """The reconcile's first-page shape: a page of 500 inside boards (inside groups if asked)."""
    page = f"items_page(limit: 500) {selection}"
    if groups is not None:
        ids = ", ".join(f'"g{n}"' for n in range(groups))
        page = f"groups(ids: [{ids}]) {{ id {page} }}"
    return f"query {{ boards(ids: [{DEV_ITEMS_BOARD}]) {{ id {page} }} complexity {{ query }} }}"


def test_it_charges_a_page_nested_in_boards_like_one_at_the_root(emulator):
    for name in ("one", "two"):
        create_item(emulator, name)
    first = post(emulator, f"query {{ boards(ids: [{DEV_ITEMS_BOARD}]) {{ items_page(limit: 1) {{ cursor }} }} }}")
    cursor = first.json()["data"]["boards"][0]["items_page"]["cursor"]

    root = query_cost(
        emulator,
        f"query ($c: String!) {{ next_items_page(cursor: $c, limit: 500) {PAGE} complexity {{ query }} }}",
        {"c": cursor},
    )
    nested = query_cost(emulator, nested_page(PAGE))

    # 500 x 500 for the page, 10 for its cursor, 500 x (10 + 10) for each item's id and name.
    assert root == 250_000 + 10 + 500 * 20
    # The same page inside boards: the board's 1,000 and its id's 10 on top (it used to cost 1,000 in all).
    assert nested == root + 1_000 + 10


def test_it_charges_subitems_per_parent_item(emulator):
    without = query_cost(emulator, nested_page(PAGE))
    with_subitems = query_cost(emulator, nested_page(PAGE_WITH_SUBITEMS))

    # Each of the page's 500 items: 500 for its subitem list and 10 for the subitem's id.
    assert with_subitems - without == 500 * (500 + 10)


def test_it_multiplies_a_list_by_the_ids_it_is_asked_for(emulator):
    one = query_cost(emulator, nested_page('{ items { column_values(ids: ["a"]) { id text } } }'))
    three = query_cost(emulator, nested_page('{ items { column_values(ids: ["a", "b", "c"]) { id text } } }'))

    assert three - one == 500 * 2 * 20  # two more values, with two fields each, on each of 500 items


def test_it_charges_fields_selected_through_fragments(emulator):
    inline = query_cost(emulator, nested_page(PAGE_WITH_SUBITEMS))
    spread = query_cost(
        emulator,
        nested_page("{ cursor items { ...Read } }") + " fragment Read on Item { id name subitems { ...Sub } }"
        " fragment Sub on Item { id }",
    )

    assert spread == inline


def test_it_refuses_a_document_over_the_cap_through_nesting(emulator):
    before = emulator.budget.remaining("dev-token")[0]

    # The board (1,000), its id and its groups list (10 each), then per group its id (10), a page of
    # 500 (250,000) and the page's 500 ids (5,000): 20 groups are over the cap, 19 are not.
    refused = post(emulator, nested_page("{ items { id } }", groups=20)).json()
    answered = query_cost(emulator, nested_page("{ items { id } }", groups=19))

    assert error_codes(refused) == ["ComplexityException"]
    over = 1_000 + 10 + 10 + 20 * 255_010
    assert f"complexity of {over}, which exceeds max complexity of 5000000" in refused["errors"][0]["message"]
    assert "data" not in refused
    assert answered == 1_000 + 10 + 10 + 19 * 255_010
    assert emulator.budget.remaining("dev-token")[0] == before - answered  # the refused one cost nothing


def test_it_keeps_mutations_flat(emulator):
    document = (
        f'mutation {{ m0: create_item(board_id: {DEV_ITEMS_BOARD}, item_name: "x") {{ id '
        "subitems { id column_values { id text } } column_values { id text } } complexity { query } }"
    )

    assert query_cost(emulator, document) == 10_000


# --- faults and modes -----------------------------------------------------------------------------


def test_throttles_inside_http_200_carry_each_code_and_apply_nothing(emulator):
    emulator.faults.retry_in_seconds = 3
    emulator.faults.queue(*["throttle_200"] * len(THROTTLE_200_CODES))
    responses = [post(emulator, CREATE_X, {"board": str(DEV_ITEMS_BOARD), "name": "x"}) for _ in THROTTLE_200_CODES]

    assert [r.status_code for r in responses] == [200] * len(THROTTLE_200_CODES)
    assert [error_codes(r.json()) for r in responses] == [[code] for code in THROTTLE_200_CODES]
    assert {"tooManyRequests", "API_TEMPORARILY_BLOCKED"} <= set(THROTTLE_200_CODES)
    for response in responses:
        assert "data" not in response.json()
        assert response.json()["errors"][0]["extensions"]["retry_in_seconds"] == 3
        assert response.headers["Retry-After"] == "3"
    assert emulator.state.item_count() == 0


@pytest.mark.parametrize("bad", ["stale item", "malformed value"])
def test_batch_500_answers_the_whole_request_with_500_and_applies_none_of_it(emulator, bad):
    good, other = item_with_values(emulator), item_with_values(emulator)
    if bad == "stale item":
        post(emulator, "mutation ($i: ID) { delete_item(item_id: $i) { id } }", {"i": other})
        second = (other, {TEXT: "B"})
    else:
        second = (other, {DATE: {"date": "31/01/2025"}})
    query, variables = batch((good, {TEXT: "changed"}), second)

    per_alias = post(emulator, query, variables)  # without the mode: HTTP 200, the bad alias fails alone
    post(emulator, CHANGE, {"board": str(DEV_ITEMS_BOARD), "item": good, "values": json.dumps({TEXT: "AAG-1"})})
    emulator.faults.batch_500 = True
    whole = post(emulator, query, variables)

    assert per_alias.status_code == 200 and per_alias.json()["data"]["m0"]["id"] == good
    assert whole.status_code == 500
    assert error_codes(whole.json()) == ["INTERNAL_SERVER_ERROR"]
    assert column_text(emulator, good, TEXT) == "AAG-1"  # the good alias was not applied either


def test_batch_500_leaves_requests_without_a_bad_alias_alone(emulator):
    emulator.faults.batch_500 = True
    item_id = item_with_values(emulator)
    query, variables = batch((item_id, {TEXT: "fine"}))

    assert post(emulator, query, variables).status_code == 200
    assert column_text(emulator, item_id, TEXT) == "fine"


def test_with_no_replay_a_retried_idempotency_key_executes_again(emulator):
    emulator.faults.no_replay = True
    variables = {"board": str(DEV_ITEMS_BOARD), "name": "twice"}
    first = post(emulator, CREATE_X, variables, headers={"Idempotency-Key": "k-1"})
    retry = post(emulator, CREATE_X, variables, headers={"Idempotency-Key": "k-1"})

    assert "Idempotency-Replayed" not in retry.headers
    assert first.json()["data"]["m0"]["id"] != retry.json()["data"]["m0"]["id"]
    assert [i["name"] for i in emulator.state.active_items(str(DEV_ITEMS_BOARD))] == ["twice", "twice"]


def test_responses_over_the_size_cap_or_the_users_budget_are_not_cached(emulator):
    cache = emulator.api.idempotency
    variables = {"board": str(DEV_ITEMS_BOARD), "name": "x"}
    cache.max_response_bytes = 10  # scaled down from monday's 1 MB
    big = [post(emulator, CREATE_X, variables, headers={"Idempotency-Key": "big"}) for _ in range(2)]
    cache.max_response_bytes = 1_000_000
    cache.budget_bytes = len(big[0].content) + 50  # room for one response of this size per token
    kept = [post(emulator, CREATE_X, variables, headers={"Idempotency-Key": "kept"}) for _ in range(2)]
    over_budget = [post(emulator, CREATE_X, variables, headers={"Idempotency-Key": "over"}) for _ in range(2)]

    assert "Idempotency-Replayed" not in big[1].headers
    assert kept[1].headers.get("Idempotency-Replayed") == "true"
    assert "Idempotency-Replayed" not in over_budget[1].headers
    assert emulator.state.item_count() == 5  # big twice, kept once, over twice
    assert cache.not_cached == 4


def test_deleting_the_last_group_is_a_409(emulator):
    response = post(emulator, 'mutation { delete_group(board_id: 9609317401, group_id: "topics") { id } }')

    assert response.status_code == 409
    assert error_codes(response.json()) == ["DeleteLastGroupException"]
    assert response.json()["errors"][0]["extensions"]["status_code"] == 409
    assert emulator.state.group(emulator.state.board(DEV_ITEMS_BOARD), "topics") is not None


# --- API versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "answered"),
    [
        (None, "2026-10"),
        ("current", "2026-10"),
        ("2026-10", "2026-10"),
        ("2026-07", "2026-07"),
        ("maintenance", "2026-07"),
        ("2024-01", "2026-07"),  # deprecated: served by the maintenance version
        ("2023-04", "2026-07"),
        ("2027-01", "2027-01"),
        ("release_candidate", "2027-01"),
        ("2026-05", "2026-10"),  # well formed but not a release: the current version
        ("2031-04", "2026-10"),
    ],
)
def test_it_answers_api_versions_as_documented(emulator, requested, answered):
    response = post(emulator, QUERY, version=requested)

    assert response.status_code == 200
    assert response.headers["API-Version"] == answered


@pytest.mark.parametrize("requested", ["2026-13", "v2", "2026-10-01", "latest", "26-10"])
def test_a_malformed_api_version_is_invalid_version_exception(emulator, requested):
    response = post(emulator, CREATE_X, {"board": str(DEV_ITEMS_BOARD), "name": "x"}, version=requested)

    assert response.status_code == 400
    assert error_codes(response.json()) == ["InvalidVersionException"]
    assert emulator.state.item_count() == 0


# --- configuration --------------------------------------------------------------------------------


def test_the_cli_sets_the_new_faults_modes_and_limits():
    parser = Command().create_parser("manage.py", "monday_emulator")
    options = vars(
        parser.parse_args(
            [
                "--fault-throttle-200",
                "0.1",
                "--batch-500",
                "--no-replay",
                "--throttle-codes",
                "tooManyRequests,API_TEMPORARILY_BLOCKED",
                "--retry-in-seconds",
                "4",
                "--minute-limit",
                "0",
                "--concurrency-limit",
                "100",
                "--api-maintenance",
                "2026-04",
            ]
        )
    )
    defaults = vars(parser.parse_args([]))

    faults = Command()._faults({**options, "faults": ""})

    assert faults.rates == {"throttle_200": 0.1}
    assert faults.batch_500 and faults.no_replay
    assert faults.throttle_codes == ("tooManyRequests", "API_TEMPORARILY_BLOCKED")
    assert faults.retry_in_seconds == 4
    assert options["minute_limit"] == 0 and options["concurrency_limit"] == 100
    assert options["api_maintenance"] == "2026-04"
    assert (defaults["minute_limit"], defaults["concurrency_limit"], defaults["ip_limit"]) == (1_000, 40, 5_000)
    assert not Command()._faults({**defaults, "faults": ""}).batch_500


def test_the_fault_spec_sets_modes_and_throttle_codes():
    faults = FaultConfig.parse("throttle_200=0.2,batch_500=1,no_replay=on,throttle_codes=tooManyRequests|X")

    assert faults.rates == {"throttle_200": 0.2}
    assert faults.batch_500 and faults.no_replay
    assert [faults.next_throttle_code() for _ in range(3)] == ["tooManyRequests", "X", "tooManyRequests"]
    faults.clear()
    assert not faults.batch_500 and not faults.no_replay


def test_limits_off_means_no_policy_and_no_refusal(emulator):
    emulator.api.minute.limit = None
    emulator.api.concurrency.limit = None
    responses = [post(emulator, QUERY) for _ in range(3)]

    assert all(r.status_code == 200 for r in responses)
    assert list(policies(responses[-1].headers["RateLimit-Policy"])) == ["complexityMinute"]


def test_a_read_of_an_item_reports_the_version_header_too(emulator):
    item_id = item_with_values(emulator)
    response = post(emulator, READ, {"ids": [item_id]}, version="2025-10")

    assert response.headers["API-Version"] == "2026-07"
    assert response.json()["data"]["items"][0]["id"] == item_id
