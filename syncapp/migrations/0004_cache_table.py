"""The database cache table (settings.CACHES): django-q2 keeps its cluster status there, which is how
the console knows whether a worker is alive. `migrate` creates it so no extra setup step exists."""

from __future__ import annotations

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("syncapp", "0003_roles")]
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
