"""The dashboard: order states, what is pending, recent runs, the worker, and a chart of runs."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from syncapp.permissions import permission_required_403
from syncapp.selectors.dashboard import active_runs, pending_by_customer, recent_runs, run_history, state_matrix
from syncapp.selectors.runs import worker_health
from syncapp.views.charts import run_chart


@require_GET
@permission_required_403("view_console")
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "syncapp/dashboard.html",
        {
            "matrix": state_matrix(),
            "pending": pending_by_customer(),
            "runs": recent_runs(),
            "active_runs": active_runs(),
            "worker": worker_health(),
            "chart": run_chart(run_history()),
        },
    )
