from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models

import syncapp.fields


class Migration(migrations.Migration):
    dependencies = [
        ("syncapp", "0011_health"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncrun",
            name="kind",
            field=models.CharField(
                choices=[
                    ("sync", "Sync"),
                    ("retry", "Retry"),
                    ("rollback", "Rollback"),
                    ("reconcile", "Reconcile"),
                    ("repair", "Repair"),
                ],
                default="sync",
                max_length=10,
            ),
        ),
        migrations.CreateModel(
            name="ReconcileFinding",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("missing", "missing on the board"),
                            ("orphan", "not ours"),
                            ("duplicate", "duplicate"),
                            ("value_drift", "value drift"),
                            ("wrong_group", "wrong group"),
                            ("size_drift", "size drift"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("open", "open"),
                            ("repaired", "repaired"),
                            ("review", "kept the board's value, for review"),
                            ("failed", "repair failed"),
                            ("not_ours", "left alone: not created by orderops"),
                        ],
                        default="open",
                        max_length=10,
                    ),
                ),
                ("record_uuid", syncapp.fields.UniqueIdentifierField(blank=True, null=True)),
                ("size_code", models.CharField(blank=True, max_length=20)),
                ("aag_order_number", models.CharField(blank=True, max_length=100)),
                ("customer_name", models.CharField(blank=True, max_length=100)),
                ("po_number", models.CharField(blank=True, max_length=255)),
                ("monday_item_id", models.BigIntegerField(blank=True, null=True)),
                ("monday_subitem_id", models.BigIntegerField(blank=True, null=True)),
                ("group_id", models.CharField(blank=True, help_text="the group the item is in", max_length=128)),
                (
                    "expected_group_id",
                    models.CharField(blank=True, help_text="the group it belongs in", max_length=128),
                ),
                (
                    "created_by_orderops",
                    models.BooleanField(default=False, help_text="a run of orderops created the item"),
                ),
                ("column_id", models.CharField(blank=True, max_length=100)),
                ("column_title", models.CharField(blank=True, max_length=255)),
                ("board_value", models.TextField(blank=True)),
                ("order_value", models.TextField(blank=True)),
                ("written_value", models.TextField(blank=True, help_text="what orderops last wrote")),
                ("changed_by", models.CharField(blank=True, max_length=255)),
                ("changed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "policy",
                    models.CharField(
                        choices=[
                            ("order_wins", "the order's value is written back"),
                            ("board_wins", "the board's value is kept"),
                        ],
                        default="order_wins",
                        max_length=12,
                    ),
                ),
                ("message", models.TextField(blank=True)),
                ("repaired_at", models.DateTimeField(blank=True, null=True)),
                (
                    "repaired_by_run",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="syncapp.syncrun",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="findings", to="syncapp.syncrun"
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
                "indexes": [
                    models.Index(fields=["run", "kind"], name="syncapp_rec_run_id_be399b_idx"),
                    models.Index(fields=["run", "status"], name="syncapp_rec_run_id_1f444b_idx"),
                ],
            },
        ),
        migrations.AlterField(
            model_name="boardchange",
            name="kind",
            field=models.CharField(
                choices=[
                    ("group_created", "Group Created"),
                    ("item_created", "Item Created"),
                    ("subitem_created", "Subitem Created"),
                    ("item_updated", "Item Updated"),
                    ("subitem_updated", "Subitem Updated"),
                    ("item_moved", "Item Moved"),
                    ("item_archived", "Item Archived"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="alert",
            name="condition",
            field=models.CharField(
                choices=[
                    ("run_failed", "run failed"),
                    ("customer_below", "customer below threshold"),
                    ("run_stopped_by_limit", "run stopped by monday's limits"),
                    ("pending_age", "PENDING rows waiting too long"),
                    ("worker_silent", "no worker seen"),
                    ("reconcile_drift", "board and database drifted apart"),
                    ("test", "test alert"),
                ],
                max_length=30,
            ),
        ),
    ]
