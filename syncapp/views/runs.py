"""Sync runs: the list, one run with live progress, its results and API calls, cancel and retry."""

from __future__ import annotations

import json
from dataclasses import replace

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from syncapp.domain.errors import RunBusyError, RunRefusedError
from syncapp.forms import RunFilterForm, scope_to_json
from syncapp.models import SyncRun
from syncapp.permissions import can_sync, permission_required_403, sync_permission_for
from syncapp.selectors.environments import active_environment_name, environment_config
from syncapp.selectors.error_causes import preview_findings
from syncapp.selectors.orders import scope_counts
from syncapp.selectors.runs import (
    RESULT_FILTERS,
    api_call_bodies,
    cancelled_by,
    failed_rows_now,
    failure_groups,
    plan_summary,
    result_status,
    run_api_calls,
    run_children,
    run_figures,
    run_outcome_counts,
    run_results,
    run_scope,
    runs_matching,
)
from syncapp.services.confirmation import ProductionConfirmationError
from syncapp.services.sync import sync_run_cancel, sync_run_retry_failed
from syncapp.sync_config import ConfigError
from syncapp.views.common import run_or_404, sync_forbidden
from syncapp.views.csv_export import csv_response

RUNS_PER_PAGE = 50
RESULTS_PER_PAGE = 100
PLAN_ROWS_PER_PAGE = 50
API_CALLS_PER_PAGE = 50


@require_GET
@permission_required_403("view_console")
def runs_list(request: HttpRequest) -> HttpResponse:
    form = RunFilterForm(request.GET or None)
    filters = form.filters() if request.GET else RunFilterForm({}).filters()
    page = Paginator(runs_matching(filters), RUNS_PER_PAGE).get_page(form.page_number())
    return render(
        request,
        "syncapp/runs_list.html",
        {"form": form if request.GET else RunFilterForm(), "page": page, "filtered": bool(filters.as_params())},
    )


def _outcome_filter(request: HttpRequest) -> str:
    outcome = request.GET.get("outcome", "")
    return outcome if outcome in RESULT_FILTERS else ""


def _results_context(request: HttpRequest, run: SyncRun, counts: dict[str, int]) -> dict:
    outcome = _outcome_filter(request)
    page = Paginator(run_results(run, outcome=outcome), RESULTS_PER_PAGE).get_page(request.GET.get("page") or 1)
    rows = [(result, result_status(result, active=run.is_active)) for result in page.object_list]
    return {"run": run, "results_page": page, "result_rows": rows, "outcome": outcome, "outcome_counts": counts}


def _live_context(run: SyncRun) -> dict:
    """What the progress block shows; the same whether the page or a poll renders it."""
    counts = run_outcome_counts(run)
    return {"run": run, "outcome_counts": counts, "figures": run_figures(run, counts)}


@require_GET
@permission_required_403("view_console")
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_or_404(run_id)
    if run.kind == SyncRun.Kind.RECONCILE:  # its findings have their own page (views/reconcile.py)
        return redirect("reconcile_detail", run_id=run.pk)
    try:
        env = environment_config(run.environment)
    except ConfigError:
        env = None
    scope = run_scope(run)
    context = {
        "run": run,
        "env": env,
        "scope_text": scope.describe(),
        "children": run_children(run),
        "can_act": can_sync(request, run.environment),
        "sync_permission": sync_permission_for(run.environment),
    }
    if run.dry_run:
        plan = plan_summary(run)
        context["plan"] = plan
        context["plan_page"] = Paginator(plan.rows, PLAN_ROWS_PER_PAGE).get_page(request.GET.get("page") or 1)
        # The console adds a row limit to keep previews quick; the sync itself takes the whole selection.
        console_limit = run.requested_via == "console" and scope.limit is not None
        context["sync_scope_json"] = scope_to_json(replace(scope, limit=None) if console_limit else scope)
        context["preview_truncated"] = console_limit and len(plan.rows) >= scope.limit
        # What will fail and why, grouped by cause, and groups parallel to a season's (selectors/error_causes).
        context["plan_errors"], context["plan_fallback_groups"] = preview_findings(plan.rows)
        # A sampled preview still counts the whole selection (from the order tables, not the sample).
        context["selection_counts"] = scope_counts(replace(scope, limit=None)) if context["preview_truncated"] else None
        context["can_sync_active"] = can_sync(request, active_environment_name())
    else:
        live = _live_context(run)
        counts = live["outcome_counts"]
        context.update(live)
        context.update(_results_context(request, run, counts))
        if not run.is_active:
            context["failed_now"] = failed_rows_now(run, counts["error"])
            context["failure_groups"] = failure_groups(run, counts)
            if run.status == SyncRun.Status.CANCELLED:
                context["cancelled_by"] = cancelled_by(run)
    return render(request, "syncapp/run_detail.html", context)


@require_GET
@permission_required_403("view_console")
def run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress block, polled by htmx every second while the run is active (live counts from its
    results, board journal and API log). Once the run has ended the block comes back without its
    polling trigger, and HX-Trigger tells the page to load the outcome and the results."""
    run = run_or_404(run_id)
    response = render(request, "syncapp/partials/run_progress.html", _live_context(run))
    if not run.is_active:
        response["HX-Trigger"] = json.dumps({"runFinished": {"run": run.pk, "status": run.status}})
    return response


@require_GET
@permission_required_403("view_console")
def run_results_partial(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_or_404(run_id)
    return render(request, "syncapp/partials/run_results.html", _results_context(request, run, run_outcome_counts(run)))


CSV_COLUMNS = (
    "record_uuid",
    "aag_order_number",
    "customer_name",
    "po_number",
    "action",
    "outcome",
    "monday_item_id",
    "group_id",
    "sizes_written",
    "error_code",
    "message",
    "finished_at",
)


@require_GET
@permission_required_403("view_console")
def run_results_csv(request: HttpRequest, run_id: int) -> StreamingHttpResponse:
    run = run_or_404(run_id)
    outcome = _outcome_filter(request)
    results = run_results(run, outcome=outcome)
    suffix = f"-{outcome}" if outcome else ""
    return csv_response(
        f"orderops-run-{run.pk}{suffix}.csv",
        CSV_COLUMNS,
        results.values_list(*CSV_COLUMNS).iterator(chunk_size=2000),
    )


@require_GET
@permission_required_403("view_console")
def run_api_calls_view(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_or_404(run_id)
    page = Paginator(run_api_calls(run), API_CALLS_PER_PAGE).get_page(request.GET.get("page") or 1)
    calls = [(call, *api_call_bodies(call)) for call in page.object_list]
    return render(request, "syncapp/run_api_calls.html", {"run": run, "page": page, "calls": calls})


@require_POST
@permission_required_403("view_console")
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = run_or_404(run_id)
    if denied := sync_forbidden(request, run.environment):
        return denied
    try:
        sync_run_cancel(run_id=run.pk, actor=request.user, via="console")
    except RunRefusedError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Run {run.pk} is cancelling: rows not yet sent go back to PENDING.")
    return redirect("run_detail", run_id=run.pk)


@require_POST
@permission_required_403("view_console")
def run_retry(request: HttpRequest, run_id: int) -> HttpResponse:
    """A new run, linked to this one, for the rows that failed here."""
    run = run_or_404(run_id)
    if denied := sync_forbidden(request, run.environment):
        return denied
    try:
        retry = sync_run_retry_failed(
            run_id=run.pk, actor=request.user, via="console", confirm_text=request.POST.get("confirm_board", "")
        )
    except (RunBusyError, RunRefusedError, ProductionConfirmationError, ConfigError) as error:
        messages.error(request, str(error))
        return redirect("run_detail", run_id=run.pk)
    messages.success(request, f"Run {retry.pk} retries the failed rows of run {run.pk}.")
    return redirect("run_detail", run_id=retry.pk)
