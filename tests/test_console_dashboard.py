"""The dashboard: states, pending work, last runs, worker health, the run chart, the banner."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_q.models import OrmQ

from syncapp.models import FactOrderList
from tests.console_helpers import activate, make_run, orders

pytestmark = pytest.mark.django_db


def test_it_shows_designed_empty_states_without_orders_or_runs(ops_client):
    html = ops_client.get(reverse("dashboard")).content.decode()
    assert "The order tables are empty" in html
    assert "Nothing is pending" in html
    assert "No sync has run yet" in html
    assert "The chart appears after the first finished sync" in html


def test_it_counts_order_lines_by_state_and_pending_by_customer(ops_client):
    orders(60)
    FactOrderList.objects.filter(po_number="4755").update(sync_state="SYNCED", action_type="NONE")
    response = ops_client.get(reverse("dashboard"))
    matrix = response.context["matrix"]
    assert matrix.total == 60
    by_state = {state: total for state, _, total in matrix.rows}
    assert by_state == {"PENDING": 53, "SYNCED": 7}
    pending = {row["customer_name"]: row["lines"] for row in response.context["pending"]}
    assert sum(pending.values()) == 53 and "GREYSON" in pending
    assert "state=PENDING" in response.content.decode()


def test_it_lists_the_last_runs_with_outcome_rate_and_duration(ops_client):
    make_run(outcome="SUCCESS", success_rate=100.0, created_count=7, processed_rows=7, total_rows=7)
    make_run(status="failed", outcome="FAILED", success_rate=40.0, failed_count=3, error_message="monday was down")
    html = ops_client.get(reverse("dashboard")).content.decode()
    assert "SUCCESS" in html and "FAILED" in html
    assert "100%" in html and "40%" in html


def test_it_draws_the_run_chart_as_inline_svg(ops_client):
    make_run(success_rate=100.0, created_count=7)
    make_run(success_rate=50.0, created_count=2, failed_count=2)
    html = ops_client.get(reverse("dashboard")).content.decode()
    assert "<svg" in html and 'role="img"' in html
    assert html.count('class="chart-bar') == 2
    assert "<polyline" in html


def test_it_says_the_worker_is_down_when_no_cluster_reports(ops_client):
    OrmQ.objects.create(key="orderops", payload="x", lock=None)
    response = ops_client.get(reverse("dashboard"))
    assert response.context["worker"].state == "down"
    html = response.content.decode()
    assert "No worker is running" in html
    assert response.context["worker"].queued_tasks == 1


def test_it_says_the_worker_is_alive_when_a_cluster_reports(ops_client):
    from django.core.cache import cache
    from django_q.conf import Conf

    cache.set(Conf.Q_STAT, [f"{Conf.Q_STAT}:abc"])
    cache.set(f"{Conf.Q_STAT}:abc", "signed-stat", 30)
    response = ops_client.get(reverse("dashboard"))
    assert response.context["worker"].state == "ok"
    assert "1 django-q2 cluster running" in response.content.decode()


def test_it_shows_the_development_banner_with_board_and_emulator(ops_client, settings):
    settings.MONDAY_API_URL = settings.MONDAY_EMULATOR_URL
    html = ops_client.get(reverse("dashboard")).content.decode()
    assert "banner-development" in html and "DEVELOPMENT" in html
    assert "9609317401" in html
    assert "EMULATOR" in html


def test_it_makes_production_unmistakable_in_the_banner(ops_client, settings):
    settings.MONDAY_API_URL = "https://api.monday.com/v2"
    activate("production")
    html = ops_client.get(reverse("dashboard")).content.decode()
    assert "banner-production" in html and "PRODUCTION" in html
    assert "9200517329" in html
    assert "EMULATOR" not in html


def test_it_reads_the_dashboard_in_a_bounded_number_of_queries(ops_client, django_assert_max_num_queries):
    orders(60)
    for _ in range(12):
        make_run(success_rate=100.0, created_count=3)
    with django_assert_max_num_queries(18):
        assert ops_client.get(reverse("dashboard")).status_code == 200
