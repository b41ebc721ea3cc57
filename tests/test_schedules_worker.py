"""A sync schedule in a real `python manage.py qcluster`: the cluster's scheduler (every ~30 s) picks
up the django-q2 Schedule a SyncSchedule drives, its worker runs the firing, and the scheduled run
syncs to the emulator, all as the "scheduler" user. The cluster shares the test database over the
ORM broker, as in the embedded setup (`make run`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule, Success

from syncapp.models import FactOrderList, ScheduleSlot, SyncRun
from syncapp.services.schedules import TICK_FUNC, schedule_set
from tests.board_checks import assert_consistent, read_board, write_sync_config
from tests.sync_helpers import point_at, stage_and_merge
from tests.worker_helpers import QCluster, wait_for, worker_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ORDERS = 30
DONE = ("completed", "failed", "cancelled")


def _finished(run_id: int) -> SyncRun | None:
    run = SyncRun.objects.get(pk=run_id)
    return run if run.status in DONE else None


def test_a_qcluster_fires_a_schedule_and_the_scheduled_run_syncs(emulator, settings, tmp_path, admin_user):
    point_at(emulator, settings)
    emulator.budget.per_minute = None
    config = write_sync_config(tmp_path / "sync.toml", max_wait_seconds=0.5)
    settings.ORDEROPS_SYNC_CONFIG = config
    stage_and_merge(ORDERS)
    schedule = schedule_set(environment="development", cron="* * * * *", actor=admin_user)
    # Due now rather than at the next minute, so the cluster's first scheduler pass fires it.
    Schedule.objects.filter(pk=schedule.q_schedule_id).update(next_run=timezone.now() - timedelta(seconds=1))

    cluster = QCluster(worker_environment(emulator, config), tmp_path / "qcluster.log").wait_ready()
    try:
        slot = wait_for(
            lambda: ScheduleSlot.objects.filter(schedule=schedule).exclude(outcome="working").order_by("slot").first(),
            timeout=75,
            interval=0.5,
            what="the cluster to fire the schedule",
        )
        assert slot.outcome == "started", (slot.outcome, slot.message, cluster.log[-3000:])
        run = wait_for(lambda: _finished(slot.run_id), timeout=60, interval=0.5, what=f"run {slot.run_id}")
        assert run.status == "completed" and run.outcome == "SUCCESS", run.error_message
        assert (run.requested_via, run.requested_by.username) == ("schedule", "scheduler")
        assert run.created_count == ORDERS == FactOrderList.objects.filter(sync_state="SYNCED").count()
        assert len(read_board(emulator, "development").items) == ORDERS
        fired = wait_for(
            lambda: Success.objects.filter(func=TICK_FUNC).first(), timeout=20, what="the firing's task result"
        )
        assert fired.result == f"schedule {schedule.pk}: started a run (run {run.pk})"
        assert f"run-{run.pk}" in cluster.processed()
    finally:
        cluster.stop()
    assert_consistent(emulator)
    assert SyncRun.objects.count() == 1, "a later firing finds nothing pending and starts no second run"
