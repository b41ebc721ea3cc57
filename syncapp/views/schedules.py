"""Schedules in the console: an environment's sync and reconcile schedules and their last firings
(everyone), and setting, pausing and resuming them (admins; the service checks again and audits).
Which schedule a request is about is its `job` field (sync when absent)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from syncapp.domain.errors import PermissionRefusedError, ProductionConfirmationError
from syncapp.models import SyncSchedule
from syncapp.permissions import can, forbidden, permission_required_403
from syncapp.selectors.environments import environment_config
from syncapp.selectors.schedules import schedule_summary
from syncapp.services.schedules import ScheduleError, schedule_pause, schedule_resume, schedule_set
from syncapp.sync_config import ConfigError

MANAGE = "switch_environment"
JOB_TITLES = {SyncSchedule.Job.SYNC: "Sync schedule", SyncSchedule.Job.RECONCILE: "Reconcile schedule"}


def schedule_context(request: HttpRequest, env, job: str = SyncSchedule.Job.SYNC, **extra) -> dict:
    """What one schedule's section shows (on the Environments page and on the schedule page)."""
    reconcile = job == SyncSchedule.Job.RECONCILE
    return {
        "env": env,
        "job": job,
        "job_title": JOB_TITLES[job],
        # Both sections sit on one page: the reconcile one's element ids and test ids are its own.
        "key": f"{job}-{env.name}" if reconcile else env.name,
        "tid": f"{job}-" if reconcile else "",
        "summary": schedule_summary(env.name, job),
        "can_manage": can(request, MANAGE),
        "form": {"mode": "", "cron": "", **extra.pop("form", {})},
        **extra,
    }


def _render(request: HttpRequest, env, job: str, *, status: int = 200, **extra) -> HttpResponse:
    return render(request, "syncapp/schedule.html", schedule_context(request, env, job, **extra), status=status)


def _job(request: HttpRequest) -> str | None:
    job = (request.POST if request.method == "POST" else request.GET).get("job") or SyncSchedule.Job.SYNC
    return job if job in JOB_TITLES else None


def _named(env, job: str) -> str:
    """The sync job keeps its plain name ("the Development schedule"); another job is named with it."""
    return env.label if job == SyncSchedule.Job.SYNC else f"{env.label} {job}"


def _env_and_job(request: HttpRequest, name: str):
    try:
        env = environment_config(name)
    except ConfigError as error:
        messages.error(request, str(error))
        return None, None
    job = _job(request)
    if job is None:
        messages.error(request, f"There is no such schedule; {env.label} has a sync and a reconcile schedule.")
        return None, None
    return env, job


@require_http_methods(["GET", "POST"])
@permission_required_403("view_console")
def schedule_detail(request: HttpRequest, name: str) -> HttpResponse:
    """GET shows the schedule; POST sets it (a cron expression or, for syncs, after each staging refresh)."""
    env, job = _env_and_job(request, name)
    if env is None:
        return redirect("environments")
    if request.method == "GET":
        return _render(request, env, job)
    if not can(request, MANAGE):
        return forbidden(request, MANAGE)
    mode = request.POST.get("mode", "")
    form = {"mode": mode, "cron": request.POST.get("cron", "")}
    if mode not in ("cron", "after_refresh"):
        return _render(
            request,
            env,
            job,
            status=400,
            form=form,
            error="Choose when it runs: a cron expression or after each refresh.",
        )
    try:
        schedule_set(
            environment=env.name,
            job=job,
            cron=form["cron"] if mode == "cron" else None,
            after_refresh=mode == "after_refresh",
            actor=request.user,
            via="console",
            confirm_text=request.POST.get("confirm_board", ""),
        )
    except ProductionConfirmationError as error:
        return _render(request, env, job, form=form, confirm_error=str(error))
    except (ScheduleError, PermissionRefusedError) as error:
        return _render(request, env, job, status=400, form=form, error=str(error))
    messages.success(request, f"The {_named(env, job)} schedule is set and running. Nothing else was changed.")
    return redirect("environments")


@require_POST
@permission_required_403(MANAGE)
def schedule_pause_view(request: HttpRequest, name: str) -> HttpResponse:
    env, job = _env_and_job(request, name)
    if env is None:
        return redirect("environments")
    try:
        schedule_pause(environment=env.name, job=job, actor=request.user, via="console")
    except (ScheduleError, PermissionRefusedError) as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"The {_named(env, job)} schedule is paused: nothing runs by itself until it is resumed."
        )
    return redirect("environments")


@require_POST
@permission_required_403(MANAGE)
def schedule_resume_view(request: HttpRequest, name: str) -> HttpResponse:
    env, job = _env_and_job(request, name)
    if env is None:
        return redirect("environments")
    try:
        schedule_resume(
            environment=env.name,
            job=job,
            actor=request.user,
            via="console",
            confirm_text=request.POST.get("confirm_board", ""),
        )
    except ProductionConfirmationError as error:
        return _render(request, env, job, confirm_error=str(error), resuming=True)
    except (ScheduleError, PermissionRefusedError) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The {_named(env, job)} schedule is running again.")
    return redirect("environments")
