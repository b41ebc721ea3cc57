"""Trainers and admins see the training record (syncapp.view_walkthrough); ops walk runbooks only."""

from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations


def update_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    from syncapp.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("syncapp", "0006_admin_role_and_state_index")]
    operations = [migrations.RunPython(update_roles, migrations.RunPython.noop)]
