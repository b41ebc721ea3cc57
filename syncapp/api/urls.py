"""/api/v1/: the trigger API and its OpenAPI description. DRF's views are exempt from the console's
LoginRequiredMiddleware (they authenticate by bearer token, never by session)."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularJSONAPIView

from syncapp.api.views import RunDetailView, RunResultsView, SyncCreateView, api_not_found

urlpatterns = [
    path("syncs", SyncCreateView.as_view(), name="api_sync_create"),
    # Any text is taken as the run's number so that "runs/abc" is the API's JSON 404, not the console's page.
    path("runs/<str:run_id>", RunDetailView.as_view(), name="api_run_detail"),
    path("runs/<str:run_id>/results", RunResultsView.as_view(), name="api_run_results"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="api_openapi"),
    re_path(r"", api_not_found),
]
