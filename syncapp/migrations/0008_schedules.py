from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("syncapp", "0007_training_record_role")]

    operations = []
