"""Rate limits and idempotency of the emulated monday API.

Complexity budget
    Each token has a budget per minute (default 10,000,000, monday's figure for a personal token on a
    paid plan). The window starts at the token's first request and resets 60 s later. A request whose
    cost exceeds what is left is answered HTTP 429 with `COMPLEXITY_BUDGET_EXHAUSTED` and
    `extensions.retry_in_seconds` (seconds until the reset), and nothing is executed.
    A single document above 5,000,000 fails with `ComplexityException`, like monday's per-query cap.

    monday does not publish its cost formula. What it does say (rate-limits page,
    developer.monday.com/api-reference/docs/rate-limits, and its earlier versions): "Complexity levels
    are calculated based on the query", and "a query for all boards and their items that returns
    1,000 boards and 1,000 items per board would have a complexity of 1,000,000 (i.e., 1,000 x
    1,000)"; the support article "API Rate Limits" says "Avoid overly complex or deeply nested
    queries". So the emulator estimates a document from its text and variables before running it,
    as standard GraphQL cost analysis does: every field is charged once per object its parent may
    return, and a list field multiplies its children by the number of objects it may return.

        mutation fields (create_item, create_subitem, create_group,
            change_multiple_column_values, move_item_to_group, archive_item,
            delete_item, delete_group), flat: what they select is free    10,000 each
        boards                                                 1,000 per board asked for
        items (root, or items(ids:) anywhere)                    500 per item asked for
        items_page_by_column_values, next_items_page, items_page 500 x limit
            (the page's `items` cost nothing more themselves: the page paid for them)
        subitems                                                 500 per parent item
        complexity                                                   0
        anything else                                               10

        a field's cost is multiplied by the objects its parent may return; its children are
        multiplied by the objects it may return: boards and items by their ids (else limit, else
        25), a page's items by the page's limit, any other list by its ids, else its limit, else 25.

    So `next_items_page(limit: 500) { items { id name } }` costs 500 x 500 + 500 x 20 = 260,000, and
    `boards(ids: [1]) { items_page(limit: 500) { ... } }` costs the board's 1,000 on top of what the
    same page costs at the root. A document above MAX_QUERY_COMPLEXITY through nesting alone is
    refused like any other.

    Guesses (monday documents none of these numbers):
        - the unit costs above; that a list multiplies by what it may return (its ids, counted
          before its limit as monday's community post "Complexity Field Weights" says), not by
          what it returns;
        - a list with neither ids nor a limit (column_values, columns, groups without ids) is taken
          to return 25 objects, monday's default limit for boards and items;
        - a subitem list costs like a one-item read per parent item: ITEM_COST per parent, and what
          it selects is charged as for one subitem per parent. Stricter readings exist: the earlier
          rate-limits page gives objects queried without limits a default complexity of 1,000, and
          the community post above reports the fields inside subitems (which take no limit)
          weighing x 1,000; either would make every page of items with subitems far costlier;
        - every branch of a fragment is charged (what the document may return).

    A 25-mutation batch therefore costs 250,000, so the default budget allows 40 such requests
    (1,000 mutations) a minute.

Daily calls
    Every authenticated request counts against a per-token daily counter that resets at 00:00 UTC.
    With a limit configured, a request past it gets HTTP 429 `DAILY_LIMIT_EXCEEDED`. Default: no limit.

Minute, concurrency and IP limits (monday's rate-limits page and support article)
    Minute limit: requests per token per 60 s window (monday: 1,000 on most plans, 2,500 Pro,
    5,000 Enterprise; default 1,000). Concurrency: requests in flight per token at once (monday: 40,
    100 Pro, 250 Enterprise; default 40). IP limit: 5,000 requests per 10 s per source address.
    Every request counts, refused ones included ("all requests - even failed ones - count toward
    your limits"). Past a limit the answer is HTTP 429 with `MINUTE_RATE_LIMIT_EXCEEDED`,
    `MAX_CONCURRENCY_EXCEEDED` or `IP_RATE_LIMIT_EXCEEDED`, `extensions.retry_in_seconds` and a
    `Retry-After` header, and nothing is executed. `None` switches a limit off (benchmarks).

Idempotency
    As documented by monday: a mutation request with an `Idempotency-Key` is executed once and its
    response cached for 30 minutes; a retry with the same key and the same body gets the cached
    response with `Idempotency-Replayed: true`; a retry while the first is still running gets 409
    with Retry-After. Reusing a key for a different body is refused (HTTP 400).
    monday's replay is best-effort: responses over 1 MB are not cached, and each user has a cache
    budget. The emulator never caches a response over MAX_CACHED_RESPONSE_BYTES, can be given a
    per-token budget in bytes (`budget_bytes`; a response that does not fit is not cached), and can
    be switched off (`enabled=False`): then every retry executes again, as when monday's cache
    dropped the entry.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    is_list_type,
    is_non_null_type,
    value_from_ast_untyped,
)

DEFAULT_BUDGET_PER_MINUTE = 10_000_000
MAX_QUERY_COMPLEXITY = 5_000_000
BUDGET_WINDOW_SECONDS = 60
IDEMPOTENCY_TTL_SECONDS = 30 * 60
MAX_CACHED_RESPONSE_BYTES = 1_000_000
DEFAULT_MINUTE_REQUEST_LIMIT = 1_000
MINUTE_WINDOW_SECONDS = 60
DEFAULT_CONCURRENCY_LIMIT = 40
DEFAULT_IP_REQUEST_LIMIT = 5_000
IP_WINDOW_SECONDS = 10
# monday does not say how long to wait after MAX_CONCURRENCY_EXCEEDED; one second is a guess.
CONCURRENCY_RETRY_SECONDS = 1

MUTATION_COST = 10_000
BOARD_COST = 1_000
ITEM_COST = 500
OTHER_FIELD_COST = 10
# Objects a list field is taken to return when it has neither ids nor a limit (monday's default limit
# for boards and items; a guess for the other lists).
DEFAULT_LIST_SIZE = 25
# A subitem list is charged like a one-item read per parent item (a guess: subitems has no limit).
SUBITEMS_PER_ITEM = 1
PAGED_FIELDS = frozenset({"items_page_by_column_values", "next_items_page", "items_page"})


@dataclass
class Charge:
    before: int
    after: int
    query: int
    reset_in_x_seconds: int

    def as_complexity(self) -> dict[str, int]:
        return {
            "before": self.before,
            "after": self.after,
            "query": self.query,
            "reset_in_x_seconds": self.reset_in_x_seconds,
        }


class BudgetExhausted(Exception):
    def __init__(self, retry_in_seconds: int, charge: Charge) -> None:
        super().__init__(f"Complexity budget exhausted, retry in {retry_in_seconds} seconds")
        self.retry_in_seconds = retry_in_seconds
        self.charge = charge


class DailyLimitExceeded(Exception):
    def __init__(self, retry_in_seconds: int) -> None:
        super().__init__("Daily limit exceeded")
        self.retry_in_seconds = retry_in_seconds


class ComplexityBudget:
    """Per-token budget per minute; `per_minute=None` means unlimited (benchmarks)."""

    def __init__(
        self,
        per_minute: int | None = DEFAULT_BUDGET_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        window_seconds: float = BUDGET_WINDOW_SECONDS,
    ):
        self.per_minute = per_minute
        # monday's window is a minute; benchmarks shorten it to scale the budget down in time.
        self.window_seconds = window_seconds
        self.clock = clock  # replaceable, so tests can move time forward
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # token -> (window start, used)

    def charge(self, token: str, cost: int) -> Charge:
        with self._lock:
            limit = self.per_minute if self.per_minute is not None else DEFAULT_BUDGET_PER_MINUTE
            start, used = self._window(token)
            reset_in = max(1, math.ceil(start + self.window_seconds - self.clock()))
            before = limit - used
            if self.per_minute is not None and cost > before:
                raise BudgetExhausted(reset_in, Charge(before, before, cost, reset_in))
            if self.per_minute is None:
                return Charge(limit, limit, cost, reset_in)
            self._windows[token] = (start, used + cost)
            return Charge(before, before - cost, cost, reset_in)

    def remaining(self, token: str) -> tuple[int, int]:
        with self._lock:
            limit = self.per_minute if self.per_minute is not None else DEFAULT_BUDGET_PER_MINUTE
            start, used = self._window(token)
            return limit - used, max(1, math.ceil(start + self.window_seconds - self.clock()))

    def exhaust(self, token: str) -> None:
        """Spend the whole budget (tests use it to reproduce a 429 without 400 requests)."""
        with self._lock:
            start, _ = self._window(token)
            self._windows[token] = (start, self.per_minute or DEFAULT_BUDGET_PER_MINUTE)

    def _window(self, token: str) -> tuple[float, int]:
        now = self.clock()
        start, used = self._windows.get(token, (now, 0))
        if now - start >= self.window_seconds:
            start, used = now, 0
        self._windows[token] = (start, used)
        return start, used


class LimitExceeded(Exception):
    """A request-count limit refused a request; `retry_in_seconds` says when to try again."""

    def __init__(self, retry_in_seconds: int) -> None:
        super().__init__(f"Limit exceeded, retry in {retry_in_seconds} seconds")
        self.retry_in_seconds = retry_in_seconds


class RequestWindow:
    """At most `limit` requests per key in a window that starts at the key's first request.

    Used for monday's minute limit (per token) and IP limit (per source address). Every request
    counts, the refused ones too, as monday documents. `limit=None` switches the limit off.
    """

    def __init__(self, limit: int | None, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock  # replaceable, so tests can move time forward
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, requests)

    def hit(self, key: str) -> tuple[int, int]:
        """Count one request: (requests left in the window, seconds to its reset); raises past the limit."""
        with self._lock:
            now = self.clock()
            start, count = self._windows.get(key, (now, 0))
            if now - start >= self.window_seconds:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)
            reset_in = max(1, math.ceil(start + self.window_seconds - now))
            if self.limit is None:
                return 0, reset_in
            if count > self.limit:
                raise LimitExceeded(reset_in)
            return self.limit - count, reset_in

    def remaining(self, key: str) -> tuple[int, int]:
        with self._lock:
            now = self.clock()
            start, count = self._windows.get(key, (now, 0))
            if now - start >= self.window_seconds:
                start, count = now, 0
            left = (self.limit - count) if self.limit is not None else 0
            return max(left, 0), max(1, math.ceil(start + self.window_seconds - now))


class ConcurrencyLimit:
    """At most `limit` requests of one token in flight at once; `limit=None` switches it off."""

    def __init__(self, limit: int | None = DEFAULT_CONCURRENCY_LIMIT) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}

    def enter(self, key: str) -> int:
        """Admit one request: how many more may start now; raises when the limit is reached."""
        with self._lock:
            running = self._running.get(key, 0)
            if self.limit is not None and running >= self.limit:
                raise LimitExceeded(CONCURRENCY_RETRY_SECONDS)
            self._running[key] = running + 1
            return (self.limit - running - 1) if self.limit is not None else 0

    def leave(self, key: str) -> None:
        with self._lock:
            running = self._running.get(key, 0) - 1
            if running > 0:
                self._running[key] = running
            else:
                self._running.pop(key, None)

    def in_flight(self, key: str) -> int:
        with self._lock:
            return self._running.get(key, 0)


class DailyCounter:
    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, dt.date], int] = {}

    def count(self, token: str) -> int:
        """Count one call; raises DailyLimitExceeded when the token is past its limit."""
        now = dt.datetime.now(dt.UTC)
        with self._lock:
            key = (token, now.date())
            calls = self._counts.get(key, 0) + 1
            if self.limit is not None and calls > self.limit:
                midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
                raise DailyLimitExceeded(math.ceil((midnight - now).total_seconds()))
            self._counts[key] = calls
            return calls

    def calls_today(self, token: str) -> int:
        with self._lock:
            return self._counts.get((token, dt.datetime.now(dt.UTC).date()), 0)


@dataclass
class StoredResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class IdempotencyCache:
    NEW, REPLAY, RUNNING, MISMATCH = "new", "replay", "running", "mismatch"

    def __init__(
        self,
        ttl_seconds: int = IDEMPOTENCY_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        *,
        enabled: bool = True,
        budget_bytes: int | None = None,
        max_response_bytes: int = MAX_CACHED_RESPONSE_BYTES,
    ):
        self.ttl_seconds = ttl_seconds
        self.clock = clock  # replaceable, so tests can move time forward
        self.enabled = enabled
        self.budget_bytes = budget_bytes  # per token; None: no budget
        self.max_response_bytes = max_response_bytes
        self.not_cached = 0  # responses executed under a key but not kept (off, too big, over budget)
        self._lock = threading.Lock()
        # (token, key) -> (body hash, stored response or None while running, stored at)
        self._entries: dict[tuple[str, str], tuple[str, StoredResponse | None, float]] = {}

    def begin(self, token: str, key: str, body_hash: str) -> tuple[str, StoredResponse | None]:
        """Claim a key. Returns (NEW, None) when the caller must execute and `complete` it."""
        if not self.enabled:
            return self.NEW, None
        with self._lock:
            self._expire()
            entry = self._entries.get((token, key))
            if entry is None:
                self._entries[(token, key)] = (body_hash, None, self.clock())
                return self.NEW, None
            stored_hash, response, _ = entry
            if stored_hash != body_hash:
                return self.MISMATCH, None
            if response is None:
                return self.RUNNING, None
            return self.REPLAY, response

    def complete(self, token: str, key: str, body_hash: str, response: StoredResponse) -> None:
        with self._lock:
            if not self._keeps(token, response):
                # Best effort, as at monday: the key is forgotten and a retry executes again.
                self.not_cached += 1
                self._entries.pop((token, key), None)
                return
            self._entries[(token, key)] = (body_hash, response, self.clock())

    def _keeps(self, token: str, response: StoredResponse) -> bool:
        if not self.enabled or len(response.body) > self.max_response_bytes:
            return False
        if self.budget_bytes is None:
            return True
        used = sum(len(r.body) for (t, _), (_, r, _) in self._entries.items() if t == token and r is not None)
        return used + len(response.body) <= self.budget_bytes

    def abandon(self, token: str, key: str) -> None:
        """Forget a claimed key whose request was not executed (rate limited, rejected)."""
        with self._lock:
            entry = self._entries.get((token, key))
            if entry is not None and entry[1] is None:
                del self._entries[(token, key)]

    def _expire(self) -> None:
        cutoff = self.clock() - self.ttl_seconds
        for key in [k for k, (_, _, at) in self._entries.items() if at < cutoff]:
            del self._entries[key]


def estimate_complexity(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, object],
) -> int:
    """Cost of a document under the nested model in this module's docstring, from the document and
    its variables alone (before anything runs, as monday estimates it)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    if operation.operation.value == "mutation":
        # Flat: a mutation field costs MUTATION_COST whatever it selects.
        total = sum(
            MUTATION_COST
            for node in _fields(operation.selection_set, schema.mutation_type, schema, fragments, frozenset())
            if node[0].name.value != "complexity"
        )
    else:
        walk = _Walk(schema, fragments, variables)
        total = walk.selection_cost(operation.selection_set, schema.query_type, 1, page_limit=None, seen=frozenset())
    return max(total, 1)


class _Walk:
    """Charges a selection set for `multiplicity` parent objects (the model's rules, recursively)."""

    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode], variables) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def selection_cost(
        self,
        selection_set: SelectionSetNode | None,
        parent_type: GraphQLNamedType | None,
        multiplicity: int,
        *,
        page_limit: int | None,
        seen: frozenset[str],
    ) -> int:
        total = 0
        for node, node_type, node_seen in _fields(selection_set, parent_type, self.schema, self.fragments, seen):
            total += self.field_cost(node, node_type, multiplicity, page_limit=page_limit, seen=node_seen)
        return total

    def field_cost(
        self,
        node: FieldNode,
        parent_type: GraphQLNamedType | None,
        multiplicity: int,
        *,
        page_limit: int | None,
        seen: frozenset[str],
    ) -> int:
        name = node.name.value
        if name == "complexity":
            return 0
        definition = getattr(parent_type, "fields", {}).get(name) if parent_type is not None else None
        field_type = definition.type if definition is not None else None
        args = {arg.name.value: _argument(arg.value, self.variables) for arg in node.arguments or ()}
        child_page_limit = None
        if name in PAGED_FIELDS:
            limit = _int(args.get("limit"), DEFAULT_LIST_SIZE)
            own, returned, child_page_limit = ITEM_COST * limit, 1, limit
        elif name == "items" and page_limit is not None:
            own, returned = 0, page_limit  # a page's items: the page already paid ITEM_COST for each
        elif name == "boards":
            returned = _count(args, DEFAULT_LIST_SIZE)
            own = BOARD_COST * returned
        elif name == "items":
            returned = _count(args, DEFAULT_LIST_SIZE)
            own = ITEM_COST * returned
        elif name == "subitems":
            own, returned = ITEM_COST, SUBITEMS_PER_ITEM
        elif field_type is not None and _is_list(field_type):
            own, returned = OTHER_FIELD_COST, _count(args, DEFAULT_LIST_SIZE)
        else:
            own, returned = OTHER_FIELD_COST, 1
        cost = own * multiplicity
        if node.selection_set is not None:
            child_type = get_named_type(field_type) if field_type is not None else None
            cost += self.selection_cost(
                node.selection_set, child_type, multiplicity * returned, page_limit=child_page_limit, seen=seen
            )
        return cost


def _fields(
    selection_set: SelectionSetNode | None,
    parent_type: GraphQLNamedType | None,
    schema: GraphQLSchema,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: frozenset[str],
) -> Iterator[tuple[FieldNode, GraphQLNamedType | None, frozenset[str]]]:
    """The fields of a selection set with fragments spread in, each with the type it is selected on.

    Every branch of an inline fragment or spread is charged (what the document may return);
    `seen` stops a fragment cycle, which validation refuses anyway.
    """
    for selection in selection_set.selections if selection_set is not None else ():
        if isinstance(selection, FieldNode):
            yield selection, parent_type, seen
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            on = schema.get_type(condition.name.value) if condition is not None else parent_type
            yield from _fields(selection.selection_set, on, schema, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            on = schema.get_type(fragment.type_condition.name.value)
            yield from _fields(fragment.selection_set, on, schema, fragments, seen | {name})


def _is_list(field_type: GraphQLOutputType) -> bool:
    return is_list_type(field_type.of_type if is_non_null_type(field_type) else field_type)


def _count(args: Mapping[str, object], default: int) -> int:
    """How many objects a list field may return: its ids first (monday: "IDs are considered before
    the limit argument"), then its limit, else `default`."""
    ids = args.get("ids")
    if isinstance(ids, list):
        return len(ids)
    if ids is not None:
        return 1  # a single id is coerced to a one-element list
    return _int(args.get("limit"), default)


def _int(value: object, default: int) -> int:
    try:
        return max(int(value), 0) if value is not None else default
    except (TypeError, ValueError):
        return default


def _argument(value: ValueNode, variables: Mapping[str, object]) -> object:
    if isinstance(value, VariableNode):
        return variables.get(value.name.value)
    return value_from_ast_untyped(value, dict(variables))
