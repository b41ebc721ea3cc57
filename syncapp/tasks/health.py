"""The worker's heartbeat: a django-q2 schedule runs `heartbeat_task` every minute (migration 0011
creates it), and every worker process records one as it starts, so /health sees a cluster at once."""

from __future__ import annotations

import logging
import os
import socket

from django.conf import settings
from django.dispatch import receiver
from django_q.signals import post_spawn

from syncapp.services.health import worker_heartbeat_record

logger = logging.getLogger(__name__)


def worker_host() -> str:
    """This machine and cluster, e.g. "worker-2/orderops": one heartbeat row per cluster."""
    return f"{socket.gethostname()}/{settings.Q_CLUSTER.get('name', 'orderops')}"


def heartbeat_task() -> str:
    """Record that a worker of this host is alive. Idempotent: it only moves `seen_at` forward."""
    seen_at = worker_heartbeat_record(host=worker_host(), pid=os.getpid())
    return f"heartbeat {worker_host()} at {seen_at.isoformat()}"


@receiver(post_spawn, dispatch_uid="orderops-worker-heartbeat")
def heartbeat_on_spawn(sender, proc_name: str = "", **kwargs) -> None:
    """A worker process started: record the heartbeat now rather than at the next scheduled minute."""
    try:
        worker_heartbeat_record(host=worker_host(), pid=os.getpid())
    except Exception:  # the signal is sent inside the worker's start: failing here would kill the worker
        logger.exception("could not record the worker heartbeat as %s started", proc_name or "a worker")
