"""Reads for sync schedules: an environment's schedule with its next firing and last slots, and
whether anything is pending for a scheduled sync."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from syncapp.domain.states import CLAIMABLE_ACTIONS, State
from syncapp.models import FactOrderList, ScheduleSlot, SyncRun, SyncSchedule

SLOTS_SHOWN = 10


@dataclass
class ScheduleSummary:
    environment: str
    job: str
    schedule: SyncSchedule | None
    next_run: datetime | None = None
    slots: list[ScheduleSlot] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(self.schedule and self.schedule.enabled)


def schedule_get(environment: str, job: str = SyncSchedule.Job.SYNC) -> SyncSchedule | None:
    return (
        SyncSchedule.objects.select_related("q_schedule", "changed_by").filter(environment=environment, job=job).first()
    )


def schedule_summary(environment: str, job: str = SyncSchedule.Job.SYNC) -> ScheduleSummary:
    """The schedule (or None), when its django-q2 schedule fires next, and its last slots with their runs."""
    schedule = schedule_get(environment, job)
    summary = ScheduleSummary(environment=environment, job=job, schedule=schedule)
    if schedule is None:
        return summary
    if schedule.enabled and schedule.q_schedule is not None:
        summary.next_run = schedule.q_schedule.next_run
    summary.slots = list(schedule.slots.select_related("run").order_by("-slot")[:SLOTS_SHOWN])
    return summary


def pending_exists() -> bool:
    """Whether any order line waits for a sync (PENDING INSERT/UPDATE); pending rows carry no board,
    so this is what a scheduled sync of any environment would send."""
    return FactOrderList.objects.filter(sync_state=State.PENDING, action_type__in=CLAIMABLE_ACTIONS).exists()


def active_reconcile_for(environment: str) -> SyncRun | None:
    """A reconcile still reading the environment's board (reconciles write nothing, so the board's
    busy guard does not count them)."""
    return (
        SyncRun.objects.filter(environment=environment, kind=SyncRun.Kind.RECONCILE, status__in=SyncRun.ACTIVE_STATUSES)
        .only("id", "environment", "status")
        .order_by("id")
        .first()
    )
