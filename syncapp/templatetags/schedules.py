"""The schedule sections (sync, then reconcile) of each environment on the Environments page."""

from __future__ import annotations

from django import template

from syncapp.models import SyncSchedule
from syncapp.views.schedules import schedule_context

register = template.Library()


@register.inclusion_tag("syncapp/schedule_sections.html", takes_context=True)
def schedule_section(context, env) -> dict:
    request = context["request"]
    return {
        "sections": [schedule_context(request, env, job) for job in SyncSchedule.Job.values],
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
