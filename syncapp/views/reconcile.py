"""Reconcile in the console: an environment's reconcile runs and the "Reconcile now" form, one
reconcile run with its live progress and its findings (filters, CSV), and "Repair selected".

Starting a reconcile and a repair go through the services (services/reconcile.py,
services/reconcile_repair.py), which hold the rules: the permission to sync to the environment, the
busy board, the token, production's typed confirmation, the audit. The views check the permission
first only to answer with the console's 403 page.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from syncapp.domain.errors import PermissionRefusedError, ProductionConfirmationError, RunBusyError, RunRefusedError
from syncapp.domain.scope import Scope, ScopeError
from syncapp.models import ReconcileFinding, SyncRun
from syncapp.permissions import can_sync, permission_required_403, sync_permission_for
from syncapp.selectors.environments import environment_config, monday_item_url
from syncapp.selectors.reconcile import (
    KIND_ORDER,
    finding_counts,
    findings_csv_rows,
    findings_filtered,
    reconcile_runs,
    stored_counts,
)
from syncapp.selectors.runs import active_run_for, run_api_calls, run_children, run_scope
from syncapp.services.reconcile import reconcile_run_create, reconcile_scope_describe
from syncapp.services.reconcile_repair import reconcile_repair_create
from syncapp.sync_config import ENVIRONMENTS, ConfigError
from syncapp.views.common import run_or_404, sync_forbidden
from syncapp.views.csv_export import csv_response

RUNS_SHOWN = 20
FINDINGS_PER_PAGE = 100
READS_THE_BOARD = "A reconcile reads the whole board with the environment's token."
WRITES_TO_THE_BOARD = "A repair writes to the board."
Kind, Status = ReconcileFinding.Kind, ReconcileFinding.Status

# Each kind of finding in the words of the people who run the board, with what a repair does.
KIND_TEXT = {
    Kind.MISSING: (
        "Missing",
        "The order line's item is not on the board: deleted, archived, or never created.",
        "A repair finds it again by its AAG ORDER NUMBER or creates it with its sizes.",
    ),
    Kind.ORPHAN: (
        "Not ours",
        "An item on the board that no order line owns (made by hand, or its order line is gone).",
        "A repair leaves it alone: delete it on monday if nobody needs it.",
    ),
    Kind.DUPLICATE: (
        "Duplicate",
        "A second item for one order line.",
        "A repair archives the copy (whoever made it) when orderops made the order line's item; a copy of an item "
        "a person made is left alone.",
    ),
    Kind.VALUE_DRIFT: (
        "Value changed",
        "A column on the board no longer holds what the order says.",
        "A repair writes the order's value back, except in columns people own on monday (kept for review).",
    ),
    Kind.WRONG_GROUP: (
        "Wrong group",
        "The item was moved out of its customer-and-season group.",
        "A repair moves it back.",
    ),
    Kind.SIZE_DRIFT: (
        "Size changed",
        "A size subitem differs from the order: another quantity, missing, or one too many.",
        "A repair writes the quantity back or creates the size; an extra size is archived when orderops made it.",
    ),
}


def _environment_or_404(name: str):
    if name not in ENVIRONMENTS:
        raise Http404("There is no environment with this name.")
    return environment_config(name)


def _reconcile_or_404(run_id: int) -> SyncRun:
    run = run_or_404(run_id)
    if run.kind != SyncRun.Kind.RECONCILE:
        raise Http404("This run is not a reconcile.")
    return run


def _run_rows(runs) -> list[dict]:
    rows = []
    for run in runs:
        counts = stored_counts(run)
        rows.append({"run": run, "counts": counts, "total": sum(counts.values()), "scope": _scope_text(run)})
    return rows


def _scope_text(run: SyncRun) -> str:
    return reconcile_scope_describe(run_scope(run))


# --- an environment's reconcile runs and the "Reconcile now" form --------------------------------


def _environment_page(
    request: HttpRequest, env, *, form: dict | None = None, error: str = "", field: str = "", status: int = 200
) -> HttpResponse:
    return render(
        request,
        "syncapp/reconcile_environment.html",
        {
            "env": env,
            "runs": _run_rows(reconcile_runs(environment=env.name)[:RUNS_SHOWN]),
            "kinds": [(k, KIND_TEXT[k][0]) for k in KIND_ORDER],
            "form": form or {"customer": "", "pos": ""},
            "error": error,
            "error_field": field,
            "active_run": active_run_for(env.name) if error else None,
            "can_reconcile": can_sync(request, env.name),
            "sync_permission": sync_permission_for(env.name),
        },
        status=status,
    )


@require_GET
@permission_required_403("view_console")
def environment_reconcile(request: HttpRequest, name: str) -> HttpResponse:
    try:
        env = _environment_or_404(name)
    except ConfigError as error:
        messages.error(request, str(error))
        return redirect("environments")
    return _environment_page(request, env)


def _pos(text: str) -> list[str]:
    """PO numbers as people paste them: separated by commas, semicolons, spaces or lines."""
    return [po for po in text.replace(",", " ").replace(";", " ").split() if po]


@require_POST
@permission_required_403("view_console")
def environment_reconcile_start(request: HttpRequest, name: str) -> HttpResponse:
    """Start a reconcile of the environment's board (queued for the worker). A refusal shows the page
    again with what was typed kept and the reason in plain words."""
    try:
        env = _environment_or_404(name)
    except ConfigError as error:
        messages.error(request, str(error))
        return redirect("environments")
    if denied := sync_forbidden(request, env.name, READS_THE_BOARD):
        return denied
    form = {"customer": request.POST.get("customer", "").strip(), "pos": request.POST.get("pos", "").strip()}
    try:
        scope = Scope.parse(customer=form["customer"] or None, pos=_pos(form["pos"]))
        run = reconcile_run_create(environment=env.name, scope=scope, actor=request.user, via="console")
    except ScopeError as error:
        return _environment_page(request, env, form=form, error=str(error), field=error.field, status=400)
    except RunBusyError as error:
        return _environment_page(request, env, form=form, error=f"Nothing was started: {error}", status=409)
    except PermissionRefusedError as error:
        return _environment_page(request, env, form=form, error=f"Nothing was started: {error}", status=403)
    except (RunRefusedError, ConfigError) as error:
        return _environment_page(request, env, form=form, error=f"Nothing was started: {error}", status=400)
    messages.success(
        request, f"Reconcile run {run.pk} is queued: {reconcile_scope_describe(scope)} on {env.describe()}."
    )
    return redirect("reconcile_detail", run_id=run.pk)


# --- one reconcile run ---------------------------------------------------------------------------


def _filters(request: HttpRequest) -> tuple[dict[str, str], list[str]]:
    """The findings filters from the query string; values the page cannot use are named, not guessed."""
    filters = {name: request.GET.get(name, "").strip() for name in ("kind", "status", "customer", "po", "q")}
    problems = []
    if filters["kind"] and filters["kind"] not in KIND_ORDER:
        problems.append(f"There is no kind of finding called “{filters['kind']}”: all kinds are shown.")
        filters["kind"] = ""
    if filters["status"] and filters["status"] not in Status.values:
        problems.append(f"There is no status called “{filters['status']}”: all statuses are shown.")
        filters["status"] = ""
    return filters, problems


def _findings(run: SyncRun, filters: dict[str, str]):
    return findings_filtered(
        run,
        kind=filters["kind"],
        status=filters["status"],
        customer=filters["customer"],
        po=filters["po"],
        search=filters["q"],
    )


def _finding_row(finding: ReconcileFinding, env) -> dict:
    item_url = subitem_url = ""
    if env is not None and finding.monday_item_id:
        item_url = monday_item_url(env.items_board_id, finding.monday_item_id)
    if env is not None and finding.monday_subitem_id:
        subitem_url = monday_item_url(env.subitems_board_id, finding.monday_subitem_id)
    return {
        "f": finding,
        "kind_text": KIND_TEXT[finding.kind][0] if finding.kind in KIND_TEXT else finding.kind,
        "item_url": item_url,
        "subitem_url": subitem_url,
        "open": finding.status == Status.OPEN,
    }


def _progress_context(run: SyncRun) -> dict:
    return {"run": run, "api_calls": run_api_calls(run).count()}


@require_GET
@permission_required_403("view_console")
def reconcile_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _reconcile_or_404(run_id)
    try:
        env = environment_config(run.environment)
    except ConfigError:
        env = None
    filters, problems = _filters(request)
    context = {
        **_progress_context(run),
        "env": env,
        "scope_text": _scope_text(run),
        "filters": filters,
        "filter_problems": problems,
        "filtered": any(filters.values()),
        "kinds": [(k, KIND_TEXT[k][0], KIND_TEXT[k][1], KIND_TEXT[k][2]) for k in KIND_ORDER],
        "statuses": Status.choices,
        "repairs": [child for child in run_children(run) if child.kind == SyncRun.Kind.REPAIR],
    }
    if run.status == SyncRun.Status.COMPLETED:
        counts = finding_counts(run)
        by_status = finding_counts(run, by="status")
        page = Paginator(_findings(run, filters), FINDINGS_PER_PAGE).get_page(request.GET.get("page") or 1)
        context.update(
            {
                "counts": counts,
                "kind_counts": [(k, KIND_TEXT[k][0], counts[k]) for k in KIND_ORDER],
                "total": sum(counts.values()),
                "by_status": by_status,
                "open_count": by_status.get(Status.OPEN, 0),
                "page": page,
                "rows": [_finding_row(f, env) for f in page.object_list],
                "can_repair": env is not None and can_sync(request, run.environment),
                "sync_permission": sync_permission_for(run.environment),
                "lines_compared": ((run.summary or {}).get("reconcile") or {}).get("lines_compared", 0),
                "items_read": ((run.summary or {}).get("reconcile") or {}).get("items_read", 0),
            }
        )
    return render(request, "syncapp/reconcile_detail.html", context)


@require_GET
@permission_required_403("view_console")
def reconcile_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress block, polled every second while the reconcile is active; once it has ended,
    HX-Trigger tells the page to load the findings (the run page's pattern)."""
    run = _reconcile_or_404(run_id)
    response = render(request, "syncapp/partials/reconcile_progress.html", _progress_context(run))
    if not run.is_active:
        response["HX-Trigger"] = json.dumps({"runFinished": {"run": run.pk, "status": run.status}})
    return response


@require_GET
@permission_required_403("view_console")
def reconcile_findings_csv(request: HttpRequest, run_id: int) -> StreamingHttpResponse:
    """Every finding the filters select (not only the page shown), streamed."""
    run = _reconcile_or_404(run_id)
    filters, _problems = _filters(request)
    rows = findings_csv_rows(_findings(run, filters))
    header = next(rows)
    suffix = f"-{filters['kind']}" if filters["kind"] else ""
    return csv_response(f"orderops-reconcile-{run.pk}{suffix}.csv", header, rows)


# --- repair ------------------------------------------------------------------------------------


def _selected_ids(request: HttpRequest) -> list[int]:
    ids = []
    for value in request.POST.getlist("finding"):
        try:
            ids.append(int(value))
        except ValueError:
            continue
    return sorted(set(ids))


def _repair_confirm_page(
    request: HttpRequest, run: SyncRun, env, *, ids: list[int] | None, error: str = ""
) -> HttpResponse:
    wanted = None if ids is None else set(ids)
    counts = {k: 0 for k in KIND_ORDER}
    for pk, kind in findings_filtered(run, status=Status.OPEN).values_list("pk", "kind"):
        if wanted is None or pk in wanted:
            counts[kind] = counts.get(kind, 0) + 1
    return render(
        request,
        "syncapp/reconcile_repair_confirm.html",
        {
            "run": run,
            "env": env,
            "ids": ids,
            "all_open": ids is None,
            "kind_counts": [(KIND_TEXT[k][0], KIND_TEXT[k][2], n) for k, n in counts.items() if n],
            "total": sum(counts.values()),
            "confirm_error": error,
        },
    )


@require_POST
@permission_required_403("view_console")
def reconcile_repair(request: HttpRequest, run_id: int) -> HttpResponse:
    """Repair the ticked findings, or every open one. Production asks for the board's name or id on a
    confirmation page first (asked again, selection kept, when it does not match)."""
    # The permission first: whether the run is a reconcile is no business of someone who may not repair.
    if denied := sync_forbidden(request, run_or_404(run_id).environment, WRITES_TO_THE_BOARD):
        return denied
    run = _reconcile_or_404(run_id)
    back = reverse("reconcile_detail", kwargs={"run_id": run.pk})
    all_open = request.POST.get("all_open") == "1"
    ids = None if all_open else _selected_ids(request)
    if ids is not None and not ids:
        messages.error(request, "Tick at least one open finding to repair, or press “Repair all open”.")
        return redirect(back)
    try:
        env = environment_config(run.environment)
    except ConfigError as error:
        messages.error(request, f"Nothing was started: {error}")
        return redirect(back)
    if env.is_production and "confirm_board" not in request.POST:
        return _repair_confirm_page(request, run, env, ids=ids)
    try:
        repair = reconcile_repair_create(
            run_id=run.pk,
            finding_ids=ids,
            actor=request.user,
            via="console",
            confirm_text=request.POST.get("confirm_board", ""),
        )
    except ProductionConfirmationError as error:
        typed = request.POST.get("confirm_board", "").strip()
        said = (f"You typed “{typed}”, which is not this board. " if typed else "Nothing was typed. ") + str(error)
        return _repair_confirm_page(request, run, env, ids=ids, error=said)
    except RunBusyError as error:
        return render(
            request,
            "syncapp/reconcile_refused.html",
            {"run": run, "message": str(error), "active_run": active_run_for(run.environment)},
            status=409,
        )
    except (PermissionRefusedError, RunRefusedError, ConfigError) as error:
        messages.error(request, f"Nothing was started: {error}")
        return redirect(back)
    messages.success(
        request,
        f"Repair run {repair.pk} is queued: {repair.total_rows} finding{'s' if repair.total_rows != 1 else ''} of "
        f"reconcile run {run.pk} on {env.describe()}. When it ends, reconcile again to check the board.",
    )
    return redirect("run_detail", run_id=repair.pk)
