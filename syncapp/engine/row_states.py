"""The one writer of `sync_state` and `action_type` on FACT_ORDER_LIST and ORDER_LIST_LINES.

Every state change goes through `rows_transition` (order lines) or `lines_transition` (size
lines) with a named transition from `syncapp.domain.states`. The transition's source states are
part of the UPDATE's WHERE, so the statement is a compare-and-set: rows in another state are not
touched and the returned count says how many moved.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from syncapp.domain.states import ALL_STATES, LINE_TRANSITIONS, Transition


def _source_condition(transition: Transition) -> Q:
    forbidden = sorted(s.value for s in ALL_STATES - transition.sources)
    if transition.from_null:
        # exclude() keeps NULL states, which a NEW-like row may have.
        return ~Q(sync_state__in=forbidden) if forbidden else Q()
    return Q(sync_state__in=sorted(s.value for s in transition.sources))


def _update(rows: QuerySet, transition: Transition, action: str | None, fields: dict) -> int:
    if "sync_state" in fields or "action_type" in fields:
        raise ValueError("sync_state and action_type are written by the transition, not passed as fields")
    values = {"sync_state": transition.target.value, **fields}
    action_type = transition.action_for(action)
    if action_type is not None:
        values["action_type"] = action_type
    return rows.filter(_source_condition(transition)).update(**values)


def rows_transition(rows: QuerySet, transition: Transition, *, action: str | None = None, **fields) -> int:
    """Move the order lines in `rows` (a FactOrderList queryset) through `transition`; returns the
    number moved. Rows not in one of the transition's source states are left as they are."""
    return _update(rows, transition, action, fields)


def lines_transition(lines: QuerySet, transition: Transition, *, action: str | None = None, **fields) -> int:
    """The same for size lines (an OrderLine queryset), with the size-line form of `transition`."""
    return _update(lines, LINE_TRANSITIONS[transition.name], action, fields)
