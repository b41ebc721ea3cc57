"""Reads of the audit log for the console."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from syncapp.models import AuditEntry


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""
    environment: str = ""
    via: str = ""
    target: str = ""  # "run:12", or a PO number

    def as_params(self) -> dict[str, str]:
        params = {
            "action": self.action,
            "actor": self.actor,
            "environment": self.environment,
            "via": self.via,
            "target": self.target,
        }
        return {k: v for k, v in params.items() if v}


def audit_entries(filters: AuditFilters) -> QuerySet[AuditEntry]:
    entries = AuditEntry.objects.all()
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.actor:
        entries = entries.filter(actor_name__iexact=filters.actor)
    if filters.environment:
        entries = entries.filter(environment=filters.environment)
    if filters.via:
        entries = entries.filter(via=filters.via)
    if filters.target:
        kind, _, target_id = filters.target.partition(":")
        if target_id:
            entries = entries.filter(target_type=kind, target_id=target_id)
        else:
            entries = entries.filter(target_id__icontains=filters.target)
    return entries.order_by("-id")


def audit_actions() -> list[str]:
    return list(AuditEntry.objects.values_list("action", flat=True).order_by("action").distinct())
