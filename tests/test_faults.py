"""Faults during a sync of 300 orders (about 1,400 size lines), against the emulator over real HTTP.

Every test ends with `assert_consistent` (tests/board_checks.py): no duplicate group, item or
subitem on the board; every order line SYNCED, ERROR with a readable message or SKIPPED; nothing
left CLAIMED; ItemLinks and SubitemLinks one to one with what the board holds.

The client's own reaction to each fault (waits, retries, replays) is tested request by request in
tests/test_monday_client.py; here the whole engine meets them mid-run. Waits are kept short with a
copy of the sync configuration (`max_wait_seconds`, `read_timeout_seconds`); in the tests whose
point is the wait itself (complexity budget, Retry-After) the client records its waits instead of
sleeping and they advance the emulator's budget clock, so each wait is checked to the second.

Set ORDEROPS_FAULT_REPORT=path to write the retry counts of every fault run as a Markdown table.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import os
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from syncapp.domain.errors import RunBusyError
from syncapp.domain.scope import Scope
from syncapp.emulator import server as emulator_server
from syncapp.engine.claims import claimed_rows
from syncapp.engine.sync import SyncEngine
from syncapp.models import ApiCall, BoardChange, FactOrderList, ItemLink, OrderLine, RowResult, SubitemLink, SyncRun
from syncapp.monday import factory
from syncapp.monday.client import MondayClient
from syncapp.monday.types import Mutation
from syncapp.services.merge import orders_merge
from syncapp.services.sync import sync_run_create, sync_run_execute
from syncapp.sync_config import get_sync_config
from tests.board_checks import (
    assert_consistent,
    consistency_problems,
    read_board,
    replayed_keys,
    write_sync_config,
)
from tests.reconcile_helpers import assert_no_drift
from tests.sync_helpers import DEV_ITEMS, DEV_SUBITEMS, point_at, set_staged, stage_and_merge, sync

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ORDERS = 300
FAST = {
    "max_retries": 10,  # a fault on 25% of requests must not exhaust the retries by chance
    "max_wait_seconds": 0.05,  # backoff capped: the test measures recovery, not patience
    "connect_timeout_seconds": 2,
    "read_timeout_seconds": 5,
}
RESULTS: list[dict] = []


@pytest.fixture(scope="module", autouse=True)
def _fault_report():
    yield
    target = os.environ.get("ORDEROPS_FAULT_REPORT")
    if not target or not RESULTS:
        return
    lines = [
        f"# Fault runs — {datetime.date.today().isoformat()}",
        "",
        f"`ORDEROPS_FAULT_REPORT={target} pytest tests/test_faults.py` on {os.cpu_count()} cores, "
        f"{connection.vendor}. Each run syncs {ORDERS} demo orders (about 1,400 size lines) to the emulator; "
        "a '+' separates the runs of one test (the run that stopped, then the one that resumed). The waits of "
        "the two rate-limit rows are recorded, not slept: the emulator's budget clock moves with them. "
        "'duplicates' counts groups, items and sizes the board holds more than once after the run. Lost creates "
        "are looked up on the board by natural key before anything is sent again, so only lost changes are "
        "replayed; 'no replay cache' runs with the emulator's idempotency cache off, and the stale-id run's "
        "'injected' counts the whole-request 500s monday answered (batch_500 mode). Every run ends with a "
        "reconcile of the board with the faults switched off (`manage.py reconcile_board`'s path); "
        "'reconcile' is what it found.",
        "",
        "| fault | injected | requests | retries | replays | waited s | run | rows synced / error | duplicates "
        "| reconcile |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in RESULTS:
        lines.append(
            f"| {r['fault']} | {r['injected']} | {r['requests']} | {r['retries']} | {r['replays']} | "
            f"{r['waited']} | {r['status']} | {r['synced']} / {r['errors']} | {r['duplicates']} | {r['reconcile']} |"
        )
    Path(target).write_text("\n".join(lines) + "\n", encoding="utf-8")


def record(fault: str, emulator, *runs: SyncRun, injected: int | None = None) -> None:
    """Keep a fault run's figures for the report; `injected` counts faults not drawn from emulator.faults.
    The run's last check: with the faults switched off, a reconcile of the board finds no drift."""
    runs = tuple(SyncRun.objects.get(pk=r.pk) for r in runs)
    entry = {
        "fault": fault,
        "injected": injected if injected is not None else sum(emulator.faults.injected.values()) or "-",
        "requests": " + ".join(str(r.requests_count) for r in runs),
        "retries": " + ".join(str(r.retries_count) for r in runs),
        "replays": len([e for e in emulator.request_log if e.get("replayed")]),
        "waited": " + ".join(f"{r.waited_seconds:g}" for r in runs),
        "status": " then ".join(r.status for r in runs),
        "synced": FactOrderList.objects.filter(sync_state="SYNCED").count(),
        "errors": FactOrderList.objects.filter(sync_state="ERROR").count(),
        "duplicates": board_duplicates(emulator),
    }
    emulator.faults.clear()
    reconciled = assert_no_drift("development")
    requests = reconciled.requests_count
    entry["reconcile"] = f"0 differences ({requests} request{'s' if requests != 1 else ''})"
    RESULTS.append(entry)


def board_duplicates(emulator) -> int:
    """Groups, items (by AAG ORDER NUMBER) and sizes (by name under one item) the board holds twice or more."""
    board = read_board(emulator, "development")
    aag_column = get_sync_config().environment("development").item_columns["AAG ORDER NUMBER"]
    counts = [Counter(board.groups.values()), Counter(i.values.get(aag_column) for i in board.items.values())]
    counts += [Counter(name for _, name, _, _ in i.subitems) for i in board.items.values()]
    return sum(n - 1 for c in counts for n in c.values() if n > 1)


@pytest.fixture
def monday(emulator, settings, tmp_path):
    point_at(emulator, settings)
    emulator.budget.per_minute = None  # the complexity budget has its own test
    settings.ORDEROPS_SYNC_CONFIG = write_sync_config(tmp_path / "sync.toml", **FAST)
    return emulator


@pytest.fixture
def orders(monday):
    stage_and_merge(ORDERS)
    assert FactOrderList.objects.filter(sync_state="PENDING").count() == ORDERS
    return monday


def use_config(settings, tmp_path, **overrides) -> None:
    settings.ORDEROPS_SYNC_CONFIG = write_sync_config(tmp_path / "sync-override.toml", **{**FAST, **overrides})


def on_request(emulator, hook: Callable[[bytes], None]) -> None:
    """Call `hook(body)` in the emulator before it handles each API request (to change it mid-run)."""
    api = emulator.api
    original = api.handle

    def handle(headers, body, peer=""):
        hook(body)
        return original(headers, body, peer)

    api.handle = handle


def items_on(emulator, board_id: str) -> int:
    with emulator.state.lock:
        return len(emulator.state.board_items.get(board_id, {}))


def completed_cleanly(run: SyncRun) -> None:
    assert run.status == "completed", run.error_message
    assert run.failed_count == 0 and run.outcome == "SUCCESS"
    synced = [str(u) for u in RowResult.objects.filter(run=run, outcome="synced").values_list("record_uuid", flat=True)]
    assert len(synced) == run.created_count + run.updated_count + run.cancelled_count > 0
    assert not FactOrderList.objects.filter(record_uuid__in=synced).exclude(sync_state="SYNCED").exists()


# --- transient faults: retried, nothing lost, nothing doubled ------------------------------------

TRANSIENT = [
    ("500", "500", {}),
    ("502 html body", "502", {}),
    ("503", "503", {}),
    ("423 board locked", "423", {}),
    ("malformed JSON", "malformed", {}),
    ("HTML page with 200", "html", {}),
    ("429 without any hint", "429_bare", {}),
    ("429 concurrency limit", "429", {"rate_limit_code": "maxConcurrencyExceeded", "retry_in_seconds": 0}),
    ("throttle inside HTTP 200", "throttle_200", {"retry_in_seconds": 0}),
]


@pytest.mark.parametrize(("name", "kind", "setup"), TRANSIENT, ids=[t[0] for t in TRANSIENT])
def test_it_retries_each_transient_fault_and_syncs_every_row_once(orders, name, kind, setup):
    for attribute, value in setup.items():
        setattr(orders.faults, attribute, value)
    orders.faults.rates[kind] = 0.25
    run = sync("development")
    completed_cleanly(run)
    injected = orders.faults.injected.get(kind, 0)
    assert injected >= 5, f"only {injected} {kind} faults were served; the test proves nothing"
    assert run.retries_count == injected, "every fault costs exactly one retry, none is ignored"
    failed_calls = ApiCall.objects.filter(run=run, ok=False)
    assert failed_calls.count() == injected
    if "rate_limit_code" in setup:
        assert all(setup["rate_limit_code"] in c.response_body for c in failed_calls)
    assert not replayed_keys(orders), "faults served before monday ran anything are never replays"
    assert_consistent(orders)
    record(name, orders, run)


# --- rate limits whose wait is the point ---------------------------------------------------------


@pytest.fixture
def waits(orders, monkeypatch) -> list[float]:
    """The engine's client records its waits instead of sleeping, and they move the emulator's budget
    clock: a minute of monday's rate limits passes in no time, and every wait is known exactly."""
    recorded: list[float] = []
    clock = {"now": 1_000.0}

    def sleep(seconds: float) -> None:
        recorded.append(seconds)
        clock["now"] += seconds

    monkeypatch.setattr(factory, "MondayClient", functools.partial(MondayClient, sleep=sleep))
    orders.budget.clock = lambda: clock["now"]
    return recorded


def test_it_waits_out_an_exhausted_complexity_budget_for_retry_in_seconds(orders, waits, settings, tmp_path):
    # 5,000,000 per minute: the run's ~18,600,000 need four minutes' budgets. Proactive throttling is
    # off, so the client runs into COMPLEXITY_BUDGET_EXHAUSTED and must wait retry_in_seconds.
    orders.budget.per_minute = 5_000_000
    use_config(settings, tmp_path, throttle_below_fraction=0, max_wait_seconds=60)
    run = sync("development")
    completed_cleanly(run)
    limited = list(ApiCall.objects.filter(run=run, http_status=429))
    assert len(limited) == 3 and all("COMPLEXITY_BUDGET_EXHAUSTED" in c.response_body for c in limited)
    hints = [json.loads(c.response_body)["errors"][0]["extensions"]["retry_in_seconds"] for c in limited]
    assert hints == [60, 60, 60] and run.retries_count == 3
    assert waits == [60.0, 60.0, 60.0], "retry_in_seconds, not the client's own backoff, decided every wait"
    assert run.waited_seconds == 180
    assert_consistent(orders)
    record("complexity budget exhausted (429 + retry_in_seconds)", orders, run, injected=len(limited))


def test_it_honours_retry_after_on_the_minute_limit(orders, waits, settings, tmp_path):
    use_config(settings, tmp_path, max_wait_seconds=60)
    orders.faults.retry_after_seconds = 7
    orders.faults.queue(
        *(["none"] * 8 + ["429_retry_after"] + ["none"] * 15 + ["429_retry_after"]), "none", "429_retry_after"
    )
    run = sync("development")
    completed_cleanly(run)
    limited = list(ApiCall.objects.filter(run=run, http_status=429))
    assert len(limited) == 3 and all("RATE_LIMIT_EXCEEDED" in c.response_body for c in limited)
    assert all("retry_in_seconds" not in c.response_body for c in limited), "only the header says how long"
    assert run.retries_count == 3 and waits == [7.0, 7.0, 7.0] and run.waited_seconds == 21
    assert_consistent(orders)
    record("minute limit (429 + Retry-After)", orders, run)


# --- monday applied the mutation, the answer never arrived -----------------------------------------


def _lost_mutation_keys(emulator, kind: str, *, creates: bool | None = None) -> set[str]:
    """Keys of mutation requests whose answer `kind` lost; `creates` keeps only requests that create
    (True) or only the others (False). A lost create is looked up by natural key, not resent."""
    return {
        e["headers"].get("Idempotency-Key", "")
        for e in emulator.request_log
        if e.get("fault") == kind
        and e["headers"].get("Idempotency-Key")
        and not e.get("replayed")
        and (creates is None or creates == _creates(e["body"]))
    }


def _creates(body: str) -> bool:
    return any(f"{kind}(" in body for kind in ("create_item", "create_subitem", "create_group"))


def _sent_keys(emulator) -> list[str]:
    return [e["headers"].get("Idempotency-Key", "") for e in emulator.request_log]


def assert_lost_creates_recovered_not_resent(emulator, kind: str) -> None:
    """Every lost create was found on the board by natural key: its request never went out again
    (with or without the replay cache), and the board holds no duplicate (assert_consistent)."""
    sent = _sent_keys(emulator)
    lost_creates = _lost_mutation_keys(emulator, kind, creates=True)
    assert lost_creates, "the test needs lost creates"
    assert all(sent.count(key) == 1 for key in lost_creates), "a lost create was sent again"
    lookups = [
        e for e in emulator.request_log if "items_page_by_column_values" in e["body"] or "items(ids" in e["body"]
    ]
    assert lookups, "the lost creates were looked up on the board"


def test_it_replays_lost_responses_by_idempotency_key_instead_of_creating_twice(orders):
    orders.faults.rates["lost"] = 0.2
    run = sync("development")
    completed_cleanly(run)
    lost = _lost_mutation_keys(orders, "lost")
    assert len(lost) >= 3, "the test needs several lost mutation responses"
    changes = _lost_mutation_keys(orders, "lost", creates=False)
    assert changes <= replayed_keys(orders), "each applied-but-lost change was answered from the cache"
    assert_lost_creates_recovered_not_resent(orders, "lost")
    assert run.retries_count == orders.faults.injected["lost"]
    dropped = ApiCall.objects.filter(run=run, http_status=None, response_body__startswith="connection failed")
    assert dropped.count() == run.retries_count, "each was a connection closed without an answer"
    assert_consistent(orders)
    record("lost response (mutation applied)", orders, run)


def test_it_survives_connection_resets_after_monday_applied_the_mutation(orders, monkeypatch):
    def reset(handler) -> None:  # an RST instead of an orderly close: "Connection reset by peer"
        handler.close_connection = True
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()

    monkeypatch.setattr(emulator_server._Handler, "_drop_connection", reset)
    orders.faults.rates["lost"] = 0.15
    run = sync("development")
    completed_cleanly(run)
    resets = ApiCall.objects.filter(run=run, http_status=None, response_body__icontains="reset by peer")
    assert resets.count() == orders.faults.injected["lost"] >= 3
    assert _lost_mutation_keys(orders, "lost", creates=False) <= replayed_keys(orders)
    assert_lost_creates_recovered_not_resent(orders, "lost")
    assert_consistent(orders)
    record("connection reset (mutation applied)", orders, run)


def test_it_retries_a_read_timeout_and_is_answered_from_the_idempotency_cache(orders, settings, tmp_path):
    use_config(settings, tmp_path, read_timeout_seconds=1)
    orders.faults.delay_seconds = 2  # held past the read timeout; monday has applied the mutation
    orders.faults.queue(*(["none"] * 6 + ["delay"] + ["none"] * 12 + ["delay"] + ["none"] * 12 + ["delay"]))
    run = sync("development")
    completed_cleanly(run)
    timeouts = ApiCall.objects.filter(run=run, http_status=None, response_body__contains="timed out").count()
    assert timeouts >= 3 and run.retries_count == timeouts
    delayed = _lost_mutation_keys(orders, "delay")
    assert delayed, "the test needs delayed mutation requests"
    assert _lost_mutation_keys(orders, "delay", creates=False) <= replayed_keys(orders)
    sent = _sent_keys(orders)
    assert all(sent.count(k) == 1 for k in _lost_mutation_keys(orders, "delay", creates=True)), "found, not resent"
    assert_consistent(orders)
    # The final reconcile reads 500-item pages, which take longer than the 1 s timeout above.
    settings.ORDEROPS_SYNC_CONFIG = write_sync_config(tmp_path / "sync-reconcile.toml", **FAST)
    record("read timeout (mutation applied)", orders, run)


def test_it_finds_items_by_aag_order_number_when_no_replay_is_possible(orders, settings, tmp_path):
    """The first create_item request is applied, its answer lost, and the look-up on the board that
    follows fails every time: the run dies. The next run has a new idempotency scope, so nothing can be
    replayed; it must find the items."""
    use_config(settings, tmp_path, max_retries=2)
    fired = []

    def lose_first_create(body: bytes) -> None:
        if not fired and b"create_item" in body:
            fired.append(True)
            orders.faults.queue("lost", "500", "500", "500")

    on_request(orders, lose_first_create)
    first = sync("development")
    assert first.status == "failed" and "find_items" in first.error_message and "development" in first.error_message
    orphans = set(read_board(orders, "development").items)
    assert len(orphans) == 25 and not ItemLink.objects.exists(), "25 items exist that orderops does not know about"
    assert_consistent_stop(orders, created=25)
    assert set(FactOrderList.objects.values_list("sync_state", flat=True)) <= {"PENDING", "COMPLETED"}

    requests_before = len(orders.request_log)
    second = sync("development")
    completed_cleanly(second)
    assert not [e for e in orders.request_log[requests_before:] if e.get("replayed")]
    recovered = set(
        ItemLink.objects.filter(monday_item_id__in=orphans, created_by_run__isnull=True).values_list(
            "monday_item_id", flat=True
        )
    )
    assert recovered == orphans, "the orphaned items were found by AAG ORDER NUMBER and linked, not recreated"
    assert (
        second.updated_count == 25
        and second.created_count + 25 == FactOrderList.objects.filter(sync_state="SYNCED").count()
    )
    assert_consistent(orders)
    record("lost response, run died, natural-key recovery", orders, first, second)


def test_lost_responses_with_the_replay_cache_off_end_with_zero_duplicates(orders):
    """monday's replay is best-effort: here nothing is cached, so every lost create must be found on
    the board by natural key (items by AAG ORDER NUMBER, sizes by their parent and name)."""
    orders.faults.no_replay = True
    orders.faults.rates["lost"] = 0.2
    run = sync("development")
    completed_cleanly(run)
    assert orders.faults.injected["lost"] >= 5
    assert not replayed_keys(orders), "the cache is off: nothing was replayed"
    assert run.retries_count == orders.faults.injected["lost"]
    assert_lost_creates_recovered_not_resent(orders, "lost")
    assert_consistent(orders)
    record("lost response, no replay cache", orders, run)


def test_a_whole_request_500_for_one_stale_subitem_id_fails_that_row_and_syncs_the_others(orders):
    """The second run updates a size of 60 rows; one of those sizes is deleted on the board after the
    run read the items, and monday answers every request naming it with HTTP 500 (batch_500)."""
    first = sync("development")
    completed_cleanly(first)
    rows = list(FactOrderList.objects.filter(sync_state="SYNCED").order_by("aag_order_number")[:60])
    stale = SubitemLink.objects.filter(record_uuid=rows[30].pk).order_by("size_code").first()
    for row in rows:
        line = OrderLine.objects.filter(record_uuid=row.pk, qty__gt=0).order_by("size_code").first()
        set_staged(row.aag_order_number, stale.size_code if row.pk == rows[30].pk else line.size_code, 4242)
    orders_merge()
    orders.faults.batch_500 = True
    deleted: list[bool] = []

    def delete_mid_run(body: bytes) -> None:
        if not deleted and b"change_multiple_column_values" in body and str(stale.monday_subitem_id).encode() in body:
            deleted.append(True)
            with orders.state.lock:
                orders.state.set_item_state(orders.state.item(stale.monday_subitem_id), "deleted")

    on_request(orders, delete_mid_run)
    requests_before = len(orders.request_log)
    second = sync("development")
    assert second.status == "completed", second.error_message
    assert (second.updated_count, second.failed_count) == (59, 1)
    failed = FactOrderList.objects.get(pk=rows[30].pk)
    assert failed.sync_state == "ERROR" and "stale item id" in failed.api_error_message
    whole_500s = [e for e in orders.request_log[requests_before:] if e["status"] == 500]
    # Bisection: two 500s per halving of the request (ceil(log2(batch)) halvings), three for the size alone.
    batch = get_sync_config().sync.subitems_per_request
    bound = 2 * math.ceil(math.log2(batch)) + 3
    assert whole_500s and len(whole_500s) <= bound, "bisected to the one bad size, not retried until the run aborts"
    assert not SubitemLink.objects.filter(pk=stale.pk).exists(), "the link to the gone size was dropped"
    assert_consistent(orders)
    record("whole-request 500 for one stale id", orders, first, second, injected=len(whole_500s))


# --- answers that are half right -----------------------------------------------------------------


def test_it_keeps_batch_mates_when_monday_answers_200_with_partial_errors(orders):
    # UNIT OF MEASURE is a status column whose labels may not be created: each of these ten rows,
    # spread over the create requests, fails alone inside a batch that otherwise succeeds.
    rows = list(
        FactOrderList.objects.exclude(order_type__iexact="CANCELLED").order_by(
            "customer_name", "po_number", "aag_order_number"
        )
    )
    bad = rows[5::25][:10]
    FactOrderList.objects.filter(pk__in=[r.pk for r in bad]).update(unit_of_measure="CRATES")
    run = sync("development")
    assert run.status == "completed" and run.failed_count == 10
    partial = [
        c
        for c in ApiCall.objects.filter(run=run, operation="create_item", http_status=200, ok=True)
        if "ColumnValueException" in c.error
    ]
    assert len(partial) >= 5
    body = json.loads(partial[0].response_body)
    assert [v for v in body["data"].values() if isinstance(v, dict) and v.get("id")], "batch-mates were created"
    assert all(e.get("path") for e in body["errors"]), "each error names its alias"
    for row in FactOrderList.objects.filter(pk__in=[r.pk for r in bad]):
        assert row.sync_state == "ERROR" and "This status label doesn't exist: 'CRATES'" in row.api_error_message
        assert RowResult.objects.get(run=run, record_uuid=row.pk).error_code == "ColumnValueException"
    assert FactOrderList.objects.filter(sync_state="SYNCED").count() == run.created_count
    assert_consistent(orders)
    record("200 with partial errors", orders, run, injected=len(partial))


# --- faults that stop the run: it stops cleanly and the next run resumes -------------------------


def test_a_daily_limit_mid_run_stops_cleanly_and_a_later_run_resumes(orders):
    token = orders.tokens["development"]

    fired: list[bool] = []

    def spend_the_day(body: bytes) -> None:  # the limit runs out while items are being created
        if not fired and b"create_item" in body and items_on(orders, DEV_ITEMS) >= 150:
            fired.append(True)
            orders.daily.limit = orders.daily.calls_today(token)

    on_request(orders, spend_the_day)
    first = sync("development")
    assert first.status == "failed" and first.outcome == "FAILED"
    assert "DAILY_LIMIT_EXCEEDED" in first.error_message and "development environment" in first.error_message
    assert "midnight UTC" in first.error_message
    released = RowResult.objects.filter(run=first, outcome="skipped", message__startswith="not sent: the run stopped")
    # Rows whose item monday created before the stop are the run's interrupted failures; the rest were not sent.
    interrupted = RowResult.objects.filter(run=first, outcome="error", message__startswith="interrupted:")
    assert interrupted.count() == first.created_count == 150
    assert released.count() + interrupted.count() == FactOrderList.objects.filter(sync_state="PENDING").count()
    assert released.count() > 0
    assert_consistent_stop(orders, created=150)

    orders.daily.limit = None
    second = sync("development")
    completed_cleanly(second)
    assert second.updated_count == 150, "the 150 items created before the stop were found, not created again"
    assert_consistent(orders)
    record("DAILY_LIMIT_EXCEEDED mid-run, then a new run", orders, first, second, injected=1)


def test_a_revoked_token_mid_run_stops_cleanly_naming_the_environment_and_a_later_run_resumes(orders, settings):
    fired: list[bool] = []

    def revoke(body: bytes) -> None:  # the token is revoked while sizes are being written
        if not fired and b"create_subitem" in body and items_on(orders, DEV_SUBITEMS) >= 400:
            fired.append(True)
            orders.api.tokens["development"] = "revoked"

    on_request(orders, revoke)
    first = sync("development")
    assert first.status == "failed"
    assert (
        "refused the development token" in first.error_message and "MONDAY_API_TOKEN_DEVELOPMENT" in first.error_message
    )
    assert "revoked" not in first.error_message
    assert ApiCall.objects.filter(run=first, http_status=401).count() == 1, "a 401 is not retried"
    assert_consistent_stop(orders)
    sizes_before = items_on(orders, DEV_SUBITEMS)
    linked = set(SubitemLink.objects.filter(created_by_run=first).values_list("monday_subitem_id", flat=True))
    assert sizes_before >= 400 and len(linked) == sizes_before, "every size monday created before the stop is linked"
    journaled = BoardChange.objects.filter(run=first, kind="subitem_created").count()
    assert journaled == sizes_before, "and journaled, so a rollback of the stopped run removes them"

    orders.api.tokens["development"] = settings.MONDAY_API_TOKEN_DEVELOPMENT = "rotated-token"
    second = sync("development")
    completed_cleanly(second)
    assert_consistent(orders)
    assert linked <= set(SubitemLink.objects.values_list("monday_subitem_id", flat=True)), (
        "the sizes written before the stop were kept, not created again"
    )
    record("401 mid-run, then a new run", orders, first, second, injected=1)


def assert_consistent_stop(emulator, *, created: int | None = None) -> None:
    """After a stopped run: nothing claimed, released rows PENDING, the board holds no duplicate."""
    assert not FactOrderList.objects.filter(sync_state="CLAIMED").exists()
    assert set(FactOrderList.objects.values_list("sync_state", flat=True)) <= {"PENDING", "SYNCED", "COMPLETED"}
    board = read_board(emulator, "development")
    if created is not None:
        assert len(board.items) == created
    aags = [i.values.get("text_mkr5wya6") for i in board.items.values()]
    assert len(aags) == len(set(aags))


# --- two at once ----------------------------------------------------------------------------------


def _in_thread(target, results: list, name: str) -> threading.Thread:
    def run():
        try:
            results.append((name, target()))
        except Exception as error:  # reported to the test thread, which asserts on it
            results.append((name, error))
        finally:
            connection.close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_two_syncs_for_one_environment_never_run_together(orders, capsys, monkeypatch):
    barrier = threading.Barrier(2, timeout=10)

    def start():
        barrier.wait()
        return sync_run_create(environment="development", scope=Scope(), dry_run=False, via="cli", enqueue=False)

    results: list = []
    threads = [_in_thread(start, results, f"starter-{n}") for n in range(2)]
    for thread in threads:
        thread.join(timeout=30)
    created = [r for _, r in results if isinstance(r, SyncRun)]
    refused = [r for _, r in results if isinstance(r, RunBusyError)]
    assert len(created) == 1 and len(refused) == 1, results
    run = created[0]
    assert f"run {run.pk} is already writing to the Development board" in str(refused[0])

    paused, resume, seen = threading.Event(), threading.Event(), {}
    original = SyncEngine._create_items

    def pause_mid_run(self, outcomes):
        paused.set()
        resume.wait(timeout=30)
        return original(self, outcomes)

    monkeypatch.setattr(SyncEngine, "_create_items", pause_mid_run)
    try:
        worker = _in_thread(lambda: sync_run_execute(run_id=run.pk), results, "worker")
        assert paused.wait(timeout=30), "the run never reached its first create"
        with pytest.raises(RunBusyError, match=f"run {run.pk} is already writing"):
            sync_run_create(environment="development", scope=Scope(), dry_run=False, via="cli", enqueue=False)
        with pytest.raises(SystemExit) as exit_:
            call_command("sync_orders", "--env", "development")
        assert exit_.value.code == 2 and "already writing" in capsys.readouterr().err
        requests_before = len(orders.request_log)
        again = sync_run_execute(run_id=run.pk)  # a second worker handed the same task does nothing
        seen["again"] = (again.status, len(orders.request_log) - requests_before)
        dry = sync_run_create(environment="development", scope=Scope(), dry_run=True, via="cli", enqueue=False)
        assert sync_run_execute(run_id=dry.pk).status == "completed", "a dry run may look while a sync writes"
    finally:
        resume.set()
        worker.join(timeout=60)
    assert seen["again"] == ("running", 0)
    run.refresh_from_db()
    completed_cleanly(run)
    assert SyncRun.objects.filter(environment="development", dry_run=False).count() == 1
    assert_consistent(orders)
    record("two syncs at once (second refused)", orders, run)


@pytest.mark.django_db(transaction=True)
def test_a_merge_during_a_sync_keeps_the_claim_and_leaves_the_row_pending_update_with_the_new_values(
    orders, monkeypatch
):
    """merge.py's defined behaviour: a claimed row keeps its claim and takes the new values; the run's
    write-back sees the changed hash and leaves it PENDING/UPDATE, so the next sync sends them."""
    changed: list[str] = []
    original = SyncEngine._write_subitems
    notes_column = get_sync_config().environment("development").item_columns["NOTES"]

    def merge_from_another_thread(self, outcomes):
        if not changed:
            mine = [u for u in claimed_rows(self.run.id) if outcomes.get(u) and outcomes[u].plan.action == "create"]
            targets = list(FactOrderList.objects.filter(record_uuid__in=mine[:3]))

            def merge():
                for row in targets:
                    set_staged(row.aag_order_number, "NOTES", f"changed during run {self.run.id}")
                    size = (
                        OrderLine.objects.filter(record_uuid=row.record_uuid, qty__gt=0).order_by("size_code").first()
                    )
                    set_staged(row.aag_order_number, size.size_code, 4321)
                return orders_merge()

            results: list = []
            thread = _in_thread(merge, results, "merge")
            thread.join(timeout=60)
            assert results and not isinstance(results[0][1], Exception), results
            assert results[0][1].changed == 3
            changed.extend(str(r.record_uuid) for r in targets)
        return original(self, outcomes)

    monkeypatch.setattr(SyncEngine, "_write_subitems", merge_from_another_thread)
    first = sync("development")
    monkeypatch.undo()
    assert first.status == "completed" and first.failed_count == 0, first.error_message
    rows = list(FactOrderList.objects.filter(record_uuid__in=changed))
    assert len(rows) == 3
    board = {i.id: i for i in read_board(orders, "development").items.values()}
    for row in rows:
        assert (row.sync_state, row.action_type) == ("PENDING", "UPDATE"), "the merge's change is not lost"
        assert row.notes == f"changed during run {first.pk}"
        assert RowResult.objects.get(run=first, record_uuid=row.pk).outcome == "synced"
        item = board[ItemLink.objects.get(record_uuid=row.pk).monday_item_id]
        assert item.values.get(notes_column) != row.notes, "the run sent the values it had read"
        line = OrderLine.objects.get(record_uuid=row.pk, qty=4321)
        assert line.sync_state == "PENDING", "a size the run never sent is not reported SYNCED"
    assert FactOrderList.objects.filter(sync_state="PENDING").count() == 3

    second = sync("development")
    completed_cleanly(second)
    assert second.updated_count == 3 and second.created_count == 0
    board = {i.id: i for i in read_board(orders, "development").items.values()}
    for row in rows:
        item = board[ItemLink.objects.get(record_uuid=row.pk).monday_item_id]
        assert item.values.get(notes_column) == row.notes
        assert "4321" in [qty for _, _, _, qty in item.subitems]
    assert_consistent(orders)
    record("merge during a sync", orders, first, second)


# --- the check itself ------------------------------------------------------------------------------


def test_the_consistency_check_catches_duplicates_orphans_wrong_sizes_and_claims(orders):
    """A check that cannot fail proves nothing: tamper with a clean sync and watch it object."""
    run = sync("development")
    completed_cleanly(run)
    assert_consistent(orders)
    env = get_sync_config().environment("development")
    row = FactOrderList.objects.filter(sync_state="SYNCED").order_by("aag_order_number").first()
    link = ItemLink.objects.get(record_uuid=row.pk)
    sub = SubitemLink.objects.filter(record_uuid=row.pk).first()
    with orders.client("development") as client:
        client.run_batch(
            [
                Mutation(
                    "copy",
                    "create_item",
                    {
                        "board_id": env.items_board_id,
                        "group_id": link.group_id,
                        "item_name": "copy made by hand",
                        "column_values": {env.item_columns["AAG ORDER NUMBER"]: row.aag_order_number},
                    },
                ),
                Mutation(
                    "qty",
                    "change_columns",
                    {
                        "board_id": env.subitems_board_id,
                        "item_id": sub.monday_subitem_id,
                        "column_values": {env.qty_column_id: "999999"},
                    },
                ),
            ],
            operation="tamper",
            idempotency_scope="test",
        )
    with pytest.raises(AssertionError) as drift:  # the final reconcile of every fault run sees it too
        assert_no_drift("development")
    assert f"DUPLICATE: {row.aag_order_number}" in str(drift.value)
    assert f"SIZE DRIFT: {row.aag_order_number} size {sub.size_code}" in str(drift.value)
    other = FactOrderList.objects.exclude(pk=row.pk).filter(sync_state="SYNCED").first()
    FactOrderList.objects.filter(pk=other.pk).update(sync_state="CLAIMED", api_status="CLAIMED 99")
    problems = "\n".join(consistency_problems(orders, "development"))
    assert f"item for {row.aag_order_number} x2" in problems
    assert "items on the board without an ItemLink" in problems
    assert f"{row.aag_order_number} size {sub.size_code}: board 999999" in problems
    assert "1 order lines are still CLAIMED" in problems and f"{other.aag_order_number}: sync_state CLAIMED" in problems
