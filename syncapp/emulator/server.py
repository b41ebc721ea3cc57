"""HTTP server of the local monday emulator.

Endpoints
    POST /v2            monday's GraphQL API (monday's official 2026-10 schema, schema.graphql)
    GET  /boards/       list of boards (with their environment) and the trainer's controls
    POST /boards/controls  change faults and labels at run time (this machine only; controls.py)
    GET  /boards/<id>   read-only view of a board: groups -> items -> subitems with column values
    GET  /health        JSON status (boards, items, limits, faults)

Request handling: IP limit, authentication (Authorization token), API-Version, concurrency limit,
minute limit, daily call counter, GraphQL parse + validation, Idempotency-Key (mutations),
complexity budget, then execution. Responses carry monday's error shapes, the `API-Version` that
answered, and `RateLimit` / `RateLimit-Policy` headers with three policies (`minuteRate`,
`concurrency`, `complexityMinute`). Rate and limit errors are HTTP 429 with `extensions.code`,
`extensions.retry_in_seconds` (no `status_code`, as since API 2025-07) and `Retry-After`.

Tokens: one per environment, e.g. {"development": "dev-token", "production": "prod-token"}. By
default each token may only use its own environment's boards (DEFAULT_BOARD_ACCESS), so a
production token pointed at a development board, or the reverse, fails with
UserUnauthorizedException the way a token without board access fails at monday.

Guesses: what monday's documentation does not settle, and what the emulator does instead
    - Read complexity: monday does not publish its cost formula; the nested model in limits.py
      (10,000 per mutation field, flat; in queries 1,000 per board, 500 per item or page slot, 500
      per parent item for subitems, 10 otherwise, each multiplied by the objects its parent may
      return; lists without ids or a limit count as 25).
    - New groups are placed at the top of the board unless a relative position is given.
    - The order of the limit checks (IP, then auth, version, concurrency, minute, daily, complexity)
      and that the IP limit is counted per source address before authentication.
    - Limit values: the minute limit defaults to 1,000 requests (monday: 1,000 / 2,500 Pro / 5,000
      Enterprise), concurrency to 40 (40 / 100 / 250), the IP limit to 5,000 per 10 s (monday's
      support article; an older rate-limits page says 5,000 per minute); the minute and IP windows
      start at a key's first request (monday: "sliding window").
    - `retry_in_seconds` for MAX_CONCURRENCY_EXCEEDED is 1 (monday does not say); the messages of
      the limit errors ("Minute limit rate exceeded", "Concurrency limit exceeded", ...).
    - The RateLimit header syntax (IETF draft: `"name";r=..;t=..` per policy, comma separated, in the
      order minuteRate, concurrency, complexityMinute); the concurrency policy has no window.
    - DAILY_LIMIT_EXCEEDED keeps HTTP 429; refused requests count toward the minute and IP limits.
    - API versions: every version is served by the one 2026-10 schema; only the `API-Version`
      header says which version answered. Maintenance 2026-07 and release candidate 2027-01 by
      default; `dev` answers as the release candidate; a well-formed version that is not a release
      (a non-quarter month, or newer than the release candidate) answers as current; a malformed
      value is HTTP 400 `InvalidVersionException`.
    - throttle_200 faults: message "Too many requests", the codes in faults.THROTTLE_200_CODES in
      turn, `retry_in_seconds` and `Retry-After` both set.
    - batch_500: a 500 undoes the whole request (nothing applied); which alias errors trigger it
      (BATCH_500_CODES). monday does not say whether the other aliases were applied.
    - Idempotency: the per-user cache budget has no documented size (off unless configured);
      1 MB is taken as 1,000,000 bytes of response body.
    - ColumnValueException `error_data.column_type`: "color" for status is documented; the other
      types keep the API's type name. Group names over 255 characters fail with
      InvalidArgumentException; long text over 2,000 characters and status labels over 30 with
      ColumnValueException (monday's exact codes and messages for these limits are not documented).
    - DeleteLastGroupException is answered with HTTP 409 and `status_code` 409, data null.
    - Reads (reads.py, cursors.py). Documented and followed: the 100-item limit of root `items`,
      cursors valid 60 minutes from the first page. Guessed: the refusals' codes and wording:
      more than 100 ids, and `columns` with `cursor` in one items_page_by_column_values call, are
      InvalidArgumentException; an expired or never-issued cursor is CursorExpiredError (the code
      monday's own Python SDK recovers from); a cursor can be sent again any number of times
      within its 60 minutes and returns the same page. Whole-value, case-insensitive search is
      applied to text, name and every other column; a dropdown matches on any one of its labels;
      surrounding spaces are not ignored. items_page `query_params` applies ids, groups and the
      text operators (any_of, not_any_of, is_empty, is_not_empty, contains_text,
      not_contains_text, starts_with, ends_with) to a column's text; other operators are refused;
      `order_by` is ignored (board order).
    - An empty or blank item name is InvalidItemNameException ("Item name can't be empty").
    - Fields the emulator does not model answer "nothing" (executable.py: [] for lists, null,
      "" / 0 / false / "{}" for non-null scalars, an enum's first value); monday may hold data
      there (updates, assets, subscribers, workspaces...). Modelled with fixed values: `me`,
      `account`, `users` (one API user, account 1), a board's kind "public", permissions
      "everyone", access level "edit". Mutations it does not model answer null with the code
      EmulatorUnsupported and change nothing; update_group changes only title and color;
      duplicate_group copies the items (not subitems) below the source group.
    - duplicate_item keeps the item's name (no "copy" suffix), copies its column values and its
      subitems, and places the copy right below the original in the same group; `with_updates`
      copies nothing (updates are not modelled).
    - `items(ids:)` without `exclude_nonactive` returns archived and deleted items with `state`
      "archived" / "deleted" (monday keeps deleted items 30 days; the emulator keeps them for good).
    - Board `activity_logs` (2026-10 shape: a list, `limit`/`page`): only changes of an existing
      item's columns or name through the API (update_column_value, update_name) and duplicate_item
      (create_pulse) are logged, all by the one API user (id "1"). `data` is a JSON string with
      board_id, group_id, group_title, pulse_id, pulse_name, column_id, column_type, column_title,
      and value / previous_value as {"value": <stored JSON>, "text": ...} (monday's per-type shape
      is not documented); `created_at` is a 17-digit string of 100-nanosecond units since the epoch.
      At most 10,000 entries per board are kept.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from graphql import DocumentNode, GraphQLError, OperationType, execute, get_operation_ast, parse, validate

from syncapp.emulator import controls, limits
from syncapp.emulator.board_views import page, render_board, render_board_list
from syncapp.emulator.column_writes import monday_column_type
from syncapp.emulator.cursors import CursorStore
from syncapp.emulator.executable import build_executable_schema
from syncapp.emulator.faults import APPLIED_FAULTS, FaultConfig
from syncapp.emulator.resolvers import RequestContext
from syncapp.emulator.state import EmulatorState, StateSaver
from syncapp.emulator.versions import DEFAULT_API_VERSION, ApiVersions

SUPPORTED_API_VERSIONS: tuple[str, ...] = (DEFAULT_API_VERSION,)  # the one schema the emulator serves
DEFAULT_TOKENS = {"development": "dev-token", "production": "prod-token"}
DEFAULT_BOARD_ACCESS: dict[str, frozenset[str]] = {
    "development": frozenset({"9609317401", "9609317948"}),
    "production": frozenset({"9200517329", "9200771505"}),
}
REQUEST_LOG_SIZE = 2000
# Errors of one alias that monday may turn into a whole-request HTTP 500 (the "batch_500" fault mode):
# a stale item id or a malformed value.
BATCH_500_CODES = frozenset({"ResourceNotFoundException", "InvalidItemIdException", "ColumnValueException"})
# Application errors answered with their own HTTP status instead of 200 (monday's error-codes page
# lists DeleteLastGroupException as 409 Conflict).
HTTP_STATUS_BY_CODE = {"DeleteLastGroupException": 409}


def default_tokens(development: str = "", production: str = "") -> dict[str, str]:
    """Tokens the emulator accepts: the configured ones, else the documented "dev-token"/"prod-token"."""
    return {
        "development": development or DEFAULT_TOKENS["development"],
        "production": production or DEFAULT_TOKENS["production"],
    }


@dataclass
class ApiResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    post_fault: str | None = None  # "lost" / "delay": applied, then the response is not delivered on time


class MondayApi:
    """The /v2 endpoint, independent of the HTTP plumbing so it can be reasoned about (and tested) alone."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        tokens: Mapping[str, str],
        faults: FaultConfig | None = None,
        budget_per_minute: int | None = limits.DEFAULT_BUDGET_PER_MINUTE,
        daily_limit: int | None = None,
        api_versions: ApiVersions | None = None,
        board_access: Mapping[str, frozenset[str]] | None = DEFAULT_BOARD_ACCESS,
        sleep: Callable[[float], None] = time.sleep,
        budget_window_seconds: float = limits.BUDGET_WINDOW_SECONDS,
        minute_limit: int | None = limits.DEFAULT_MINUTE_REQUEST_LIMIT,
        concurrency_limit: int | None = limits.DEFAULT_CONCURRENCY_LIMIT,
        ip_limit: int | None = limits.DEFAULT_IP_REQUEST_LIMIT,
        idempotency_budget_bytes: int | None = None,
    ) -> None:
        self.state = state
        self.tokens = dict(tokens)
        self.faults = faults or FaultConfig()
        self.budget = limits.ComplexityBudget(budget_per_minute, window_seconds=budget_window_seconds)
        self.daily = limits.DailyCounter(daily_limit)
        self.minute = limits.RequestWindow(minute_limit, limits.MINUTE_WINDOW_SECONDS)
        self.concurrency = limits.ConcurrencyLimit(concurrency_limit)
        self.ip = limits.RequestWindow(ip_limit, limits.IP_WINDOW_SECONDS)
        self.idempotency = limits.IdempotencyCache(budget_bytes=idempotency_budget_bytes)
        self.versions = api_versions or ApiVersions()
        self.board_access = board_access
        self.cursors = CursorStore()
        self.request_log: deque[dict] = deque(maxlen=REQUEST_LOG_SIZE)
        self.requests_served = 0
        self._sleep = sleep
        self._schema = build_executable_schema()
        self._parse = lru_cache(maxsize=512)(self._parse_uncached)

    # --- entry point ------------------------------------------------------------------------------

    def handle(self, headers: Mapping[str, str], body: bytes, peer: str = "") -> ApiResponse:
        entry = {"headers": _redacted(headers), "body": body.decode("utf-8", "replace"), "fault": None, "peer": peer}
        self.request_log.append(entry)
        self.requests_served += 1
        fault = self.faults.pick()
        entry["fault"] = fault
        if fault is not None and fault not in APPLIED_FAULTS:
            self._latency()
            response = _fault_response(fault, self.faults)
        else:
            response = self._serve(headers, body, peer.rsplit(":", 1)[0])
            response.post_fault = fault
        entry["status"] = response.status
        entry["replayed"] = response.headers.get("Idempotency-Replayed") == "true"
        return response

    def _serve(self, headers: Mapping[str, str], body: bytes, address: str = "") -> ApiResponse:
        # Order of the checks: the IP limit (per address, before anything else), authentication,
        # API version, concurrency and minute limits (per token), daily calls, then GraphQL.
        try:
            self.ip.hit(address)
        except limits.LimitExceeded as exc:
            return _limit_error("IP rate limit exceeded", "IP_RATE_LIMIT_EXCEEDED", exc.retry_in_seconds)
        token = _token(headers)
        environment = next((env for env, value in self.tokens.items() if value and value == token), None)
        if environment is None:
            return _error(401, "Not Authenticated", "UNAUTHENTICATED", hint="Send a valid token in Authorization")
        requested = headers.get("API-Version")
        version = self.versions.resolve(requested)
        if version is None:
            return _error(
                400,
                f"Invalid API version '{requested}'. Send YYYY-MM (e.g. {self.versions.current}) or current, "
                "maintenance or release_candidate",
                "InvalidVersionException",
            )
        try:
            self.concurrency.enter(token)
        except limits.LimitExceeded as exc:
            response = _limit_error("Concurrency limit exceeded", "MAX_CONCURRENCY_EXCEEDED", exc.retry_in_seconds)
            return self._with_headers(response, token, version)
        try:
            self._latency()  # inside the concurrency window: a slow request occupies its slot
            try:
                self.minute.hit(token)
            except limits.LimitExceeded as exc:
                response = _limit_error(
                    "Minute limit rate exceeded", "MINUTE_RATE_LIMIT_EXCEEDED", exc.retry_in_seconds
                )
                return self._with_headers(response, token, version)
            try:
                self.daily.count(token)
            except limits.DailyLimitExceeded as exc:
                response = _limit_error("Daily limit exceeded", "DAILY_LIMIT_EXCEEDED", exc.retry_in_seconds)
                return self._with_headers(response, token, version)
            idempotency_key = (headers.get("Idempotency-Key") or "").strip()
            return self._with_headers(self._graphql(token, environment, body, idempotency_key), token, version)
        finally:
            self.concurrency.leave(token)

    def _latency(self) -> None:
        if self.faults.latency_ms:
            self._sleep(self.faults.latency_ms / 1000)

    def _with_headers(self, response: ApiResponse, token: str, version: str) -> ApiResponse:
        response.headers.setdefault("API-Version", version)
        for name, value in self._rate_headers(token).items():
            response.headers.setdefault(name, value)
        return response

    def _graphql(self, token: str, environment: str, body: bytes, idempotency_key: str) -> ApiResponse:
        request, problem = _request_payload(body)
        if request is None:
            return _error(400, problem, "BAD_REQUEST")
        document, errors = self._parse(request["query"])
        if errors:
            return _json(200, {"errors": errors, "account_id": 1})
        operation = get_operation_ast(document, request.get("operationName"))
        if operation is None:
            return _json(
                200,
                {"errors": [_plain_error("Could not determine which operation to run", "GRAPHQL_VALIDATION_FAILED")]},
            )
        # As at monday, Idempotency-Key only applies to mutations; queries are always executed. In the
        # "no_replay" fault mode the key is ignored, as when monday's best-effort cache kept nothing.
        replay = operation.operation == OperationType.MUTATION and not self.faults.no_replay
        key = idempotency_key if replay else ""
        if key:
            verdict, stored = self.idempotency.begin(token, key, hashlib.sha256(body).hexdigest())
            if verdict != limits.IdempotencyCache.NEW:
                return _idempotency_response(verdict, stored)
        try:
            response = self._run(token, environment, document, operation, request)
        except BaseException:
            if key:
                self.idempotency.abandon(token, key)
            raise
        if key:
            if response.status == 200:
                self.idempotency.complete(token, key, hashlib.sha256(body).hexdigest(), _stored(response))
            else:
                self.idempotency.abandon(token, key)
        return response

    def _run(self, token, environment, document: DocumentNode, operation, request: dict) -> ApiResponse:
        variables = request["variables"]
        cost = limits.estimate_complexity(self._schema, document, operation, variables)
        if cost > limits.MAX_QUERY_COMPLEXITY:
            message = f"Query has complexity of {cost}, which exceeds max complexity of {limits.MAX_QUERY_COMPLEXITY}"
            return _json(200, {"errors": [_plain_error(message, "ComplexityException")], "account_id": 1})
        try:
            charge = self.budget.charge(token, cost)
        except limits.BudgetExhausted as exc:
            # API 2025-07 and later: code and retry_in_seconds only, no status_code or budget fields.
            return _limit_error("Complexity budget exhausted", "COMPLEXITY_BUDGET_EXHAUSTED", exc.retry_in_seconds)
        context = RequestContext(
            state=self.state,
            token=token,
            environment=environment,
            complexity=charge.as_complexity(),
            allowed_boards=self._allowed_boards(environment),
            cursors=self.cursors,
        )
        whole_request_500 = self.faults.batch_500 and operation.operation == OperationType.MUTATION
        with self.state.lock:
            saved = _state_copy(self.state) if whole_request_500 else None
            result = execute(
                self._schema,
                document,
                variable_values=variables,
                context_value=context,
                operation_name=request.get("operationName"),
            )
            errors = [_monday_error(e) for e in result.errors or ()]
            if saved is not None and any(_code(e) in BATCH_500_CODES for e in errors):
                _state_restore(self.state, saved)  # monday answered 500: nothing of the request stays
                return _error(500, "Internal server error", "INTERNAL_SERVER_ERROR")
        payload: dict = {"data": result.data}
        if errors:
            payload["errors"] = errors
        payload["extensions"] = {"request_id": str(uuid.uuid4())}
        payload["account_id"] = 1
        status = next((HTTP_STATUS_BY_CODE[_code(e)] for e in errors if _code(e) in HTTP_STATUS_BY_CODE), 200)
        return _json(status, payload)

    def _allowed_boards(self, environment: str) -> frozenset[str] | None:
        if self.board_access is None:
            return None
        others = set().union(*(boards for env, boards in self.board_access.items() if env != environment))
        return frozenset(set(self.state.boards) - (others - set(self.board_access.get(environment, ()))))

    def _rate_headers(self, token: str) -> dict[str, str]:
        """monday's three policies: requests per minute, requests in flight, complexity per minute.

        Policies whose limit is switched off are left out; the complexity one is always there
        (an unlimited budget reports monday's default, as the `complexity` field does).
        """
        policies: list[str] = []
        remaining: list[str] = []
        if self.minute.limit is not None:
            left, reset_in = self.minute.remaining(token)
            policies.append(f'"minuteRate";q={self.minute.limit};w={limits.MINUTE_WINDOW_SECONDS}')
            remaining.append(f'"minuteRate";r={left};t={reset_in}')
        if self.concurrency.limit is not None:
            # This request still holds its slot while the headers are built.
            left = max(self.concurrency.limit - self.concurrency.in_flight(token), 0)
            policies.append(f'"concurrency";q={self.concurrency.limit}')
            remaining.append(f'"concurrency";r={left}')
        budget_left, budget_reset = self.budget.remaining(token)
        limit = self.budget.per_minute or limits.DEFAULT_BUDGET_PER_MINUTE
        policies.append(f'"complexityMinute";q={limit};w={self.budget.window_seconds:g}')
        remaining.append(f'"complexityMinute";r={max(budget_left, 0)};t={budget_reset}')
        return {"RateLimit-Policy": ", ".join(policies), "RateLimit": ", ".join(remaining)}

    def _parse_uncached(self, query: str) -> tuple[DocumentNode | None, list[dict]]:
        try:
            document = parse(query)
        except GraphQLError as exc:
            return None, [
                _plain_error(f"Parse error: {exc.message}", "GRAPHQL_PARSE_FAILED", exc.formatted.get("locations"))
            ]
        errors = validate(self._schema, document)
        return (None, [_validation_error(e) for e in errors]) if errors else (document, [])

    # --- read-only views ----------------------------------------------------------------------------

    def health(self) -> dict:
        with self.state.lock:
            return {
                "status": "ok",
                "service": "orderops monday emulator (not monday.com)",
                "emulator": True,
                "api_versions": [self.versions.current],
                "api_version_lifecycle": self.versions.describe(),
                "environments": sorted(self.tokens),
                "boards": {board_id: board["name"] for board_id, board in self.state.boards.items()},
                "active_items": self.state.item_count(),
                "requests": self.requests_served,
                "budget_per_minute": self.budget.per_minute,
                "daily_limit": self.daily.limit,
                "minute_limit": self.minute.limit,
                "concurrency_limit": self.concurrency.limit,
                "ip_limit_per_10s": self.ip.limit,
                "idempotency": {
                    "cached": self.idempotency.enabled and not self.faults.no_replay,
                    "budget_bytes": self.idempotency.budget_bytes,
                    "not_cached": self.idempotency.not_cached,
                },
                "faults": self.faults.describe(),
            }


# --- response helpers ------------------------------------------------------------------------------


def _json(status: int, payload: dict, headers: dict[str, str] | None = None) -> ApiResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return ApiResponse(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def _plain_error(message: str, code: str, locations: object = None, **extensions: object) -> dict:
    error: dict = {"message": message, "extensions": {"code": code, **extensions}}
    if locations:
        error["locations"] = locations
    return error


def _error(
    status: int,
    message: str,
    code: str,
    *,
    retry_in_seconds: int | None = None,
    hint: str = "",
    extra_headers: dict[str, str] | None = None,
) -> ApiResponse:
    extensions: dict[str, object] = {"status_code": status}
    headers = dict(extra_headers or {})
    if retry_in_seconds is not None:
        extensions["retry_in_seconds"] = retry_in_seconds
        headers["Retry-After"] = str(retry_in_seconds)
    payload = {"errors": [_plain_error(message + (f". {hint}" if hint else ""), code, **extensions)], "account_id": 1}
    return _json(status, payload, headers)


def _limit_error(message: str, code: str, retry_in_seconds: int) -> ApiResponse:
    """A rate or limit error as monday answers it since API 2025-07: HTTP 429, the code and
    `retry_in_seconds` in extensions (no `status_code`), and the same wait in `Retry-After`."""
    payload = {
        "errors": [{"message": message, "extensions": {"code": code, "retry_in_seconds": retry_in_seconds}}],
        "account_id": 1,
    }
    return _json(429, payload, {"Retry-After": str(retry_in_seconds)})


def _code(error: dict) -> str:
    return str((error.get("extensions") or {}).get("code") or "")


def _monday_error(error: GraphQLError) -> dict:
    formatted = dict(error.formatted)
    extensions = dict(formatted.get("extensions") or {})
    extensions.setdefault("code", "INTERNAL_SERVER_ERROR" if error.original_error else "GRAPHQL_VALIDATION_FAILED")
    if extensions["code"] in HTTP_STATUS_BY_CODE:
        extensions["status_code"] = HTTP_STATUS_BY_CODE[extensions["code"]]
    error_data = extensions.get("error_data")
    if extensions["code"] == "ColumnValueException" and isinstance(error_data, dict) and "column_type" in error_data:
        # monday names column types its own way in errors ("color" for status).
        extensions["error_data"] = {**error_data, "column_type": monday_column_type(str(error_data["column_type"]))}
    formatted["extensions"] = extensions
    return formatted


def _state_copy(state: EmulatorState) -> dict:
    """Everything the emulator holds but its lock, to undo a request answered with HTTP 500."""
    return {name: copy.deepcopy(value) for name, value in vars(state).items() if name != "lock"}


def _state_restore(state: EmulatorState, saved: dict) -> None:
    for name, value in saved.items():
        setattr(state, name, value)
    state.touch()


_VALIDATION_PATTERNS: list[tuple[re.Pattern[str], str, str]] = [
    (
        re.compile(r"Cannot query field '(\w+)' on type '(\w+)'"),
        "Field '{0}' doesn't exist on type '{1}'",
        "undefinedField",
    ),
    (
        re.compile(r"Unknown argument '(\w+)' on field '\w+\.(\w+)'"),
        "Field '{1}' doesn't accept argument '{0}'",
        "argumentNotAccepted",
    ),
    (
        re.compile(r"Field '(\w+)' argument '(\w+)' of type .* is required"),
        "Field '{0}' is missing required arguments: {1}",
        "missingRequiredArguments",
    ),
    (
        re.compile(r"Variable '\$(\w+)' of type .* used in position"),
        "Type mismatch on variable ${0}",
        "variableMismatch",
    ),
]


def _validation_error(error: GraphQLError) -> dict:
    """graphql-core's validation message in the wording and code monday (graphql-ruby) uses."""
    for pattern, template, code in _VALIDATION_PATTERNS:
        match = pattern.search(error.message)
        if match:
            return _plain_error(template.format(*match.groups()), code, error.formatted.get("locations"))
    return _plain_error(error.message, "GRAPHQL_VALIDATION_FAILED", error.formatted.get("locations"))


def _fault_response(fault: str, faults: FaultConfig) -> ApiResponse:
    if fault == "500":
        return _error(500, "Internal server error", "INTERNAL_SERVER_ERROR")
    if fault == "502":
        return ApiResponse(
            502,
            b"<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>",
            {"Content-Type": "text/html"},
        )
    if fault == "503":
        return _error(503, "Service unavailable", "SERVICE_UNAVAILABLE")
    if fault == "429":
        response = _error(429, "Rate limit exceeded", faults.rate_limit_code, retry_in_seconds=faults.retry_in_seconds)
        response.headers["Retry-After"] = str(faults.retry_after_seconds)
        return response
    if fault == "429_retry_after":
        response = _error(429, "Rate limit exceeded", faults.rate_limit_code)
        response.headers["Retry-After"] = str(faults.retry_after_seconds)
        return response
    if fault == "429_bare":
        return ApiResponse(429, b"Too Many Requests", {"Content-Type": "text/plain"})
    if fault == "throttle_200":
        wait = faults.retry_in_seconds
        error = {
            "message": "Too many requests",
            "extensions": {"code": faults.next_throttle_code(), "retry_in_seconds": wait},
        }
        return _json(200, {"errors": [error], "account_id": 1}, {"Retry-After": str(wait)})
    if fault == "423":
        return _error(423, "The board is locked by another operation, try again shortly", "RESOURCE_LOCKED")
    if fault == "malformed":
        return ApiResponse(200, b'{"data": {"m0": {"id": "1', {"Content-Type": "application/json"})
    return ApiResponse(  # "html": a proxy's error page served with 200
        200,
        b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>",
        {"Content-Type": "text/html"},
    )


def _idempotency_response(verdict: str, stored: limits.StoredResponse | None) -> ApiResponse:
    if verdict == limits.IdempotencyCache.REPLAY and stored is not None:
        return ApiResponse(stored.status, stored.body, {**stored.headers, "Idempotency-Replayed": "true"})
    if verdict == limits.IdempotencyCache.RUNNING:
        response = _error(409, "A request with this Idempotency-Key is still being processed", "IDEMPOTENCY_CONFLICT")
        response.headers["Retry-After"] = "1"
        return response
    return _error(400, "Idempotency-Key was already used for a different request body", "IDEMPOTENCY_KEY_REUSED")


def _stored(response: ApiResponse) -> limits.StoredResponse:
    return limits.StoredResponse(response.status, dict(response.headers), response.body)


def _request_payload(body: bytes) -> tuple[dict | None, str]:
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, "Request body is not valid JSON"
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return None, 'Request body must be a JSON object with a "query" string'
    variables = payload.get("variables") or {}
    if isinstance(variables, str):  # monday also accepts variables sent as a JSON string
        try:
            variables = json.loads(variables) if variables.strip() else {}
        except ValueError:
            return None, "variables is not valid JSON"
    if not isinstance(variables, dict):
        return None, "variables must be a JSON object"
    return {
        "query": payload["query"],
        "variables": variables,
        "operationName": payload.get("operationName"),
    }, ""


def _token(headers: Mapping[str, str]) -> str:
    value = (headers.get("Authorization") or "").strip()
    return value[7:].strip() if value.lower().startswith("bearer ") else value


def _redacted(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() == "authorization" else v) for k, v in headers.items()}


# --- HTTP plumbing -------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    api: MondayApi
    log: Callable[[str], None] | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's pooled connections are reused
    # Headers and body go out in separate writes; without TCP_NODELAY each response on a kept-alive
    # connection waits ~40 ms for the peer's delayed ACK.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_POST(self) -> None:
        body = self._read_body()
        if self.path.split("?", 1)[0].rstrip("/") == controls.CONTROLS_PATH:
            self._control(body)
            return
        if self.path.rstrip("/") != "/v2":
            self._send(ApiResponse(404, b'{"errors":[{"message":"Not found"}]}', {"Content-Type": "application/json"}))
            return
        peer = "{}:{}".format(*self.client_address[:2])
        response = self.server.api.handle(self.headers, body, peer)
        if response.post_fault == "lost":
            self._drop_connection()
            return
        if response.post_fault == "delay":
            time.sleep(self.server.api.faults.delay_seconds)
        self._send(response)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        api = self.server.api
        if path == "/health":
            self._send(_json(200, api.health()))
        elif path in {"/", "/boards", "/boards/"}:
            query = parse_qs(self.path.partition("?")[2])
            said, error = (query.get("said") or [""])[-1], bool(query.get("error"))
            self._send_html(200, render_board_list(api.state, _environments(api), api.faults, said, error))
        elif match := re.fullmatch(r"/boards/(\d+)/?", path):
            board = render_board(api.state, match.group(1), _environments(api))
            self._send_html(200 if board else 404, board or page("Not found", "<h1>No such board</h1>"))
        else:
            self._send_html(404, page("Not found", "<h1>Not found</h1>"))

    def _control(self, body: bytes) -> None:
        """The board view's controls (faults, labels): local and same-origin only (controls.refusal)."""
        api = self.server.api
        refused = controls.refusal(self.client_address[0], self.headers)
        outcome = controls.Outcome(403, refused) if refused else controls.apply(api.state, api.faults, body)
        if outcome.status == 303:
            location = "/boards/?" + urlencode({"said": outcome.message}) + "#controls"
            self._send(ApiResponse(303, b"", {"Location": location}))
            return
        self._send_html(
            outcome.status, render_board_list(api.state, _environments(api), api.faults, outcome.message, True)
        )

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_html(self, status: int, text: str) -> None:
        self._send(ApiResponse(status, text.encode("utf-8"), {"Content-Type": "text/html; charset=utf-8"}))

    def _send(self, response: ApiResponse) -> None:
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout); the mutation stays applied

    def _drop_connection(self) -> None:
        # The response is "lost": close the socket without a byte, as a dropped proxy connection would.
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")


def _environments(api: MondayApi) -> dict[str, str]:
    """Each board's environment, for the board views (monday gives both environments' boards one name)."""
    access = api.board_access or DEFAULT_BOARD_ACCESS
    return {board_id: environment for environment, boards in access.items() for board_id in boards}


class EmulatorServer:
    """The emulator on a real socket, in the foreground (`serve_forever`) or a background thread (`start`)."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        tokens: Mapping[str, str] | None = None,
        faults: FaultConfig | None = None,
        budget_per_minute: int | None = limits.DEFAULT_BUDGET_PER_MINUTE,
        daily_limit: int | None = None,
        api_versions: ApiVersions | None = None,
        board_access: Mapping[str, frozenset[str]] | None = DEFAULT_BOARD_ACCESS,
        state_file: Path | None = None,
        save_interval: float = 1.0,
        log: Callable[[str], None] | None = None,
        budget_window_seconds: float = limits.BUDGET_WINDOW_SECONDS,
        minute_limit: int | None = limits.DEFAULT_MINUTE_REQUEST_LIMIT,
        concurrency_limit: int | None = limits.DEFAULT_CONCURRENCY_LIMIT,
        ip_limit: int | None = limits.DEFAULT_IP_REQUEST_LIMIT,
        idempotency_budget_bytes: int | None = None,
    ) -> None:
        self.api = MondayApi(
            state,
            tokens=tokens or default_tokens(),
            faults=faults,
            budget_per_minute=budget_per_minute,
            daily_limit=daily_limit,
            api_versions=api_versions,
            board_access=board_access,
            budget_window_seconds=budget_window_seconds,
            minute_limit=minute_limit,
            concurrency_limit=concurrency_limit,
            ip_limit=ip_limit,
            idempotency_budget_bytes=idempotency_budget_bytes,
        )
        self.httpd = _HTTPServer((host, port), _Handler)
        self.httpd.api = self.api
        self.httpd.log = log
        self.saver = StateSaver(state, state_file, save_interval) if state_file else None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> EmulatorState:
        return self.api.state

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/v2"

    def start(self) -> EmulatorServer:
        if self.saver:
            self.saver.start()
        # A short poll interval makes stop() quick, which matters for a fixture started per test.
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="monday-emulator", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        if self.saver:
            self.saver.start()
        try:
            self.httpd.serve_forever()
        finally:
            self.close()

    def stop(self) -> None:
        self.httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.close()

    def close(self) -> None:
        self.httpd.server_close()
        if self.saver:
            self.saver.stop()
