"""monday.com API access for orderops: client, document builders, column formats, errors."""

from __future__ import annotations

from syncapp.monday.client import API_VERSION, MondayClient
from syncapp.monday.column_values import WRITABLE_TYPES, format_column_value, item_name
from syncapp.monday.errors import (
    MondayAuthError,
    MondayDailyLimitError,
    MondayError,
    MondayRequestError,
    MondayUnavailableError,
)
from syncapp.monday.types import ApiCallRecord, BoardInfo, ClientStats, ColumnInfo, GroupInfo, Mutation, MutationResult

__all__ = [
    "API_VERSION",
    "WRITABLE_TYPES",
    "ApiCallRecord",
    "BoardInfo",
    "ClientStats",
    "ColumnInfo",
    "GroupInfo",
    "MondayAuthError",
    "MondayClient",
    "MondayDailyLimitError",
    "MondayError",
    "MondayRequestError",
    "MondayUnavailableError",
    "Mutation",
    "MutationResult",
    "format_column_value",
    "item_name",
]
