"""pytest plugin: every ORM query the suite runs is also compiled for SQL Server and checked.

Whatever database the suite runs on, each query a test sends through the ORM (select, update,
delete, insert) is compiled a second time by the real mssql-django compiler against a shadow
connection that never connects, formatted by mssql-django's own CursorWrapper exactly as the
driver would receive it, and checked by the stand-in's rules (tests/sqlserver_standin/rules.py):
no `%%`, at most 2,100 parameters, UNIQUEIDENTIFIER columns receive dashed UUIDs, text that parses
as T-SQL. A test whose queries SQL Server would refuse fails in its teardown with the statements.

Raw SQL is not seen here (it is written for the database it runs on); tests/test_sqlserver.py runs
those paths on the stand-in. Set ORDEROPS_SQLSERVER_SHADOW=0 to switch the check off.

Load it from tests/conftest.py with `pytest_plugins = ["tests.sqlserver_shadow"]`.
"""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db.models.sql import compiler as sql_compiler

from tests.sqlserver_standin import rules

SHADOW_ALIAS = "sqlserver_shadow"
ENABLED = os.environ.get("ORDEROPS_SQLSERVER_SHADOW", "1") != "0"

_problems: list[tuple[str, str]] = []
_shadow = None
_catalogue: rules.Catalogue | None = None


class _RecordingCursor:
    """What the driver would receive: checked, never executed."""

    description = None
    rowcount = 0

    def execute(self, sql, params=()):
        for problem in rules.check(sql, params, _shadow_catalogue()):
            _problems.append((problem, sql))
        return self

    def executemany(self, sql, seq_of_params):
        for params in seq_of_params:
            self.execute(sql, params)

    def fetchone(self):
        return None

    def fetchall(self):
        return []

    def close(self):
        pass


def _shadow_connection():
    global _shadow
    if _shadow is None:
        from django.db.backends.utils import CursorWrapper as DjangoCursorWrapper
        from mssql.base import CursorWrapper

        from tests.sqlserver_helpers import STANDIN_SETTINGS
        from tests.sqlserver_standin.base import DatabaseWrapper

        shadow = DatabaseWrapper({**STANDIN_SETTINGS, "NAME": "SHADOW"}, alias=SHADOW_ALIAS)
        DatabaseWrapper._known_versions[SHADOW_ALIAS] = 2022
        DatabaseWrapper._known_azures[SHADOW_ALIAS] = False
        shadow.driver_charset = None
        shadow.supports_mars = False
        shadow._is_microsoft_driver = True
        shadow.get_autocommit = lambda: False  # compiling select_for_update asks; it never connects
        # mssql-django sends IN lists over 2,048 values through a temp table at compile time.
        shadow.cursor = lambda: DjangoCursorWrapper(CursorWrapper(_RecordingCursor(), shadow), shadow)
        _shadow = shadow
    return _shadow


def _shadow_catalogue() -> rules.Catalogue:
    global _catalogue
    if _catalogue is None:
        from django.apps import apps

        from tests.sqlserver_standin.server import CONFIGS, PRODUCTION_TABLES

        catalogue = rules.Catalogue()
        for table, definition, _ in PRODUCTION_TABLES:
            lines = (CONFIGS / definition).read_text(encoding="utf-8").splitlines()[1:]
            catalogue.add_table(table, [(line.split("\t")[1], line.split("\t")[2]) for line in lines if line])
        shadow = _shadow_connection()
        for model in apps.get_models(include_auto_created=True):
            if model._meta.managed:
                columns = [
                    (f.column, f.db_type(shadow) or "") for f in model._meta.local_fields if f.column is not None
                ]
                catalogue.add_table(model._meta.db_table, columns)
        _catalogue = catalogue
    return _catalogue


def _statements(compiler) -> list[tuple[str, tuple]]:
    from django.db import connections

    shadow = _shadow_connection()
    # Some compilers find their inner compiler by alias (aggregates): make the alias resolve, in
    # this thread only, without adding a database Django would set up for tests.
    connections[SHADOW_ALIAS] = shadow
    query = compiler.query.clone()
    if isinstance(compiler, sql_compiler.SQLInsertCompiler):
        # Batch as mssql-django would (its own limit), not as the primary database did.
        objs = list(query.objs)
        size = shadow.ops.bulk_batch_size(query.fields or [None], objs) or len(objs) or 1
        statements = []
        for start in range(0, max(len(objs), 1), size):
            part = query.clone()
            part.objs = objs[start : start + size]
            shadow_compiler = part.get_compiler(using=SHADOW_ALIAS)
            shadow_compiler.returning_fields = compiler.returning_fields
            statements += shadow_compiler.as_sql()
        return statements
    return [query.get_compiler(using=SHADOW_ALIAS).as_sql()]


def _check(compiler) -> None:
    if compiler.connection.vendor == "microsoft":
        return  # the stand-in checks its own statements
    from django.db.backends.utils import CursorWrapper as DjangoCursorWrapper
    from mssql.base import CursorWrapper

    try:
        statements = _statements(compiler)
    except (EmptyResultSet, FullResultSet):
        return
    except Exception as error:
        import traceback

        _problems.append(
            (f"mssql-django cannot compile this query: {type(error).__name__}: {error}", traceback.format_exc()[-3000:])
        )
        return
    shadow = _shadow_connection()
    for sql, params in statements:
        if sql:
            DjangoCursorWrapper(CursorWrapper(_RecordingCursor(), shadow), shadow).execute(sql, params)


def _wrap(method):
    def execute_sql(self, *args, **kwargs):
        _check(self)
        return method(self, *args, **kwargs)

    execute_sql.__wrapped__ = method
    return execute_sql


def pytest_configure(config):
    if ENABLED:
        for cls in (sql_compiler.SQLCompiler, sql_compiler.SQLInsertCompiler):
            cls.execute_sql = _wrap(cls.__dict__["execute_sql"])


@pytest.fixture(autouse=True)
def _sqlserver_shadow_compile():
    """Fail the test if SQL Server would refuse a query it sent through the ORM."""
    _problems.clear()
    yield
    if _problems:
        found = list(dict.fromkeys(_problems))
        _problems.clear()
        report = "\n".join(f"- {problem}\n    {sql[:3000]}" for problem, sql in found[:10])
        pytest.fail(f"SQL Server would refuse {len(found)} statement shape(s) this test sent:\n{report}", pytrace=False)
