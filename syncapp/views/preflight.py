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
from syncapp.services.preflight import preflight_run
from syncapp.sync_config import ENVIRONMENTS


def _pos(raw: str) -> list[str]:
    return [p for p in raw.replace(",", " ").split() if p]


@require_http_methods(["GET", "POST"])
def preflight(request: HttpRequest) -> HttpResponse:
    if not can_preflight(request):
        return forbidden(request, reason="The preflight page is for ops and admins.")
    data = request.POST if request.method == "POST" else request.GET
    environment = data.get("env") if data.get("env") in ENVIRONMENTS else active_environment_name()
    customer, po = data.get("customer", "").strip()[:100], data.get("po", "").strip()[:500]
    context = {"environments": ENVIRONMENTS, "environment": environment, "customer": customer, "po": po}
    if request.method == "POST":
        try:
            scope = Scope.parse(customer=customer, pos=_pos(po))
        except ScopeError as error:
            context["error"] = str(error)
        else:
            results = preflight_run(environment=environment, scope=scope, actor=request.user, via="console")
            context["results"] = results
            context["red"] = [r for r in results if not r.ok]
    return render(request, "syncapp/preflight.html", context)
