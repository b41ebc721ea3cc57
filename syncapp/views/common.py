"""Small helpers shared by the console views: where to go back to, the run in the URL, and the
sync permission check that every view writing to a board opens with."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from syncapp.models import SyncRun
from syncapp.permissions import can_sync, forbidden, sync_permission_for
from syncapp.selectors.runs import run_get


def safe_next(request: HttpRequest, default: str = "orders") -> str:
    """Where to go back to after an action: the page the form came from, if it is ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse(default)


def run_or_404(run_id: int) -> SyncRun:
    run = run_get(run_id)
    if run is None:
        raise Http404("There is no run with this number.")
    return run


def sync_forbidden(request: HttpRequest, environment: str, reason: str = "") -> HttpResponse | None:
    """The 403 page when the user may not write to `environment`'s board; None when they may.

    Views that sync, cancel, retry or roll back open with
    `if denied := sync_forbidden(request, environment): return denied`.
    """
    if can_sync(request, environment):
        return None
    return forbidden(request, sync_permission_for(environment), reason)
