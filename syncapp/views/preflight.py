"""The preflight page: is an environment ready to sync? Every check live, green or red with its fix.

GET shows the form; POST runs the checks (the same ones as `manage.py preflight`) and records the
result in the audit log, so a cutover record shows when production was green.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from syncapp.domain.scope import Scope, ScopeError
from syncapp.permissions import can_preflight, forbidden
from syncapp.selectors.environments import active_environment_name
from syncapp.selectors.preflight import scope_not_found
from syncapp.services.preflight import preflight_run
from syncapp.sync_config import ENVIRONMENTS


def _pos(raw: str) -> list[str]:
    return [p for p in raw.replace(",", " ").split() if p]


MAX_CUSTOMER, MAX_POS = 100, 500


def _input_problems(data) -> list[str]:
    """What of the form cannot be used as typed: said, never silently replaced or cut."""
    problems = []
    env = data.get("env")
    if env and env not in ENVIRONMENTS:
        problems.append(f"“{env[:40]}” is not an environment: choose {' or '.join(ENVIRONMENTS)}.")
    if len(data.get("customer", "").strip()) > MAX_CUSTOMER:
        problems.append(
            f"The customer is longer than {MAX_CUSTOMER} characters: no customer is; check what was pasted."
        )
    if len(data.get("po", "").strip()) > MAX_POS:
        problems.append(f"The PO numbers are longer than {MAX_POS} characters: check fewer POs at a time.")
    return problems


@require_http_methods(["GET", "POST"])
def preflight(request: HttpRequest) -> HttpResponse:
    if not can_preflight(request):
        return forbidden(request, reason="The preflight page is for ops and admins.")
    data = request.POST if request.method == "POST" else request.GET
    environment = data.get("env") if data.get("env") in ENVIRONMENTS else active_environment_name()
    # The typed text is shown back whole, so the person can correct it.
    customer, po = data.get("customer", "").strip(), data.get("po", "").strip()
    context = {"environments": ENVIRONMENTS, "environment": environment, "customer": customer, "po": po}
    if request.method == "POST":
        problems = _input_problems(data)
        if not problems:
            try:
                scope = Scope.parse(customer=customer, pos=_pos(po))
            except ScopeError as error:
                problems.append(str(error))
            else:
                # A selection naming no order line would pass the scope check vacuously: say so instead.
                problems += scope_not_found(scope)
        if problems:
            context["problems"] = problems
        else:
            results = preflight_run(environment=environment, scope=scope, actor=request.user, via="console")
            context["results"] = results
            context["red"] = [r for r in results if not r.ok]
    return render(request, "syncapp/preflight.html", context)
