"""/health for load balancers and monitors (no login) and /metrics for Prometheus (a token or an
allowed network)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from syncapp.selectors.health import OrderopsCollector, health_status
from syncapp.services.health import MetricsAccess, metrics_access_check

# A registry of its own: the default one would add this web process's Python and GC figures, which
# say nothing about the workers and differ between gunicorn workers.
REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(OrderopsCollector())


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 while the database answers, "degraded" included: a silent worker or an unreadable broker
    does not make the console useless (people still read runs and orders), and a load balancer that
    pulled every console over a worker problem would hide the very pages that explain it. 503 only
    when the database does not answer, when no page can work."""
    status = health_status()
    return JsonResponse(status.as_json(), status=503 if status.status == "down" else 200)


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    access = metrics_access_check(
        authorization=request.headers.get("Authorization", ""),
        client_address=request.META.get("REMOTE_ADDR", ""),
        forwarded="X-Forwarded-For" in request.headers or "Forwarded" in request.headers,
    )
    if access is MetricsAccess.BAD_TOKEN:
        response = HttpResponse("The metrics token is wrong.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="orderops metrics"'
        return response
    if access is MetricsAccess.REFUSED:
        return HttpResponse(
            "Send Authorization: Bearer <ORDEROPS_METRICS_TOKEN>, or scrape directly from a network in "
            "ORDEROPS_METRICS_ALLOWED_NETWORKS.\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
