"""Model fields whose database form differs on SQL Server."""

from __future__ import annotations

import uuid

from django.db import models


class UniqueIdentifierField(models.UUIDField):
    """A UUID that SQL Server stores as its native UNIQUEIDENTIFIER.

    The production order tables key their rows with UNIQUEIDENTIFIER columns. mssql-django maps a
    plain UUIDField to char(32) and sends 32 hex digits without dashes, which SQL Server cannot
    convert (Msg 8169), and a char(32) column compared with a UNIQUEIDENTIFIER one fails the same
    way. This field declares `uniqueidentifier` (also the type of the #Temp_params table mssql-django
    fills for IN lists over 2,048 values) and sends the dashed text SQL Server converts. SQLite and
    PostgreSQL keep UUIDField's forms (32 hex characters; native uuid).
    """

    def db_type(self, connection):
        if connection.vendor == "microsoft":
            return "uniqueidentifier"
        return super().db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        if connection.vendor != "microsoft":
            return super().get_db_prep_value(value, connection, prepared)
        if value is None:
            return None
        if not isinstance(value, uuid.UUID):
            value = self.to_python(value)
        return str(value)
