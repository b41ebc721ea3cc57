"""MondayClient against the emulator over real HTTP on loopback.

Waits go through a fake `sleep` that records them (the fixture's client does this), so rate-limit
and backoff behaviour is checked without sleeping for real.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from decimal import Decimal

import pytest

from syncapp.monday import client as client_module
from syncapp.monday import documents
from syncapp.monday.column_values import format_column_value, item_name, partition_by_label_policy
from syncapp.monday.errors import (
    MondayAuthError,
    MondayDailyLimitError,
    MondayRequestError,
    MondayUnavailableError,
)
from syncapp.monday.types import ApiCallRecord, Mutation
from tests.emulator_fixtures import DEV_ITEMS_BOARD, DEV_SUBITEMS_BOARD

AAG = "text_mkr5wya6"
CUSTOMER = "dropdown_mkr542p2"
UOM = "color_mkr5yf27"
PRICE = "numeric_mkr5cact"
NOTES = "long_text_mkr5hass"
PO_DATE = "date_mkr5zp5"
SEASON = "dropdown_mkr58de6"
SIZE = "dropdown_mkrak7qp"
QTY = "numeric_mkra7j8e"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def create(key: str, name: str = "Item", **column_values: object) -> Mutation:
    args: dict = {"board_id": DEV_ITEMS_BOARD, "item_name": name}
    if column_values:
        args["column_values"] = column_values
    return Mutation(key, "create_item", args)


def active_items(emulator, board_id: int = DEV_ITEMS_BOARD) -> list[dict]:
    return list(emulator.state.active_items(str(board_id)))


def graphql_requests(emulator) -> list[dict]:
    return [json.loads(entry["body"]) for entry in emulator.request_log]


# --- request shape ---------------------------------------------------------------------------------


def test_it_sends_api_version_content_type_and_the_environment_token(emulator):
    client = emulator.client("development")
    client.get_board(DEV_ITEMS_BOARD)

    headers = emulator.request_log[-1]["headers"]
    assert headers["API-Version"] == "2026-10"
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == "<redacted>"  # the emulator accepted dev-token; the log never keeps it
    assert emulator.request_log[-1]["status"] == 200


@pytest.mark.parametrize(
    "name",
    [
        'GREYSON "SS26" PO#12',
        "line one\nline two\ttabbed",
        "emoji 🧵👕 and ünïcödé ✓",
        "'; mutation { delete_item(item_id: 1) { id } } #",
        "back\\slash and } brace {",
    ],
)
def test_it_passes_names_and_values_only_as_graphql_variables(emulator, name):
    client = emulator.client()
    results = client.run_batch([create("k", name, **{AAG: name})], operation="create", idempotency_scope="run")

    assert results["k"].ok, results["k"]
    body = graphql_requests(emulator)[-1]
    assert name not in body["query"]
    assert json.dumps(name)[1:-1] not in body["query"]
    assert name in body["variables"].values()
    item = emulator.state.item(results["k"].data["id"])
    assert item["name"] == name
    assert item["values"][AAG]["text"] == name


def test_it_reuses_one_pooled_connection(emulator):
    client = emulator.client()
    for _ in range(3):
        client.get_board(DEV_ITEMS_BOARD)
    # One client port for all three requests: the keep-alive connection was reused, not reopened.
    assert len({entry["peer"] for entry in emulator.request_log}) == 1


# --- batching and partial failure ------------------------------------------------------------------


def test_it_splits_mutations_into_requests_of_batch_size(emulator):
    client = emulator.client(batch_size=25)
    mutations = [create(f"row-{i}", f"Item {i}", **{AAG: f"AAG-{i}"}) for i in range(60)]

    results = client.run_batch(mutations, operation="create_items", idempotency_scope="run-1")

    assert len(emulator.request_log) == 3
    assert [json.loads(e["body"])["query"].count("create_item(") for e in emulator.request_log] == [25, 25, 10]
    assert all(result.ok for result in results.values())
    assert {emulator.state.item(r.data["id"])["name"] for r in results.values()} == {f"Item {i}" for i in range(60)}
    assert client.stats.requests == 3
    assert client.stats.mutations == 60
    assert client.stats.complexity_used == 60 * 10_000


def test_it_keeps_the_other_results_when_some_aliases_fail(emulator):
    client = emulator.client()
    existing = client.run_batch([create("existing")], operation="seed", idempotency_scope="s")["existing"].data["id"]
    mutations = [
        create("good-1", "Good 1", **{CUSTOMER: {"labels": ["GREYSON"]}}),
        create("missing-label", "Bad", **{CUSTOMER: {"labels": ["NOT A CUSTOMER"]}}),
        create("unknown-column", "Bad", text_doesnotexist="x"),
        create("too-long", "x" * 256),
        create("bad-number", "Bad", **{PRICE: "twelve"}),
        Mutation("bad-board", "create_item", {"board_id": 123, "item_name": "Bad"}),
        Mutation(
            "missing-item", "change_columns", {"board_id": DEV_ITEMS_BOARD, "item_id": 1, "column_values": {AAG: "x"}}
        ),
        Mutation(
            "good-2", "change_columns", {"board_id": DEV_ITEMS_BOARD, "item_id": existing, "column_values": {AAG: "ok"}}
        ),
    ]

    results = client.run_batch(mutations, operation="mixed", idempotency_scope="run")

    assert len(emulator.request_log) == 2  # one seed request, one batch: application errors are not retried
    assert results["good-1"].ok and results["good-2"].ok
    expected_codes = {
        "missing-label": "ColumnValueException",
        "unknown-column": "InvalidColumnIdException",
        "too-long": "ItemNameTooLongException",
        "bad-number": "ColumnValueException",
        "bad-board": "InvalidBoardIdException",
        "missing-item": "ResourceNotFoundException",
    }
    assert {key: results[key].error_code for key in expected_codes} == expected_codes
    assert all(not results[key].ok and results[key].data is None for key in expected_codes)
    assert "NOT A CUSTOMER" in results["missing-label"].error_message
    assert "text_doesnotexist" in results["unknown-column"].error_message
    assert [i["name"] for i in active_items(emulator)] == ["Item", "Good 1"]
    assert emulator.state.item(existing)["values"][AAG]["text"] == "ok"


def test_it_rejects_invalid_mutations_before_sending_anything(emulator):
    client = emulator.client(batch_size=1)
    with pytest.raises(ValueError, match="Unknown mutation kind"):
        client.run_batch([create("a"), Mutation("b", "rename_board", {})], operation="x", idempotency_scope="s")
    with pytest.raises(ValueError, match="missing required"):
        client.run_batch(
            [Mutation("c", "create_item", {"board_id": DEV_ITEMS_BOARD})], operation="x", idempotency_scope="s"
        )
    with pytest.raises(ValueError, match="appears twice"):
        client.run_batch([create("d"), create("d")], operation="x", idempotency_scope="s")
    assert emulator.request_log == []


def test_it_runs_every_mutation_kind(emulator):
    client = emulator.client()
    group = client.run_batch(
        [Mutation("g", "create_group", {"board_id": DEV_ITEMS_BOARD, "group_name": "GREYSON SS26"})],
        operation="groups",
        idempotency_scope="s",
    )["g"]
    assert group.ok and group.data["title"] == "GREYSON SS26"
    item_id = client.run_batch([create("i")], operation="items", idempotency_scope="s")["i"].data["id"]
    other_id = client.run_batch([create("o")], operation="items", idempotency_scope="s")["o"].data["id"]

    subitem = client.run_batch(
        [Mutation("s", "create_subitem", {"parent_item_id": item_id, "item_name": "M", "column_values": {QTY: "12"}})],
        operation="subitems",
        idempotency_scope="s",
    )["s"]
    assert subitem.ok and subitem.data["board"]["id"] == str(DEV_SUBITEMS_BOARD)

    results = client.run_batch(
        [
            Mutation(
                "sub-change",
                "change_columns",
                {"board_id": DEV_SUBITEMS_BOARD, "item_id": subitem.data["id"], "column_values": {QTY: "24"}},
            ),
            Mutation("move", "move_item", {"item_id": item_id, "group_id": group.data["id"]}),
            Mutation("archive", "archive_item", {"item_id": other_id}),
        ],
        operation="changes",
        idempotency_scope="s",
    )
    assert all(r.ok for r in results.values()), results
    assert results["move"].data["group"]["id"] == group.data["id"]
    assert emulator.state.items[subitem.data["id"]]["values"][QTY]["text"] == "24"
    assert emulator.state.items[other_id]["state"] == "archived"

    results = client.run_batch(
        [
            Mutation("delete", "delete_item", {"item_id": item_id}),
            Mutation("delete-group", "delete_group", {"board_id": DEV_ITEMS_BOARD, "group_id": group.data["id"]}),
        ],
        operation="deletes",
        idempotency_scope="s",
    )
    assert all(r.ok for r in results.values()), results
    assert emulator.state.items[item_id]["state"] == "deleted"
    assert emulator.state.group(emulator.state.board(DEV_ITEMS_BOARD), group.data["id"]) is None


# --- formatting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column_id", "column_type", "source", "expected_text"),
    [
        (AAG, "text", "AAG-001", "AAG-001"),
        (NOTES, "long_text", "line 1\nline 2", "line 1\nline 2"),
        (PRICE, "numbers", Decimal("12.500"), "12.5"),
        (PRICE, "numbers", Decimal("1E+2"), "100"),
        (PRICE, "numbers", 7, "7"),
        (CUSTOMER, "dropdown", ["GREYSON", "VUORI"], "GREYSON, VUORI"),
        (UOM, "status", "PACK", "PACK"),
        (PO_DATE, "date", "2025-01-31", "2025-01-31"),
    ],
)
def test_it_writes_each_column_type_in_mondays_format_and_clears_it(
    emulator, column_id, column_type, source, expected_text
):
    client = emulator.client()
    formatted = format_column_value(column_type, source)
    created = client.run_batch([create("k", "Item", **{column_id: formatted})], operation="c", idempotency_scope="s")[
        "k"
    ]
    assert created.ok, created
    item = client.get_items([int(created.data["id"])])[0]
    assert item["column_values"][column_id]["text"] == expected_text

    cleared = client.run_batch(
        [
            Mutation(
                "k",
                "change_columns",
                {
                    "board_id": DEV_ITEMS_BOARD,
                    "item_id": created.data["id"],
                    "column_values": {column_id: format_column_value(column_type, None)},
                },
            )
        ],
        operation="clear",
        idempotency_scope="s",
    )["k"]
    assert cleared.ok, cleared
    item = client.get_items([int(created.data["id"])])[0]
    assert item["column_values"][column_id]["text"] in ("", None)
    assert item["column_values"][column_id]["value"] is None


@pytest.mark.parametrize(
    ("column_type", "source", "expected"),
    [
        ("text", "AAG-1", "AAG-1"),
        ("text", None, None),
        ("text", "   ", None),
        ("long_text", "a\nb", {"text": "a\nb"}),
        ("long_text", None, None),
        ("numbers", Decimal("0.000"), "0"),
        ("numbers", "1,234.50", "1234.5"),
        ("numbers", 1.5e-7, "0.00000015"),
        ("numbers", Decimal("-2.50"), "-2.5"),
        ("numbers", "", None),  # "" would write 0 at monday
        ("dropdown", "GREYSON", {"labels": ["GREYSON"]}),
        ("dropdown", ["A", "A", " ", "B"], {"labels": ["A", "B"]}),
        ("dropdown", [], None),
        ("dropdown", None, None),
        ("status", " Done ", {"label": "Done"}),
        ("status", "", None),
        ("date", dt.date(2025, 1, 31), {"date": "2025-01-31"}),
        ("date", dt.datetime(2025, 1, 31, 23, 59), {"date": "2025-01-31"}),
        ("date", "2025-01-31 00:00:00", {"date": "2025-01-31"}),
        ("date", None, None),
    ],
)
def test_it_formats_values_and_empties_in_mondays_write_formats(column_type, source, expected):
    assert format_column_value(column_type, source) == expected


@pytest.mark.parametrize(
    ("column_type", "source", "message"),
    [
        ("mirror", "x", "'mirror' is read-only"),
        ("formula", "x", "'formula' is read-only"),
        ("people", "x", "'people' is not supported"),
        ("numbers", "twelve", "'twelve' is not a number"),
        ("numbers", True, "boolean"),
        ("numbers", "NaN", "not a finite number"),
        ("date", "31/01/2025", "not a date"),
        ("status", ["A", "B"], "exactly one label"),
    ],
)
def test_it_refuses_values_it_cannot_format(column_type, source, message):
    with pytest.raises(ValueError, match=message):
        format_column_value(column_type, source)


def test_it_separates_columns_that_may_create_labels_from_those_that_may_not():
    values = {CUSTOMER: {"labels": ["NEWCO"]}, SEASON: {"labels": ["SS27"]}, AAG: "AAG-1", UOM: {"label": "DOZEN"}}
    types = {CUSTOMER: "dropdown", SEASON: "dropdown", AAG: "text", UOM: "status"}

    strict, creating = partition_by_label_policy(values, types, may_create_labels=[SEASON, AAG])

    assert strict == {CUSTOMER: {"labels": ["NEWCO"]}, AAG: "AAG-1", UOM: {"label": "DOZEN"}}
    assert creating == {SEASON: {"labels": ["SS27"]}}


def test_it_trims_item_names_to_mondays_limits():
    assert item_name("  A name  ") == "A name"
    assert item_name("x" * 300) == "x" * 255
    with pytest.raises(ValueError, match="empty"):
        item_name("   ")


def test_it_creates_a_label_only_when_the_mutation_allows_it(emulator):
    client = emulator.client()
    denied = client.run_batch([create("a", **{SEASON: {"labels": ["SS26"]}})], operation="c", idempotency_scope="s")
    allowed = client.run_batch(
        [
            Mutation(
                "b",
                "create_item",
                {
                    "board_id": DEV_ITEMS_BOARD,
                    "item_name": "b",
                    "column_values": {SEASON: {"labels": ["SS26"]}},
                    "create_labels_if_missing": True,
                },
            )
        ],
        operation="c",
        idempotency_scope="s",
    )
    assert denied["a"].error_code == "ColumnValueException" and "SS26" in denied["a"].error_message
    assert allowed["b"].ok
    assert client.get_board(DEV_ITEMS_BOARD).column(SEASON).labels == ["SS26"]


# --- retries and rate limits -----------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "502", "503", "423", "malformed", "html", "429_bare"])
def test_it_retries_transient_failures_with_bounded_backoff(emulator, fault):
    emulator.faults.queue(fault, fault)
    client = emulator.client(max_wait_seconds=1.5)

    results = client.run_batch([create("k")], operation="create", idempotency_scope="s")

    assert results["k"].ok
    assert len(emulator.request_log) == 3
    assert len(emulator.sleeps) == 2
    assert 0.5 <= emulator.sleeps[0] <= 1.0  # first backoff: 1 s with jitter
    assert 0.75 <= emulator.sleeps[1] <= 1.5  # second: 2 s capped at max_wait_seconds, with jitter
    assert client.stats.retries == 2
    assert len(active_items(emulator)) == 1
    waited = "Waiting for monday's budget" if fault == "429_bare" else "trying again"
    assert any(waited in line for line in emulator.logs)
    assert not any("create" in line or "{" in line for line in emulator.logs), "plain words on the run page"


def test_it_waits_retry_in_seconds_before_the_retry_after_header(emulator):
    emulator.faults.retry_in_seconds = 7
    emulator.faults.retry_after_seconds = 2
    emulator.faults.queue("429")
    client = emulator.client()

    assert client.run_batch([create("k")], operation="create", idempotency_scope="s")["k"].ok
    assert emulator.sleeps == [7.0]
    assert (
        emulator.logs
        == [
            # In the console's time zone (America/Los_Angeles by default), as every time the console shows.
            f"Waiting for monday's budget (development): resumes at {line.split('resumes at ')[1][:12]} (in 7 s)."
            for line in emulator.logs
        ]
        and len(emulator.logs) == 1
        and re.search(r"resumes at \d\d:\d\d:\d\d P[SD]T ", emulator.logs[0])
    ), "the status line says it waits for monday's budget and when it resumes"


def test_it_waits_the_retry_after_header_when_there_is_no_retry_in_seconds(emulator):
    emulator.faults.retry_after_seconds = 3
    emulator.faults.queue("429_retry_after")

    assert emulator.client().run_batch([create("k")], operation="create", idempotency_scope="s")["k"].ok
    assert emulator.sleeps == [3.0]


@pytest.mark.parametrize("code", ["RATE_LIMIT_EXCEEDED", "maxConcurrencyExceeded", "IP_RATE_LIMIT_EXCEEDED"])
def test_it_treats_minute_concurrency_and_ip_limits_as_waits(emulator, code):
    emulator.faults.rate_limit_code = code
    emulator.faults.retry_in_seconds = 4
    emulator.faults.queue("429")

    assert emulator.client().run_batch([create("k")], operation="create", idempotency_scope="s")["k"].ok
    assert emulator.sleeps == [4.0]


def test_it_caps_each_wait_at_max_wait_seconds(emulator):
    emulator.faults.retry_in_seconds = 300
    emulator.faults.queue("429")

    assert emulator.client(max_wait_seconds=10).run_batch([create("k")], operation="c", idempotency_scope="s")["k"].ok
    assert emulator.sleeps == [10.0]


def test_it_recovers_from_an_exhausted_complexity_budget_via_retry_in_seconds(emulator):
    clock = FakeClock()
    emulator.budget.clock = clock
    emulator.budget.exhaust("dev-token")
    records: list[ApiCallRecord] = []

    def sleep(seconds: float) -> None:  # time passes for the emulator while the client waits
        emulator.sleeps.append(seconds)
        clock.now += seconds

    client = emulator.client(sleep=sleep, recorder=records.append)
    results = client.run_batch([create("k")], operation="create", idempotency_scope="s")

    assert results["k"].ok
    assert emulator.sleeps == [60.0]
    assert [(r.http_status, r.ok) for r in records] == [(429, False), (200, True)]
    assert "COMPLEXITY_BUDGET_EXHAUSTED" in records[0].response_body
    assert len(active_items(emulator)) == 1


def test_it_slows_down_before_the_budget_runs_out(emulator):
    emulator.budget.per_minute = 100_000  # ten mutations a minute
    client = emulator.client(throttle_below_fraction=0.10)
    batch = [create(f"k{i}") for i in range(5)]

    client.run_batch(batch[:5], operation="first", idempotency_scope="s")  # 50,000 left: no pause
    assert emulator.sleeps == []
    client.run_batch([create(f"j{i}") for i in range(5)], operation="second", idempotency_scope="s")  # 0 left
    assert emulator.sleeps == []
    emulator.budget.clock = lambda: 1e12  # the window resets while the client waits
    client.run_batch([create("last")], operation="third", idempotency_scope="s")

    assert len(emulator.sleeps) == 1 and 50 <= emulator.sleeps[0] <= 60
    assert all(entry["status"] == 200 for entry in emulator.request_log)  # never ran into a 429
    assert [line for line in emulator.logs if line.startswith("Waiting for monday's budget (development): resumes at ")]
    assert not any("third" in line for line in emulator.logs), "no internal operation names on the run page"


def test_it_waits_when_the_next_page_would_not_fit_though_above_the_margin(emulator):
    emulator.budget.per_minute = 1_000_000
    client = emulator.client(throttle_below_fraction=0.10)  # a margin of 100,000
    page = (
        f"query {{ boards(ids: [{DEV_ITEMS_BOARD}]) {{ items_page(limit: 400) {{ items {{ id }} }} }} "
        "complexity { before after query reset_in_x_seconds } }"
    )
    emulator.budget.clock = lambda: 0.0

    for _ in range(4):  # 205,000 each: 180,000 left after four, above the margin
        client.read(page, {}, operation="read_board")
    assert emulator.sleeps == []
    emulator.budget.clock = lambda: 60.0  # the window resets while the client waits
    client.read(page, {}, operation="read_board")  # a fifth page would not fit: it waits first

    assert len(emulator.sleeps) == 1 and 50 <= emulator.sleeps[0] <= 60
    assert all(entry["status"] == 200 for entry in emulator.request_log)  # never ran into a 429
    assert client.stats.complexity_used == 5 * 205_000


def test_it_gives_up_after_max_retries_with_a_message_to_retry_later(emulator):
    emulator.faults.rates["503"] = 1.0
    client = emulator.client(max_retries=2)

    with pytest.raises(MondayUnavailableError, match="Retry the sync later") as raised:
        client.run_batch([create("k")], operation="create", idempotency_scope="s")

    assert "HTTP 503" in str(raised.value)
    assert len(emulator.request_log) == 3
    assert len(emulator.sleeps) == 2


def test_it_retries_a_connection_error(emulator):
    client = emulator.client(api_url="http://127.0.0.1:9/v2", max_retries=1)  # nothing listens on port 9
    with pytest.raises(MondayUnavailableError, match="connection failed"):
        client.get_board(DEV_ITEMS_BOARD)
    assert len(emulator.sleeps) == 1


# --- stop conditions --------------------------------------------------------------------------------


def test_it_stops_on_a_rejected_token_naming_the_environment_and_its_variable(emulator):
    client = emulator.client("production", token="wrong-token")

    with pytest.raises(MondayAuthError) as raised:
        client.run_batch([create("k")], operation="create", idempotency_scope="s")

    message = str(raised.value)
    assert "production" in message and "MONDAY_API_TOKEN_PRODUCTION" in message
    assert "wrong-token" not in message
    assert raised.value.http_status == 401
    assert len(emulator.request_log) == 1 and emulator.sleeps == []


def test_it_stops_when_the_token_has_no_access_to_the_board(emulator):
    client = emulator.client("production")  # the production token, pointed at a development board

    with pytest.raises(MondayAuthError, match="MONDAY_API_TOKEN_PRODUCTION"):
        client.run_batch([create("k")], operation="create", idempotency_scope="s")
    assert active_items(emulator) == []


def test_it_stops_without_sending_when_the_token_is_missing(emulator):
    with pytest.raises(MondayAuthError, match="MONDAY_API_TOKEN_DEVELOPMENT"):
        emulator.client(token="").get_board(DEV_ITEMS_BOARD)
    assert emulator.request_log == []


def test_it_stops_at_the_daily_limit_naming_the_environment(emulator):
    emulator.daily.limit = 1
    client = emulator.client()
    client.get_board(DEV_ITEMS_BOARD)

    with pytest.raises(MondayDailyLimitError, match="development") as raised:
        client.run_batch([create("k")], operation="create", idempotency_scope="s")
    assert raised.value.code == "DAILY_LIMIT_EXCEEDED"
    assert len(emulator.request_log) == 2 and emulator.sleeps == []


def test_it_stops_when_monday_rejects_the_api_version(emulator):
    with pytest.raises(MondayRequestError, match="2026-13") as raised:
        emulator.client(api_version="2026-13").get_board(DEV_ITEMS_BOARD)
    assert raised.value.code == "InvalidVersionException"
    assert len(emulator.request_log) == 1


def test_it_reads_which_api_version_answered(emulator):
    pinned = emulator.client()
    pinned.get_board(DEV_ITEMS_BOARD)
    assert pinned.answered_version == "2026-10"
    deprecated = emulator.client(api_version="2023-10")  # served by the maintenance version, not refused
    deprecated.get_board(DEV_ITEMS_BOARD)
    assert deprecated.answered_version == emulator.api.versions.maintenance != "2023-10"


# --- idempotency ---------------------------------------------------------------------------------


def test_it_replays_a_lost_response_by_idempotency_key_without_a_duplicate(emulator):
    emulator.faults.queue("lost")
    client = emulator.client()
    mutations = [create(f"row-{i}", f"Item {i}") for i in range(3)]

    results = client.run_batch(mutations, operation="create_items", idempotency_scope="run-7")

    assert all(r.ok for r in results.values())
    assert len(active_items(emulator)) == 3
    first, retry = emulator.request_log
    assert first["fault"] == "lost" and not first["replayed"]
    assert retry["replayed"]
    assert first["headers"]["Idempotency-Key"] == retry["headers"]["Idempotency-Key"]
    assert {r.data["id"] for r in results.values()} == {i["id"] for i in active_items(emulator)}


def test_it_replays_a_response_delayed_past_the_read_timeout_without_a_duplicate(emulator):
    emulator.faults.delay_seconds = 1.5
    emulator.faults.queue("delay")
    client = emulator.client(read_timeout=0.3)

    results = client.run_batch([create("k", "Only once")], operation="create", idempotency_scope="s")

    assert results["k"].ok
    assert [i["name"] for i in active_items(emulator)] == ["Only once"]
    assert emulator.request_log[-1]["replayed"]


def test_it_derives_the_idempotency_key_from_environment_scope_operation_and_content(emulator):
    client = emulator.client()
    other = emulator.client("production")
    chunk = [create("a", "A"), create("b", "B")]

    key = client.idempotency_key(chunk, operation="create", idempotency_scope="run-1")
    assert key == client.idempotency_key(
        [create("a", "A"), create("b", "B")], operation="create", idempotency_scope="run-1"
    )
    assert (
        len(
            {
                key,
                client.idempotency_key(chunk, operation="create", idempotency_scope="run-2"),
                client.idempotency_key(chunk, operation="update", idempotency_scope="run-1"),
                client.idempotency_key(chunk[::-1], operation="create", idempotency_scope="run-1"),
                client.idempotency_key(
                    [create("a", "A2"), create("b", "B")], operation="create", idempotency_scope="run-1"
                ),
                other.idempotency_key(chunk, operation="create", idempotency_scope="run-1"),
            }
        )
        == 6
    )


def test_it_waits_while_the_same_idempotent_request_is_still_running(emulator):
    client = emulator.client()
    mutations = [create("k", "Only once")]
    query, variables = client._document(mutations)
    key = client.idempotency_key(mutations, operation="create", idempotency_scope="s")
    body = json.dumps({"query": query, "variables": variables}, ensure_ascii=False, separators=(",", ":")).encode()
    emulator.api.idempotency.begin("dev-token", key, hashlib.sha256(body).hexdigest())  # "another worker" holds it

    def sleep(seconds: float) -> None:
        emulator.sleeps.append(seconds)
        emulator.api.idempotency.abandon("dev-token", key)  # ... and lets go while the client waits

    results = emulator.client(sleep=sleep).run_batch(mutations, operation="create", idempotency_scope="s")

    assert results["k"].ok
    assert [entry["status"] for entry in emulator.request_log] == [409, 200]
    assert emulator.sleeps == [1.0]  # the 409's Retry-After
    assert len(active_items(emulator)) == 1


def test_it_stops_when_monday_rejects_the_document_itself(emulator, monkeypatch):
    spec = documents.MUTATION_SPECS["archive_item"]
    monkeypatch.setitem(documents.MUTATION_SPECS, "archive_item", dataclasses.replace(spec, selection="id colour"))

    with pytest.raises(MondayRequestError, match="Field 'colour' doesn't exist on type 'Item'") as raised:
        emulator.client().run_batch(
            [Mutation("a", "archive_item", {"item_id": 1})], operation="x", idempotency_scope="s"
        )
    assert raised.value.code == "undefinedField"
    assert len(emulator.request_log) == 1 and emulator.sleeps == []


def test_it_sends_no_idempotency_key_on_queries(emulator):
    emulator.client().get_board(DEV_ITEMS_BOARD)
    assert "Idempotency-Key" not in emulator.request_log[-1]["headers"]


# --- recording --------------------------------------------------------------------------------------


def test_it_records_every_attempt_without_the_token(emulator):
    emulator.faults.queue("500")
    records: list[ApiCallRecord] = []
    client = emulator.client(recorder=records.append)

    client.run_batch(
        [create("a", **{CUSTOMER: {"labels": ["NOPE"]}}), create("b")], operation="create_items", idempotency_scope="s"
    )

    assert [(r.attempt, r.http_status, r.ok, r.mutations) for r in records] == [(1, 500, False, 2), (2, 200, True, 2)]
    assert records[1].complexity == 20_000
    assert records[0].idempotency_key == records[1].idempotency_key != ""
    assert "ColumnValueException" in records[1].error
    assert all("dev-token" not in r.request_body + r.response_body for r in records)
    assert "dev-token" not in repr(client)


def test_it_keeps_going_when_the_recorder_fails(emulator):
    def broken(record: ApiCallRecord) -> None:
        raise RuntimeError("database is locked")

    results = emulator.client(recorder=broken).run_batch([create("k")], operation="c", idempotency_scope="s")
    assert results["k"].ok
    assert any("could not record" in line for line in emulator.logs)


# --- queries --------------------------------------------------------------------------------------


def test_it_reads_the_board_structure(emulator):
    board = emulator.client().get_board(DEV_ITEMS_BOARD)

    assert board.id == DEV_ITEMS_BOARD
    assert board.name == "Customer Master Schedule"
    assert board.column(AAG).type == "text" and board.column(AAG).title == "AAG ORDER NUMBER"
    assert board.column(UOM).labels == ["EACH", "PACK", "SET"]
    assert board.column(CUSTOMER).labels[:2] == ["GREYSON", "PELOTON"]
    assert board.column("lookup_mkrbrdr1").type == "mirror"
    assert [g.id for g in board.groups] == ["topics"]
    assert board.subitems_board_id == DEV_SUBITEMS_BOARD


def test_it_reports_a_board_the_token_cannot_see(emulator):
    with pytest.raises(MondayRequestError, match="Board 9200517329 was not found with the development token"):
        emulator.client().get_board(9200517329)


def test_it_finds_items_by_aag_order_number_across_pages(emulator, monkeypatch):
    monkeypatch.setattr(client_module, "PAGE_LIMIT", 3)
    client = emulator.client()
    mutations = [create(f"r{i}", f"Order {i}", **{AAG: f"AAG-{i % 6}"}) for i in range(12)]
    created = client.run_batch(mutations, operation="create", idempotency_scope="s")
    client.run_batch(
        [
            Mutation(
                "sub",
                "create_subitem",
                {
                    "parent_item_id": created["r0"].data["id"],
                    "item_name": "S",
                    "column_values": {QTY: "3", SIZE: {"labels": ["S"]}},
                    "create_labels_if_missing": True,
                },
            ),
            Mutation("archive", "archive_item", {"item_id": created["r1"].data["id"]}),
            Mutation("delete", "delete_item", {"item_id": created["r7"].data["id"]}),
        ],
        operation="changes",
        idempotency_scope="s",
    )

    found = client.find_items_by_column_value(DEV_ITEMS_BOARD, AAG, ["AAG-0", "AAG-1", "AAG-5", "AAG-404"])

    assert sorted(i["name"] for i in found["AAG-0"]) == ["Order 0", "Order 6"]
    assert found["AAG-1"] == []  # Order 1 archived, Order 7 deleted
    assert sorted(i["name"] for i in found["AAG-5"]) == ["Order 11", "Order 5"]
    assert found["AAG-404"] == []
    order_0 = next(i for i in found["AAG-0"] if i["name"] == "Order 0")
    assert order_0["group_id"] == "topics"
    assert order_0["subitems"][0]["name"] == "S"
    assert order_0["subitems"][0]["column_values"][QTY]["text"] == "3"
    assert order_0["subitems"][0]["column_values"][SIZE]["text"] == "S"
    assert any("next_items_page" in body["query"] for body in graphql_requests(emulator))


def test_it_gets_active_items_by_id(emulator):
    client = emulator.client()
    created = client.run_batch([create(f"k{i}", f"Item {i}") for i in range(3)], operation="c", idempotency_scope="s")
    ids = [int(created[f"k{i}"].data["id"]) for i in range(3)]
    client.run_batch([Mutation("a", "archive_item", {"item_id": ids[1]})], operation="archive", idempotency_scope="s")

    items = client.get_items([*ids, 999])

    assert [i["name"] for i in items] == ["Item 0", "Item 2"]
    assert items[0]["board_id"] == str(DEV_ITEMS_BOARD)
    assert items[0]["subitems"] == []
