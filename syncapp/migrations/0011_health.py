from __future__ import annotations

from django.db import migrations, models


def schedule_heartbeat(apps, schema_editor):
    # The schedule's name and function are the service's, so a flushed test database gets the same row.
    from syncapp.services.health import worker_heartbeat_schedule_ensure

    worker_heartbeat_schedule_ensure(apps=apps)


def unschedule_heartbeat(apps, schema_editor):
    # The schedule's name is the service's; undoing this migration removes exactly that row.
    from syncapp.services.health import worker_heartbeat_schedule_remove

    worker_heartbeat_schedule_remove(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("syncapp", "0010_alerts"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkerHeartbeat",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "host",
                    models.CharField(help_text="host name and cluster name", max_length=255, unique=True),
                ),
                ("seen_at", models.DateTimeField()),
                ("pid", models.PositiveIntegerField(blank=True, null=True)),
            ],
            options={"ordering": ["host"]},
        ),
        migrations.AddField(
            model_name="apicall",
            name="budget_remaining",
            field=models.BigIntegerField(
                blank=True, help_text="monday's complexity budget left after this call, when it said", null=True
            ),
        ),
        migrations.AddIndex(
            model_name="apicall",
            index=models.Index(fields=["environment", "ok", "id"], name="api_log_env_ok_id"),
        ),
        migrations.RunPython(schedule_heartbeat, unschedule_heartbeat),
    ]
