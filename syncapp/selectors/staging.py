"""A cheap fingerprint of swp_ORDER_LIST_SYNC: has the staging table changed since the last merge?

An after-refresh schedule asks this every minute, so the answer is computed by the database in one
statement and only two numbers come back: the row count and an order-independent checksum of every
row's values. Nothing of the 433 columns crosses the wire.

- SQL Server: `COUNT_BIG(*)` and `CHECKSUM_AGG(BINARY_CHECKSUM(*))`. BINARY_CHECKSUM is case- and
  byte-exact over every comparable column (it skips NVARCHAR(MAX), which in this table holds only the
  API payload columns orderops itself writes on FACT_ORDER_LIST). A rebuild that gives the rows new
  record_uuids counts as a change; the merge then finds what really changed.
- PostgreSQL: the sum of the first 40 bits of md5 over each row's text form.
- SQLite (the embedded setup): the sum of a 40-bit hash of each row's quoted values, concatenated by
  SQLite itself; SQLite has no hash function of its own, so one is registered on the connection (it
  runs in-process, nothing travels).

A checksum can in principle collide; together with the row count that is accepted for a trigger
whose worst case is one refresh merged an hour later.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import connection

from syncapp import raw_sql
from syncapp.order_tables import STAGING_TABLE, sql_name

SQLITE_HASH_FUNCTION = "orderops_row_hash40"


@dataclass(frozen=True)
class StagingFingerprint:
    rows: int
    checksum: int

    def __str__(self) -> str:
        return f"{self.rows}:{self.checksum}"


def _hash40(text: str | None) -> int:
    if text is None:
        return 0
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=5).digest(), "big")


def fingerprint_sql() -> str:
    """The one statement for the current database (public so the SQL Server test can name it)."""
    table = sql_name(STAGING_TABLE)
    if connection.vendor == "microsoft":
        return f"SELECT COUNT_BIG(*), CHECKSUM_AGG(BINARY_CHECKSUM(*)) FROM {table}"  # noqa: S608 - fixed identifier
    if connection.vendor == "postgresql":
        return (
            "SELECT COUNT(*), COALESCE(SUM(('x' || SUBSTR(MD5(CAST(s AS TEXT)), 1, 10))::BIT(40)::BIGINT), 0) "  # noqa: S608
            f"FROM {table} AS s"
        )
    # The live table's columns (size columns come and go), read with one PRAGMA: Django's table
    # description costs a query per column on SQLite.
    with connection.cursor() as cursor:
        raw_sql.execute(cursor, f"PRAGMA table_info({table})")
        columns = [row[1] for row in cursor.fetchall()]
    row_text = " || ".join(f"QUOTE({sql_name(c)})" for c in columns)
    return f"SELECT COUNT(*), COALESCE(SUM({SQLITE_HASH_FUNCTION}({row_text})), 0) FROM {table}"  # noqa: S608


def staging_fingerprint() -> StagingFingerprint:
    """The staging table's row count and checksum, read in one statement."""
    sql = fingerprint_sql()
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        connection.connection.create_function(SQLITE_HASH_FUNCTION, 1, _hash40, deterministic=True)
    with connection.cursor() as cursor:
        raw_sql.execute(cursor, sql)
        rows, checksum = cursor.fetchone()
    return StagingFingerprint(rows=int(rows or 0), checksum=int(checksum or 0))
