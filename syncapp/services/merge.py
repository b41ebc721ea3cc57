"""Merge swp_ORDER_LIST_SYNC into FACT_ORDER_LIST and ORDER_LIST_LINES — DELTA-free.

A staged row is matched to an order line by AAG ORDER NUMBER. New rows become PENDING/INSERT;
rows whose row_hash (SHA-256 over the configured business columns and every size quantity)
changed become PENDING/UPDATE; unchanged rows are not touched. Each size with qty > 0 becomes a
size line; a size that drops to 0 keeps its line at qty 0 so the board gets corrected.

Rows that cannot be merged safely (blank or duplicated AAG ORDER NUMBER, quantities that are not
whole numbers from 0 to MAX_QTY) are reported one by one and skipped, never half-merged. Each
batch is one transaction.

A row that a running sync has claimed keeps its CLAIMED state: its values and hash are updated,
and the sync's write-back, which compares the hash it read, leaves it PENDING/UPDATE so the next
sync sends the newer values.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from syncapp import raw_sql
from syncapp.domain.states import Action, State
from syncapp.order_tables import (
    FACT_TABLE,
    LINES_TABLE,
    STAGING_TABLE,
    OrderTableError,
    canonical_uuid,
    db_uuid,
    discover_size_columns,
    order_columns,
    sql_name,
    table_columns,
)
from syncapp.sync_config import get_sync_config

KEY = "AAG ORDER NUMBER"
MAX_QTY = 1_000_000
CANCELLED = "CANCELLED"


@dataclass
class Rejection:
    aag_order_number: str
    record_uuid: str
    reason: str

    def __str__(self) -> str:
        return f"{self.aag_order_number or '(blank AAG ORDER NUMBER)'} [{self.record_uuid}]: {self.reason}"


@dataclass
class MergeReport:
    dry_run: bool
    new: int = 0
    changed: int = 0
    cancelled: int = 0
    unchanged: int = 0
    lines_inserted: int = 0
    lines_updated: int = 0
    lines_zeroed: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def staged(self) -> int:
        return self.new + self.changed + self.unchanged + len(self.rejected)

    def summary(self) -> str:
        verb = "would merge" if self.dry_run else "merged"
        return (
            f"{verb} {self.staged} staged rows: {self.new} new, {self.changed} changed "
            f"({self.cancelled} cancelled), {self.unchanged} unchanged, {len(self.rejected)} rejected; "
            f"size lines: {self.lines_inserted} new, {self.lines_updated} changed, {self.lines_zeroed} set to 0"
        )


class MergeError(Exception):
    """The staging table cannot be merged at all (layout problems); nothing was written."""


def _canonical(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def row_hash(values: list[object], sizes: dict[str, int]) -> str:
    """SHA-256 over the hash columns' values and the non-zero size quantities."""
    parts = [_canonical(v) for v in values]
    parts.extend(f"{size}={qty}" for size, qty in sizes.items() if qty)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _quantity(value: object) -> int:
    """A staged size quantity as an int, or ValueError saying what is wrong with it."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, int):
        qty = value
    elif isinstance(value, Decimal | float) and value == int(value):
        qty = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        qty = int(value.strip())
    else:
        raise ValueError(f"{value!r} is not a whole number")
    if qty < 0:
        raise ValueError(f"{qty} is negative")
    if qty > MAX_QTY:
        raise ValueError(f"{qty} is larger than {MAX_QTY:,}, which no order line has")
    return qty


class _Merger:
    def __init__(self, *, dry_run: bool):
        self.config = get_sync_config()
        self.report = MergeReport(dry_run=dry_run)
        self.quote = sql_name
        self.now = timezone.now()
        self.case_insensitive_keys = connection.vendor == "microsoft"
        self._check_layout()

    def _check_layout(self) -> None:
        try:
            staged_columns = table_columns(STAGING_TABLE)
            self.sizes = discover_size_columns(STAGING_TABLE)
            fact_sizes = discover_size_columns(FACT_TABLE)
        except OrderTableError as error:
            raise MergeError(str(error)) from error
        business = [c.name for c in order_columns() if c.role == "order"]
        fact_columns = set(table_columns(FACT_TABLE))
        missing = [c for c in [KEY, *self.config.hash_columns] if c not in staged_columns]
        if missing:
            raise MergeError(
                f"{STAGING_TABLE} is missing the column(s) {', '.join(repr(c) for c in missing)}; nothing was merged. "
                "Restore the production layout of the staging table (configs/order_list_columns.tsv) and merge again."
            )
        unknown_sizes = [s for s in self.sizes if s not in fact_sizes]
        if unknown_sizes:
            raise MergeError(
                f"{STAGING_TABLE} has size column(s) {', '.join(unknown_sizes)} that {FACT_TABLE} lacks; nothing was "
                f"merged. Add the size column(s) to {FACT_TABLE} in the same position first."
            )
        # Business columns copied to FACT: those both tables have, sizes excluded.
        self.copy_columns = [c for c in business if c in staged_columns and c in fact_columns and c not in self.sizes]
        self.hash_index = [self.copy_columns.index(c) for c in self.config.hash_columns]
        self.key_index = self.copy_columns.index(KEY)
        self.order_type_index = self.copy_columns.index("ORDER TYPE") if "ORDER TYPE" in self.copy_columns else None

    def run(self) -> MergeReport:
        staged = self._staged_keys()
        counts = Counter(self._match(key) for _, key in staged if key)
        duplicates = {key for key, count in counts.items() if count > 1}
        existing = self._existing()
        # Read in pages, each read whole before anything is written: SQL Server connections
        # without MARS cannot write while a cursor still has unread rows.
        batch_size = min(self.config.merge_batch_rows, raw_sql.MAX_PARAMETERS)
        addressable = list(dict.fromkeys(u for u, _ in staged if u is not None))
        for batch in raw_sql.chunks(addressable, batch_size):
            self._merge_batch(self._staged_rows(batch), existing, duplicates)
        if any(u is None for u, _ in staged):
            self._merge_batch(self._staged_rows(None), existing, duplicates)
        return self.report

    def _select_staged(self) -> str:
        q = self.quote
        return (
            f"SELECT {q('record_uuid')}, {', '.join(q(c) for c in [*self.copy_columns, *self.sizes])} "  # noqa: S608
            f"FROM {q(STAGING_TABLE)} "
        )

    def _staged_keys(self) -> list[tuple[object, str]]:
        """(record_uuid, stripped AAG ORDER NUMBER) of every staged row, in key order."""
        q = self.quote
        with connection.cursor() as cursor:
            raw_sql.execute(
                cursor,
                f"SELECT {q('record_uuid')}, {q(KEY)} FROM {q(STAGING_TABLE)} ORDER BY {q(KEY)}",  # noqa: S608
            )
            return [(row[0], (row[1] or "").strip()) for row in cursor.fetchall()]

    def _staged_rows(self, record_uuids) -> list:
        """Staged rows by record_uuid (or those without one, for None), in key order."""
        q = self.quote
        with connection.cursor() as cursor:
            if record_uuids is None:
                raw_sql.execute(cursor, self._select_staged() + f"WHERE {q('record_uuid')} IS NULL")
            else:
                cursor.execute(
                    self._select_staged() + f"WHERE {q('record_uuid')} IN ({', '.join(['%s'] * len(record_uuids))})",
                    [db_uuid(u) for u in record_uuids],
                )
            rows = cursor.fetchall()
        rows.sort(key=lambda row: str(row[1 + self.key_index] or "").strip())
        return rows

    def _existing(self) -> dict[str, tuple[str, str, str, str]]:
        q = self.quote
        with connection.cursor() as cursor:
            raw_sql.execute(
                cursor,
                f"SELECT {q(KEY)}, {q('record_uuid')}, {q('row_hash')}, {q('sync_state')}, {q('action_type')} "  # noqa: S608
                f"FROM {q(FACT_TABLE)}",
            )
            return {
                self._match(row[0] or ""): (canonical_uuid(row[1]), row[2] or "", row[3] or "", row[4] or "")
                for row in cursor.fetchall()
            }

    def _match(self, key: str) -> str:
        """The form in which the database compares two order numbers.

        SQL Server's default collations ignore case and trailing spaces, so 'GRE-1' and 'gre-1 ' are
        one order line there (and one entry of a unique index): matched in Python as they are
        compared in SQL, never inserted twice. SQLite and PostgreSQL compare exactly.
        """
        return key.rstrip().upper() if self.case_insensitive_keys else key

    def _merge_batch(self, rows, existing, duplicates) -> None:
        inserts, updates, line_work = [], [], []
        for row in rows:
            staged_uuid, values, raw_sizes = (
                row[0],
                list(row[1 : 1 + len(self.copy_columns)]),
                row[1 + len(self.copy_columns) :],
            )
            key = str(values[self.key_index] or "").strip()
            if not key:
                self._reject("", staged_uuid, f"{KEY} is blank")
                continue
            if self._match(key) in duplicates:
                self._reject(key, staged_uuid, f"{KEY} {key!r} appears more than once in {STAGING_TABLE}")
                continue
            try:
                sizes = self._quantities(raw_sizes)
            except ValueError as error:
                self._reject(key, staged_uuid, str(error))
                continue
            digest = row_hash([values[i] for i in self.hash_index], sizes)
            current = existing.get(self._match(key))
            if current and current[1] == digest:
                self.report.unchanged += 1
                continue
            if self.order_type_index is not None and (values[self.order_type_index] or "").strip().upper() == CANCELLED:
                self.report.cancelled += 1
            if current is None:
                record_uuid = canonical_uuid(staged_uuid or uuid.uuid4())
                inserts.append((record_uuid, values, sizes, digest))
                existing[self._match(key)] = (record_uuid, digest, State.PENDING, Action.INSERT)
                self.report.new += 1
            else:
                record_uuid, _, state, action = current
                never_synced = action == Action.INSERT and state != State.SYNCED
                updates.append(
                    (
                        record_uuid,
                        values,
                        sizes,
                        digest,
                        (Action.INSERT if never_synced else Action.UPDATE).value,
                        state,
                    )
                )
                existing[self._match(key)] = (record_uuid, digest, state, action)
                self.report.changed += 1
            line_work.append((record_uuid, sizes, current is None))
        if self.report.dry_run:
            self._plan_lines(line_work)
            return
        with transaction.atomic():
            self._write_inserts(inserts)
            self._write_updates(updates)
            self._write_lines(line_work)

    def _quantities(self, raw_sizes) -> dict[str, int]:
        quantities = {}
        for size, value in zip(self.sizes, raw_sizes, strict=True):
            try:
                quantities[size] = _quantity(value)
            except ValueError as error:
                raise ValueError(f"size {size!r}: {error}") from None
        return quantities

    def _reject(self, key: str, record_uuid: object, reason: str) -> None:
        self.report.rejected.append(Rejection(key, str(record_uuid or ""), reason))

    def _write_inserts(self, inserts) -> None:
        if not inserts:
            return
        q = self.quote
        columns = [
            "record_uuid",
            *self.copy_columns,
            *self.sizes,
            "row_hash",
            "sync_state",
            "action_type",
            "sync_pending_at",
            "retry_count",
            "created_at",
            "updated_at",
        ]
        rows = [
            (
                db_uuid(record_uuid),
                *values,
                *[sizes[s] or None for s in self.sizes],
                digest,
                State.PENDING.value,
                Action.INSERT.value,
                self.now,
                0,
                self.now,
                self.now,
            )
            for record_uuid, values, sizes, digest in inserts
        ]
        with connection.cursor() as cursor:
            raw_sql.insert_rows(cursor, q(FACT_TABLE), [q(c) for c in columns], rows)

    def _write_updates(self, updates) -> None:
        if not updates:
            return
        q = self.quote
        assigned = [*self.copy_columns, *self.sizes, "row_hash", "updated_at"]
        set_values = ", ".join(f"{q(c)} = %s" for c in assigned)
        # A claimed row keeps its claim; see the module docstring.
        sql = (
            f"UPDATE {q(FACT_TABLE)} SET {set_values}, "  # noqa: S608 - fixed identifiers
            f"{q('sync_state')} = CASE WHEN {q('sync_state')} = %s THEN %s ELSE %s END, "
            f"{q('action_type')} = %s, {q('sync_pending_at')} = %s WHERE {q('record_uuid')} = %s"
        )
        states = (State.CLAIMED.value, State.CLAIMED.value, State.PENDING.value)
        params = [
            (
                *values,
                *[sizes[s] or None for s in self.sizes],
                digest,
                self.now,
                *states,
                action,
                self.now,
                db_uuid(record_uuid),
            )
            for record_uuid, values, sizes, digest, action, _state in updates
        ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)

    def _current_lines(self, record_uuids: list[str]) -> dict[tuple[str, str], int]:
        q = self.quote
        current: dict[tuple[str, str], int] = {}
        with connection.cursor() as cursor:
            for start in range(0, len(record_uuids), 500):
                chunk = record_uuids[start : start + 500]
                cursor.execute(
                    f"SELECT {q('record_uuid')}, {q('size_code')}, {q('qty')} FROM {q(LINES_TABLE)} "  # noqa: S608
                    f"WHERE {q('record_uuid')} IN ({', '.join(['%s'] * len(chunk))})",
                    [db_uuid(u) for u in chunk],
                )
                current.update({(canonical_uuid(r[0]), r[1]): r[2] for r in cursor.fetchall()})
        return current

    def _plan_lines(self, line_work):
        """The size lines to insert and to update (new qty, or 0 for a size that went), counted in the report."""
        known = self._current_lines([uuid_ for uuid_, _, is_new in line_work if not is_new])
        inserts, updates = [], []
        for record_uuid, sizes, is_new in line_work:
            for size, qty in sizes.items():
                before = None if is_new else known.get((record_uuid, size))
                if before is None:
                    if qty:
                        inserts.append((record_uuid, size, qty, Action.INSERT.value))
                elif before != qty:
                    updates.append((record_uuid, size, qty))
        self.report.lines_inserted += len(inserts)
        self.report.lines_updated += sum(1 for _, _, qty in updates if qty)
        self.report.lines_zeroed += sum(1 for _, _, qty in updates if not qty)
        return inserts, updates

    def _write_lines(self, line_work) -> None:
        inserts, updates = self._plan_lines(line_work)
        q = self.quote
        with connection.cursor() as cursor:
            raw_sql.insert_rows(
                cursor,
                q(LINES_TABLE),
                [
                    q(c)
                    for c in (
                        "line_uuid",
                        "record_uuid",
                        "size_code",
                        "qty",
                        "sync_state",
                        "action_type",
                        "retry_count",
                        "created_at",
                        "updated_at",
                    )
                ],
                [
                    (db_uuid(uuid.uuid4()), db_uuid(r), s, qty, State.PENDING.value, action, 0, self.now, self.now)
                    for r, s, qty, action in inserts
                ],
            )
            if updates:
                cursor.executemany(
                    f"UPDATE {q(LINES_TABLE)} SET {q('qty')} = %s, {q('sync_state')} = %s, "  # noqa: S608
                    f"{q('action_type')} = %s, {q('updated_at')} = %s "
                    f"WHERE {q('record_uuid')} = %s AND {q('size_code')} = %s",
                    [(qty, State.PENDING.value, Action.UPDATE.value, self.now, db_uuid(r), s) for r, s, qty in updates],
                )


def orders_merge(*, dry_run: bool = False) -> MergeReport:
    """Merge the staging table into the order tables (see the module docstring)."""
    return _Merger(dry_run=dry_run).run()
