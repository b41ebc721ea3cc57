"""Pagination cursors of the emulated monday API.

monday documents that "each cursor is valid for 60 minutes after the initial request"
(developer.monday.com, "Querying board items"): the life of every cursor of one paginated read is
counted from its first page, and a cursor can be sent again within that time (a retried
`next_items_page` gets the same page again). Past it the cursor is refused with
`CursorExpiredError`, the code monday's own Python SDK (monday-api-python-sdk) recovers from.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

CURSOR_TTL_SECONDS = 3600


@dataclass(frozen=True)
class CursorEntry:
    started_at: float  # when the first page of this read was served
    item_ids: tuple[str, ...]  # every match of the read, in order, fixed at the first page
    offset: int  # where the page this cursor asks for starts


class CursorExpired(Exception):
    """The cursor is past its 60 minutes, or was never issued (then `known` is False)."""

    def __init__(self, known: bool) -> None:
        super().__init__("expired" if known else "unknown")
        self.known = known


class CursorStore:
    """Cursors shared across requests (one store per emulated API, like monday's per account)."""

    MAX_CURSORS = 10_000

    def __init__(self, ttl_seconds: float = CURSOR_TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.clock = clock  # tests move it to see a cursor expire
        self._entries: dict[str, CursorEntry] = {}
        self._lock = threading.Lock()

    def first_page(self, item_ids: list[str], limit: int) -> tuple[list[str], str | None]:
        """The first `limit` ids and a cursor for the rest (None when nothing is left)."""
        return self._page(CursorEntry(self.clock(), tuple(item_ids), 0), limit)

    def next_page(self, cursor: str, limit: int) -> tuple[list[str], str | None]:
        with self._lock:
            entry = self._entries.get(cursor)
        if entry is None:
            raise CursorExpired(known=False)
        if self.clock() - entry.started_at > self.ttl_seconds:
            raise CursorExpired(known=True)
        return self._page(entry, limit)

    def _page(self, entry: CursorEntry, limit: int) -> tuple[list[str], str | None]:
        end = entry.offset + limit
        page = list(entry.item_ids[entry.offset : end])
        if end >= len(entry.item_ids):
            return page, None
        cursor = "MSw" + secrets.token_urlsafe(24)  # opaque, like monday's
        with self._lock:
            now = self.clock()
            # Kept a second TTL past expiry so a late request still hears "expired", not "unknown".
            for key in [k for k, e in self._entries.items() if now - e.started_at > 2 * self.ttl_seconds]:
                del self._entries[key]
            while len(self._entries) >= self.MAX_CURSORS:
                del self._entries[next(iter(self._entries))]
            self._entries[cursor] = CursorEntry(entry.started_at, entry.item_ids, end)
        return page, cursor
