"""Running orderops on the stand-in SQL Server: the default alias swapped for the real mssql-django backend."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connections
from django.test import override_settings

from tests.sqlserver_standin.server import Server, reset

STANDIN_SETTINGS = {
    "ENGINE": "tests.sqlserver_standin",
    "USER": "orderops",
    "PASSWORD": "",
    "HOST": "sqlserver.standin",
    "PORT": "1433",
    "OPTIONS": {"python_driver": "mssql_python"},
    "TIME_ZONE": None,
    "CONN_MAX_AGE": 0,
    "CONN_HEALTH_CHECKS": False,
    "AUTOCOMMIT": True,
    "ATOMIC_REQUESTS": False,
    "TEST": {},
}


@contextmanager
def on_sql_server(name: str = "ORDERS", *, template: Server | None = None):
    """Run the block with the default alias on a fresh stand-in SQL Server (a copy of `template`
    when given, e.g. one already migrated); yields the server."""
    from tests.sqlserver_standin.base import DatabaseWrapper

    server: Server = template.copy(name) if template is not None else reset(name)
    wrapper = DatabaseWrapper({**STANDIN_SETTINGS, "NAME": name}, alias="default")
    original = connections["default"]
    connections["default"] = wrapper
    try:
        with override_settings(ORDEROPS_MANAGE_ORDER_TABLES=False):
            yield server
    finally:
        wrapper.close()
        connections["default"] = original
