"""Startup checks: configuration is validated once, here, with messages naming the key and the fix."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from syncapp.services.alert_delivery import email_problems, webhook_problems
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


@checks.register("orderops")
def check_health_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    messages = []
    if settings.ORDEROPS_HEALTH_WORKER_SILENCE_MINUTES < 1:
        messages.append(
            checks.Error(
                "ORDEROPS_HEALTH_WORKER_SILENCE_MINUTES must be at least 1: the heartbeat comes once a minute, "
                "so /health would call every worker silent.",
                hint="Set ORDEROPS_HEALTH_WORKER_SILENCE_MINUTES to 10 (the default) or more.",
                id="orderops.E070",
            )
        )
    for entry in settings.ORDEROPS_METRICS_ALLOWED_NETWORKS:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            messages.append(
                checks.Error(
                    f"ORDEROPS_METRICS_ALLOWED_NETWORKS holds {entry!r}, which is not an address or network.",
                    hint="List networks separated by commas, e.g. 127.0.0.1/32,::1/128,10.0.5.0/24.",
                    id="orderops.E071",
                )
            )
    token = settings.ORDEROPS_METRICS_TOKEN
    if token and (len(token) < 24 or token != token.strip()):
        messages.append(
            checks.Error(
                "ORDEROPS_METRICS_TOKEN is shorter than 24 characters or has spaces around it; "
                "anyone who guesses it reads the metrics.",
                hint="Set it to the output of python3 -c 'import secrets; print(secrets.token_urlsafe(32))'.",
                id="orderops.E072",
            )
        )
    return messages


@checks.register("orderops")
def check_alert_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    messages = [
        checks.Error(
            f"ORDEROPS_ALERT_WEBHOOKS: {problem}.",
            hint='Set it to a JSON list of http(s) URLs (["https://..."]) or to URLs separated by commas.',
            id="orderops.E030",
        )
        for problem in webhook_problems()
    ]
    messages += [
        checks.Error(
            f"ORDEROPS_ALERT_EMAILS: {problem}.",
            hint="Set it to email addresses separated by commas, e.g. ops@example.com,it@example.com.",
            id="orderops.E031",
        )
        for problem in email_problems()
    ]
    for name in (
        "ORDEROPS_ALERT_PENDING_MAX_AGE_MINUTES",
        "ORDEROPS_ALERT_WORKER_SILENCE_MINUTES",
        "ORDEROPS_ALERT_WEBHOOK_TIMEOUT_SECONDS",
    ):
        if not getattr(settings, name) > 0:
            messages.append(
                checks.Error(
                    f"{name} is {getattr(settings, name)}; it must be above 0.",
                    hint=f"Set {name} to a positive number, or unset it for the default.",
                    id="orderops.E032",
                )
            )
    retries = list(settings.ORDEROPS_ALERT_RETRY_MINUTES)
    if not retries or any(minutes <= 0 for minutes in retries):
        messages.append(
            checks.Error(
                f"ORDEROPS_ALERT_RETRY_MINUTES is {','.join(map(str, retries)) or 'empty'}; it needs one or more "
                "positive numbers of minutes.",
                hint="Set it to minutes between the retries of a failed alert, e.g. 1,5,15,60, or unset it.",
                id="orderops.E033",
            )
        )
    console = urlsplit(settings.ORDEROPS_CONSOLE_URL)
    if console.scheme not in ("http", "https") or not console.netloc:
        messages.append(
            checks.Error(
                f"ORDEROPS_CONSOLE_URL is {settings.ORDEROPS_CONSOLE_URL!r}, not an http(s) URL; alerts link to runs "
                "through it.",
                hint="Set it to the console's address as people open it, e.g. https://orderops.example.com.",
                id="orderops.E034",
            )
        )
    return messages


@checks.register("orderops", deploy=True)
def check_alert_delivery(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    messages = []
    if settings.ORDEROPS_ALERT_EMAILS and settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
        messages.append(
            checks.Warning(
                "ORDEROPS_ALERT_EMAILS is set, but email goes to the worker's log (the console backend).",
                hint="Set EMAIL_URL to your SMTP server, e.g. smtp+tls://user:password@smtp.office365.com:587.",
                id="orderops.W030",
            )
        )
    if urlsplit(settings.ORDEROPS_CONSOLE_URL).hostname in ("127.0.0.1", "localhost", "::1"):
        messages.append(
            checks.Warning(
                f"ORDEROPS_CONSOLE_URL is {settings.ORDEROPS_CONSOLE_URL}, so links in alerts open on the reader's "
                "own machine.",
                hint="Set ORDEROPS_CONSOLE_URL to the console's address as people open it.",
                id="orderops.W031",
            )
        )
    return messages
