"""Rolling back a run from the console: the plan first (a dry run that changes nothing), then the
rollback itself, recorded and queued like a sync. Production needs the board's name or id typed."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from syncapp.domain.errors import RunBusyError, RunRefusedError
from syncapp.permissions import permission_required_403
from syncapp.services.rollback import rollback_plan, rollback_run_create
from syncapp.sync_config import ConfigError
from syncapp.views.common import run_or_404, sync_forbidden

PLAN_LINES_SHOWN = 200
WRITES_TO_THE_BOARD = "Rolling back writes to the board."


def _delete(request: HttpRequest) -> bool:
    return (request.POST.get("delete") or request.GET.get("delete")) == "1"


@require_GET
@permission_required_403("view_console")
def run_rollback(request: HttpRequest, run_id: int) -> HttpResponse:
    """What the run did on the board and what rolling it back would do. Changes nothing."""
    run = run_or_404(run_id)
    if denied := sync_forbidden(request, run.environment, WRITES_TO_THE_BOARD):
        return denied
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
    run = run_or_404(run_id)
    if denied := sync_forbidden(request, run.environment, WRITES_TO_THE_BOARD):
        return denied
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
    except (RunRefusedError, RunBusyError, ConfigError) as error:
        messages.error(request, f"Nothing was started: {error}")
        url = reverse("run_rollback", kwargs={"run_id": run.pk})
        return redirect(f"{url}?delete=1" if delete else url)
    mode = "deletes" if delete else "archives"
    messages.success(
        request, f"Run {rollback.pk} is queued: it {mode} what run {run.pk} created and restores what it replaced."
    )
    return redirect("run_detail", run_id=rollback.pk)
