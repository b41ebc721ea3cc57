"""The sync schedules' task: django-q2 fires it from the `Schedule` each SyncSchedule drives."""

from __future__ import annotations

from syncapp.services.schedules import schedule_tick


def schedule_tick_task(schedule_id: int, slot: str | None = None) -> str:
    """One firing of schedule `schedule_id` due at `slot` (django-q2 passes the due time); a replay of
    a slot already handled starts nothing."""
    recorded = schedule_tick(schedule_id=schedule_id, slot=slot)
    if recorded is None:
        return f"schedule {schedule_id}: nothing to do"
    run = f" (run {recorded.run_id})" if recorded.run_id else ""
    return f"schedule {schedule_id}: {recorded.get_outcome_display()}{run}"
