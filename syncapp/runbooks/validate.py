"""The runbooks as the console reads them: parsed (loader.py) and each check and action line checked
against the known checks (checks.py) and actions (actions.py).

Keeping this apart from the loader is what lets an action open another runbook (actions.py reads
the loader) without the loader having to know the actions.
"""

from __future__ import annotations

from syncapp.runbooks.actions import ACTIONS
from syncapp.runbooks.checks import CHECKS
from syncapp.runbooks.loader import Directive, Runbook, RunbookError, runbook_load, runbook_paths
from syncapp.runbooks.params import param_problems


def directive_problems(directive: Directive) -> list[str]:
    """What is wrong with one check or action line ([] when it names a known one with valid parameters)."""
    registry = CHECKS if directive.kind == "check" else ACTIONS
    if directive.name not in registry:
        return [f"there is no {directive.kind} called {directive.name!r}; known: {', '.join(sorted(registry))}"]
    entry = registry[directive.name]
    problems = param_problems(directive.params, entry.params, entry.required)
    return [f"{directive.kind} {directive.name} " + "; ".join(problems)] if problems else []


def runbook_validate(runbook: Runbook) -> Runbook:
    """The runbook itself when every check and action line is valid; RunbookError names the first line
    that is not."""
    for directive in sorted(runbook.directives, key=lambda d: d.line):
        problems = directive_problems(directive)
        if problems:
            raise RunbookError(f"docs/runbooks/{runbook.slug}.md line {directive.line}: {problems[0]}")
    return runbook


def runbook_get(slug: str) -> Runbook | None:
    """The runbook `slug` (e.g. "02-test-a-po-on-development"), re-read when its file changes; None when
    there is no such file, RunbookError when it breaks the convention."""
    runbook = runbook_load(slug)
    return None if runbook is None else runbook_validate(runbook)


def runbook_list() -> list[Runbook]:
    return [runbook for path in runbook_paths() if (runbook := runbook_get(path.stem)) is not None]


def runbook_titles() -> dict[str, str]:
    return {r.slug: r.title for r in runbook_list()}
