"""The DB-API surface mssql-django uses of its driver (mssql-python), backed by a stand-in server."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.sqlserver_standin.server import Server

SQL_DRIVER_NAME = 6
SQL_DRIVER_VER = 7
version = "5.2.0"  # mssql-django reads the driver version at import (pyodbc's attribute)


class Warning(Exception):
    pass


class Error(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


BUSY = "Connection is busy with results for another command"


class Connection:
    def __init__(self, server: Server):
        self.server = server
        self._autocommit = True
        self.cursors: list[Cursor] = []
        self.timeout = 0

    def getinfo(self, what: int) -> str:
        return "MSODBCSQL18" if what == SQL_DRIVER_NAME else "18.4.1.1"

    @property
    def autocommit(self) -> bool:
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        if value and not self._autocommit:
            self.commit()
        self._autocommit = value

    def begin(self) -> None:
        if not self.server.db.in_transaction:
            self.server.db.execute("BEGIN")

    def ensure_transaction(self) -> None:
        # ODBC in manual-commit mode opens a transaction with the first statement.
        if not self._autocommit:
            self.begin()

    def commit(self) -> None:
        if self.server.db.in_transaction:
            self.server.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.server.db.in_transaction:
            self.server.db.execute("ROLLBACK")

    def cursor(self) -> Cursor:
        cursor = Cursor(self)
        self.cursors.append(cursor)
        return cursor

    def close(self) -> None:
        self.rollback()
        self.cursors.clear()

    def _check_busy(self, cursor: Cursor) -> None:
        for other in self.cursors:
            if other is not cursor and other.unread:
                self.server.statements[-1].problems.append(
                    "a statement was sent while another cursor of the connection had unread rows (no MARS)"
                )
                raise OperationalError(f"[stand-in SQL Server] {BUSY}")


class Cursor:
    arraysize = 1

    def __init__(self, connection: Connection):
        self.connection = connection
        self.description = None
        self.rowcount = -1
        self._rows: list = []
        self._position = 0

    @property
    def unread(self) -> bool:
        return self._position < len(self._rows)

    def execute(self, sql: str, params=()) -> Cursor:
        self._reset()
        server = self.connection.server
        try:
            self.description, self._rows, self.rowcount = server.execute(self.connection, sql, tuple(params or ()))
        finally:
            self.connection._check_busy(self)
        return self

    def executemany(self, sql: str, seq_of_params) -> None:
        self._reset()
        rows = [tuple(p) for p in seq_of_params]
        try:
            self.rowcount = self.connection.server.executemany(self.connection, sql, rows)
        finally:
            self.connection._check_busy(self)

    def columns(self, table: str | None = None, **_ignored) -> Cursor:
        """ODBC's SQLColumns catalog call, which pyodbc exposes and mssql-django's introspection uses."""
        self._reset()
        self._rows = self.connection.server.odbc_columns(table or "")
        return self

    def _reset(self) -> None:
        self.description, self._rows, self._position, self.rowcount = None, [], 0, -1

    def fetchone(self):
        if self._position >= len(self._rows):
            return None
        row = self._rows[self._position]
        self._position += 1
        return list(row)

    def fetchmany(self, size: int | None = None):
        size = size or self.arraysize
        rows = self._rows[self._position : self._position + size]
        self._position += len(rows)
        return [list(r) for r in rows]

    def fetchall(self):
        rows = self._rows[self._position :]
        self._position = len(self._rows)
        return [list(r) for r in rows]

    def nextset(self) -> bool:
        self._rows, self._position = [], 0
        return False

    def close(self) -> None:
        self._rows, self._position = [], 0
        if self in self.connection.cursors:
            self.connection.cursors.remove(self)

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self):
        while (row := self.fetchone()) is not None:
            yield row
