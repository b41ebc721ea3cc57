"""Worker heartbeats and who may read /metrics.

A heartbeat is not audited: it is the machine saying it is alive once a minute, not a person's
action, and the audit log would drown in it.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from datetime import datetime
from enum import Enum

from django.apps import apps as installed_apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from syncapp.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

HEARTBEAT_SCHEDULE_NAME = "orderops: worker heartbeat"
HEARTBEAT_TASK = "syncapp.tasks.health.heartbeat_task"
# The heartbeat's own results are not kept: one a minute would push the runs' task results out of
# django-q2's save_limit. Its failures are still kept.
HEARTBEAT_TASK_KWARGS = "{'q_options': {'save': False}}"


def worker_heartbeat_record(*, host: str, pid: int | None = None, now: datetime | None = None) -> datetime:
    """Record that the worker on `host` is alive now. Idempotent; one row per host."""
    seen_at = now or timezone.now()
    host = host[:255]
    if WorkerHeartbeat.objects.filter(host=host).update(seen_at=seen_at, pid=pid):
        return seen_at
    try:
        with transaction.atomic():
            WorkerHeartbeat.objects.create(host=host, seen_at=seen_at, pid=pid)
    except IntegrityError:
        # A second cluster on the same host created the row between our UPDATE and INSERT.
        WorkerHeartbeat.objects.filter(host=host).update(seen_at=seen_at, pid=pid)
    return seen_at


def worker_heartbeat_schedule_ensure(*, apps=installed_apps) -> None:
    """The django-q2 schedule that runs the heartbeat task every minute (created by migration 0011;
    `apps` is the migration's registry there)."""
    schedule = apps.get_model("django_q", "Schedule")
    schedule.objects.update_or_create(
        name=HEARTBEAT_SCHEDULE_NAME,
        defaults={
            "func": HEARTBEAT_TASK,
            "kwargs": HEARTBEAT_TASK_KWARGS,
            "schedule_type": "I",  # Schedule.MINUTES; the migration's model has no constants
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def worker_heartbeat_schedule_remove(*, apps=installed_apps) -> None:
    apps.get_model("django_q", "Schedule").objects.filter(name=HEARTBEAT_SCHEDULE_NAME).delete()


class MetricsAccess(Enum):
    ALLOWED = "allowed"
    BAD_TOKEN = "bad_token"  # 401: a token was sent and it is wrong
    REFUSED = "refused"  # 403: no token, and not from an allowed network


def metrics_access_check(*, authorization: str, client_address: str, forwarded: bool) -> MetricsAccess:
    """Who may read /metrics: a request with `Authorization: Bearer <ORDEROPS_METRICS_TOKEN>`, or one
    made directly (not through a proxy) from ORDEROPS_METRICS_ALLOWED_NETWORKS.

    A proxied request (`forwarded`: it carries X-Forwarded-For or Forwarded) comes from the proxy's
    address, loopback in the documented setup, so the network rule would let the whole world in
    through nginx: such a request needs the token.
    """
    token = settings.ORDEROPS_METRICS_TOKEN
    scheme, _, sent = authorization.partition(" ")
    if scheme.lower() == "bearer" and sent.strip():
        if token and hmac.compare_digest(sent.strip().encode(), token.encode()):
            return MetricsAccess.ALLOWED
        return MetricsAccess.BAD_TOKEN
    if forwarded or not client_address:
        return MetricsAccess.REFUSED
    try:
        address = ipaddress.ip_address(client_address)
    except ValueError:
        return MetricsAccess.REFUSED
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        # A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
        address = address.ipv4_mapped
    for network in metrics_allowed_networks():
        if address.version == network.version and address in network:
            return MetricsAccess.ALLOWED
    return MetricsAccess.REFUSED


def metrics_allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """ORDEROPS_METRICS_ALLOWED_NETWORKS parsed; an entry that is not a network is skipped here
    (the system check orderops.E071 names it at startup)."""
    networks = []
    for entry in settings.ORDEROPS_METRICS_ALLOWED_NETWORKS:
        if not entry.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            logger.warning("ORDEROPS_METRICS_ALLOWED_NETWORKS: %r is not a network; ignored", entry)
    return networks
