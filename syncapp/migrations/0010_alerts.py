from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

ALERTS_SCHEDULE = "orderops: alerts check"


def add_schedule(apps, schema_editor):
    # Every minute: PENDING age, worker silence, and the deliveries whose retry is due.
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=ALERTS_SCHEDULE,
        defaults={
            "func": "syncapp.tasks.alerts.alerts_check_task",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=ALERTS_SCHEDULE).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("syncapp", "0009_api_tokens"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.CreateModel(
            name="Alert",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "key",
                    models.CharField(
                        help_text="the condition's stable key, e.g. customer_below:production:GREYSON", max_length=255
                    ),
                ),
                (
                    "condition",
                    models.CharField(
                        choices=[
                            ("run_failed", "run failed"),
                            ("customer_below", "customer below threshold"),
                            ("run_stopped_by_limit", "run stopped by monday's limits"),
                            ("pending_age", "PENDING rows waiting too long"),
                            ("worker_silent", "no worker seen"),
                            ("test", "test alert"),
                        ],
                        max_length=30,
                    ),
                ),
                ("environment", models.CharField(blank=True, max_length=20)),
                ("customer", models.CharField(blank=True, max_length=100)),
                (
                    "severity",
                    models.CharField(
                        choices=[("info", "Info"), ("warning", "Warning"), ("critical", "Critical")],
                        default="warning",
                        max_length=10,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("firing", "Firing"), ("resolved", "Resolved"), ("test", "Test")],
                        default="firing",
                        max_length=10,
                    ),
                ),
                ("title", models.CharField(max_length=300)),
                ("message", models.TextField(help_text="the firing message as sent")),
                (
                    "details",
                    models.JSONField(blank=True, default=dict, help_text="the structured fields sent to webhooks"),
                ),
                ("resolution_title", models.CharField(blank=True, max_length=300)),
                ("resolution_message", models.TextField(blank=True)),
                ("resolution_details", models.JSONField(blank=True, default=dict)),
                ("opened_at", models.DateTimeField(auto_now_add=True)),
                ("last_seen_at", models.DateTimeField(blank=True, null=True)),
                ("resolved_at", models.DateTimeField(blank=True, null=True)),
                (
                    "run",
                    models.ForeignKey(
                        blank=True,
                        help_text="the run that opened it",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="syncapp.syncrun",
                    ),
                ),
                (
                    "last_run",
                    models.ForeignKey(
                        blank=True,
                        help_text="the last run that saw it",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="syncapp.syncrun",
                    ),
                ),
                (
                    "resolved_by_run",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="syncapp.syncrun",
                    ),
                ),
            ],
            options={
                "ordering": ["-id"],
                "indexes": [
                    models.Index(fields=["status", "environment"], name="alert_status_env_idx"),
                    models.Index(fields=["condition", "status"], name="alert_condition_status_idx"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status", "firing")), fields=("key",), name="one_firing_alert_per_key"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="AlertDelivery",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "event",
                    models.CharField(
                        choices=[("firing", "Firing"), ("resolved", "Resolved"), ("test", "Test")], max_length=10
                    ),
                ),
                ("channel", models.CharField(choices=[("email", "Email"), ("webhook", "Webhook")], max_length=10)),
                (
                    "target",
                    models.CharField(
                        help_text="the address, or the webhook URL with its secret part cut", max_length=255
                    ),
                ),
                ("target_hash", models.CharField(help_text="sha256 of the full target", max_length=64)),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                (
                    "alert",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="syncapp.alert"
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
                "indexes": [
                    models.Index(fields=["status", "next_attempt_at"], name="alert_delivery_due_idx"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("alert", "event", "channel", "target_hash"), name="one_delivery_per_event_and_target"
                    )
                ],
            },
        ),
        migrations.RunPython(add_schedule, remove_schedule),
    ]
