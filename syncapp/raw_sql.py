"""Raw SQL that holds on every backend orderops runs on, SQL Server's limits first.

- SQL Server takes at most 2,100 parameters per statement and 1,000 rows per VALUES list:
  `chunks` and `insert_rows` keep under both.
- Names are quoted with `order_tables.sql_name`, which doubles `%` for the backends' parameter
  style. SQLite and PostgreSQL format even an empty parameter list (turning `%%` back into `%`);
  mssql-django formats only when there are parameters, so `execute` sends a statement without
  parameters unformatted, with `%%` written back as `%`.
- mssql-python has no MARS: a connection cannot send a statement while a cursor still has unread
  rows. Read with `fetchall` (in pages where a table is large) before writing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

MAX_PARAMETERS = 2000  # SQL Server's limit is 2,100; the driver may add a few of its own
MAX_VALUES_ROWS = 1000  # SQL Server's limit for one table value constructor


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def execute(cursor, sql: str, params: Sequence = ()) -> None:
    """Execute SQL built with sql_name()-quoted names, the same way on every backend."""
    if params:
        cursor.execute(sql, params)
    else:
        cursor.execute(sql.replace("%%", "%"))


def insert_rows(cursor, table_sql: str, columns_sql: Sequence[str], rows: Iterable[Sequence]) -> int:
    """INSERT rows; returns the statements sent.

    On SQL Server many rows go in one statement, as many as its limits allow: each statement is a
    round trip, and the driver sends an executemany row by row. SQLite and PostgreSQL take one
    prepared statement for all rows (executemany), which is faster there.
    `table_sql` and `columns_sql` are already quoted (sql_name); values always travel as parameters.
    """
    rows = list(rows)
    if not rows:
        return 0
    row_sql = f"({', '.join(['%s'] * len(columns_sql))})"
    columns = ", ".join(columns_sql)
    head = f"INSERT INTO {table_sql} ({columns}) VALUES "  # noqa: S608 - quoted identifiers
    if cursor.db.vendor != "microsoft":
        cursor.executemany(head + row_sql, rows)
        return 1
    per_statement = max(1, min(MAX_VALUES_ROWS, MAX_PARAMETERS // len(columns_sql)))
    statements = 0
    for chunk in chunks(rows, per_statement):
        cursor.execute(head + ", ".join([row_sql] * len(chunk)), [value for row in chunk for value in row])
        statements += 1
    return statements
