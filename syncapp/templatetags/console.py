"""Template helpers for the console: roles, links, times, durations, state badges, filter problems."""

from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import urlencode

from django import template
from django.core.paginator import Page
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timesince import timesince

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


# The console's one time format (also the admin's: orderops/formats/en/formats.py): the year and the
# zone are always shown, since ops compare these times with monday's and the worker's logs.
WHEN_FORMATS = {
    "": "M j, Y H:i T",
    "seconds": "M j, Y H:i:s T",
    "time": "H:i:s T",  # within one run's page, where the date is in the heading
    "date": "M j, Y",
}


@register.filter
def when(value, precision: str = "") -> str:
    """A time in the configured TIME_ZONE, e.g. "Jul 3, 2026 14:05 PDT" ("seconds", "time", "date")."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    elif not isinstance(value, date):
        return str(value)
    return date_format(value, WHEN_FORMATS.get(precision, WHEN_FORMATS[""]))


@register.filter
def ago(value) -> str:
    """How long ago, in words: "just now" under a minute (never "0 minutes ago"), else "5 minutes ago"."""
    if not isinstance(value, datetime):
        return "—"
    if (timezone.now() - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value, depth=1)} ago"


@register.simple_tag
def time_zone_label() -> str:
    """The zone the console's times are in, by name and abbreviation: "America/Los_Angeles (PDT)"."""
    now = timezone.localtime()
    return f"{timezone.get_current_timezone_name()} ({now.tzname()})"


@register.simple_tag(takes_context=True)
def filter_problems(context) -> list[str]:
    """What was wrong with a list page's filters or page number, in the reader's words.

    A list page passes its filter form as `form` and its page as `page`; a value the form could not
    use is named here instead of being silently dropped (forms.ListFilterForm.problems)."""
    form = context.get("form")
    problems = list(getattr(form, "problems", None) or [])
    page = context.get("page")
    requested = form.requested_page() if hasattr(form, "requested_page") else None
    if isinstance(page, Page) and requested and requested > page.paginator.num_pages:
        pages = page.paginator.num_pages
        problems.append(
            f"There is no page {requested}: the list has {pages} page{'s' if pages != 1 else ''}, "
            f"so this is the last one (page {page.number})."
        )
    return problems
