"""Alerts: one row per condition while it holds (a failed run, a customer below its thresholds, a
limit stop, PENDING rows waiting too long, a silent worker, a reconcile that found drift), and one
delivery per message and target."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from syncapp.models.sync import SyncRun


class Alert(models.Model):
    """A condition that opened (firing) and, once it recovered, resolved. At most one alert per key
    is firing at a time: a partial unique index is the guard, so two workers evaluating the same run
    open it once."""

    class Condition(models.TextChoices):
        RUN_FAILED = "run_failed", "run failed"
        CUSTOMER_BELOW = "customer_below", "customer below threshold"
        RUN_STOPPED_BY_LIMIT = "run_stopped_by_limit", "run stopped by monday's limits"
        PENDING_AGE = "pending_age", "PENDING rows waiting too long"
        WORKER_SILENT = "worker_silent", "no worker seen"
        RECONCILE_DRIFT = "reconcile_drift", "board and database drifted apart"
        TEST = "test", "test alert"

    class Severity(models.TextChoices):
        INFO = "info"
        WARNING = "warning"
        CRITICAL = "critical"

    class Status(models.TextChoices):
        FIRING = "firing"
        RESOLVED = "resolved"
        TEST = "test"

    key = models.CharField(
        max_length=255, help_text="the condition's stable key, e.g. customer_below:production:GREYSON"
    )
    condition = models.CharField(max_length=30, choices=Condition.choices)
    environment = models.CharField(max_length=20, blank=True)
    customer = models.CharField(max_length=100, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FIRING)
    title = models.CharField(max_length=300)
    message = models.TextField(help_text="the firing message as sent")
    details = models.JSONField(default=dict, blank=True, help_text="the structured fields sent to webhooks")
    resolution_title = models.CharField(max_length=300, blank=True)
    resolution_message = models.TextField(blank=True)
    resolution_details = models.JSONField(default=dict, blank=True)
    run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="the run that opened it"
    )
    last_run = models.ForeignKey(
        SyncRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="the last run that saw it",
    )
    resolved_by_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=Q(status="firing"), name="one_firing_alert_per_key")
        ]
        indexes = [
            models.Index(fields=["status", "environment"], name="alert_status_env_idx"),
            models.Index(fields=["condition", "status"], name="alert_condition_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"


class AlertDelivery(models.Model):
    """One message (firing, resolved or test) to one target: an email address or a webhook. A
    webhook URL holds its secret in the path or query, so only its redacted form and a hash are
    stored; the URL itself is looked up in ORDEROPS_ALERT_WEBHOOKS when the message is sent."""

    class Event(models.TextChoices):
        FIRING = "firing"
        RESOLVED = "resolved"
        TEST = "test"

    class Channel(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=10, choices=Event.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    target = models.CharField(max_length=255, help_text="the address, or the webhook URL with its secret part cut")
    target_hash = models.CharField(max_length=64, help_text="sha256 of the full target")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "event", "channel", "target_hash"], name="one_delivery_per_event_and_target"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="alert_delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.event} to {self.channel} {self.target}: {self.status}"
