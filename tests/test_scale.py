"""Several workers: two django-q2 clusters consume from one Redis broker and share one database.

Each cluster is a real `python manage.py qcluster` process started with REDIS_URL, as on two
machines (docs/deployment.md). Both environments' syncs are enqueued at once; each run takes its
own order lines (a FACT_ORDER_LIST row is claimed by one run at a time), and both must complete
with correct boards and no duplicate.

The database is the suite's: SQLite in WAL mode with a busy timeout under `make test` (the two
clusters' workers then write to one file from four processes), PostgreSQL in CI's second pass.

Redis must be reachable at 127.0.0.1:6379. Without it the test is skipped with a message, except
when CI=true, where it fails. It claims an empty Redis database (1-15) for itself and empties it
again afterwards, so it never consumes another cluster's tasks or leaves keys behind.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest
import redis
from django_q.brokers.redis_broker import Redis as RedisBroker
from django_q.models import Success
from django_q.tasks import async_task

from syncapp.domain.scope import Scope
from syncapp.models import FactOrderList, SyncRun
from syncapp.services.orders import orders_mark
from syncapp.services.sync import sync_run_create
from tests.board_checks import assert_consistent, read_board, write_sync_config
from tests.reconcile_helpers import assert_no_drift
from tests.sync_helpers import point_at, stage_and_merge
from tests.worker_helpers import QCluster, wait_for, worker_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
LOCK = "orderops:test-scale:lock"
ORDERS = 300


@pytest.fixture
def redis_url():
    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        message = f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} ({error}); the two-cluster test needs it."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    marker = uuid.uuid4().hex
    for db in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
        if client.set(LOCK, marker, nx=True, ex=900):
            if client.dbsize() == 1:
                break
            client.delete(LOCK)
    else:
        pytest.fail("no empty Redis database (1-15) to run the two-cluster test in")
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    if client.get(LOCK) == marker.encode():
        for key in client.scan_iter("django_q:*", count=500):
            client.delete(key)
        client.delete(LOCK)


def broker_for(url: str) -> RedisBroker:
    """django-q2's Redis broker on `url` (this test process's settings use the ORM broker)."""

    class Broker(RedisBroker):
        @staticmethod
        def get_connection(list_key: str | None = None) -> redis.Redis:
            return redis.from_url(url)

    return Broker()


def test_two_clusters_on_one_redis_broker_sync_both_environments_at_once(emulator, settings, tmp_path, redis_url):
    point_at(emulator, settings)
    emulator.budget.per_minute = None
    emulator.faults.latency_ms = 30  # runs of a few seconds, so they overlap
    config = write_sync_config(tmp_path / "sync.toml")
    settings.ORDEROPS_SYNC_CONFIG = config
    stage_and_merge(ORDERS)
    pos = sorted(set(FactOrderList.objects.values_list("po_number", flat=True)))
    scopes = {"development": Scope.parse(pos=pos[::2]), "production": Scope.parse(pos=pos[1::2])}
    orders_mark(state="pending", scope=scopes["production"], environment="production", via="cli")
    rows = {
        env: [
            str(u) for u in FactOrderList.objects.filter(po_number__in=scope.pos).values_list("record_uuid", flat=True)
        ]
        for env, scope in scopes.items()
    }

    env = worker_environment(emulator, config, REDIS_URL=redis_url)
    clusters = [QCluster(env, tmp_path / f"cluster-{n}.log", workers=2) for n in (1, 2)]
    try:
        for cluster in clusters:
            cluster.wait_ready()
        broker = broker_for(redis_url)
        live = wait_for(
            lambda: len(list(broker.connection.scan_iter("django_q:orderops:cluster:*"))) == 2,
            timeout=15,
            what="both clusters to report to the broker",
        )
        assert live
        runs = {
            name: sync_run_create(
                environment=name,
                scope=scope,
                dry_run=False,
                via="cli",
                enqueue=False,
                confirm_text="9200517329" if name == "production" else "",
            )
            for name, scope in scopes.items()
        }
        for run in runs.values():
            async_task(
                "syncapp.tasks.run_task", run.pk, task_name=f"run-{run.pk}", group="orderops-sync", broker=broker
            )
        finished = wait_for(
            lambda: all(
                r.status in ("completed", "failed")
                for r in SyncRun.objects.filter(pk__in=[r.pk for r in runs.values()])
            ),
            timeout=120,
            what="both runs",
        )
        assert finished
        names = [f"run-{run.pk}" for run in runs.values()]
        wait_for(lambda: Success.objects.filter(name__in=names).count() == 2, timeout=30, what="both task results")
        processed = {cluster.log_path.name: cluster.processed() for cluster in clusters}
    finally:
        for cluster in clusters:
            cluster.stop()

    done = {name: SyncRun.objects.get(pk=run.pk) for name, run in runs.items()}
    for name, run in done.items():
        assert run.status == "completed" and run.failed_count == 0, f"{name}: {run.error_message}"
        assert run.total_rows == len(rows[name])
        assert Success.objects.filter(name=f"run-{run.pk}").count() == 1, "each task ran exactly once"
    dev, prod = done["development"], done["production"]
    assert dev.started_at < prod.finished_at and prod.started_at < dev.finished_at, "the two runs ran at the same time"
    # The clusters also ran each run's alert evaluation and the schedules' ticks; only run tasks count here.
    all_tasks = sorted(name for names in processed.values() for name in names if re.fullmatch(r"run-\d+", name))
    assert all_tasks == sorted(f"run-{r.pk}" for r in done.values()), processed

    for name in scopes:
        board = read_board(emulator, name)
        synced = FactOrderList.objects.filter(record_uuid__in=rows[name], sync_state="SYNCED").count()
        assert len(board.items) == synced > 100
        assert_consistent(emulator, name, scope=rows[name])
        assert_no_drift(name)  # the product's own check: a reconcile of the whole board finds nothing
    assert set(FactOrderList.objects.values_list("sync_state", flat=True)) <= {"SYNCED", "COMPLETED"}
    print(f"tasks per cluster: {processed}")
