"""A run's live progress: the one writer of the fields a run updates while it executes.

The console polls `current_step`, `heartbeat_at`, `processed_rows` and the monday client's counters;
the stale-run check reads `heartbeat_at`. Sync and rollback runs both report through `RunProgress`,
so those fields are written in one place.
"""

from __future__ import annotations

from django.utils import timezone

from syncapp.models import SyncRun
from syncapp.monday.client import MondayClient
from syncapp.monday.errors import MondayError


class RunStopped(Exception):
    """The run must stop (cancelled, or monday refuses to go on); unfinished rows are released."""


def stop_reason(error: Exception) -> str:
    """The text a stopped run shows: monday's own message, or the exception's type and text."""
    if isinstance(error, MondayError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def client_stats(client: MondayClient) -> dict:
    """The client's counters under the run's field names."""
    stats = client.stats
    return {
        "requests_count": stats.requests,
        "mutations_count": stats.mutations,
        "retries_count": stats.retries,
        "complexity_used": stats.complexity_used,
        "waited_seconds": round(stats.waited_seconds, 1),
    }


class RunProgress:
    """Writes one run's live fields; every write is also a heartbeat."""

    def __init__(self, run_id: int):
        self.run_id = run_id

    def _update(self, **fields) -> None:
        SyncRun.objects.filter(pk=self.run_id).update(heartbeat_at=timezone.now(), **fields)

    def step(self, text: str) -> None:
        """What the run is doing now (also the monday client's notes: waiting, retrying)."""
        self._update(current_step=text[:200])

    def processed(self, n: int, stats: dict | None = None) -> None:
        """Rows done so far, with the client's counters (`client_stats`) when given."""
        self._update(processed_rows=n, **(stats or {}))

    def cancel_requested(self) -> bool:
        return SyncRun.objects.filter(pk=self.run_id, cancel_requested=True).exists()
