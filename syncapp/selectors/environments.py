"""Reads about environments: which one is active, what its board is, whether it is the emulator,
where its boards and items open in a browser, and the console settings row."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from syncapp.models import ConsoleSettings
from syncapp.sync_config import ENVIRONMENTS, ConfigError, EnvironmentConfig, get_sync_config


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


def environments_order() -> tuple[str, ...]:
    return ENVIRONMENTS


def console_settings_row() -> ConsoleSettings | None:
    return ConsoleSettings.objects.select_related("changed_by").filter(pk=1).first()


def monday_web_url() -> str:
    """Where people open boards: the emulator's own pages locally, monday.com otherwise."""
    configured = getattr(settings, "ORDEROPS_MONDAY_WEB_URL", "")
    if configured:
        return configured.rstrip("/")
    api = settings.MONDAY_API_URL.rstrip("/")
    if api.endswith("/v2") and "api.monday.com" not in api:
        return api[: -len("/v2")]
    return "https://monday.com"


def monday_board_url(board_id: int) -> str:
    return f"{monday_web_url()}/boards/{board_id}"


def monday_item_url(board_id: int, item_id: int) -> str:
    if uses_emulator():
        return monday_board_url(board_id)  # the emulator shows whole boards, not single items
    return f"{monday_board_url(board_id)}/pulses/{item_id}"
