"""Reads about environments: which one is active, what its board is, whether it is the emulator."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from syncapp.models import ConsoleSettings
from syncapp.sync_config import ConfigError, EnvironmentConfig, get_sync_config


def active_environment_name() -> str:
    row = ConsoleSettings.objects.filter(pk=1).only("active_environment").first()
    return row.active_environment if row else "development"


def uses_emulator() -> bool:
    return settings.MONDAY_API_URL.rstrip("/") == settings.MONDAY_EMULATOR_URL.rstrip("/") or any(
        host in settings.MONDAY_API_URL for host in ("127.0.0.1", "localhost", "[::1]")
    )


@dataclass(frozen=True)
class Banner:
    environment: str
    label: str
    board_name: str
    board_id: int | None
    is_production: bool
    emulator: bool
    config_error: str = ""


def environment_banner() -> Banner:
    name = active_environment_name()
    try:
        env = get_sync_config().environment(name)
    except ConfigError as error:
        return Banner(name, name.title(), "", None, name == "production", uses_emulator(), config_error=str(error))
    return Banner(name, env.label, env.items_board.name, env.items_board_id, env.is_production, uses_emulator())


def environment_config(name: str) -> EnvironmentConfig:
    return get_sync_config().environment(name)
