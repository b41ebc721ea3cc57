"""The audit log: every state change says who, what, when and on which environment."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from syncapp.models import AuditEntry


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    summary: str,
    environment: str = "",
    target_type: str = "",
    target_id: object = "",
    details: dict | None = None,
    via: str = "console",
) -> AuditEntry:
    user = actor if actor is not None and actor.is_authenticated else None
    name = user.get_username() if user else ("system" if via in {"cli", "task"} else "anonymous")
    if via == "cli" and user is None:
        import getpass

        name = f"cli:{getpass.getuser()}"
    return AuditEntry.objects.create(
        actor=user,
        actor_name=name,
        action=action,
        environment=environment,
        target_type=target_type,
        target_id=str(target_id),
        summary=summary[:500],
        details=details or {},
        via=via,
    )
