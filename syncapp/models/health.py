"""Worker heartbeats: when each django-q2 cluster last proved it was alive, read by /health,
/metrics and the alerts."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per worker host and cluster, its `seen_at` moved forward by the heartbeat task.

    A row per host (not one shared row) so the metrics can tell which host went quiet when several
    hosts share one Redis broker."""

    host = models.CharField(max_length=255, unique=True, help_text="host name and cluster name")
    seen_at = models.DateTimeField()
    pid = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return f"{self.host} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
