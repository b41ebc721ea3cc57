"""The audit log: who did what, when, on which environment, with links to what it touched."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from syncapp.forms import AuditFilterForm
from syncapp.permissions import permission_required_403
from syncapp.selectors.audit import audit_actions, audit_entries

ENTRIES_PER_PAGE = 50


@require_GET
@permission_required_403("view_console")
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = form.filters() if request.GET else AuditFilterForm({}).filters()
    page = Paginator(audit_entries(filters), ENTRIES_PER_PAGE).get_page(form.page_number())
    return render(
        request,
        "syncapp/audit_list.html",
        {
            "form": form if request.GET else AuditFilterForm(),
            "page": page,
            "actions": audit_actions(),
            "filtered": bool(filters.as_params()),
        },
    )
