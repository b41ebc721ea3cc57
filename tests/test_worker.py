"""The django-q2 worker as it runs in production: a real `python manage.py qcluster` process.

The cluster uses the ORM broker (the embedded default) on the test database, so it only sees
committed data (`transactional_db`), and syncs to the test's emulator over loopback. The second
test kills the whole cluster with SIGKILL in the middle of a run, as a crashed machine would, and
checks that the dead run is released and the next run finishes the job without a duplicate. Rather
than slowing the emulator and hoping the kill lands mid-chunk, the emulator holds one request at a
known point (after monday created items the worker has not linked yet) until the kill is done.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Success

from syncapp.domain.scope import Scope
from syncapp.emulator.server import ApiResponse
from syncapp.models import FactOrderList, ItemLink, SyncRun
from syncapp.services.runs import runs_release_stale
from syncapp.services.sync import sync_run_create
from tests.board_checks import assert_consistent, read_board, write_sync_config
from tests.sync_helpers import point_at, stage_and_merge
from tests.worker_helpers import QCluster, wait_for, worker_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ORDERS = 300
DONE = ("completed", "failed", "cancelled")


@pytest.fixture
def setup(emulator, settings, tmp_path):
    point_at(emulator, settings)
    emulator.budget.per_minute = None
    config = write_sync_config(tmp_path / "sync.toml", stale_run_seconds=2, max_wait_seconds=0.5)
    settings.ORDEROPS_SYNC_CONFIG = config
    stage_and_merge(ORDERS)
    clusters: list[QCluster] = []

    def start(name: str) -> QCluster:
        cluster = QCluster(worker_environment(emulator, config), tmp_path / f"{name}.log")
        clusters.append(cluster)
        return cluster.wait_ready()

    yield emulator, start
    for cluster in clusters:
        cluster.stop()


def _finished(run_id: int) -> SyncRun | None:
    run = SyncRun.objects.get(pk=run_id)
    return run if run.status in DONE else None


def test_it_runs_a_queued_sync_in_a_real_qcluster(setup):
    emulator, start = setup
    cluster = start("qcluster")
    run = sync_run_create(environment="development", scope=Scope(), dry_run=False, via="console")  # enqueued on commit
    run = wait_for(lambda: _finished(run.pk), timeout=90, what=f"run {run.pk} in the qcluster")
    assert run.status == "completed" and run.outcome == "SUCCESS", run.error_message
    assert run.created_count == FactOrderList.objects.filter(sync_state="SYNCED").count() > 250
    task = wait_for(lambda: Success.objects.filter(name=f"run-{run.pk}").first(), timeout=20, what="task result")
    assert task.result == f"run {run.pk}: completed"
    # The worker also evaluates the run's alerts as it ends (task "alerts-run-N"); the run ran once.
    assert [name for name in cluster.processed() if name.startswith("run-")] == [f"run-{run.pk}"]
    assert_consistent(emulator)


def test_a_worker_killed_mid_run_is_released_and_the_next_run_completes_without_duplicates(setup):
    emulator, start = setup
    # The first chunk (200 lines) is synced and written back. In the second chunk, monday creates the
    # first 25 items and the worker links them at once; monday then creates the next 25, and their
    # answer is held until the worker has been killed, so the worker dies after monday made items but
    # before orderops heard of them.
    held, killed, seen = threading.Event(), threading.Event(), {"subitems": False, "creates": 0}
    api, original = emulator.api, emulator.api.handle

    def handle(headers, body, peer=""):
        if b"create_subitem" in body:
            seen["subitems"] = True
        elif seen["subitems"] and b"create_item" in body:
            seen["creates"] += 1
            if seen["creates"] == 2:
                original(headers, body, peer)
                held.set()
                killed.wait(timeout=30)
                return ApiResponse(503, b"the worker is gone", {"Content-Type": "text/plain"})
        return original(headers, body, peer)

    api.handle = handle
    first_cluster = start("killed")
    run = sync_run_create(environment="development", scope=Scope(), dry_run=False, via="console")
    assert held.wait(timeout=90), f"run {run.pk} never reached its second chunk"
    first_cluster.kill()
    killed.set()
    api.handle = original

    dead = SyncRun.objects.get(pk=run.pk)
    assert dead.status == "running", "nobody is left to record the end of the run"
    claimed = FactOrderList.objects.filter(sync_state="CLAIMED").count()
    assert claimed > 0
    orphans = set(read_board(emulator, "development").items) - set(
        ItemLink.objects.values_list("monday_item_id", flat=True)
    )
    assert len(orphans) == 25, "the items whose answer the dead worker never read are not linked yet"
    linked_before = set(ItemLink.objects.filter(created_by_run=run).values_list("monday_item_id", flat=True))
    assert linked_before == set(read_board(emulator, "development").items) - orphans, (
        "the items of every answered request are linked at once, those of the second chunk's first request too"
    )
    assert ItemLink.objects.filter(created_by_run=run).count() > dead.processed_rows - 10 > 0
    assert dead.processed_rows == 200, "the first chunk was written back before the worker died"

    # The heartbeat stops; after stale_run_seconds (2 s in this configuration) the run is released.
    released = wait_for(runs_release_stale, timeout=30, interval=0.5, what="the stale run to be released")
    assert released == [run.pk]
    dead.refresh_from_db()
    assert dead.status == "failed" and "no heartbeat" in dead.error_message
    assert dead.heartbeat_at < timezone.now() - timedelta(seconds=2)
    assert not FactOrderList.objects.filter(sync_state="CLAIMED").exists()
    assert FactOrderList.objects.filter(sync_state="PENDING").count() == claimed

    start("restarted")
    second = sync_run_create(environment="development", scope=Scope(), dry_run=False, via="console")
    second = wait_for(lambda: _finished(second.pk), timeout=90, what=f"run {second.pk}")
    assert second.status == "completed" and second.failed_count == 0, second.error_message
    recovered = set(
        ItemLink.objects.filter(monday_item_id__in=orphans, created_by_run__isnull=True).values_list(
            "monday_item_id", flat=True
        )
    )
    assert recovered == orphans, "the dead worker's items were found by AAG ORDER NUMBER, not created again"
    assert second.total_rows == claimed, "the next run took the released rows, not the ones already synced"
    assert not FactOrderList.objects.exclude(sync_state__in=["SYNCED", "COMPLETED"]).exists()
    assert_consistent(emulator)
