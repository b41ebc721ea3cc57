"""Sync schedules: orderops merging and syncing by itself, per environment.

A `SyncSchedule` (one per environment and job) drives one django-q2 `Schedule` while it is enabled:
a CRON schedule for a cron expression, or one every minute for "after each staging refresh", whose
tick compares the staging table's fingerprint (selectors/staging.py) with the one merged last and
does nothing, records nothing, while they match. Paused, the django-q2 row is deleted: nothing fires.

Each firing that matters is a `ScheduleSlot`, unique per (schedule, slot time), so a tick replayed
for the same slot starts nothing. A firing runs its job from `SCHEDULE_JOBS` (extend it for another
job) as the system user "scheduler", via "schedule". The sync job merges, then starts a sync of
everything pending through the one run lifecycle; a board another run writes to is "skipped:
overlap with run M", never a second queued run. The reconcile job (cron only, e.g. nightly) starts a
reconcile of the whole board the same way; the alerts say when it found drift.

The safety rules are here, for the console and the CLI alike: changing a schedule needs
`switch_environment`; enabling one needs the environment's sync permission, and production also the
typed board name or id. The board id typed then is stored and given as each scheduled run's
confirmation, so once the configured production board is another one the run is refused and recorded.
A person at the server's command line (no actor) is trusted as for `sync_orders`: only the typed
confirmation applies.

django-q2 and catch-up: with `catch_up` off, a schedule that was due while no cluster ran fires once
when a cluster starts (for CRON, django-q2 computes the next time from now whatever catch_up says),
never once per missed slot. That one late firing of a cron schedule is recorded as missed when it is
more than MISSED_AFTER late, so downtime never replays a slot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from croniter import croniter
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule

from syncapp.domain.errors import PermissionRefusedError, RunBusyError, RunRefusedError
from syncapp.domain.scope import Scope
from syncapp.models import ScheduleSlot, SyncSchedule
from syncapp.permissions import PERMISSION_TEXT, sync_permission_for
from syncapp.selectors.runs import active_run_for
from syncapp.selectors.schedules import active_reconcile_for, pending_exists
from syncapp.selectors.staging import staging_fingerprint
from syncapp.services.audit import audit_record
from syncapp.services.confirmation import production_confirmation_require
from syncapp.services.merge import MergeError, orders_merge
from syncapp.services.reconcile import reconcile_run_create
from syncapp.services.sync import sync_run_create
from syncapp.sync_config import EnvironmentConfig, get_sync_config

logger = logging.getLogger(__name__)

TICK_FUNC = "syncapp.tasks.schedules.schedule_tick_task"
SCHEDULER_USERNAME = "scheduler"
SCHEDULER_PERMISSIONS = ("sync_development", "sync_production", "mark_orders")
MANAGE_PERMISSION = "switch_environment"
# A cron firing this late was held back by downtime (django-q2 fires it once when a cluster starts).
MISSED_AFTER = timedelta(minutes=10)
# A tick that has held its schedule this long died with its worker; the next tick may take over.
TICK_STALE_AFTER = timedelta(minutes=30)
CRON_EXAMPLE = '"5 * * * *" (five past every hour)'


class ScheduleError(ValueError):
    """A schedule could not be set or changed; `field` names what was wrong (cron, mode, job, schedule)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


# --- changing a schedule (console, CLI) --------------------------------------------------------


def cron_validate(expression: str | None) -> str:
    """The expression with its spaces normalised, or ScheduleError saying what is wrong with it."""
    text = " ".join((expression or "").split())
    if not text:
        raise ScheduleError("cron", f"Type a cron expression, for example {CRON_EXAMPLE}.")
    fields = text.split(" ")
    if len(fields) != 5:
        raise ScheduleError(
            "cron",
            f"{text!r} is not a cron expression orderops takes: it needs five fields (minute, hour, day of "
            f"month, month, day of week) and has {len(fields)}. For example {CRON_EXAMPLE}.",
        )
    if len(text) > 100 or not croniter.is_valid(text):
        raise ScheduleError(
            "cron",
            f"{text!r} is not a valid cron expression: check each of the five fields (minute 0-59, hour "
            f"0-23, day of month 1-31, month 1-12, day of week 0-6). For example {CRON_EXAMPLE}.",
        )
    return text


def schedule_set(
    *,
    environment: str,
    job: str = SyncSchedule.Job.SYNC,
    cron: str | None = None,
    after_refresh: bool = False,
    actor=None,
    via: str = "console",
    confirm_text: str = "",
) -> SyncSchedule:
    """Set an environment's schedule (a cron expression, or after each staging refresh) and enable it."""
    env = get_sync_config().environment(environment)
    _job_require(job)
    if after_refresh and (cron or "").strip():
        raise ScheduleError("mode", "Choose a cron expression or “after each staging refresh”, not both.")
    if after_refresh and job == SyncSchedule.Job.RECONCILE:
        raise ScheduleError(
            "mode",
            'A reconcile schedule runs on a cron expression only, for example "30 2 * * *" (every night at 02:30): '
            "a reconcile reads the whole board, which is too much to do after every hourly staging refresh.",
        )
    if not after_refresh and not (cron or "").strip():
        raise ScheduleError(
            "cron", f"Type a cron expression, for example {CRON_EXAMPLE}, or choose “after each staging refresh”."
        )
    expression = "" if after_refresh else cron_validate(cron)
    _manage_require(actor)
    confirmed = _enable_require(env, job, actor=actor, confirm_text=confirm_text)
    with transaction.atomic():
        schedule = SyncSchedule.objects.select_for_update().filter(environment=env.name, job=job).first()
        before = schedule.describe() if schedule else "no schedule"
        schedule = schedule or SyncSchedule(environment=env.name, job=job)
        schedule.mode = SyncSchedule.Mode.AFTER_REFRESH if after_refresh else SyncSchedule.Mode.CRON
        schedule.cron = expression
        schedule.enabled = True
        schedule.confirmed_board_id = confirmed
        _changed(
            schedule,
            env,
            actor=actor,
            via=via,
            action="schedule_set",
            summary=f"set the {job} schedule of {env.describe()}: {schedule.describe()} (before: {before})",
            details={"job": job, "mode": schedule.mode, "cron": expression, "confirmed_board_id": confirmed},
        )
    return schedule


def schedule_pause(
    *, environment: str, job: str = SyncSchedule.Job.SYNC, actor=None, via: str = "console"
) -> SyncSchedule:
    """Stop a schedule firing (its django-q2 schedule is deleted); its settings and slots are kept."""
    env = get_sync_config().environment(environment)
    _job_require(job)
    _manage_require(actor)
    with transaction.atomic():
        schedule = _existing(env, job)
        if not schedule.enabled:
            raise ScheduleError("schedule", f"The {job} schedule of {env.label} is already paused.")
        schedule.enabled = False
        schedule.run_owed = False
        _changed(
            schedule,
            env,
            actor=actor,
            via=via,
            action="schedule_pause",
            summary=f"paused the {job} schedule of {env.describe()}: {schedule.describe()}",
            details={"job": job},
        )
    return schedule


def schedule_resume(
    *, environment: str, job: str = SyncSchedule.Job.SYNC, actor=None, via: str = "console", confirm_text: str = ""
) -> SyncSchedule:
    """Enable a paused schedule again, with the same checks as setting it."""
    env = get_sync_config().environment(environment)
    _job_require(job)
    _manage_require(actor)
    confirmed = _enable_require(env, job, actor=actor, confirm_text=confirm_text)
    with transaction.atomic():
        schedule = _existing(env, job)
        if schedule.enabled:
            raise ScheduleError("schedule", f"The {job} schedule of {env.label} is already running.")
        schedule.enabled = True
        schedule.confirmed_board_id = confirmed
        _changed(
            schedule,
            env,
            actor=actor,
            via=via,
            action="schedule_resume",
            summary=f"resumed the {job} schedule of {env.describe()}: {schedule.describe()}",
            details={"job": job, "confirmed_board_id": confirmed},
        )
    return schedule


def _job_require(job: str) -> None:
    if job not in SCHEDULE_JOBS:
        raise ScheduleError("job", f"There is no scheduled job {job!r}; orderops schedules {', '.join(SCHEDULE_JOBS)}.")


def _manage_require(actor) -> None:
    if actor is not None and not actor.has_perm(f"syncapp.{MANAGE_PERMISSION}"):
        raise PermissionRefusedError(
            f"Only admins change sync schedules: you need the permission to {PERMISSION_TEXT[MANAGE_PERMISSION]}. "
            "Ask an admin. Nothing was changed."
        )


def _enable_require(env: EnvironmentConfig, job: str, *, actor, confirm_text: str) -> int | None:
    """Refuse to enable a schedule the actor could not run by hand; returns the confirmed production board.
    A reconcile reads the board with the same token and needs the same permission as a sync."""
    permission = sync_permission_for(env.name)
    does = "reconciles" if job == SyncSchedule.Job.RECONCILE else "syncs to"
    if actor is not None and not actor.has_perm(f"syncapp.{permission}"):
        raise PermissionRefusedError(
            f"A schedule {does} the {env.label} board by itself, so enabling it needs the permission to "
            f"{PERMISSION_TEXT[permission]}, which you do not have. Ask an admin. Nothing was changed."
        )
    if not env.is_production:
        return None
    production_confirmation_require(
        typed=confirm_text,
        board_id=env.items_board_id,
        board_name=env.items_board.name,
        action=f"schedule {job}s by themselves",
    )
    return env.items_board_id


def _existing(env: EnvironmentConfig, job: str) -> SyncSchedule:
    schedule = SyncSchedule.objects.select_for_update().filter(environment=env.name, job=job).first()
    if schedule is None:
        how = "a cron expression" if job == SyncSchedule.Job.RECONCILE else "a cron expression or after refresh"
        raise ScheduleError("schedule", f"{env.label} has no {job} schedule yet; set one first ({how}).")
    return schedule


def _changed(
    schedule: SyncSchedule, env: EnvironmentConfig, *, actor, via: str, action: str, summary: str, details: dict
) -> None:
    """Save a changed schedule, put its django-q2 schedule in step and audit the change."""
    schedule.changed_by = actor if actor is not None and actor.is_authenticated else None
    schedule.changed_at = timezone.now()
    schedule.save()
    _q_schedule_apply(schedule)
    audit_record(
        actor=actor,
        via=via,
        action=action,
        environment=env.name,
        target_type="schedule",
        target_id=schedule.pk,
        summary=summary,
        details=details,
    )


def _q_schedule_apply(schedule: SyncSchedule) -> None:
    """Keep the django-q2 Schedule in step: none while paused; CRON, or every minute after refresh."""
    if not schedule.enabled:
        if schedule.q_schedule_id:
            Schedule.objects.filter(pk=schedule.q_schedule_id).delete()
        schedule.q_schedule = None
        schedule.save(update_fields=["q_schedule"])
        return
    q = schedule.q_schedule or Schedule(func=TICK_FUNC)
    q.name = f"orderops {schedule.job} {schedule.environment}"
    q.func = TICK_FUNC
    q.args = repr(schedule.pk)
    q.kwargs = ""
    q.repeats = -1
    q.cluster = None
    # django-q2 passes the slot's due time, which makes each firing a unique ScheduleSlot.
    q.intended_date_kwarg = "slot"
    if schedule.mode == SyncSchedule.Mode.CRON:
        q.schedule_type, q.cron, q.minutes = Schedule.CRON, schedule.cron, None
        q.next_run = q.calculate_next_run()
    else:
        q.schedule_type, q.cron, q.minutes = Schedule.MINUTES, None, 1
        q.next_run = timezone.now()
    q.save()
    schedule.q_schedule = q
    schedule.save(update_fields=["q_schedule"])


# --- a firing (the django-q2 task) -------------------------------------------------------------


def scheduler_user():
    """The system user scheduled runs are recorded under: it cannot log in (no usable password) and
    holds only the permissions a scheduled sync needs. Created on first use."""
    user, created = get_user_model().objects.get_or_create(username=SCHEDULER_USERNAME)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="syncapp", codename__in=SCHEDULER_PERMISSIONS)
        )
    return user


def schedule_tick(*, schedule_id: int, slot: datetime | str | None = None) -> ScheduleSlot | None:
    """One firing of a schedule. Returns the recorded slot, or None when there was nothing worth
    recording (paused, staging unchanged, a replay of a slot already recorded)."""
    now = timezone.now()
    due = _slot_time(slot, now)
    schedule = SyncSchedule.objects.filter(pk=schedule_id, enabled=True).first()
    if schedule is None:
        return None
    # Only the sync job merges; a reconcile compares the order tables as they are.
    fingerprint = str(staging_fingerprint()) if schedule.job == SyncSchedule.Job.SYNC else ""
    if schedule.mode == SyncSchedule.Mode.AFTER_REFRESH:
        if fingerprint == schedule.staging_fingerprint and not schedule.run_owed:
            return None
    claimed = (
        SyncSchedule.objects.filter(pk=schedule.pk, enabled=True)
        .filter(Q(tick_started_at__isnull=True) | Q(tick_started_at__lt=now - TICK_STALE_AFTER))
        .update(tick_started_at=now)
    )
    if not claimed:
        if schedule.mode == SyncSchedule.Mode.CRON:
            return _record_alone(schedule, due, ScheduleSlot.Outcome.BUSY, "the previous firing was still merging.")
        return None  # after refresh: the next minute looks again
    try:
        return _tick_claimed(schedule, due, now, fingerprint)
    finally:
        SyncSchedule.objects.filter(pk=schedule.pk, tick_started_at=now).update(tick_started_at=None)


def _tick_claimed(schedule: SyncSchedule, due: datetime, now: datetime, fingerprint: str) -> ScheduleSlot | None:
    try:
        with transaction.atomic():
            slot = ScheduleSlot.objects.create(schedule=schedule, slot=due)
    except IntegrityError:
        return None  # this slot was already handled
    actor = scheduler_user()
    try:
        if schedule.mode == SyncSchedule.Mode.CRON and now - due > MISSED_AFTER:
            slot.outcome = ScheduleSlot.Outcome.MISSED
            slot.message = (
                f"This firing was due at {timezone.localtime(due):%H:%M %Z} and came {_minutes(now - due)} late, "
                "after the worker was down; it is skipped so downtime does not replay slots. The next slot runs."
            )
            keep = True
        else:
            keep = SCHEDULE_JOBS[schedule.job](schedule, slot, actor=actor, fingerprint=fingerprint)
    except Exception as error:  # a firing must end recorded, whatever happened
        logger.exception("schedule %s: the firing of %s failed", schedule.pk, due)
        slot.outcome, slot.message, keep = ScheduleSlot.Outcome.FAILED, f"{type(error).__name__}: {error}", True
    if not keep:
        slot.delete()
        return None
    slot.finished_at = timezone.now()
    slot.save()
    if slot.outcome != ScheduleSlot.Outcome.STARTED:  # a started run is audited by the run lifecycle
        _audit_slot(schedule, slot, actor)
    return slot


def _record_alone(schedule: SyncSchedule, due: datetime, outcome: str, message: str) -> ScheduleSlot | None:
    try:
        with transaction.atomic():
            slot = ScheduleSlot.objects.create(
                schedule=schedule, slot=due, outcome=outcome, message=message, finished_at=timezone.now()
            )
    except IntegrityError:
        return None
    _audit_slot(schedule, slot, scheduler_user())
    return slot


def _audit_slot(schedule: SyncSchedule, slot: ScheduleSlot, actor) -> None:
    audit_record(
        actor=actor,
        via="schedule",
        action="schedule_slot",
        environment=schedule.environment,
        target_type="schedule",
        target_id=schedule.pk,
        summary=f"scheduled {schedule.job} due {timezone.localtime(slot.slot):%Y-%m-%d %H:%M %Z}: "
        f"{slot.get_outcome_display()}" + (f" ({slot.message})" if slot.message else ""),
        details={"slot": slot.pk, "outcome": slot.outcome, "run": slot.run_id},
    )


def _slot_time(slot: datetime | str | None, now: datetime) -> datetime:
    if slot is None or slot == "":
        return now
    value = datetime.fromisoformat(slot) if isinstance(slot, str) else slot
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def _minutes(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


# --- the jobs ----------------------------------------------------------------------------------


def _scheduled_sync(schedule: SyncSchedule, slot: ScheduleSlot, *, actor, fingerprint: str) -> bool:
    """Merge the staging table, then sync everything pending to the schedule's board. Fills `slot`;
    returns False when the firing is not worth a record (a put-off sync whose board is still busy)."""
    owed_only = schedule.mode == SyncSchedule.Mode.AFTER_REFRESH and fingerprint == schedule.staging_fingerprint
    if owed_only:
        active = active_run_for(schedule.environment)
        if active is not None:
            return False  # already recorded as an overlap when the sync was put off
    else:
        try:
            report = orders_merge()
        except MergeError as error:
            # Recorded once per staging content: the next refresh (a changed table) tries again.
            _schedule_update(schedule, staging_fingerprint=fingerprint)
            slot.outcome, slot.message = ScheduleSlot.Outcome.FAILED, f"The merge did not run: {error}"
            return True
        slot.merge_summary = report.summary()[:300]
        _schedule_update(schedule, staging_fingerprint=fingerprint)
        audit_record(
            actor=actor,
            action="merge_orders",
            summary=report.summary(),
            via="schedule",
            environment=schedule.environment,
            details={"new": report.new, "changed": report.changed, "rejected": len(report.rejected), "slot": slot.pk},
        )
    if not pending_exists():
        _schedule_update(schedule, run_owed=False)
        slot.outcome = ScheduleSlot.Outcome.NOTHING_PENDING
        return True
    env = get_sync_config().environment(schedule.environment)
    if _board_changed(schedule, env, slot, nothing="Nothing was sent."):
        _schedule_update(schedule, run_owed=False)
        return True
    run = None
    try:
        active = active_run_for(schedule.environment)
        if active is None:
            run = sync_run_create(
                environment=schedule.environment,
                scope=Scope(),
                dry_run=False,
                actor=actor,
                via="schedule",
                confirm_text=str(schedule.confirmed_board_id or ""),
                enqueue=True,
            )
    except RunBusyError:
        # Another run got the board between the look and the start (the partial unique index refused).
        active = active_run_for(schedule.environment)
    except RunRefusedError as error:
        slot.outcome, slot.message = ScheduleSlot.Outcome.REFUSED, str(error)
        _schedule_update(schedule, run_owed=False)
        return True
    if run is None:
        owed = schedule.mode == SyncSchedule.Mode.AFTER_REFRESH
        slot.outcome, slot.run = ScheduleSlot.Outcome.OVERLAP, active
        slot.message = (
            f"{f'Run {active.pk}' if active else 'Another run'} was writing to the {env.label} board, so no second run was queued. "
            + (
                "The sync starts at the first minute the board is free."
                if owed
                else "The next slot syncs what is pending."
            )
        )
        _schedule_update(schedule, run_owed=owed)
        return True
    slot.outcome, slot.run = ScheduleSlot.Outcome.STARTED, run
    _schedule_update(schedule, run_owed=False)
    return True


def _board_changed(schedule: SyncSchedule, env: EnvironmentConfig, slot: ScheduleSlot, *, nothing: str) -> bool:
    """A production schedule confirmed for another board than the configured one is refused (recorded in `slot`)."""
    if not env.is_production or schedule.confirmed_board_id == env.items_board_id:
        return False
    slot.outcome = ScheduleSlot.Outcome.REFUSED
    slot.message = (
        f"The schedule was confirmed for production board {schedule.confirmed_board_id}, but the production "
        f"board is now {env.items_board_id} ({env.items_board.name}). {nothing} An admin resumes the "
        "schedule (pause, then resume) typing the new board's name or id to confirm it."
    )
    return True


def _scheduled_reconcile(schedule: SyncSchedule, slot: ScheduleSlot, *, actor, fingerprint: str) -> bool:
    """Reconcile the schedule's whole board (no merge: it compares the order tables as they are). A
    board a run writes to, or a reconcile still reading it, is an overlap: the next slot reconciles."""
    env = get_sync_config().environment(schedule.environment)
    if _board_changed(schedule, env, slot, nothing="Nothing was read."):
        return True
    run = None
    active = active_run_for(schedule.environment) or active_reconcile_for(schedule.environment)
    try:
        if active is None:
            run = reconcile_run_create(
                environment=schedule.environment, scope=Scope(), actor=actor, via="schedule", enqueue=True
            )
    except RunBusyError:
        active = active_run_for(schedule.environment)
    except (RunRefusedError, PermissionRefusedError) as error:
        slot.outcome, slot.message = ScheduleSlot.Outcome.REFUSED, str(error)
        return True
    if run is None:
        slot.outcome, slot.run = ScheduleSlot.Outcome.OVERLAP, active
        slot.message = (
            f"{f'Run {active.pk}' if active else 'Another run'} was using the {env.label} board, so no reconcile "
            "was queued. The next slot reconciles the board."
        )
        return True
    slot.outcome, slot.run = ScheduleSlot.Outcome.STARTED, run
    return True


def _schedule_update(schedule: SyncSchedule, **fields) -> None:
    SyncSchedule.objects.filter(pk=schedule.pk).update(**fields)
    for name, value in fields.items():
        setattr(schedule, name, value)


# What each job does at a firing: (schedule, slot, *, actor, fingerprint) -> whether to keep the record.
SCHEDULE_JOBS: dict[str, Callable[..., bool]] = {
    SyncSchedule.Job.SYNC: _scheduled_sync,
    SyncSchedule.Job.RECONCILE: _scheduled_reconcile,
}
