"""Environments: both boards, their tokens (configured or not, never the value), checking a board
against the mapping, and switching the active environment (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from syncapp.permissions import can, permission_required_403
from syncapp.selectors.boards import board_check
from syncapp.selectors.environments import (
    active_environment_name,
    console_settings_row,
    monday_board_url,
    uses_emulator,
)
from syncapp.services.environments import EnvironmentSwitchError, environment_switch
from syncapp.sync_config import ENVIRONMENTS, ConfigError, get_sync_config


def _environments_context(request: HttpRequest, checks: dict | None = None) -> dict:
    try:
        config = get_sync_config()
        error = ""
    except ConfigError as exc:
        config, error = None, str(exc)
    active = active_environment_name()
    rows = []
    if config:
        for name in ENVIRONMENTS:
            env = config.environments[name]
            rows.append(
                {
                    "env": env,
                    "active": name == active,
                    "token_configured": bool(env.token),
                    "board_url": monday_board_url(env.items_board_id),
                    "check": (checks or {}).get(name),
                }
            )
    return {
        "rows": rows,
        "config_error": error,
        "active": active,
        "settings_row": console_settings_row(),
        "emulator": uses_emulator(),
        "can_switch": can(request, "switch_environment"),
    }


@require_GET
@permission_required_403("view_console")
def environments(request: HttpRequest) -> HttpResponse:
    return render(request, "syncapp/environments.html", _environments_context(request))


@require_POST
@permission_required_403("switch_environment")
def environment_check(request: HttpRequest, name: str) -> HttpResponse:
    """Fetch the environment's boards from monday and compare their columns with the mapping."""
    if name not in ENVIRONMENTS:
        messages.error(request, f"There is no environment called {name!r}.")
        return redirect("environments")
    try:
        check = board_check(name)
    except ConfigError as error:
        messages.error(request, str(error))
        return redirect("environments")
    if request.htmx:
        return render(request, "syncapp/partials/board_check.html", {"check": check})
    return render(request, "syncapp/environments.html", _environments_context(request, {name: check}))


@require_http_methods(["GET", "POST"])
@permission_required_403("switch_environment")
def environment_switch_view(request: HttpRequest, name: str) -> HttpResponse:
    """GET asks for confirmation; POST switches."""
    try:
        env = get_sync_config().environment(name)
    except ConfigError as error:
        messages.error(request, str(error))
        return redirect("environments")
    if request.method == "POST":
        try:
            environment_switch(name=env.name, actor=request.user, via="console")
        except EnvironmentSwitchError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"The console now acts on {env.describe()}.")
        return redirect("environments")
    return render(
        request,
        "syncapp/environment_switch_confirm.html",
        {"env": env, "active": active_environment_name()},
    )
