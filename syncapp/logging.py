"""Keeps monday tokens out of every log line."""

from __future__ import annotations

import logging

from django.conf import settings

REDACTED = "[redacted]"


def secrets_to_redact() -> list[str]:
    tokens = [settings.MONDAY_API_TOKEN_DEVELOPMENT, settings.MONDAY_API_TOKEN_PRODUCTION]
    return [t for t in tokens if t and len(t) >= 4]


def redact(text: str) -> str:
    for secret in secrets_to_redact():
        text = text.replace(secret, REDACTED)
    return text


class RedactTokensFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
