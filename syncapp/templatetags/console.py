"""Template helpers for the console: roles, links, durations, state badges."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django import template
from django.urls import reverse

register = template.Library()


@register.simple_tag
def role_names(user) -> str:
    """The user's roles (groups), read once per request."""
    if not getattr(user, "is_authenticated", False):
        return ""
    if not hasattr(user, "_console_roles"):
        user._console_roles = ", ".join(user.groups.order_by("name").values_list("name", flat=True)) or "no role"
    return user._console_roles


@register.simple_tag
def po_url(customer: str, po: str) -> str:
    return f"{reverse('po_detail')}?{urlencode({'customer': customer or '', 'po': po or ''})}"


@register.filter
def audit_target_url(entry) -> str:
    """Where an audit entry's target lives in the console, or "" when it has no page."""
    if entry.target_type == "run" and entry.target_id.isdigit():
        return reverse("run_detail", kwargs={"run_id": int(entry.target_id)})
    if entry.target_type == "environment":
        return reverse("environments")
    if entry.target_type == "runbook" and re.fullmatch(r"[0-9a-z-]+", entry.target_id):
        return reverse("runbook_detail", kwargs={"slug": entry.target_id})
    if entry.target_type == "orders":
        pos = [p for p in entry.target_id.split(",") if p]
        if len(pos) == 1:
            return f"{reverse('orders')}?{urlencode({'po': pos[0]})}"
        return reverse("orders")
    return ""


@register.filter
def state_class(state: str) -> str:
    return f"state-{(state or 'new').lower()}"


@register.filter
def get_item(mapping, key):
    if not mapping:
        return None
    return mapping.get(key)


@register.filter
def duration(seconds) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def rate(value) -> str:
    return "—" if value is None else f"{value:g}%"


@register.filter
def column_value_text(value) -> str:
    """A monday column value as people read it: labels joined, dates plain, text as is."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, dict):
        if "labels" in value:
            return ", ".join(str(label) for label in value["labels"]) or "(no label)"
        if "label" in value:
            return str(value["label"])
        if "date" in value:
            return " ".join(str(value[k]) for k in ("date", "time") if value.get(k))
        if "text" in value:
            return str(value["text"])
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
