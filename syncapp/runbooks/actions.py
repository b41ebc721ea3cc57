"""Actions for runbook steps: links and buttons that open a console page already filled in.

A runbook step names one on a line of its own (docs/runbooks/README.md has the convention):

    action: mark_pending customer=GREYSON po=4755

and the console shows a button that opens the mark confirmation for that PO. An action never changes
anything by itself: it lands on the same confirmation page the console's own buttons lead to. A user
whose role lacks the permission sees the action greyed out with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

from syncapp.forms import scope_to_json
from syncapp.permissions import can, can_preflight, can_preview, can_sync
from syncapp.runbooks.loader import runbook_load
from syncapp.runbooks.params import params_describe, params_scope
from syncapp.selectors.environments import active_environment_name, environment_config, monday_board_url
from syncapp.selectors.runbooks import latest_real_run
from syncapp.sync_config import ConfigError
from syncapp.templatetags.console import po_url


@dataclass(frozen=True)
class ActionLink:
    label: str
    url: str
    method: str = "get"  # "get": a link; "post": a button in a small form carrying `fields`
    fields: tuple[tuple[str, str], ...] = ()
    allowed: bool = True
    reason: str = ""  # why it is not available, when it is not
    external: bool = False
    primary: bool = False


@dataclass(frozen=True)
class ActionDef:
    name: str
    summary: str
    build: Callable[[dict[str, str], HttpRequest, str], ActionLink]
    params: tuple[str, ...] = ()
    required: tuple[str, ...] = ()


def _url(url_name: str, query: dict[str, str] | None = None, /, **kwargs) -> str:
    url = reverse(url_name, kwargs=kwargs or None)
    query = {k: v for k, v in (query or {}).items() if v}
    return f"{url}?{urlencode(query)}" if query else url


def _scope_json(params: dict[str, str]) -> str:
    return scope_to_json(params_scope(params))


def _label(params: dict[str, str], default: str) -> str:
    return params.get("label") or default


def _active() -> str:
    return active_environment_name()


def _orders(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    query = {
        "customer": params.get("customer", ""),
        "po": ",".join(params_scope(params).pos),
        "state": params.get("state", ""),
        "season": params.get("season", ""),
        "cancelled": params.get("cancelled", ""),
    }
    what = " ".join(v for k, v in query.items() if v and k != "po") + (f" PO {query['po']}" if query["po"] else "")
    default = f"Open the orders list filtered to {what.strip()}" if what.strip() else "Open the orders list"
    return ActionLink(_label(params, default), _url("orders", query))


def _po_detail(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    return ActionLink(_label(params, f"Open {params_describe(params)}"), po_url(params["customer"], params["po"]))


def _mark(state: str) -> Callable[[dict[str, str], HttpRequest, str], ActionLink]:
    def build(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
        what = params_describe(params) or "every order line"
        return ActionLink(
            _label(params, f"Mark {what} {state.upper()}…"),
            reverse("orders_mark"),
            method="post",
            fields=(("scope", _scope_json(params)), ("state", state), ("next", next_url)),
            allowed=can(request, "mark_orders"),
            reason="Your role cannot mark orders (needs mark_orders: Ops or Admin).",
        )

    return build


def _preview(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    return ActionLink(
        _label(params, f"Preview {params_describe(params) or 'every pending order line'} on {_active()}"),
        reverse("orders_preview"),
        method="post",
        fields=(("scope", _scope_json(params)), ("next", next_url)),
        allowed=can_preview(request),
        reason="Your role cannot preview syncs (needs sync_development or sync_production).",
    )


def _sync_confirm(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    active = _active()
    wanted = params.get("env", active)
    link = ActionLink(
        _label(params, f"Sync {params_describe(params) or 'every pending order line'} to {wanted}…"),
        reverse("sync_confirm"),
        method="post",
        fields=(("scope", _scope_json(params)), ("next", next_url)),
        primary=True,
    )
    if wanted != active:
        return replace(link, allowed=False, reason=f"The console acts on {active}, not {wanted}.")
    if not can_sync(request, active):
        return replace(link, allowed=False, reason=f"Your role cannot sync to {active}.")
    return link


def _latest_run(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    environment = params.get("env") or _active()
    run = latest_real_run(environment=environment, scope=params_scope(params))
    if run is None:
        return ActionLink(
            _label(params, f"Open the latest {environment} run"),
            "",
            allowed=False,
            reason=f"No {environment} run yet.",
        )
    return ActionLink(_label(params, f"Open run {run.pk}"), _url("run_detail", run_id=run.pk))


def _runs(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    query = {"environment": params.get("env", ""), "status": params.get("status", ""), "kind": params.get("kind", "")}
    return ActionLink(_label(params, "Open the runs list"), _url("runs", query))


def _simple(url_name: str, label: str) -> Callable[[dict[str, str], HttpRequest, str], ActionLink]:
    def build(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
        return ActionLink(_label(params, label), _url(url_name))

    return build


def _switch_environment(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    env = params["env"]
    link = ActionLink(_label(params, f"Switch the console to {env}…"), _url("environment_switch", name=env))
    if _active() == env:
        return replace(link, allowed=False, reason=f"The console already acts on {env}.")
    if not can(request, "switch_environment"):
        return replace(link, allowed=False, reason="Only admins switch the environment.")
    return link


def _preflight(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    query = {
        "env": params.get("env", ""),
        "customer": params.get("customer", ""),
        "po": " ".join(params_scope(params).pos),
    }
    return ActionLink(
        _label(params, f"Open the preflight page for {params.get('env') or 'an environment'}"),
        _url("preflight", query),
        allowed=can_preflight(request),
        reason="The preflight page is for ops and admins.",
    )


def _rollback(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    environment = params.get("env") or _active()
    run = latest_real_run(environment=environment, scope=params_scope(params), finished=True)
    if run is None:
        return ActionLink(
            _label(params, "Open the rollback plan"), "", allowed=False, reason=f"No finished {environment} run yet."
        )
    return ActionLink(
        _label(params, f"Open the rollback plan of run {run.pk}"),
        _url("run_rollback", run_id=run.pk),
        allowed=can_sync(request, environment),
        reason=f"Your role cannot roll back runs on {environment}.",
    )


def _board(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    environment = params.get("env") or _active()
    try:
        env = environment_config(environment)
    except ConfigError:
        return ActionLink(_label(params, f"Open the {environment} board"), "", allowed=False, reason="Config error.")
    return ActionLink(
        _label(params, f"Open the {env.label} board {env.items_board_id}"),
        monday_board_url(env.items_board_id),
        external=True,
    )


def _audit_log(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    return ActionLink(_label(params, "Open the audit log"), _url("audit_log", {"action": params.get("action", "")}))


def _training_record(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    return ActionLink(
        _label(params, "Open the training record"),
        _url("training_record"),
        allowed=can(request, "view_walkthrough"),
        reason="The training record is for trainers and admins.",
    )


def _runbook(params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    # As written: whether the other runbook's checks and actions are valid is shown on its own page.
    runbook = runbook_load(params["slug"])
    if runbook is None:
        return ActionLink(_label(params, params["slug"]), "", allowed=False, reason="There is no such runbook.")
    return ActionLink(_label(params, f"Open runbook {runbook.number}: {runbook.title}"), runbook_url(runbook.slug))


def runbook_url(slug: str) -> str:
    return _url("runbook_detail", slug=slug)


SCOPE = ("customer", "po", "label")
ACTIONS: dict[str, ActionDef] = {
    a.name: a
    for a in (
        ActionDef("dashboard", "the dashboard", _simple("dashboard", "Open the dashboard"), ("label",)),
        ActionDef(
            "orders", "the orders list, filtered", _orders, (*SCOPE, "state", "season", "cancelled"), required=()
        ),
        ActionDef("po_detail", "one PO's page", _po_detail, SCOPE, ("customer", "po")),
        ActionDef("mark_pending", "the mark PENDING confirmation for the scope", _mark("pending"), SCOPE),
        ActionDef(
            "mark_completed",
            "the mark COMPLETED confirmation for the scope (no scope: every order line)",
            _mark("completed"),
            SCOPE,
        ),
        ActionDef("preview", "a preview (dry run) of the scope on the active environment", _preview, SCOPE),
        ActionDef(
            "sync_confirm",
            "the sync confirmation for the scope; env= says which environment it must be",
            _sync_confirm,
            (*SCOPE, "env"),
        ),
        ActionDef("latest_run", "the latest sync or retry run of the scope", _latest_run, (*SCOPE, "env")),
        ActionDef("runs", "the runs list, filtered", _runs, ("env", "status", "kind", "label")),
        ActionDef(
            "environments", "the environments page", _simple("environments", "Open the environments page"), ("label",)
        ),
        ActionDef(
            "switch_environment", "the switch confirmation (admins)", _switch_environment, ("env", "label"), ("env",)
        ),
        ActionDef("preflight", "the preflight page for an environment", _preflight, (*SCOPE, "env")),
        ActionDef("rollback", "the rollback plan of the latest finished run of the scope", _rollback, (*SCOPE, "env")),
        ActionDef("board", "the environment's items board on monday (or the emulator)", _board, ("env", "label")),
        ActionDef("audit_log", "the audit log, filtered by action", _audit_log, ("action", "label")),
        ActionDef("training_record", "the training record (trainers, admins)", _training_record, ("label",)),
        ActionDef("runbook", "another runbook", _runbook, ("slug", "label"), ("slug",)),
        ActionDef("runbooks", "the runbook list", _simple("runbooks", "Open the runbook list"), ("label",)),
    )
}


def action_build(name: str, params: dict[str, str], request: HttpRequest, next_url: str) -> ActionLink:
    return ACTIONS[name].build(params, request, next_url)
