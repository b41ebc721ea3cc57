"""Sync schedules in the console: an environment's schedule and its last firings (everyone), and
setting, pausing and resuming it (admins; the service checks again and audits)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from syncapp.domain.errors import PermissionRefusedError, ProductionConfirmationError
from syncapp.permissions import can, forbidden, permission_required_403
from syncapp.selectors.environments import environment_config
from syncapp.selectors.schedules import schedule_summary
from syncapp.services.schedules import ScheduleError, schedule_pause, schedule_resume, schedule_set
from syncapp.sync_config import ConfigError

MANAGE = "switch_environment"


def schedule_context(request: HttpRequest, env, **extra) -> dict:
    """What the schedule section shows (the Environments page's section and the schedule page)."""
    return {
        "env": env,
        "summary": schedule_summary(env.name),
        "can_manage": can(request, MANAGE),
        "form": {"mode": "", "cron": "", **extra.pop("form", {})},
        **extra,
    }


def _render(request: HttpRequest, env, *, status: int = 200, **extra) -> HttpResponse:
    return render(request, "syncapp/schedule.html", schedule_context(request, env, **extra), status=status)


@require_http_methods(["GET", "POST"])
@permission_required_403("view_console")
def schedule_detail(request: HttpRequest, name: str) -> HttpResponse:
    """GET shows the schedule; POST sets it (a cron expression or after each staging refresh)."""
    try:
        env = environment_config(name)
    except ConfigError as error:
        messages.error(request, str(error))
        return redirect("environments")
    if request.method == "GET":
        return _render(request, env)
    if not can(request, MANAGE):
        return forbidden(request, MANAGE)
    mode = request.POST.get("mode", "")
    form = {"mode": mode, "cron": request.POST.get("cron", "")}
    if mode not in ("cron", "after_refresh"):
        return _render(
            request, env, status=400, form=form, error="Choose when it runs: a cron expression or after each refresh."
        )
    try:
        schedule_set(
            environment=env.name,
            cron=form["cron"] if mode == "cron" else None,
            after_refresh=mode == "after_refresh",
            actor=request.user,
            via="console",
            confirm_text=request.POST.get("confirm_board", ""),
        )
    except ProductionConfirmationError as error:
        return _render(request, env, form=form, confirm_error=str(error))
    except (ScheduleError, PermissionRefusedError) as error:
        return _render(request, env, status=400, form=form, error=str(error))
    messages.success(request, f"The {env.label} schedule is set and running. Nothing else was changed.")
    return redirect("environments")


@require_POST
@permission_required_403(MANAGE)
def schedule_pause_view(request: HttpRequest, name: str) -> HttpResponse:
    try:
        env = environment_config(name)
        schedule_pause(environment=env.name, actor=request.user, via="console")
    except (ConfigError, ScheduleError, PermissionRefusedError) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The {env.label} schedule is paused: nothing runs by itself until it is resumed.")
    return redirect("environments")


@require_POST
@permission_required_403(MANAGE)
def schedule_resume_view(request: HttpRequest, name: str) -> HttpResponse:
    try:
        env = environment_config(name)
    except ConfigError as error:
        messages.error(request, str(error))
        return redirect("environments")
    try:
        schedule_resume(
            environment=env.name,
            actor=request.user,
            via="console",
            confirm_text=request.POST.get("confirm_board", ""),
        )
    except ProductionConfirmationError as error:
        return _render(request, env, confirm_error=str(error), resuming=True)
    except (ScheduleError, PermissionRefusedError) as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The {env.label} schedule is running again.")
    return redirect("environments")
