"""Console state: the audit log, the active environment, runbook walkthroughs."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from syncapp.models.sync import Environment


class AuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit log is append-only.")

    def delete(self):
        raise PermissionError("The audit log is append-only.")


class AuditEntry(models.Model):
    """Who did what, when, on which environment. Append-only."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_name = models.CharField(max_length=150, help_text="kept when the user is deleted")
    action = models.CharField(max_length=60, db_index=True)
    environment = models.CharField(max_length=20, choices=Environment.choices, blank=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    via = models.CharField(max_length=10, default="console")  # console | admin | cli | task
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name}: {self.summary}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only.")


class ConsoleSettings(models.Model):
    """A single row: the environment the console acts on."""

    active_environment = models.CharField(max_length=20, choices=Environment.choices, default=Environment.DEVELOPMENT)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "console settings"

    def __str__(self) -> str:
        return f"active environment: {self.active_environment}"


class Walkthrough(models.Model):
    """One user's pass through one runbook; resumable."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="walkthroughs")
    runbook = models.CharField(max_length=100)
    environment = models.CharField(max_length=20, choices=Environment.choices)
    started_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.user} - {self.runbook}"


class StepTick(models.Model):
    walkthrough = models.ForeignKey(Walkthrough, on_delete=models.CASCADE, related_name="ticks")
    step = models.PositiveSmallIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    environment = models.CharField(max_length=20, choices=Environment.choices)
    ticked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["step"]
        constraints = [models.UniqueConstraint(fields=["walkthrough", "step"], name="one_tick_per_step")]

    def __str__(self) -> str:
        return f"step {self.step} by {self.user}"


class LoginFailure(models.Model):
    """Failed logins, for throttling repeated attempts per user name and address."""

    username = models.CharField(max_length=150, db_index=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.username} from {self.address}"
