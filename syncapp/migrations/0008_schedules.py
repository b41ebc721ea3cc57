from __future__ import annotations

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("syncapp", "0007_training_record_role"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SyncSchedule",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("environment", models.CharField(max_length=20)),
                (
                    "job",
                    models.CharField(
                        choices=[("sync", "merge and sync what is pending"), ("reconcile", "reconcile the board")],
                        default="sync",
                        max_length=10,
                    ),
                ),
                (
                    "mode",
                    models.CharField(
                        choices=[("cron", "on a cron schedule"), ("after_refresh", "after each staging refresh")],
                        default="cron",
                        max_length=13,
                    ),
                ),
                ("cron", models.CharField(blank=True, help_text="in the console's TIME_ZONE", max_length=100)),
                ("enabled", models.BooleanField(default=False)),
                ("confirmed_board_id", models.BigIntegerField(blank=True, null=True)),
                ("staging_fingerprint", models.CharField(blank=True, max_length=64)),
                ("run_owed", models.BooleanField(default=False)),
                ("tick_started_at", models.DateTimeField(blank=True, null=True)),
                ("changed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "changed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "q_schedule",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="django_q.schedule",
                    ),
                ),
            ],
            options={"ordering": ["environment", "job"]},
        ),
        migrations.CreateModel(
            name="ScheduleSlot",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("slot", models.DateTimeField(help_text="the time the firing was due")),
                ("started_at", models.DateTimeField(auto_now_add=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("working", "working"),
                            ("started", "started a run"),
                            ("overlap", "skipped: another run was writing to the board"),
                            ("nothing", "skipped: nothing pending"),
                            ("missed", "skipped: missed while the worker was down"),
                            ("busy", "skipped: the previous firing was still working"),
                            ("refused", "refused"),
                            ("failed", "failed"),
                        ],
                        default="working",
                        max_length=10,
                    ),
                ),
                ("merge_summary", models.CharField(blank=True, max_length=300)),
                ("message", models.TextField(blank=True)),
                (
                    "run",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="syncapp.syncrun",
                    ),
                ),
                (
                    "schedule",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="slots", to="syncapp.syncschedule"
                    ),
                ),
            ],
            options={"ordering": ["-slot"]},
        ),
        migrations.AddConstraint(
            model_name="syncschedule",
            constraint=models.UniqueConstraint(fields=("environment", "job"), name="uniq_schedule_env_job"),
        ),
        migrations.AddConstraint(
            model_name="scheduleslot",
            constraint=models.UniqueConstraint(fields=("schedule", "slot"), name="uniq_schedule_slot"),
        ),
    ]
