"""Permission checks for console views: a friendly 403 page, never a redirect back to the login form.

A signed-in user without the permission would loop between the page and the login form if we
redirected; they are already signed in, so they get a page saying what they lack and whom to ask.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# What each permission lets someone do, in the words the 403 page uses.
PERMISSION_TEXT = {
    "view_console": "use the operations console",
    "mark_orders": "mark orders PENDING or COMPLETED",
    "sync_development": "sync to the development board",
    "sync_production": "sync to the production board",
    "switch_environment": "switch the active environment or check boards",
    "walk_runbooks": "walk through runbooks",
    "view_walkthrough": "see the training record",
}


def can(request: HttpRequest, codename: str) -> bool:
    return request.user.is_authenticated and request.user.has_perm(f"syncapp.{codename}")


def sync_permission_for(environment: str) -> str:
    return "sync_production" if environment == "production" else "sync_development"


def can_sync(request: HttpRequest, environment: str) -> bool:
    return can(request, sync_permission_for(environment))


def can_preview(request: HttpRequest) -> bool:
    """A dry run writes nothing to monday; anyone who may sync somewhere may preview."""
    return can(request, "sync_development") or can(request, "sync_production")


def can_preflight(request: HttpRequest) -> bool:
    """The preflight page: ops and admins, whoever may sync somewhere or switch the environment."""
    return can(request, "view_console") and (can_preview(request) or can(request, "switch_environment"))


def forbidden(request: HttpRequest, codename: str = "", reason: str = "") -> HttpResponse:
    action = PERMISSION_TEXT.get(codename, "do this")
    return render(
        request,
        "403.html",
        {"action": action, "codename": codename, "reason": reason},
        status=403,
    )


def permission_required_403(codename: str) -> Callable:
    """Let the view run only for users with `syncapp.<codename>`; others get the 403 page."""
    if codename not in PERMISSION_TEXT:
        raise ValueError(f"unknown console permission {codename!r}")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not can(request, codename):
                return forbidden(request, codename)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
