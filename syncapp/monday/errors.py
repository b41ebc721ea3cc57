"""Exceptions raised by the monday.com client, and monday's error codes sorted by reaction.

Only conditions that must stop a run are raised. Application errors that concern one mutation
(a bad column value, a missing item) are returned per alias in `MutationResult` instead, so one bad
row never hides the results of the 24 others sent in the same request.
"""

from __future__ import annotations

# Limits that clear by waiting: monday says how long in extensions.retry_in_seconds (or the
# Retry-After header). Codes as documented for API 2025-01 and later (rate limits and error handling
# pages), the legacy spellings older versions used, and the throttles monday may answer inside an
# HTTP 200 (tooManyRequests, API_TEMPORARILY_BLOCKED): whatever the status, a throttle is waited out,
# never reported as a failed row or a stopped run.
RATE_LIMIT_CODES: frozenset[str] = frozenset(
    {
        "COMPLEXITY_BUDGET_EXHAUSTED",
        "MINUTE_RATE_LIMIT_EXCEEDED",
        "MAX_CONCURRENCY_EXCEEDED",
        "IP_RATE_LIMIT_EXCEEDED",
        "RATE_LIMIT_EXCEEDED",
        "API_TEMPORARILY_BLOCKED",
        "tooManyRequests",
        "TOO_MANY_REQUESTS",
        "maxConcurrencyExceeded",
        "CONCURRENCY_LIMIT_EXCEEDED",
        "FIELD_LIMIT_EXCEEDED",
        "Rate Limit Exceeded",
    }
)

# A 409 means "the request with this Idempotency-Key is still running" only with these codes; other
# 409s are answers about the data (DeleteLastGroupException: a board keeps at least one group) and
# are reported on their mutation like any application error.
IDEMPOTENCY_RUNNING_CODES: frozenset[str] = frozenset(
    {"IDEMPOTENCY_CONFLICT", "IDEMPOTENCY_KEY_IN_PROGRESS", "IdempotencyConflictException"}
)

DAILY_LIMIT_CODES: frozenset[str] = frozenset({"DAILY_LIMIT_EXCEEDED"})

AUTH_CODES: frozenset[str] = frozenset(
    {"UNAUTHENTICATED", "UNAUTHORIZED", "Unauthorized", "UserUnauthorizedException", "Not Authenticated"}
)

# Rejections of the request itself (a document monday cannot run): retrying sends the same bytes and
# gets the same answer, so they stop the run and point at a bug rather than at monday.
REQUEST_REJECTED_CODES: frozenset[str] = frozenset(
    {
        "GRAPHQL_VALIDATION_FAILED",
        "GRAPHQL_PARSE_FAILED",
        "undefinedField",
        "argumentNotAccepted",
        "missingRequiredArguments",
        "variableMismatch",
        "InvalidApiVersionException",
        "IDEMPOTENCY_KEY_REUSED",
    }
)


class MondayError(Exception):
    """Base class: the run cannot continue against monday."""

    def __init__(self, message: str, *, code: str = "", http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


class MondayAuthError(MondayError):
    """401/403: the environment's token is missing, wrong, or lacks access to the board."""


class MondayDailyLimitError(MondayError):
    """DAILY_LIMIT_EXCEEDED: the account's daily call budget is spent until midnight UTC."""


class MondayUnavailableError(MondayError):
    """Retries exhausted on 5xx, 423, timeouts, lost connections, rate limits or malformed bodies."""


class MondayRequestError(MondayError):
    """monday rejected the request itself (invalid document, API version, per-query complexity)."""


def token_variable(environment: str) -> str:
    """The settings/env variable holding an environment's token, e.g. MONDAY_API_TOKEN_PRODUCTION."""
    return f"MONDAY_API_TOKEN_{environment.upper()}"
