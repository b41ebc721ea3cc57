"""Live checks for runbook steps: named reads, each green or red with its current value.

A runbook step names a check on a line of its own (docs/runbooks/README.md has the convention):

    check: pending_rows customer=GREYSON po=4755

and the console shows it as "pending order lines for GREYSON PO 4755: 7", green or red. Counting
checks take `expect=` (`0`, `>0`, `>=7`, `<3`, `all`, `any`) to say what green means; each has a
sensible default. Checks only read: they call selectors, never services.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet, Subquery

from syncapp.domain.states import CLAIMABLE_ACTIONS, State
from syncapp.models import FactOrderList, ItemLink, SyncRun
from syncapp.runbooks.params import expectation_met, expectation_text, params_describe, params_scope
from syncapp.selectors.delta_tables import delta_tables_inspect
from syncapp.selectors.environments import active_environment_name
from syncapp.selectors.preflight import preflight_checks
from syncapp.selectors.runbooks import latest_real_run
from syncapp.selectors.runs import active_run_for, worker_health
from syncapp.sync_config import ConfigError, config_problems, get_sync_config


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


# --- helpers -----------------------------------------------------------------------------------------------


def _lines(params: dict[str, str], base: QuerySet[FactOrderList] | None = None) -> list[QuerySet[FactOrderList]]:
    """The scope's order lines (with `cancelled=` applied), as one queryset per chunk of POs."""
    lines = FactOrderList.objects.all() if base is None else base
    if params.get("cancelled") == "only":
        lines = lines.filter(order_type__iexact="CANCELLED")
    elif params.get("cancelled") == "hide":
        lines = lines.exclude(order_type__iexact="CANCELLED")
    return params_scope(params).querysets(lines)


def _count(querysets: list[QuerySet]) -> int:
    return sum(queryset.count() for queryset in querysets)


def _pending() -> QuerySet[FactOrderList]:
    return FactOrderList.objects.filter(sync_state=State.PENDING, action_type__in=CLAIMABLE_ACTIONS)


def _for(params: dict[str, str]) -> str:
    what = params_describe(params)
    return f" for {what}" if what else ""


def _environment(params: dict[str, str]) -> str:
    return params.get("env") or active_environment_name()


def _counted(params: dict[str, str], default: str, value: int, text: str, total: int | None = None) -> CheckOutcome:
    expect = params.get("expect", default)
    ok = expectation_met(expect, value, total)
    wanted = expectation_text(expect)
    return CheckOutcome(ok, text, "" if ok or not wanted else f"expected {wanted}")


def _linked(environment: str) -> Subquery:
    return Subquery(ItemLink.objects.filter(environment=environment).values("record_uuid"))


# --- the checks ------------------------------------------------------------------------------------------


def _pending_rows(params: dict[str, str]) -> CheckOutcome:
    n = _count(_lines(params, _pending()))
    return _counted(params, ">0", n, f"pending order lines{_for(params)}: {n}")


def _other_pending_rows(params: dict[str, str]) -> CheckOutcome:
    # Everything pending minus the scope's pending lines: the scope comes in PO chunks, which a single
    # exclude() could not express.
    n = _pending().count() - _count(params_scope(params).querysets(_pending()))
    return _counted(params, "0", n, f"pending order lines outside {params_describe(params)}: {n}")


def _error_rows(params: dict[str, str]) -> CheckOutcome:
    n = _count(_lines(params, FactOrderList.objects.filter(sync_state=State.ERROR)))
    return _counted(params, "0", n, f"order lines in ERROR{_for(params)}: {n}")


def _synced_rows(params: dict[str, str]) -> CheckOutcome:
    environment = _environment(params)
    lines = _lines(params)
    total = _count(lines)
    n = _count([q.filter(sync_state=State.SYNCED, record_uuid__in=_linked(environment)) for q in lines])
    what = params_describe(params)
    of = f" of {what}" if what else ""
    return _counted(params, "all", n, f"order lines{of} synced to {environment}: {n} of {total}", total)


def _items_linked(params: dict[str, str]) -> CheckOutcome:
    environment = _environment(params)
    n = _count([q.filter(record_uuid__in=_linked(environment)) for q in _lines(params)])
    return _counted(params, ">0", n, f"items on the {environment} board{_for(params)}: {n}")


def _worker_alive(params: dict[str, str]) -> CheckOutcome:
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
    active = active_environment_name()
    ok = active == params["env"]
    return CheckOutcome(ok, f"active environment: {active}", "" if ok else f"expected {params['env']}")


def _no_active_run(params: dict[str, str]) -> CheckOutcome:
    environment = _environment(params)
    run = active_run_for(environment)
    if run is None:
        return CheckOutcome(True, f"runs writing to the {environment} board: none")
    return CheckOutcome(False, f"runs writing to the {environment} board: run {run.pk} ({run.status})")


def _latest_run(params: dict[str, str]) -> CheckOutcome:
    environment = _environment(params)
    run = latest_real_run(environment=environment, scope=params_scope(params))
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
    results = preflight_checks(environment=params["env"], scope=params_scope(params))
    red = [r for r in results if not r.ok]
    text = f"preflight for {params['env']}: {len(results) - len(red)} of {len(results)} checks green"
    return CheckOutcome(not red, text, "; ".join(f"{r.name}: {r.fix}" for r in red))


def _delta_tables_gone(params: dict[str, str]) -> CheckOutcome:
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
