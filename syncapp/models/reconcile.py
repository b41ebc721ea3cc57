"""Reconcile: what a reconcile run found when it compared a board with the order tables, per order
line and per size, and what a repair did about it."""

from __future__ import annotations

from django.db import models

from syncapp.fields import UniqueIdentifierField
from syncapp.models.sync import SyncRun


class ReconcileFinding(models.Model):
    """One difference between the board and the database, found by a reconcile run (a SyncRun of
    kind "reconcile"); a repair run (kind "repair") settles it."""

    class Kind(models.TextChoices):
        MISSING = "missing", "missing on the board"
        ORPHAN = "orphan", "not ours"
        DUPLICATE = "duplicate", "duplicate"
        VALUE_DRIFT = "value_drift", "value drift"
        WRONG_GROUP = "wrong_group", "wrong group"
        SIZE_DRIFT = "size_drift", "size drift"

    class Status(models.TextChoices):
        OPEN = "open", "open"
        REPAIRED = "repaired", "repaired"
        REVIEW = "review", "kept the board's value, for review"
        FAILED = "failed", "repair failed"
        NOT_OURS = "not_ours", "left alone: not created by orderops"

    class Policy(models.TextChoices):
        ORDER_WINS = "order_wins", "the order's value is written back"
        BOARD_WINS = "board_wins", "the board's value is kept"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # The order line (and size) the finding is about; empty for an item that matches no order line.
    record_uuid = UniqueIdentifierField(null=True, blank=True)
    size_code = models.CharField(max_length=20, blank=True)
    aag_order_number = models.CharField(max_length=100, blank=True)
    customer_name = models.CharField(max_length=100, blank=True)
    po_number = models.CharField(max_length=255, blank=True)
    # Where it is on the board (or was, when it is missing).
    monday_item_id = models.BigIntegerField(null=True, blank=True)
    monday_subitem_id = models.BigIntegerField(null=True, blank=True)
    group_id = models.CharField(max_length=128, blank=True, help_text="the group the item is in")
    expected_group_id = models.CharField(max_length=128, blank=True, help_text="the group it belongs in")
    created_by_orderops = models.BooleanField(default=False, help_text="a run of orderops created the item")
    # Value and size drift: the column, the three values, and who changed it on monday when monday says.
    column_id = models.CharField(max_length=100, blank=True)
    column_title = models.CharField(max_length=255, blank=True)
    board_value = models.TextField(blank=True)
    order_value = models.TextField(blank=True)
    written_value = models.TextField(blank=True, help_text="what orderops last wrote")
    changed_by = models.CharField(max_length=255, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True)
    policy = models.CharField(max_length=12, choices=Policy.choices, default=Policy.ORDER_WINS)
    message = models.TextField(blank=True)
    repaired_by_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    repaired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "kind"]), models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.aag_order_number or self.monday_item_id}"
