"""Switching the environment the console acts on (development or production)."""

from __future__ import annotations

from django.db import transaction

from syncapp.models import ConsoleSettings
from syncapp.selectors.environments import active_environment_name
from syncapp.services.audit import audit_record
from syncapp.sync_config import ConfigError, get_sync_config


class EnvironmentSwitchError(Exception):
    """The switch was refused; the message says why."""


def environment_switch(*, name: str, actor, via: str = "console") -> ConsoleSettings:
    """Make `name` the active environment. Refused for names the sync configuration does not define."""
    try:
        env = get_sync_config().environment(name)
    except ConfigError as error:
        raise EnvironmentSwitchError(str(error)) from None
    with transaction.atomic():
        # select_for_update keeps two admins switching at once from auditing a stale "from".
        row = ConsoleSettings.objects.select_for_update().filter(pk=1).first()
        previous = row.active_environment if row else active_environment_name()
        if previous == env.name:
            raise EnvironmentSwitchError(f"{env.label} is already the active environment.")
        if row is None:
            row = ConsoleSettings(pk=1)
        row.active_environment = env.name
        row.changed_by = actor if actor is not None and actor.is_authenticated else None
        row.save()
        audit_record(
            actor=actor,
            via=via,
            action="environment_switch",
            environment=env.name,
            target_type="environment",
            target_id=env.name,
            summary=f"switched the active environment from {previous} to {env.name}: {env.describe()}",
            details={"from": previous, "to": env.name, "board_id": env.items_board_id},
        )
    return row
