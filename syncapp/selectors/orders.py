"""Reads of the order tables for the console."""

from __future__ import annotations

from django.db.models import Count

from syncapp.models import FactOrderList


def state_counts() -> list[dict]:
    """Order lines by sync_state x action_type."""
    return list(
        FactOrderList.objects.values("sync_state", "action_type")
        .annotate(rows=Count("record_uuid"))
        .order_by("sync_state", "action_type")
    )
