from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from syncapp.views import health


@login_not_required
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin, JSON): send them the console's."""
    return redirect(static("favicon.svg"), permanent=True)


urlpatterns = [
    path("favicon.ico", favicon),
    path("health", health.health, name="health"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # The trigger API for the orchestrator and scripts (bearer tokens; syncapp/api/).
    path("api/v1/", include("syncapp.api.urls")),
    path("", include("syncapp.urls")),
]
