"""The values the monday client takes and gives: mutations, their results, boards, call records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# What `recover` returns: the data of mutations found already applied on the board, by caller key.
Recover = Callable[[list["Mutation"]], dict[str, dict]]


@dataclass
class Mutation:
    """One aliased mutation in a batch; its result is returned under `key`."""

    key: str
    kind: str
    args: dict


@dataclass
class MutationResult:
    key: str
    ok: bool
    data: dict | None
    error_message: str = ""
    error_code: str = ""


@dataclass
class ApiCallRecord:
    """What one HTTP attempt did, for the run's audit trail (never contains the token)."""

    operation: str
    http_status: int | None
    ok: bool
    attempt: int
    mutations: int
    duration_ms: int
    complexity: int | None
    idempotency_key: str
    error: str
    request_body: str
    response_body: str
    budget_remaining: int | None = None  # monday's complexity budget left after the call, when it said


@dataclass
class ColumnInfo:
    id: str
    title: str
    type: str
    settings: dict = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)


@dataclass
class GroupInfo:
    id: str
    title: str


@dataclass
class BoardInfo:
    id: int
    name: str
    columns: dict[str, ColumnInfo]
    groups: list[GroupInfo]
    subitems_board_id: int | None = None

    def column(self, column_id: str) -> ColumnInfo:
        return self.columns[column_id]


@dataclass
class ClientStats:
    requests: int = 0
    mutations: int = 0
    retries: int = 0
    complexity_used: int = 0
    waited_seconds: float = 0.0
