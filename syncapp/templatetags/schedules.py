"""The sync schedule section of each environment on the Environments page."""

from __future__ import annotations

from django import template

from syncapp.permissions import can
from syncapp.selectors.schedules import schedule_summary

register = template.Library()


@register.inclusion_tag("syncapp/schedule_section.html", takes_context=True)
def schedule_section(context, env) -> dict:
    request = context["request"]
    return {
        "env": env,
        "summary": schedule_summary(env.name),
        "can_manage": can(request, "switch_environment"),
        "form": {"mode": "", "cron": ""},
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
