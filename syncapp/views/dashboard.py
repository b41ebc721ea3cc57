from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from syncapp.selectors.orders import state_counts


def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "syncapp/dashboard.html", {"state_counts": state_counts()})
