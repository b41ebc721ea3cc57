"""Admins get user management and the task-queue pages; the console's "pending by customer" query
gets an index it can answer from alone (locally created order tables only)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations

INDEX = ("ix_fol_state_customer_po", ["sync_state", "CUSTOMER NAME", "PO NUMBER"])


def update_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    from syncapp.roles import sync_roles

    sync_roles(apps)


def add_index(apps, schema_editor):
    if not settings.ORDEROPS_MANAGE_ORDER_TABLES:
        return
    from syncapp.order_tables import FACT_TABLE

    connection = schema_editor.connection
    quote = connection.ops.quote_name
    name, columns = INDEX
    # Not CREATE INDEX IF NOT EXISTS: SQL Server has no such statement.
    with connection.cursor() as cursor:
        if name in connection.introspection.get_constraints(cursor, FACT_TABLE):
            return
    schema_editor.execute(f"CREATE INDEX {quote(name)} ON {quote(FACT_TABLE)} ({', '.join(quote(c) for c in columns)})")


class Migration(migrations.Migration):
    dependencies = [
        ("syncapp", "0005_run_waited_seconds"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [
        migrations.RunPython(update_roles, migrations.RunPython.noop),
        migrations.RunPython(add_index, migrations.RunPython.noop),
    ]
