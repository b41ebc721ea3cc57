"""A run's journal of board changes (BoardChange): what it created and what its updates replaced.

A sync records each change as monday confirms it, buffered and written in bulk; a rollback reads
the journal of the run it undoes and marks each change reverted as soon as monday confirms the undo,
so an interrupted rollback never repeats recorded work.
"""

from __future__ import annotations

from django.utils import timezone

from syncapp.models import BoardChange, SyncRun
from syncapp.raw_sql import chunks
from syncapp.sync_config import EnvironmentConfig

# Parameters per IN (...) query: SQL Server accepts at most 2,100 per statement.
IN_CHUNK = 1000


class Journal:
    """The journal written (sync) or settled (rollback) by `run` on `env`'s boards."""

    def __init__(self, run: SyncRun, env: EnvironmentConfig):
        self.run = run
        self.env = env
        self._buffer: list[BoardChange] = []

    def record(
        self,
        kind: str,
        monday_id,
        *,
        record_uuid: str | None = None,
        size_code: str = "",
        before: dict | None = None,
        after: dict | None = None,
    ) -> None:
        """Buffer one change; `flush` writes the buffer."""
        self._buffer.append(
            BoardChange(
                run=self.run,
                environment=self.env.name,
                board_id=self.env.subitems_board_id if kind.startswith("subitem") else self.env.items_board_id,
                kind=kind,
                monday_id=str(monday_id),
                record_uuid=record_uuid,
                size_code=size_code,
                before=before or {},
                after=after or {},
            )
        )

    def flush(self) -> None:
        BoardChange.objects.bulk_create(self._buffer, batch_size=500)
        self._buffer = []

    def mark_reverted(self, change_ids: list[int]) -> int:
        """Record changes (of another run) as undone by this run; changes already undone are kept as
        they were. Returns how many were marked."""
        now = timezone.now()
        return sum(
            BoardChange.objects.filter(pk__in=chunk, reverted_at__isnull=True).update(
                reverted_at=now, reverted_by_run=self.run
            )
            for chunk in chunks(change_ids, IN_CHUNK)
        )


def run_changes(run: SyncRun) -> list[BoardChange]:
    """Everything `run` recorded, oldest first."""
    return list(BoardChange.objects.filter(run=run).order_by("id"))


def unreverted_record_uuids(run: SyncRun, record_uuids: list[str]) -> set[str]:
    """Which of `record_uuids` still have changes by `run` that no rollback has undone."""
    found: set[str] = set()
    for chunk in chunks(sorted(record_uuids), IN_CHUNK):
        found |= {
            str(u)
            for u in BoardChange.objects.filter(run=run, record_uuid__in=chunk, reverted_at__isnull=True)
            .values_list("record_uuid", flat=True)
            .distinct()
        }
    return found
