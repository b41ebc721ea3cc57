"""The running emulator's controls on /boards/ (#13 items 11 and 12), over real HTTP.

A trainer changes faults and labels of the emulator `make run` started, without a restart: the
form on /boards/ posts to /boards/controls, which accepts changes from this machine's own board
pages only. Each test drives the form as a browser would (form-encoded POST with an Origin header)
and then watches what an API client of the same emulator sees.
"""

from __future__ import annotations

import time

import pytest
import requests

from syncapp.emulator.controls import refusal
from tests.emulator_fixtures import DEV_ITEMS_BOARD, PROD_ITEMS_BOARD
from tests.test_emulator import create_item, error_codes, post

CUSTOMER = "dropdown_mkr542p2"
QUERY = "query { complexity { query } }"


def control(emulator, origin: str | None = "", **form: object) -> requests.Response:
    """Submit the controls form like the board page does (Origin: the emulator itself unless given)."""
    headers = {} if origin is None else {"Origin": origin or emulator.base_url}
    data = {name: str(value) for name, value in form.items()}
    return requests.post(
        f"{emulator.base_url}/boards/controls", data=data, headers=headers, timeout=5, allow_redirects=False
    )


def follow(emulator, response: requests.Response) -> str:
    assert response.status_code == 303, response.text
    return requests.get(emulator.base_url + response.headers["Location"], timeout=5).text


def api_statuses(emulator, n: int) -> list[int]:
    return [post(emulator, QUERY).status_code for _ in range(n)]


def test_the_boards_show_their_environment_since_monday_gives_both_one_name(emulator):
    listing = requests.get(f"{emulator.base_url}/boards/", timeout=5).text
    assert listing.count(">Customer Master Schedule</a>") == 2
    assert "<td><strong>development</strong></td><td>9609317401</td>" in listing
    assert "<td><strong>production</strong></td><td>9200517329</td>" in listing
    for board, environment in ((DEV_ITEMS_BOARD, "development"), (PROD_ITEMS_BOARD, "production")):
        page = requests.get(f"{emulator.base_url}/boards/{board}", timeout=5).text
        assert f"<h1>Customer Master Schedule ({board}) · {environment}</h1>" in page
        assert f"Customer Master Schedule ({board}) · {environment} - monday EMULATOR</title>" in page


def test_500s_set_from_the_board_view_fail_api_requests_at_once_and_clearing_restores_them(emulator):
    assert api_statuses(emulator, 2) == [200, 200]
    page = follow(emulator, control(emulator, action="faults", share_500=100))
    assert "Faults now: HTTP 500 (monday failed): 100% of requests." in page
    assert emulator.faults.rates == {"500": 1.0}
    assert api_statuses(emulator, 3) == [500, 500, 500]

    page = follow(emulator, control(emulator, action="clear_faults"))
    assert "All faults cleared" in page and "Faults now: none" in page
    assert api_statuses(emulator, 2) == [200, 200]


def test_a_burst_of_429s_answers_exactly_the_next_requests_then_lets_them_through(emulator):
    follow(emulator, control(emulator, action="faults", burst_429=3))
    responses = [post(emulator, QUERY) for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    assert responses[0].headers.get("Retry-After")
    assert emulator.faults.injected["429"] == 3


def test_shares_and_latency_show_in_the_form_and_latency_slows_every_request(emulator):
    page = follow(emulator, control(emulator, action="faults", share_429=10, share_throttle_200=5, latency_ms=400))
    assert emulator.faults.rates == pytest.approx({"429": 0.10, "throttle_200": 0.05})
    assert emulator.faults.latency_ms == 400
    assert "name='share_429' type='number' min='0' max='100' step='any' value='10'" in page
    assert "value='400'" in page and "400 ms added to every request" in page

    follow(emulator, control(emulator, action="faults", latency_ms=400))  # shares back to 0
    started = time.monotonic()
    assert api_statuses(emulator, 2) == [200, 200]
    assert time.monotonic() - started >= 0.8


def test_removing_a_customer_label_stages_the_missing_label_error_and_adding_it_back_fixes_it(emulator):
    values = {CUSTOMER: {"labels": ["TRACKSMITH"]}}
    assert "errors" not in create_item(emulator, "Before", values)

    page = follow(
        emulator, control(emulator, action="label_remove", column=f"{DEV_ITEMS_BOARD}:{CUSTOMER}", label="tracksmith")
    )
    assert "“TRACKSMITH” is no longer a label of the CUSTOMER column of Customer Master Schedule (9609317401)" in page
    body = create_item(emulator, "Missing label", values)
    assert error_codes(body) == ["ColumnValueException"] and "TRACKSMITH" in body["errors"][0]["message"]
    # The production board's label is untouched: one environment's board changed.
    assert emulator.state.find_label(emulator.state.board(PROD_ITEMS_BOARD), CUSTOMER, "TRACKSMITH")

    page = follow(
        emulator, control(emulator, action="label_add", column=f"{DEV_ITEMS_BOARD}:{CUSTOMER}", label="TRACKSMITH")
    )
    assert "“TRACKSMITH” is now a label of the CUSTOMER column" in page
    assert "errors" not in create_item(emulator, "After", values)


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ({"action": "faults", "share_500": "150"}, "HTTP 500 (monday failed): 150% is not between 0 and 100."),
        ({"action": "faults", "share_500": "lots"}, "“lots” is not a number"),
        ({"action": "faults", "share_500": "70", "share_429": "40"}, "add up to more than 100%"),
        ({"action": "faults", "latency_ms": "-5"}, "Latency: “-5” is not a whole number from 0 to 60000."),
        ({"action": "label_remove", "column": f"{DEV_ITEMS_BOARD}:{CUSTOMER}", "label": "NOBODY"}, "is not a label"),
        ({"action": "label_add", "column": f"{DEV_ITEMS_BOARD}:text_mkr5wya6", "label": "X"}, "Choose a dropdown"),
        ({"action": "explode"}, "Unknown control"),
    ],
    ids=[
        "share over 100",
        "share not a number",
        "shares over 100",
        "negative latency",
        "no such label",
        "not a label column",
        "unknown action",
    ],
)
def test_a_bad_control_is_refused_with_a_message_and_changes_nothing(emulator, form, said):
    emulator.faults.configure(rates={"502": 0.25}, latency_ms=0)
    response = control(emulator, **form)
    assert response.status_code == 400
    assert said in response.text and "data-testid='controls-message'" in response.text
    assert emulator.faults.rates == {"502": 0.25} and not emulator.faults.script
    assert emulator.state.find_label(emulator.state.board(DEV_ITEMS_BOARD), CUSTOMER, "TRACKSMITH")


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Referer": "http://evil.example/page"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["other origin", "other referer", "cross-site fetch"],
)
def test_a_change_from_another_site_is_refused_and_nothing_changes(emulator, headers):
    response = requests.post(
        f"{emulator.base_url}/boards/controls",
        data={"action": "faults", "share_500": "100"},
        headers=headers,
        timeout=5,
        allow_redirects=False,
    )
    assert response.status_code == 403 and "from its own board pages only" in response.text
    assert emulator.faults.rates == {}
    assert api_statuses(emulator, 1) == [200]


def test_only_this_machine_may_change_the_emulator():
    assert refusal("127.0.0.1", {"Host": "127.0.0.1:8765"}) == ""
    assert refusal("::1", {}) == ""
    assert "this machine only" in refusal("10.1.2.3", {"Host": "10.1.2.3:8765"})
    assert "this machine only" in refusal("not an address", {})


def test_a_get_changes_nothing(emulator):
    response = requests.get(f"{emulator.base_url}/boards/controls?action=faults&share_500=100", timeout=5)
    assert response.status_code == 404 and emulator.faults.rates == {}
