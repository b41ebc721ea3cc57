"""Sync schedules: per environment and job, when orderops runs by itself (a cron expression, or after
each refresh of swp_ORDER_LIST_SYNC), and what happened at each firing that mattered."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from syncapp.models.sync import SyncRun


class SyncSchedule(models.Model):
    """One schedule per (environment, job). It drives one django-q2 `Schedule` while enabled; paused,
    that row is deleted, so nothing fires."""

    class Job(models.TextChoices):
        SYNC = "sync", "merge and sync what is pending"
        RECONCILE = "reconcile", "reconcile the board"

    class Mode(models.TextChoices):
        CRON = "cron", "on a cron schedule"
        AFTER_REFRESH = "after_refresh", "after each staging refresh"

    environment = models.CharField(max_length=20)
    job = models.CharField(max_length=10, choices=Job.choices, default=Job.SYNC)
    mode = models.CharField(max_length=13, choices=Mode.choices, default=Mode.CRON)
    cron = models.CharField(max_length=100, blank=True, help_text="in the console's TIME_ZONE")
    enabled = models.BooleanField(default=False)
    # The production board id typed when the schedule was enabled; each scheduled production run
    # passes it as its confirmation, so a run is refused once the configured board is another one.
    confirmed_board_id = models.BigIntegerField(null=True, blank=True)
    # "rows:checksum" of the staging table at the last scheduled merge (see selectors/staging.py).
    staging_fingerprint = models.CharField(max_length=64, blank=True)
    # An after-refresh sync that a busy board put off: the next tick starts it once the board is free.
    run_owed = models.BooleanField(default=False)
    # Set while a tick works (compare-and-set), so two ticks of one schedule never merge at once.
    tick_started_at = models.DateTimeField(null=True, blank=True)
    q_schedule = models.OneToOneField(
        "django_q.Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["environment", "job"], name="uniq_schedule_env_job")]
        ordering = ["environment", "job"]

    def __str__(self) -> str:
        return f"{self.job} on {self.environment}: {self.describe()}"

    def describe(self) -> str:
        when = f"cron {self.cron}" if self.mode == self.Mode.CRON else "after each staging refresh"
        return f"{when} ({'enabled' if self.enabled else 'paused'})"


class ScheduleSlot(models.Model):
    """A firing of a schedule that did something or was skipped for a reason worth reading. One per
    (schedule, slot time): a tick replayed for the same slot finds it and starts nothing."""

    class Outcome(models.TextChoices):
        WORKING = "working", "working"
        STARTED = "started", "started a run"
        OVERLAP = "overlap", "skipped: another run was writing to the board"
        NOTHING_PENDING = "nothing", "skipped: nothing pending"
        MISSED = "missed", "skipped: missed while the worker was down"
        BUSY = "busy", "skipped: the previous firing was still working"
        REFUSED = "refused", "refused"
        FAILED = "failed", "failed"

    schedule = models.ForeignKey(SyncSchedule, on_delete=models.CASCADE, related_name="slots")
    slot = models.DateTimeField(help_text="the time the firing was due")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.WORKING)
    # The run it started, or the run it would have overlapped.
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    merge_summary = models.CharField(max_length=300, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["schedule", "slot"], name="uniq_schedule_slot")]
        ordering = ["-slot"]

    def __str__(self) -> str:
        return f"{self.schedule} at {self.slot:%Y-%m-%d %H:%M}: {self.get_outcome_display()}"
