"""Preflight, recorded: run every preflight check (syncapp/selectors/preflight.py) and write the result
to the audit log, so the cutover record shows when an environment was green."""

from __future__ import annotations

from syncapp.domain.scope import Scope
from syncapp.selectors.preflight import CheckResult, preflight_checks
from syncapp.services.audit import audit_record


def preflight_run(
    *, environment: str, scope: Scope | None = None, actor=None, via: str = "console"
) -> list[CheckResult]:
    """preflight_checks, recorded in the audit log (the cutover record shows when it was green)."""
    results = preflight_checks(environment=environment, scope=scope)
    red = [r for r in results if not r.ok]
    audit_record(
        actor=actor,
        via=via,
        action="preflight",
        environment=environment,
        target_type="environment",
        target_id=environment,
        summary=f"preflight for {environment}: {len(results) - len(red)} of {len(results)} checks green"
        + (f"; red: {', '.join(r.name for r in red)}" if red else ""),
        details={"scope": scope.to_dict() if scope else {}, "results": [r.as_dict() for r in results]},
    )
    return results
