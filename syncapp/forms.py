"""Console forms: the list filters, and reading a PO selection or a scope out of a POST."""

from __future__ import annotations

import json

from django import forms

from syncapp.domain.scope import Scope, ScopeError
from syncapp.models import SyncRun, SyncState
from syncapp.models.sync import Environment
from syncapp.selectors.audit import AuditFilters
from syncapp.selectors.orders import CANCELLED_CHOICES, SORT_LABELS, OrderFilters
from syncapp.selectors.runs import RunFilters

MAX_SELECTED_KEYS = 5000
UNREADABLE_SCOPE = "The selection could not be read; go back to the orders list and select again."


class ListFilterForm(forms.Form):
    """A list page's filters and page number. A value the form cannot use is not applied, and
    `problems` says so in words, naming the value, so the page never silently shows something else."""

    page = forms.IntegerField(required=False, min_value=1)

    def page_number(self) -> int:
        """The page to show: 1 when the page number is not a number from 1 up (said in `problems`)."""
        return self.requested_page() or 1

    def requested_page(self) -> int | None:
        if not self.is_bound:
            return None
        self.is_valid()
        return self.cleaned_data.get("page")

    @property
    def problems(self) -> list[str]:
        if not self.is_bound:
            return []
        self.is_valid()
        return [self._problem(name) for name in self.errors if name in self.fields]

    def _problem(self, name: str) -> str:
        field = self.fields[name]
        raw = str(self.data.get(name, ""))
        shown = raw if len(raw) <= 40 else f"{raw[:40]}…"
        label = str(field.label or name.replace("_", " ")).lower()
        if name == "page":
            return f"“{shown}” is not a page number (pages start at 1), so this is page 1."
        if isinstance(field, forms.ChoiceField):
            choices = dict(field.choices)
            used = f"the list shows “{choices['']}”" if "" in choices else "the default is used"
            return f"“{shown}” is not one of the {label} choices, so {used}. Pick one from the list."
        if getattr(field, "max_length", None) and len(raw) > field.max_length:
            return (
                f"The {label} filter is longer than {field.max_length} characters, so it was not applied. "
                "Shorten it and apply the filters again."
            )
        return f"The {label} filter “{shown}” could not be used, so it was not applied."


class OrderFilterForm(ListFilterForm):
    customer = forms.CharField(required=False, max_length=100)
    po = forms.CharField(required=False, max_length=255, label="PO number")
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *SyncState.choices])
    season = forms.CharField(required=False, max_length=255)
    cancelled = forms.ChoiceField(required=False, choices=list(CANCELLED_CHOICES.items()))
    q = forms.CharField(required=False, max_length=100, label="Search")
    sort = forms.ChoiceField(required=False, choices=list(SORT_LABELS.items()))

    def filters(self) -> OrderFilters:
        """The valid filters; an invalid value is not applied (and named in `problems`)."""
        self.is_valid()  # fields that fail validation are simply absent from cleaned_data
        data = self.cleaned_data
        return OrderFilters(
            customer=(data.get("customer") or "").strip(),
            po=(data.get("po") or "").strip(),
            state=data.get("state") or "",
            season=(data.get("season") or "").strip(),
            cancelled=data.get("cancelled") or "",
            q=(data.get("q") or "").strip(),
            sort=data.get("sort") or "customer",
        )


class RunFilterForm(ListFilterForm):
    environment = forms.ChoiceField(required=False, choices=[("", "Both environments"), *Environment.choices])
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *SyncRun.Status.choices])
    kind = forms.ChoiceField(required=False, choices=[("", "Any kind"), *SyncRun.Kind.choices])
    dry_run = forms.ChoiceField(
        required=False,
        label="Dry runs",
        choices=[("", "Hide dry runs (previews)"), ("include", "Include dry runs"), ("only", "Only dry runs")],
    )

    def filters(self) -> RunFilters:
        self.is_valid()
        data = self.cleaned_data
        return RunFilters(
            environment=data.get("environment") or "",
            status=data.get("status") or "",
            kind=data.get("kind") or "",
            dry_run=data.get("dry_run") or "",
        )


class AuditFilterForm(ListFilterForm):
    action = forms.CharField(required=False, max_length=60)
    actor = forms.CharField(required=False, max_length=150, label="User")
    environment = forms.ChoiceField(required=False, choices=[("", "Any environment"), *Environment.choices])
    via = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Anywhere"),
            ("console", "Console"),
            ("admin", "Django admin"),
            ("cli", "Command line"),
            ("api", "API (tokens)"),
            ("schedule", "Scheduler"),
            ("task", "Task"),
        ],
    )
    target = forms.CharField(required=False, max_length=100, label="Target (e.g. run:12 or a PO)")

    def filters(self) -> AuditFilters:
        self.is_valid()
        data = self.cleaned_data
        return AuditFilters(
            action=(data.get("action") or "").strip(),
            actor=(data.get("actor") or "").strip(),
            environment=data.get("environment") or "",
            via=data.get("via") or "",
            target=(data.get("target") or "").strip(),
        )


class SelectionError(Exception):
    """The POST does not say which POs to act on; the message says what to do."""


def selected_keys(values: list[str]) -> list[tuple[str, str]]:
    """Checkbox values are JSON ["customer", "po"] pairs: no separator can collide with the data."""
    if len(values) > MAX_SELECTED_KEYS:
        raise SelectionError(f"Select at most {MAX_SELECTED_KEYS} POs at once, or use “all matching the filter”.")
    keys = []
    for value in values:
        try:
            customer, po = json.loads(value)
        except (ValueError, TypeError):
            raise SelectionError("The selection could not be read; reload the page and select again.") from None
        if not isinstance(customer, str) or not isinstance(po, str):
            raise SelectionError("The selection could not be read; reload the page and select again.")
        keys.append((customer, po))
    return keys


def scope_from_json(raw: str) -> Scope:
    """A scope carried from a confirmation page (JSON), checked like the CLI's."""
    try:
        data = json.loads(raw or "")
    except ValueError:
        raise SelectionError(UNREADABLE_SCOPE) from None
    if not isinstance(data, dict):
        raise SelectionError(UNREADABLE_SCOPE)
    # JSON can carry numbers where text is expected; the form only ever writes strings.
    pos = data.get("pos")
    if isinstance(pos, list) and not all(isinstance(p, str) for p in pos):
        raise SelectionError(UNREADABLE_SCOPE)
    try:
        return Scope.from_dict(data)
    except ScopeError as error:
        # A limit below one reads the same as on the command line; anything else is a broken form.
        limit = data.get("limit")
        below_one = isinstance(limit, int) and not isinstance(limit, bool) and limit < 1
        raise SelectionError(str(error) if below_one else UNREADABLE_SCOPE) from None


def scope_to_json(scope: Scope) -> str:
    return json.dumps(scope.to_dict(), ensure_ascii=False, sort_keys=True)
