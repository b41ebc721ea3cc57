"""Orders: the PO list, one PO, and the actions on a selection (mark, preview, sync)."""

from __future__ import annotations

import secrets
from dataclasses import replace

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import capfirst
from django.views.decorators.http import require_GET, require_POST

from syncapp.domain.errors import RunBusyError, RunRefusedError
from syncapp.domain.scope import Scope
from syncapp.forms import OrderFilterForm, SelectionError, scope_from_json, scope_to_json, selected_keys
from syncapp.permissions import can, can_preview, can_sync, forbidden, permission_required_403, sync_permission_for
from syncapp.selectors.environments import active_environment_name, environment_config, environments_order
from syncapp.selectors.orders import customer_names, po_page, scope_counts, scope_for_filters, scope_for_keys
from syncapp.selectors.po import po_detail
from syncapp.selectors.runs import active_run_for
from syncapp.services.confirmation import ProductionConfirmationError
from syncapp.services.orders import COMPLETED, PENDING, orders_mark
from syncapp.services.production_step import PRODUCTION, po_production_sync
from syncapp.services.sync import sync_run_create, sync_run_execute
from syncapp.sync_config import ConfigError
from syncapp.views.common import safe_next, sync_forbidden

# A preview runs inside the request, so it covers at most this many order lines.
PREVIEW_LIMIT = 500
# Confirmation tokens kept per session, so a double-submitted confirmation starts one run.
SYNC_TOKENS_KEPT = 20


@require_GET
@permission_required_403("view_console")
def orders_list(request: HttpRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET or None)
    filters = form.filters() if request.GET else OrderFilterForm({}).filters()
    page, rows = po_page(filters, form.page_number())
    environment = active_environment_name()
    return render(
        request,
        "syncapp/orders_list.html",
        {
            "form": form if request.GET else OrderFilterForm(),
            "filters": filters,
            "filter_params": filters.as_params(),
            "page": page,
            "rows": rows,
            "customers": customer_names(),
            "select_page": request.GET.get("select") == "page",
            "environment": environment,
            "can_mark": can(request, "mark_orders"),
            "can_preview": can_preview(request),
            "can_sync": can_sync(request, environment),
            "sync_permission": sync_permission_for(environment),
        },
    )


@require_GET
@permission_required_403("view_console")
def po_detail_view(request: HttpRequest) -> HttpResponse:
    customer, po = request.GET.get("customer", ""), request.GET.get("po", "")
    scope = Scope.parse(customer=customer, pos=[po])
    detail = po_detail(scope) if scope.customer and len(scope.pos) == 1 else None
    if detail is None:
        raise Http404("No order lines have this customer and PO number.")
    environment = active_environment_name()
    return render(
        request,
        "syncapp/po_detail.html",
        {
            "detail": detail,
            # The page's actions take the PO as the page read it: one customer, one PO, same rule.
            "key": scope_to_json(scope),
            "environment": environment,
            "can_mark": can(request, "mark_orders"),
            "can_preview": can_preview(request),
            "can_sync": can_sync(request, environment),
            # Runbook 3's step for this PO, as one confirmed action (services/production_step.py).
            "can_production_step": can(request, "mark_orders") and can_sync(request, PRODUCTION),
        },
    )


@require_POST
@permission_required_403("mark_orders")
def po_production_step(request: HttpRequest) -> HttpResponse:
    """Mark one PO PENDING for production and sync it there: the confirmation (typed production
    board), then the one action. A mistyped board asks again with the PO kept."""
    if denied := sync_forbidden(request, PRODUCTION):
        return denied
    try:
        scope = replace(scope_from_json(request.POST.get("scope", "")), limit=None)
    except SelectionError as error:
        return _refused(request, str(error))
    if not scope.customer or len(scope.pos) != 1:
        return _refused(request, "The production step takes one PO: open the PO's page and start it there.")
    env, error_page = _environment_or_error(request, PRODUCTION)
    if error_page:
        return error_page
    error = ""
    if "confirm_board" in request.POST:
        try:
            step = po_production_sync(
                scope=scope, actor=request.user, via="console", confirm_text=request.POST.get("confirm_board", "")
            )
        except ProductionConfirmationError as refusal:
            error = _mistyped(request, refusal)
        except RunBusyError as refusal:
            return _refused(request, str(refusal), active_run=active_run_for(PRODUCTION), status=409)
        except RunRefusedError as refusal:
            return _refused(request, str(refusal))
        else:
            messages.success(
                request,
                f"{capfirst(step.mark.summary())}. Run {step.run.pk} is queued: {scope.describe()} to {env.describe()}.",
            )
            return redirect(reverse("run_detail", kwargs={"run_id": step.run.pk}))
    return _confirm_page(request, env=env, scope=scope, error=error, production_step=True)


def _scope_from_post(request: HttpRequest) -> Scope:
    """What the POST selects: a scope carried from a confirmation page, every PO matching the
    filter, or the ticked POs."""
    if request.POST.get("scope"):
        return scope_from_json(request.POST["scope"])
    if request.POST.get("all_matching"):
        scope = scope_for_filters(OrderFilterForm(request.POST).filters())
        if scope is None:
            raise SelectionError("No PO matches the filter, so there is nothing to act on.")
        return scope
    keys = selected_keys(request.POST.getlist("key"))
    if not keys:
        raise SelectionError("Select at least one PO first (tick its box), or tick “all matching the filter”.")
    return scope_for_keys(keys)


@require_POST
@permission_required_403("mark_orders")
def orders_mark_view(request: HttpRequest) -> HttpResponse:
    """Mark the selected POs PENDING or COMPLETED, after a confirmation page with the counts."""
    state = request.POST.get("state")
    if state not in (PENDING, COMPLETED):
        messages.error(request, "Choose Mark PENDING or Mark COMPLETED.")
        return redirect(safe_next(request))
    try:
        scope = _scope_from_post(request)
    except SelectionError as error:
        messages.error(request, str(error))
        return redirect(safe_next(request))
    environment = active_environment_name()
    if request.POST.get("confirmed") != "yes":
        return render(
            request,
            "syncapp/orders_mark_confirm.html",
            {
                "state": state,
                "scope_json": scope_to_json(scope),
                "scope_text": scope.describe(),
                "counts": scope_counts(scope),
                "environment": environment,
                "next": safe_next(request),
            },
        )
    report = orders_mark(state=state, scope=scope, actor=request.user, via="console", environment=environment)
    messages.success(request, capfirst(report.summary()) + ".")
    return redirect(safe_next(request))


@require_POST
def orders_preview(request: HttpRequest) -> HttpResponse:
    """A dry run of the selection against the active environment's board, run inside the request."""
    if not can(request, "view_console") or not can_preview(request):
        return forbidden(request, "sync_development")
    try:
        scope = _scope_from_post(request)
    except SelectionError as error:
        messages.error(request, str(error))
        return redirect(safe_next(request))
    environment = active_environment_name()
    try:
        run = sync_run_create(
            environment=environment,
            scope=replace(scope, limit=PREVIEW_LIMIT),
            dry_run=True,
            actor=request.user,
            via="console",
            enqueue=False,
        )
    except (RunRefusedError, RunBusyError, ConfigError) as error:
        messages.error(request, str(error))
        return redirect(safe_next(request))
    sync_run_execute(run_id=run.pk)
    return redirect("run_detail", run_id=run.pk)


def _environment_or_error(request: HttpRequest, environment: str):
    try:
        return environment_config(environment), None
    except ConfigError as error:
        return None, render(
            request, "syncapp/sync_refused.html", {"message": str(error), "active_run": None}, status=400
        )


@require_POST
@permission_required_403("view_console")
def sync_confirm(request: HttpRequest) -> HttpResponse:
    """What a sync of the selection will do, and the button (for production, the typed board)."""
    environment = active_environment_name()
    if denied := sync_forbidden(request, environment):
        return denied
    try:
        # The sync takes the whole selection: a limit carried from a preview is dropped.
        scope = replace(_scope_from_post(request), limit=None)
    except SelectionError as error:
        messages.error(request, str(error))
        return redirect(safe_next(request))
    env, error_page = _environment_or_error(request, environment)
    if error_page:
        return error_page
    token = secrets.token_urlsafe(16)
    tokens = dict(request.session.get("sync_tokens", {}))
    tokens[token] = None
    request.session["sync_tokens"] = dict(list(tokens.items())[-SYNC_TOKENS_KEPT:])
    return _confirm_page(request, env=env, scope=scope, token=token)


def _other_boards(env) -> list:
    """The other environments' boards, named on the confirmation so two boards with one name are told
    apart by id and environment (an environment whose configuration does not load is left out)."""
    others = []
    for name in environments_order():
        if name == env.name:
            continue
        try:
            others.append(environment_config(name))
        except ConfigError:
            continue
    return others


def _confirm_page(
    request: HttpRequest, *, env, scope: Scope, token: str = "", error: str = "", production_step: bool = False
) -> HttpResponse:
    """The confirmation: what a sync of `scope` will do, on which board. Shown again with `error` when
    the typed production confirmation did not match, keeping the selection and the token.
    `production_step` is the PO page's "mark pending for production and sync" form."""
    return render(
        request,
        "syncapp/sync_confirm.html",
        {
            "env": env,
            "other_boards": _other_boards(env),
            "scope_json": scope_to_json(scope),
            "scope_text": scope.describe(),
            "counts": scope_counts(scope),
            "active_run": active_run_for(env.name),
            "token": token,
            "next": safe_next(request),
            "confirm_error": error,
            "production_step": production_step,
        },
    )


def _mistyped(request: HttpRequest, refusal: ProductionConfirmationError) -> str:
    """What was typed and why it is not the board, for the confirmation asked again."""
    typed = request.POST.get("confirm_board", "").strip()
    return (f"You typed “{typed}”, which is not this board. " if typed else "Nothing was typed. ") + str(refusal)


@require_POST
@permission_required_403("view_console")
def sync_start(request: HttpRequest) -> HttpResponse:
    environment = active_environment_name()
    if denied := sync_forbidden(request, environment):
        return denied
    if request.POST.get("environment") != environment:
        return _refused(
            request,
            f"The active environment is now {environment}, not the one this confirmation was for. "
            "Nothing was started; go back to the orders list and confirm again.",
        )
    env, error_page = _environment_or_error(request, environment)
    if error_page:
        return error_page
    token = request.POST.get("token", "")
    tokens = dict(request.session.get("sync_tokens", {}))
    if token not in tokens:
        return _refused(request, "This confirmation has expired. Nothing was started; confirm the sync again.")
    if tokens[token]:
        messages.info(request, f"This sync was already started as run {tokens[token]}; here it is.")
        return redirect("run_detail", run_id=tokens[token])
    try:
        scope = scope_from_json(request.POST.get("scope", ""))
    except SelectionError as error:
        return _refused(request, str(error))
    try:
        run = sync_run_create(
            environment=environment,
            scope=scope,
            dry_run=False,
            actor=request.user,
            via="console",
            confirm_text=request.POST.get("confirm_board", ""),
        )
    except ProductionConfirmationError as error:
        # Not a dead end: the same confirmation (selection, token) asks again, saying what was typed.
        return _confirm_page(request, env=env, scope=scope, token=token, error=_mistyped(request, error))
    except RunBusyError as error:
        return _refused(request, str(error), active_run=active_run_for(environment), status=409)
    except RunRefusedError as error:
        return _refused(request, str(error))
    tokens[token] = run.pk
    request.session["sync_tokens"] = tokens
    messages.success(request, f"Run {run.pk} is queued: {scope.describe()} to {env.describe()}.")
    return redirect(reverse("run_detail", kwargs={"run_id": run.pk}))


def _refused(request: HttpRequest, message: str, *, active_run=None, status: int = 400) -> HttpResponse:
    return render(
        request,
        "syncapp/sync_refused.html",
        {"message": message, "active_run": active_run},
        status=status,
    )
