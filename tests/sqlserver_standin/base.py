"""mssql-django's own DatabaseWrapper, connected to the stand-in server instead of a driver.

Only the driver is replaced: the compiler, schema editor, operations, introspection and
CursorWrapper are mssql-django 2.0.0's, with the `python_driver=mssql_python` code path.
"""

from __future__ import annotations

from mssql import base as mssql_base

from tests.sqlserver_standin import driver
from tests.sqlserver_standin.server import server_for


class DatabaseWrapper(mssql_base.DatabaseWrapper):
    Database = driver

    def get_new_connection(self, conn_params):
        self.Database = driver
        self._use_python_driver = True
        return driver.Connection(server_for(conn_params["NAME"]))

    def get_connection_params(self):
        params = super().get_connection_params()
        params["OPTIONS"] = {**params.get("OPTIONS", {}), "python_driver": "mssql_python"}
        return params
