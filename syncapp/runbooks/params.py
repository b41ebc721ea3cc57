"""The parameters of a runbook's check and action lines (`check: pending_rows customer=GREYSON po=4755`):
which exist, what makes a value valid, what `expect=` means, and the scope they name.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from syncapp.domain.scope import Scope
from syncapp.models import SyncRun, SyncState
from syncapp.sync_config import ENVIRONMENTS

EXPECT = re.compile(r"^(?:(?P<word>any|all)|(?P<op>>=|<=|>|<|=)?(?P<n>\d+))$")
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


# --- expect= ---------------------------------------------------------------------------------------------


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


# --- the scope ---------------------------------------------------------------------------------------------


def params_scope(params: dict[str, str]) -> Scope:
    """The order lines `customer=` and `po=` name (every order line when neither is given)."""
    return Scope.parse(customer=params.get("customer") or None, pos=params.get("po", "").split(","))


def params_describe(params: dict[str, str]) -> str:
    """The scope in a runbook's words: "GREYSON PO 4755", "PO 4755", "GREYSON", or "" for every order
    line; `cancelled=` adds "(cancelled lines)" or "(not cancelled)"."""
    scope = params_scope(params)
    parts = []
    if scope.customer:
        parts.append(scope.customer)
    if scope.pos:
        parts.append(f"PO {', '.join(scope.pos)}")
    if params.get("cancelled") == "only":
        parts.append("(cancelled lines)")
    elif params.get("cancelled") == "hide":
        parts.append("(not cancelled)")
    return " ".join(parts)
