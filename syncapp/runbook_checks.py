"""Live checks for runbook steps: named reads, each green or red with its current value.

A runbook step names a check on a line of its own (docs/runbooks/README.md has the convention):

    check: pending_rows customer=GREYSON po=4755

and the console shows it as "pending order lines for GREYSON PO 4755: 7", green or red. Counting
checks take `expect=` (`0`, `>0`, `>=7`, `<3`, `all`, `any`) to say what green means; each has a
sensible default. Checks only read: they call selectors, never services.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q, QuerySet, Subquery

from syncapp.models import FactOrderList, ItemLink, SyncRun, SyncState
from syncapp.sync_config import ENVIRONMENTS, ConfigError, config_problems, get_sync_config

EXPECT = re.compile(r"^(?:(?P<word>any|all)|(?P<op>>=|<=|>|<|=)?(?P<n>\d+))$")
CLAIMABLE = ("INSERT", "UPDATE")


@dataclass(frozen=True)
class CheckOutcome:
    ok: bool
    text: str  # what the console shows, with the current value: "pending order lines for PO 4755: 7"
    detail: str = ""  # an extra sentence: what is red, or what to do about it


@dataclass(frozen=True)
class CheckDef:
    name: str
    summary: str
    evaluate: Callable[[dict[str, str]], CheckOutcome]
    params: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    default_expect: str = ""  # counting checks only
    slow: bool = False  # talks to monday: loaded after the page, not while it renders


# --- parameters -------------------------------------------------------------------------------------------

CANCELLED_VALUES = ("hide", "only")


def _valid_po(value: str) -> bool:
    return bool(value) and all(part.strip() for part in value.split(","))


# Every parameter a check or an action may take, and what makes its value valid.
PARAMS: dict[str, tuple[Callable[[str], bool], str]] = {
    "customer": (bool, "a customer name, e.g. customer=GREYSON (quote names with spaces)"),
    "po": (_valid_po, "one PO number or several separated by commas, e.g. po=4755"),
    "env": (lambda v: v in ENVIRONMENTS, f"one of {', '.join(ENVIRONMENTS)}"),
    "expect": (lambda v: bool(EXPECT.match(v)), "0, >0, >=N, <=N, <N, N, all or any"),
    "state": (lambda v: v in SyncState.values, f"one of {', '.join(SyncState.values)}"),
    "cancelled": (lambda v: v in CANCELLED_VALUES, "hide or only"),
    "season": (bool, "a season, e.g. season=2026 FALL"),
    "status": (lambda v: v in SyncRun.Status.values, f"one of {', '.join(SyncRun.Status.values)}"),
    "kind": (lambda v: v in SyncRun.Kind.values, f"one of {', '.join(SyncRun.Kind.values)}"),
    "action": (lambda v: bool(re.fullmatch(r"[a-z_]+", v)), "an audit action, e.g. action=mark_pending"),
    "slug": (lambda v: bool(re.fullmatch(r"[0-9a-z-]+", v)), "a runbook file name without .md"),
    "label": (bool, "the button's text"),
}


def param_problems(params: dict[str, str], allowed: tuple[str, ...], required: tuple[str, ...]) -> list[str]:
    problems = []
    for name in required:
        if name not in params:
            problems.append(f"needs {name}= ({PARAMS[name][1]})")
    for name, value in params.items():
        if name not in allowed:
            problems.append(f"takes no {name}= (it takes: {', '.join(allowed) or 'nothing'})")
        elif not PARAMS[name][0](value):
            problems.append(f"{name}={value!r} is not valid: {PARAMS[name][1]}")
    return problems


def expectation_met(expect: str, value: int, total: int | None = None) -> bool:
    match = EXPECT.match(expect)
    if match is None:
        raise ValueError(f"invalid expectation {expect!r}")
    if match["word"] == "any":
        return True
    if match["word"] == "all":
        return total is not None and total > 0 and value == total
    n, op = int(match["n"]), match["op"] or "="
    return {"=": value == n, ">": value > n, ">=": value >= n, "<": value < n, "<=": value <= n}[op]


def expectation_text(expect: str) -> str:
    match = EXPECT.match(expect)
    if match is None or match["word"] == "any":
        return ""
    if match["word"] == "all":
        return "all of them"
    op = {"=": "", ">": "more than ", ">=": "at least ", "<": "fewer than ", "<=": "at most "}[match["op"] or "="]
    return f"{op}{match['n']}"


# --- scopes ----------------------------------------------------------------------------------------------


def scope_pos(params: dict[str, str]) -> list[str]:
    return [p.strip() for p in params.get("po", "").split(",") if p.strip()]


def describe(params: dict[str, str]) -> str:
    """The scope in words: "GREYSON PO 4755", "PO 4755", "GREYSON", or "" for every order line."""
    parts = []
    if params.get("customer"):
        parts.append(params["customer"])
    pos = scope_pos(params)
    if pos:
        parts.append(f"PO {', '.join(pos)}")
    if params.get("cancelled") == "only":
        parts.append("(cancelled lines)")
    elif params.get("cancelled") == "hide":
        parts.append("(not cancelled)")
    return " ".join(parts)


def _scope_q(params: dict[str, str]) -> Q:
    condition = Q()
    if params.get("customer"):
        condition &= Q(customer_name__iexact=params["customer"])
    pos = scope_pos(params)
    if pos:
        condition &= Q(po_number__in=pos)
    return condition


def _lines(params: dict[str, str]) -> QuerySet[FactOrderList]:
    lines = FactOrderList.objects.filter(_scope_q(params))
    if params.get("cancelled") == "only":
        lines = lines.filter(order_type__iexact="CANCELLED")
    elif params.get("cancelled") == "hide":
        lines = lines.exclude(order_type__iexact="CANCELLED")
    return lines


def _for(params: dict[str, str]) -> str:
    what = describe(params)
    return f" for {what}" if what else ""


def _environment(params: dict[str, str]) -> str:
    from syncapp.selectors.environments import active_environment_name

    return params.get("env") or active_environment_name()


def _counted(params: dict[str, str], default: str, value: int, text: str, total: int | None = None) -> CheckOutcome:
    expect = params.get("expect", default)
    ok = expectation_met(expect, value, total)
    wanted = expectation_text(expect)
    return CheckOutcome(ok, text, "" if ok or not wanted else f"expected {wanted}")


# --- the checks ------------------------------------------------------------------------------------------


def _pending_rows(params: dict[str, str]) -> CheckOutcome:
    n = _lines(params).filter(sync_state="PENDING", action_type__in=CLAIMABLE).count()
    return _counted(params, ">0", n, f"pending order lines{_for(params)}: {n}")


def _other_pending_rows(params: dict[str, str]) -> CheckOutcome:
    n = FactOrderList.objects.filter(sync_state="PENDING", action_type__in=CLAIMABLE).exclude(_scope_q(params)).count()
    return _counted(params, "0", n, f"pending order lines outside {describe(params)}: {n}")


def _error_rows(params: dict[str, str]) -> CheckOutcome:
    n = _lines(params).filter(sync_state="ERROR").count()
    return _counted(params, "0", n, f"order lines in ERROR{_for(params)}: {n}")


def _linked(environment: str) -> Subquery:
    return Subquery(ItemLink.objects.filter(environment=environment).values("record_uuid"))


def _synced_rows(params: dict[str, str]) -> CheckOutcome:
    environment = _environment(params)
    lines = _lines(params)
    total = lines.count()
    n = lines.filter(sync_state="SYNCED", record_uuid__in=_linked(environment)).count()
    of = f" of {describe(params)}" if describe(params) else ""
    return _counted(params, "all", n, f"order lines{of} synced to {environment}: {n} of {total}", total)


def _items_linked(params: dict[str, str]) -> CheckOutcome:
    environment = _environment(params)
    n = _lines(params).filter(record_uuid__in=_linked(environment)).count()
    return _counted(params, ">0", n, f"items on the {environment} board{_for(params)}: {n}")


def _worker_alive(params: dict[str, str]) -> CheckOutcome:
    from syncapp.selectors.runs import worker_health

    health = worker_health()
    waiting = f"; runs queued for over a minute: {health.stuck_runs}" if health.stuck_runs else ""
    if health.error:
        return CheckOutcome(False, f"task worker: unknown ({health.error})")
    if not health.alive:
        return CheckOutcome(
            False,
            f"task worker: no django-q2 cluster running{waiting}",
            "Queued runs wait until one starts: python manage.py qcluster, or the orderops-worker service.",
        )
    return CheckOutcome(True, f"task worker: {health.clusters} django-q2 cluster(s) running{waiting}")


def _token_configured(params: dict[str, str]) -> CheckOutcome:
    environment = _environment(params)
    try:
        env = get_sync_config().environment(environment)
    except ConfigError:
        return CheckOutcome(False, f"{environment} token: unknown (the sync configuration has problems)")
    if env.token:
        return CheckOutcome(True, f"{env.token_setting}: set")
    return CheckOutcome(
        False, f"{env.token_setting}: not set", "Set it and restart the console and the worker (see .env.example)."
    )


def _active_environment(params: dict[str, str]) -> CheckOutcome:
    from syncapp.selectors.environments import active_environment_name

    active = active_environment_name()
    ok = active == params["env"]
    return CheckOutcome(ok, f"active environment: {active}", "" if ok else f"expected {params['env']}")


def _no_active_run(params: dict[str, str]) -> CheckOutcome:
    from syncapp.selectors.runs import active_run_for

    environment = _environment(params)
    run = active_run_for(environment)
    if run is None:
        return CheckOutcome(True, f"runs writing to the {environment} board: none")
    return CheckOutcome(False, f"runs writing to the {environment} board: run {run.pk} ({run.status})")


def _latest_run(params: dict[str, str]) -> CheckOutcome:
    from syncapp.selectors.runbooks import latest_real_run

    environment = _environment(params)
    run = latest_real_run(environment=environment, customer=params.get("customer", ""), pos=scope_pos(params))
    if run is None:
        return CheckOutcome(False, f"latest {environment} run{_for(params)}: none yet")
    rate = "" if run.success_rate is None else f", {run.success_rate:g}% synced"
    text = f"latest {environment} run{_for(params)}: run {run.pk}, {run.status}{rate}"
    ok = run.status == SyncRun.Status.COMPLETED and run.outcome == SyncRun.Outcome.SUCCESS
    return CheckOutcome(ok, text, "" if ok else (run.error_message or f"outcome {run.outcome or run.status}"))


def _latest_rollback(params: dict[str, str]) -> CheckOutcome:
    environment = _environment(params)
    run = (
        SyncRun.objects.filter(environment=environment, kind=SyncRun.Kind.ROLLBACK)
        .defer("plan", "summary")
        .order_by("-id")
        .first()
    )
    if run is None:
        return CheckOutcome(False, f"latest rollback on {environment}: none yet")
    text = f"latest rollback on {environment}: run {run.pk} (of run {run.parent_id}), {run.status}"
    ok = run.status == SyncRun.Status.COMPLETED and not run.failed_count
    return CheckOutcome(ok, text, "" if ok else run.error_message or f"{run.failed_count} change(s) not undone")


def _preflight(params: dict[str, str]) -> CheckOutcome:
    from syncapp.services.preflight import preflight_checks

    scope = {k: v for k, v in (("customer", params.get("customer")), ("pos", scope_pos(params))) if v}
    results = preflight_checks(environment=params["env"], scope=scope)
    red = [r for r in results if not r.ok]
    text = f"preflight for {params['env']}: {len(results) - len(red)} of {len(results)} checks green"
    return CheckOutcome(not red, text, "; ".join(f"{r.name}: {r.fix}" for r in red))


def _delta_tables_gone(params: dict[str, str]) -> CheckOutcome:
    from syncapp.services.delta_cleanup import delta_tables_inspect

    present = [t for t in delta_tables_inspect() if t.exists]
    names = ", ".join(t.table for t in present)
    return CheckOutcome(
        not present,
        f"old delta tables still in the database: {len(present)}" + (f" ({names})" if names else ""),
        " ".join(t.describe() for t in present),
    )


def _config_valid(params: dict[str, str]) -> CheckOutcome:
    problems = config_problems()
    if not problems:
        return CheckOutcome(True, "sync configuration: no problems")
    return CheckOutcome(False, f"sync configuration: {len(problems)} problem(s)", str(problems[0]))


SCOPE = ("customer", "po")
CHECKS: dict[str, CheckDef] = {
    c.name: c
    for c in (
        CheckDef(
            "pending_rows",
            "order lines PENDING (INSERT or UPDATE) in the scope; green when more than 0",
            _pending_rows,
            (*SCOPE, "cancelled", "expect"),
            default_expect=">0",
        ),
        CheckDef(
            "other_pending_rows",
            "order lines PENDING outside the scope; green when 0",
            _other_pending_rows,
            (*SCOPE, "expect"),
            required=("po",),
            default_expect="0",
        ),
        CheckDef(
            "error_rows",
            "order lines in ERROR; green when 0",
            _error_rows,
            (*SCOPE, "cancelled", "expect"),
            default_expect="0",
        ),
        CheckDef(
            "synced_rows",
            "order lines SYNCED with an item on the environment's board; green when all of the scope's are",
            _synced_rows,
            (*SCOPE, "env", "cancelled", "expect"),
            default_expect="all",
        ),
        CheckDef(
            "items_linked",
            "order lines with an item on the environment's board; green when more than 0",
            _items_linked,
            (*SCOPE, "env", "expect"),
            default_expect=">0",
        ),
        CheckDef("worker_alive", "a django-q2 cluster reports in (the dashboard's worker health)", _worker_alive),
        CheckDef("token_configured", "the environment's monday token is set", _token_configured, ("env",)),
        CheckDef("active_environment", "the console acts on this environment", _active_environment, ("env",), ("env",)),
        CheckDef("no_active_run", "no run is writing to the environment's board", _no_active_run, ("env",)),
        CheckDef(
            "latest_run",
            "the latest sync or retry of the scope on the environment completed with SUCCESS",
            _latest_run,
            (*SCOPE, "env"),
        ),
        CheckDef(
            "latest_rollback", "the latest rollback on the environment completed cleanly", _latest_rollback, ("env",)
        ),
        CheckDef(
            "preflight",
            "every preflight check is green (talks to monday)",
            _preflight,
            (*SCOPE, "env"),
            ("env",),
            slow=True,
        ),
        CheckDef("delta_tables_gone", "neither old delta table exists", _delta_tables_gone),
        CheckDef("config_valid", "the sync configuration has no problems", _config_valid),
    )
}


def check_evaluate(name: str, params: dict[str, str]) -> CheckOutcome:
    """Run one check; a check that breaks is shown red with its error, never as a server error."""
    check = CHECKS[name]
    try:
        return check.evaluate(params)
    except Exception as error:
        return CheckOutcome(False, f"{name}: the check itself failed", f"{type(error).__name__}: {error}")
