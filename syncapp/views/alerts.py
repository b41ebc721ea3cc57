"""Alerts: the history (what fired, when it resolved, where each message went) and the admins'
"Send a test alert" button."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from syncapp.domain.errors import PermissionRefusedError
from syncapp.forms import ListFilterForm
from syncapp.models import Alert, AlertDelivery, Environment
from syncapp.permissions import can, forbidden, permission_required_403
from syncapp.selectors.alerts import AlertFilters, alerts_matching
from syncapp.services.alert_delivery import alert_targets
from syncapp.services.alerts import alerts_send_test

ALERTS_PER_PAGE = 30


class AlertFilterForm(ListFilterForm):
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Alert.Status.choices])
    environment = forms.ChoiceField(required=False, choices=[("", "Any environment"), *Environment.choices])

    def filters(self) -> AlertFilters:
        self.is_valid()
        data = self.cleaned_data
        return AlertFilters(status=data.get("status") or "", environment=data.get("environment") or "")


@require_GET
@permission_required_403("view_console")
def alerts_list(request: HttpRequest) -> HttpResponse:
    form = AlertFilterForm(request.GET or None)
    filters = form.filters() if request.GET else AlertFilters()
    page = Paginator(alerts_matching(filters), ALERTS_PER_PAGE).get_page(form.page_number())
    return render(
        request,
        "syncapp/alerts_list.html",
        {
            "form": form if request.GET else AlertFilterForm(),
            "page": page,
            "filtered": bool(filters.as_params()),
            "targets": alert_targets(),
            "can_test": can(request, "switch_environment"),
        },
    )


def _outcome_words(delivery: AlertDelivery) -> str:
    where = f"{'Email to' if delivery.channel == AlertDelivery.Channel.EMAIL else 'Webhook'} {delivery.target}"
    if delivery.status == AlertDelivery.Status.SENT:
        return f"{where}: sent."
    return f"{where}: not delivered. Check the address or URL and the server's answer below, then send another test."


@require_POST
@permission_required_403("view_console")
def alerts_test(request: HttpRequest) -> HttpResponse:
    try:
        alert, deliveries = alerts_send_test(actor=request.user, via="console")
    except PermissionRefusedError as error:
        return forbidden(request, "switch_environment", str(error))
    if not deliveries:
        messages.warning(
            request,
            "The test alert is recorded, but no channel is configured, so nobody was told. Set "
            "ORDEROPS_ALERT_EMAILS and/or ORDEROPS_ALERT_WEBHOOKS (docs/deployment.md) and restart the console "
            "and the worker.",
        )
    for delivery in deliveries:
        level = messages.SUCCESS if delivery.status == AlertDelivery.Status.SENT else messages.ERROR
        messages.add_message(request, level, _outcome_words(delivery))
    return redirect(f"{reverse('alerts')}#alert-{alert.pk}")
