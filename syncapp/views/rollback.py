"""Rolling back a run from the console: the plan first (a dry run that changes nothing), then the
rollback itself, recorded and queued like a sync. Production needs the board's name or id typed."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from syncapp.models import SyncRun
from syncapp.permissions import can_sync, forbidden, permission_required_403, sync_permission_for
from syncapp.selectors.runs import run_get
from syncapp.services.rollback import rollback_plan, rollback_run_create
from syncapp.services.sync import SyncBusyError, SyncRefusedError
from syncapp.sync_config import ConfigError

PLAN_LINES_SHOWN = 200


def _run_or_404(run_id: int) -> SyncRun:
    run = run_get(run_id)
    if run is None:
        raise Http404("There is no run with this number.")
    return run


def _delete(request: HttpRequest) -> bool:
    return (request.POST.get("delete") or request.GET.get("delete")) == "1"


@require_GET
@permission_required_403("view_console")
def run_rollback(request: HttpRequest, run_id: int) -> HttpResponse:
    """What the run did on the board and what rolling it back would do. Changes nothing."""
    run = _run_or_404(run_id)
    if not can_sync(request, run.environment):
        return forbidden(request, sync_permission_for(run.environment), "Rolling back writes to the board.")
    delete = _delete(request)
    plan = rollback_plan(run_id=run.pk, delete=delete)
    steps = [step.describe(delete=delete) for step in plan.steps]
    rows = [row.describe() for row in plan.rows]
    return render(
        request,
        "syncapp/run_rollback.html",
        {
            "run": run,
            "plan": plan,
            "counts": plan.counts(),
            "delete": delete,
            "steps": steps[:PLAN_LINES_SHOWN],
            "steps_hidden": max(0, len(steps) - PLAN_LINES_SHOWN),
            "rows": rows[:PLAN_LINES_SHOWN],
            "rows_hidden": max(0, len(rows) - PLAN_LINES_SHOWN),
        },
    )


@require_POST
@permission_required_403("view_console")
def run_rollback_start(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run_or_404(run_id)
    if not can_sync(request, run.environment):
        return forbidden(request, sync_permission_for(run.environment), "Rolling back writes to the board.")
    delete = _delete(request)
    try:
        rollback = rollback_run_create(
            run_id=run.pk,
            actor=request.user,
            via="console",
            delete=delete,
            confirm_text=request.POST.get("confirm_board", ""),
            enqueue=True,
        )
    except (SyncRefusedError, SyncBusyError, ConfigError) as error:
        messages.error(request, f"Nothing was started: {error}")
        url = reverse("run_rollback", kwargs={"run_id": run.pk})
        return redirect(f"{url}?delete=1" if delete else url)
    mode = "deletes" if delete else "archives"
    messages.success(
        request, f"Run {rollback.pk} is queued: it {mode} what run {run.pk} created and restores what it replaced."
    )
    return redirect("run_detail", run_id=rollback.pk)
