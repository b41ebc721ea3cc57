"""Creates FACT_ORDER_LIST, swp_ORDER_LIST_SYNC and ORDER_LIST_LINES from configs/ — only where
ORDEROPS_MANAGE_ORDER_TABLES is on (SQLite and PostgreSQL by default). On SQL Server the tables
belong to production and this migration does nothing."""

from __future__ import annotations

from django.db import migrations


def create(apps, schema_editor):
    from syncapp.order_tables import create_local_order_tables

    create_local_order_tables(schema_editor)


def drop(apps, schema_editor):
    from syncapp.order_tables import drop_local_order_tables

    drop_local_order_tables(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("syncapp", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
