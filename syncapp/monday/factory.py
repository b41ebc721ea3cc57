"""The one place a monday client is built: every client logs every call to ORDER_LIST_API_LOG.

Profiles say who waits for the answer:
- `sync`: a run in the worker; the full retry budget from the configuration.
- `quick`: someone waiting on a page (a preview); one retry and short waits, so an unreachable
  monday is reported in seconds rather than after the full retry budget.
- `check`: a board check (Environments, preflight); one retry, 2 s of waiting, short timeouts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from syncapp.models import ApiCall
from syncapp.monday.client import MondayClient
from syncapp.monday.types import ApiCallRecord
from syncapp.sync_config import EnvironmentConfig, SyncSettings, get_sync_config

logger = logging.getLogger(__name__)
MAX_LOG_BODY = 20_000


@dataclass(frozen=True)
class Profile:
    max_retries: int | None = None  # None: the configuration's
    max_wait_seconds: float | None = None
    connect_timeout: float | None = None
    read_timeout: float | None = None


PROFILES = {
    "sync": Profile(),
    "quick": Profile(max_retries=1, max_wait_seconds=5.0, read_timeout=15.0),
    "check": Profile(max_retries=1, max_wait_seconds=2.0, connect_timeout=3.0, read_timeout=15.0),
}


def _at_most(configured: float, limit: float | None) -> float:
    return configured if limit is None else min(configured, limit)


def monday_client(
    env: EnvironmentConfig,
    *,
    profile: str = "sync",
    run_id: int | None = None,
    log: Callable[[str], None] | None = None,
    settings_: SyncSettings | None = None,
) -> MondayClient:
    """A client for one environment's boards. `run_id` ties the logged calls to a run; `log` receives
    the client's progress notes (waiting for the budget, retrying); `settings_` is the run's
    configuration, read once by the run (default: the current configuration)."""
    chosen = PROFILES[profile]
    config = settings_ or get_sync_config().sync

    def record(call: ApiCallRecord) -> None:
        ApiCall.objects.create(
            run_id=run_id,
            environment=env.name,
            operation=call.operation,
            http_status=call.http_status,
            ok=call.ok,
            attempt=call.attempt,
            mutations=call.mutations,
            duration_ms=call.duration_ms,
            complexity=call.complexity,
            budget_remaining=call.budget_remaining,
            idempotency_key=call.idempotency_key,
            error=call.error[:2000],
            request_body=call.request_body[:MAX_LOG_BODY],
            response_body=call.response_body[:MAX_LOG_BODY],
        )

    def note(message: str) -> None:
        logger.info("%s: %s", f"run {run_id}" if run_id else env.name, message)
        if log is not None:
            log(message)

    return MondayClient(
        api_url=settings.MONDAY_API_URL,
        token=env.token,
        environment=env.name,
        batch_size=config.items_per_request,
        max_retries=config.max_retries if chosen.max_retries is None else min(config.max_retries, chosen.max_retries),
        max_wait_seconds=_at_most(config.max_wait_seconds, chosen.max_wait_seconds),
        connect_timeout=_at_most(config.connect_timeout_seconds, chosen.connect_timeout),
        read_timeout=_at_most(config.read_timeout_seconds, chosen.read_timeout),
        throttle_below_fraction=config.throttle_below_fraction,
        recorder=record,
        log=note,
    )
