"""Startup checks: configuration is validated once, here, with messages naming the key and the fix."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from syncapp.sync_config import config_problems


@checks.register("orderops")
def check_sync_config(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Error(f"{problem.key}: {problem.message}", hint=f"{problem.fix}.", id="orderops.E001")
        for problem in config_problems()
    ]


@checks.register("orderops")
def check_queue_broker(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    cluster = settings.Q_CLUSTER
    messages = []
    if not cluster.get("orm") and not cluster.get("redis"):
        messages.append(
            checks.Error(
                "Q_CLUSTER names no broker, so django-q2 would silently fall back to a local Redis.",
                hint="Leave REDIS_URL unset for the database broker, or set it to your Redis URL.",
                id="orderops.E010",
            )
        )
    if cluster["timeout"] >= cluster["retry"]:
        messages.append(
            checks.Error(
                "Q_CLUSTER timeout must be below retry, or a running sync can be handed to a second worker.",
                hint="Lower timeout or raise retry in orderops/settings.py.",
                id="orderops.E011",
            )
        )
    return messages


@checks.register("orderops", deploy=True)
def check_tokens(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if settings.MONDAY_API_URL == settings.MONDAY_EMULATOR_URL:
        return []
    return [
        checks.Warning(
            f"{name} is not set, so syncs to that environment will stop at their first request.",
            hint=f"Set {name} to the monday API token of that environment's account.",
            id="orderops.W020",
        )
        for name in ("MONDAY_API_TOKEN_DEVELOPMENT", "MONDAY_API_TOKEN_PRODUCTION")
        if not getattr(settings, name)
    ]
