"""/health: the database, the queue and the worker's heartbeat, without a login and without secrets;
the heartbeat task and its schedule; the settings' checks; a real qcluster's heartbeat arriving."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import django
import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from syncapp.checks import check_health_settings
from syncapp.models import SyncRun, WorkerHeartbeat
from syncapp.selectors.health import worker_last_seen
from syncapp.services.health import (
    HEARTBEAT_SCHEDULE_NAME,
    worker_heartbeat_record,
    worker_heartbeat_schedule_ensure,
)
from syncapp.tasks.health import heartbeat_task, worker_host
from tests.worker_helpers import QCluster, wait_for, worker_environment

pytestmark = pytest.mark.django_db


def health(client: Client | None = None) -> tuple[int, dict]:
    response = (client or Client()).get("/health")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def _run(**fields) -> SyncRun:
    return SyncRun.objects.create(
        **{"environment": "development", "items_board_id": 1, "subitems_board_id": 2, **fields}
    )


def test_it_is_ok_when_a_worker_beat_within_the_limit():
    heartbeat_task()
    status, body = health()
    assert status == 200 and body["status"] == "ok", body
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["queue"] == {"ok": True, "broker": "orm", "depth": 0}
    worker = body["checks"]["worker"]
    assert worker["ok"] is True and worker["age_seconds"] < 60
    assert worker["last_seen"] == WorkerHeartbeat.objects.get().seen_at.isoformat()


def test_it_is_degraded_but_200_when_no_worker_was_ever_seen():
    status, body = health()
    assert status == 200 and body["status"] == "degraded"
    assert body["checks"]["worker"] == {"ok": False, "last_seen": None, "age_seconds": None}
    assert body["checks"]["database"]["ok"] is True


def test_it_is_degraded_when_the_worker_is_silent_longer_than_the_setting(settings):
    worker_heartbeat_record(host="worker-1/orderops", now=timezone.now() - timedelta(minutes=11))
    status, body = health()
    assert (status, body["status"], body["checks"]["worker"]["ok"]) == (200, "degraded", False)
    assert body["checks"]["worker"]["age_seconds"] >= 660
    settings.ORDEROPS_HEALTH_WORKER_SILENCE_MINUTES = 15
    assert health()[1]["status"] == "ok"


def test_it_counts_a_run_a_worker_is_executing_as_a_sign_of_life():
    worker_heartbeat_record(host="worker-1/orderops", now=timezone.now() - timedelta(hours=2))
    busy = timezone.now() - timedelta(seconds=30)
    # A sync started from the CLI runs in the CLI's process: it proves nothing about the worker.
    _run(status="running", heartbeat_at=busy, requested_via="cli")
    assert health()[1]["status"] == "degraded"
    _run(status="running", heartbeat_at=busy, requested_via="console", environment="production")
    assert worker_last_seen() == busy
    assert health()[1]["status"] == "ok"


def test_it_answers_503_when_the_database_does_not():
    def refuse(execute, sql, params, many, context):
        raise OperationalError("could not connect to server sqlserver.internal")

    with connection.execute_wrapper(refuse):
        status, body = health()
    assert status == 503 and body["status"] == "down"
    assert body["checks"]["database"] == {"ok": False}
    assert body["checks"]["queue"]["ok"] is False and body["checks"]["worker"]["ok"] is False
    assert "sqlserver.internal" not in json.dumps(body)


def test_it_needs_no_login_while_the_console_does():
    anonymous = Client()
    assert anonymous.get("/").status_code == 302  # the login requirement is on
    assert health(anonymous)[0] == 200


def test_it_shows_no_secrets_hosts_or_versions(settings):
    settings.MONDAY_API_TOKEN_DEVELOPMENT = "dev-token-7f3a9c1e5b"
    settings.MONDAY_API_TOKEN_PRODUCTION = "prod-token-2d8e4f6a0c"
    settings.ORDEROPS_METRICS_TOKEN = "metrics-token-0123456789-abcdefghij"
    heartbeat_task()
    text = Client().get("/health").content.decode()
    secrets = [
        "dev-token-7f3a9c1e5b",
        "prod-token-2d8e4f6a0c",
        "metrics-token-0123456789-abcdefghij",
        settings.SECRET_KEY,
        str(connection.settings_dict["NAME"]),
        socket.gethostname(),
        django.get_version(),
    ]
    if connection.settings_dict.get("PASSWORD"):
        secrets.append(connection.settings_dict["PASSWORD"])
    assert json.loads(text)["status"] == "ok"
    assert [secret for secret in secrets if secret in text] == []


def test_it_takes_only_get():
    assert Client().post("/health").status_code == 405


def test_the_heartbeat_task_records_one_row_per_host_and_moves_it_forward():
    before = timezone.now()
    assert heartbeat_task().startswith(f"heartbeat {worker_host()} at ")
    first = WorkerHeartbeat.objects.get()
    assert first.host == worker_host() and socket.gethostname() in first.host and first.seen_at >= before
    heartbeat_task()
    second = WorkerHeartbeat.objects.get()
    assert second.pk == first.pk and second.seen_at >= first.seen_at
    worker_heartbeat_record(host="worker-2/orderops")
    assert WorkerHeartbeat.objects.count() == 2
    assert worker_last_seen() == WorkerHeartbeat.objects.latest("seen_at").seen_at


def test_the_migration_schedules_the_heartbeat_every_minute_without_keeping_its_results():
    schedule = Schedule.objects.get(name=HEARTBEAT_SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        "syncapp.tasks.health.heartbeat_task",
        Schedule.MINUTES,
        1,
        -1,
    )
    assert schedule.kwargs == "{'q_options': {'save': False}}"
    worker_heartbeat_schedule_ensure()  # idempotent
    assert Schedule.objects.filter(name=HEARTBEAT_SCHEDULE_NAME).count() == 1


def test_it_checks_the_health_settings(settings):
    assert check_health_settings() == []
    settings.ORDEROPS_HEALTH_WORKER_SILENCE_MINUTES = 0
    settings.ORDEROPS_METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32", "10.0.0.0/33", "intranet"]
    settings.ORDEROPS_METRICS_TOKEN = "tiny-x9q"
    problems = check_health_settings()
    assert [p.id for p in problems] == ["orderops.E070", "orderops.E071", "orderops.E071", "orderops.E072"]
    assert "ORDEROPS_HEALTH_WORKER_SILENCE_MINUTES" in problems[0].msg and "'intranet'" in problems[2].msg
    assert "ORDEROPS_METRICS_TOKEN" in problems[3].msg and "tiny-x9q" not in problems[3].msg


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_qcluster_beats_as_it_starts_and_then_every_minute(emulator, settings, tmp_path):
    # The transactional flush removed the migration's schedule; put it back as migrate would.
    worker_heartbeat_schedule_ensure()
    cluster = QCluster(worker_environment(emulator, settings.ORDEROPS_SYNC_CONFIG), tmp_path / "qcluster.log")
    try:
        cluster.wait_ready()
        # Each worker process records a heartbeat as it starts (django-q2's post_spawn).
        wait_for(lambda: WorkerHeartbeat.objects.exists(), timeout=20, what="the heartbeat of a starting worker")
        assert health()[1]["status"] == "ok"
        WorkerHeartbeat.objects.all().delete()
        # The scheduler looks at its schedules every 30 s; the heartbeat schedule is due at once.
        beat = wait_for(lambda: WorkerHeartbeat.objects.first(), timeout=75, what="the scheduled heartbeat")
        assert beat.host == worker_host() and beat.pid != cluster.pid
        assert f"from schedule [{HEARTBEAT_SCHEDULE_NAME}]" in cluster.log
        status, body = health()
        assert status == 200 and body["status"] == "ok", body
    finally:
        cluster.stop()
