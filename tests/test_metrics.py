"""/metrics: Prometheus' text exposition, read from the database at scrape time, after real syncs to
the emulator over HTTP; who may read it (a bearer token, or a direct request from an allowed network)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django_q.brokers import get_broker
from prometheus_client.parser import text_string_to_metric_families

from syncapp.models import ApiCall, FactOrderList, SyncRun
from syncapp.services.health import worker_heartbeat_record
from syncapp.services.sync import sync_run_execute, sync_run_retry_failed
from tests.board_checks import write_sync_config
from tests.sync_helpers import only_po_pending, point_at, stage_and_merge, sync

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789-abcdefghij"
OUTSIDE = "10.20.30.40"


@pytest.fixture
def greyson(emulator, settings, tmp_path):
    point_at(emulator, settings)
    # Retries back off for at most 50 ms: the test counts them, it does not wait for them.
    settings.ORDEROPS_SYNC_CONFIG = write_sync_config(tmp_path / "sync.toml", max_wait_seconds=0.05)
    stage_and_merge(120)
    only_po_pending("4755")
    return emulator


def scrape(client: Client | None = None, **extra) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape from loopback."""
    response = (client or Client()).get("/metrics", REMOTE_ADDR="127.0.0.1", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def labels(**values: str) -> tuple:
    return tuple(sorted(values.items()))


def test_it_counts_the_runs_rows_requests_retries_and_budget_of_real_syncs(greyson, settings):
    emulator = greyson
    row = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    FactOrderList.objects.filter(pk=row.pk).update(customer_name="NOT YET ON THE BOARD")
    emulator.faults.queue("none", "none", "500")  # the third request fails once and is sent again
    first = sync("development")
    FactOrderList.objects.filter(pk=row.pk).update(customer_name="GREYSON")
    retry = sync_run_execute(run_id=sync_run_retry_failed(run_id=first.pk, enqueue=False).pk)
    first.refresh_from_db()
    assert (first.created_count, first.failed_count, retry.created_count) == (6, 1, 1), first.error_message
    assert first.outcome != "SUCCESS" and retry.outcome == "SUCCESS"
    assert first.retries_count >= 1

    samples = scrape()

    dev = {"environment": "development"}
    assert (
        samples[
            ("orderops_runs", labels(**dev, kind="sync", status="completed", outcome=first.outcome, dry_run="false"))
        ]
        == 1
    )
    assert (
        samples[("orderops_runs", labels(**dev, kind="retry", status="completed", outcome="SUCCESS", dry_run="false"))]
        == 1
    )
    assert samples[("orderops_rows_synced_total", labels(**dev, kind="sync"))] == 6
    assert samples[("orderops_rows_synced_total", labels(**dev, kind="retry"))] == 1
    assert samples[("orderops_rows_failed_total", labels(**dev, kind="sync"))] == 1
    assert samples[("orderops_rows_failed_total", labels(**dev, kind="retry"))] == 0
    assert samples[("orderops_monday_retries_total", labels(**dev))] == first.retries_count + retry.retries_count
    assert samples[("orderops_monday_rate_limit_wait_seconds_total", labels(**dev))] == pytest.approx(
        first.waited_seconds + retry.waited_seconds
    )
    # Every request monday received is in the log, and the one that failed is counted as not ok.
    ok = samples[("orderops_monday_requests_total", labels(**dev, ok="true"))]
    not_ok = samples[("orderops_monday_requests_total", labels(**dev, ok="false"))]
    assert ok + not_ok == emulator.api.requests_served and not_ok >= 1
    assert ("orderops_monday_requests_total", labels(environment="production", ok="true")) not in samples
    # The budget is monday's own figure after the last request (nothing else spent it since).
    left, _ = emulator.budget.remaining(emulator.tokens["development"])
    assert samples[("orderops_monday_complexity_budget_remaining", labels(**dev))] == left
    assert samples[("orderops_monday_complexity_budget_observed_timestamp_seconds", labels(**dev))] == pytest.approx(
        ApiCall.objects.filter(environment="development").latest("id").created_at.timestamp()
    )
    # The last success is the retry, not the first run (which needed attention).
    assert samples[("orderops_last_successful_run_timestamp_seconds", labels(**dev))] == pytest.approx(
        retry.finished_at.timestamp()
    )
    assert 0 <= samples[("orderops_seconds_since_last_successful_run", labels(**dev))] < 3600
    assert ("orderops_seconds_since_last_successful_run", labels(environment="production")) not in samples


def test_it_logs_the_budget_monday_reported_with_each_call(greyson):
    run = sync("development")
    calls = list(ApiCall.objects.filter(run=run, ok=True))
    assert calls
    for call in calls:
        reported = json.loads(call.response_body)["data"]["complexity"]
        assert call.budget_remaining == reported["after"], call.operation


def test_it_reports_the_queue_depth_and_the_worker(db):
    broker = get_broker()
    broker.enqueue("one task")
    broker.enqueue("another task")
    before = scrape()
    assert before[("orderops_queue_depth", labels(broker="orm"))] == 2
    assert before[("orderops_queue_up", labels(broker="orm"))] == 1
    assert ("orderops_worker_last_seen_timestamp_seconds", ()) not in before

    seen = worker_heartbeat_record(host="worker-1/orderops", pid=4242)
    after = scrape()
    assert after[("orderops_worker_last_seen_timestamp_seconds", ())] == pytest.approx(seen.timestamp())
    assert after[("orderops_worker_heartbeat_timestamp_seconds", labels(host="worker-1/orderops"))] == pytest.approx(
        seen.timestamp()
    )


def test_it_reads_a_scrape_in_eleven_aggregate_queries_however_many_runs(db, django_assert_max_num_queries):
    for number in range(40):
        SyncRun.objects.create(
            environment="development" if number % 2 else "production",
            items_board_id=1,
            subitems_board_id=2,
            status="completed",
            outcome="SUCCESS",
            created_count=number,
        )
    with django_assert_max_num_queries(11):
        samples = scrape()
    assert samples[("orderops_rows_synced_total", labels(environment="development", kind="sync"))] == sum(
        range(1, 40, 2)
    )


# --- who may read it ---------------------------------------------------------------------------


def test_it_answers_loopback_without_a_token_and_without_a_login(db):
    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200 and b"orderops_queue_depth" in response.content
    assert Client().get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_it_refuses_other_addresses_without_a_token(db):
    response = Client().get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 403
    assert b"ORDEROPS_METRICS_TOKEN" in response.content and b"orderops_" not in response.content


def test_it_refuses_loopback_when_the_request_came_through_the_proxy(db):
    # nginx connects from loopback: without this rule everyone reaching the proxy would be let in.
    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDE)
    assert response.status_code == 403


def test_it_answers_the_right_bearer_token_from_anywhere(db, settings):
    settings.ORDEROPS_METRICS_TOKEN = TOKEN
    response = Client().get(
        "/metrics", REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert response.status_code == 200 and b"orderops_runs" in response.content


@pytest.mark.parametrize("sent", [f"Bearer {TOKEN}x", "Bearer wrong", f"Bearer {TOKEN[:-1]}"])
def test_it_answers_401_to_a_wrong_token_even_from_loopback(db, settings, sent):
    settings.ORDEROPS_METRICS_TOKEN = TOKEN
    response = Client().get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=sent)
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert b"orderops_runs" not in response.content


def test_it_accepts_no_token_at_all_when_none_is_configured(db, settings):
    settings.ORDEROPS_METRICS_TOKEN = ""
    assert Client().get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert Client().get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer anything").status_code == 401


def test_it_answers_a_configured_network(db, settings):
    settings.ORDEROPS_METRICS_ALLOWED_NETWORKS = ["10.20.0.0/16", "not a network"]
    assert Client().get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="10.21.0.1").status_code == 403
    # Loopback is allowed only because the default lists it.
    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    assert Client().get("/metrics", REMOTE_ADDR=f"::ffff:{OUTSIDE}").status_code == 200


def test_it_takes_only_get(db):
    assert Client().post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405
