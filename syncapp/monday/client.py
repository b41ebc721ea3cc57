"""monday.com GraphQL client: batching, retries, rate limits and idempotency.

The sync engine talks to monday only through `MondayClient`. Its contract:

* `run_batch` sends aliased mutations, `batch_size` per request, and returns one `MutationResult`
  per caller key. Application errors (ColumnValueException, ResourceNotFoundException, ...) come
  back on the failing key only; the other keys in the request keep their results.
* Transient trouble is retried with bounded waits: rate limits wait monday's `retry_in_seconds`
  (else `Retry-After`, else exponential backoff with jitter); 5xx, 423, timeouts, dropped
  connections and malformed bodies back off exponentially. When retries run out the client raises
  `MondayUnavailableError`.
* 401/403 raise `MondayAuthError` and DAILY_LIMIT_EXCEEDED raises `MondayDailyLimitError` at once,
  each naming the environment, because waiting cannot fix them.
* Throttles are recognised by their code whatever the HTTP status (monday also answers them inside an
  HTTP 200): a throttled read or request is waited out; throttled aliases of a batch whose other
  aliases were applied are sent again on their own after the wait.
* Every mutation request carries an `Idempotency-Key` derived from its content, so a retry after a
  lost response can be answered from monday's idempotency cache. monday's replay is best-effort (a
  per-user cache budget; responses over 1 MB are not cached), so when the caller passes `recover`,
  a request whose answer was lost is first looked up by natural key (`recover` returns what is already
  on the board) and only the mutations not found are sent again.
* A whole-request HTTP 500 that comes back twice for the same batch is taken for one bad mutation
  (monday answers a stale item id or a malformed value this way): the batch is split in halves until
  the mutation is alone, and it fails on its own while its batch-mates are sent.
* Every document reads `complexity`; when the remaining budget drops below
  `throttle_below_fraction`, or below what the last request cost, the client sleeps until the budget
  resets instead of running into 429s.
  The budget is read from the complexity field, else from the `complexityMinute` policy of the
  `RateLimit` header (which also carries `minuteRate` and `concurrency`).
* `answered_version` holds the `API-Version` response header of the last answer: which version
  served a pinned request (monday serves deprecated versions from the maintenance version).

The token only ever travels in the Authorization header; it is never logged or recorded.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import requests
from django.utils import timezone
from requests.adapters import HTTPAdapter

from syncapp.monday import documents, responses
from syncapp.monday.errors import (
    AUTH_CODES,
    DAILY_LIMIT_CODES,
    IDEMPOTENCY_RUNNING_CODES,
    RATE_LIMIT_CODES,
    REQUEST_REJECTED_CODES,
    MondayAuthError,
    MondayDailyLimitError,
    MondayRequestError,
    MondayUnavailableError,
    token_variable,
)
from syncapp.monday.types import (
    ApiCallRecord,
    BoardInfo,
    ClientStats,
    Mutation,
    MutationResult,
    Recover,
)

API_VERSION = "2026-10"
# Lookups send this many values per items_page_by_column_values call and page this many items.
LOOKUP_VALUES_PER_REQUEST = 100
PAGE_LIMIT = 100
# monday's items(ids:) takes at most 100 ids.
ITEMS_PER_REQUEST = 100
# Bodies kept in ApiCallRecord are truncated so one huge response cannot bloat the audit table.
RECORD_BODY_LIMIT = 65_536
BACKOFF_BASE_SECONDS = 1.0
# How many HTTP 500 answers in a row to one batch before it is split in halves: monday answers a whole
# request with 500 for one stale id or malformed value, and retrying the same bytes cannot fix that.
SPLIT_AFTER_500S = 2
# A mutation sent alone gets one more try before it fails on its own (a 500 may still be passing trouble).
ALONE_FAILS_AFTER_500S = 3


class _ResponseLost(Exception):
    """A mutation request went out and no answer came back: monday may or may not have applied it."""


class _Persistent500(Exception):
    """The same batch was answered with HTTP 500 too many times in a row (see SPLIT_AFTER_500S)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Outcome:
    """One HTTP attempt as seen by the retry logic."""

    status: int | None
    text: str = ""
    body: dict | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    transport_error: str = ""
    duration_ms: int = 0

    @property
    def errors(self) -> list[dict]:
        return responses.normalise_errors(self.body)


class MondayClient:
    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        environment: str,
        api_version: str = API_VERSION,
        batch_size: int = 25,
        max_retries: int = 6,
        max_wait_seconds: float = 60.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        throttle_below_fraction: float = 0.10,
        recorder: Callable[[ApiCallRecord], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1.")
        self.api_url = api_url
        self.environment = environment
        self.api_version = api_version
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.max_wait_seconds = max_wait_seconds
        self.timeout = (connect_timeout, read_timeout)
        self.throttle_below_fraction = throttle_below_fraction
        self.stats = ClientStats()
        self._token = token
        self._recorder = recorder
        self._sleep = sleep
        self._log_fn = log
        self._budget_limit = 0
        self._throttle_seconds = 0.0
        self._throttle_set_at = 0.0
        self._session = _pooled_session()
        self.answered_version = ""  # the API-Version header of the last answer

    def __repr__(self) -> str:  # never show the token
        return f"MondayClient(environment={self.environment!r}, api_url={self.api_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> MondayClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- mutations ---------------------------------------------------------------------------

    def run_batch(
        self,
        mutations: list[Mutation],
        *,
        operation: str,
        idempotency_scope: str,
        batch_size: int | None = None,
        recover: Recover | None = None,
        on_chunk: Callable[[dict[str, MutationResult]], None] | None = None,
    ) -> dict[str, MutationResult]:
        """Send `mutations` in requests of `batch_size` aliases; results by caller key.

        `idempotency_scope` should identify the sync run (e.g. its id), so a later run that sends
        the same rows again is not answered from monday's 30-minute idempotency cache. `recover`
        (see the module docstring) is asked, after a lost answer, which mutations are already applied.
        `on_chunk` receives each request's results as soon as they arrive: when a later request
        stops the batch (the daily limit, a revoked token), what monday already created is known.
        """
        _check_unique_keys(mutations)
        chunks = list(_chunks(mutations, batch_size or self.batch_size))
        for chunk in chunks:  # an invalid mutation must fail before anything is sent
            self._document(chunk)
        results: dict[str, MutationResult] = {}
        for chunk in chunks:
            answered = self._send_chunk(chunk, operation, idempotency_scope, recover)
            if on_chunk is not None:
                on_chunk(answered)
            results.update(answered)
        return results

    def _send_chunk(
        self, chunk: list[Mutation], operation: str, idempotency_scope: str, recover: Recover | None
    ) -> dict[str, MutationResult]:
        results: dict[str, MutationResult] = {}
        lost = throttled_rounds = 0
        while chunk:
            query, variables = self._document(chunk)
            key = self.idempotency_key(chunk, operation=operation, idempotency_scope=idempotency_scope)
            try:
                outcome = self._execute(
                    query,
                    variables,
                    operation=operation,
                    idempotency_key=key,
                    mutations=len(chunk),
                    lost_is_final=recover is not None,
                )
            except _ResponseLost:
                lost += 1
                if lost > self.max_retries:
                    raise self._gave_up(operation, "no answer came back") from None
                found = recover(chunk) if recover is not None else {}
                for mutation in chunk:
                    if mutation.key in found:
                        results[mutation.key] = MutationResult(mutation.key, True, found[mutation.key])
                # Only what is not on the board goes again; unchanged, it keeps its key (a replay may answer).
                chunk = [m for m in chunk if m.key not in found]
                continue
            except _Persistent500 as failure:
                if len(chunk) == 1:
                    return {**results, chunk[0].key: _alone_failed(chunk[0], failure.reason)}
                self.stats.retries += 1  # the split halves are sent instead of a retry of the whole
                half = len(chunk) // 2
                for part in (chunk[:half], chunk[half:]):
                    results.update(self._send_chunk(part, operation, idempotency_scope, recover))
                return results
            self.stats.mutations += len(chunk)
            answered = responses.results_by_key(chunk, outcome.body or {})
            throttled = [m for m in chunk if not answered[m.key].ok and answered[m.key].error_code in RATE_LIMIT_CODES]
            results.update(answered)
            if not throttled or throttled_rounds >= self.max_retries:
                return results
            # The other aliases were applied: only the throttled ones go again, after monday's wait.
            throttled_rounds += 1
            self._wait_before_retry(
                operation,
                throttled_rounds,
                responses.retry_in(outcome.errors, outcome.headers),
                "rate limited",
                throttle=True,
            )
            chunk = throttled
        return results

    def idempotency_key(self, chunk: list[Mutation], *, operation: str, idempotency_scope: str) -> str:
        """sha256 over environment, scope, operation and the request's mutations in send order.

        The order is part of the key because results are mapped back by alias position: a cached
        response replayed for a differently ordered request would hand ids to the wrong records.
        """
        canonical = json.dumps(
            [self.environment, idempotency_scope, operation, [[m.key, m.kind, m.args] for m in chunk]],
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @staticmethod
    def _document(chunk: list[Mutation]) -> tuple[str, dict[str, object]]:
        return documents.build_mutation_document((m.kind, m.args) for m in chunk)

    # --- queries -----------------------------------------------------------------------------

    def get_board(self, board_id: int) -> BoardInfo:
        body = self._query(documents.BOARD_QUERY, documents.board_variables(board_id), operation="get_board")
        boards = (body.get("data") or {}).get("boards") or []
        if not boards:
            raise MondayRequestError(
                f"Board {board_id} was not found with the {self.environment} token. Check the board id in the "
                f"sync configuration and that the user owning {token_variable(self.environment)} can open the board.",
                code="InvalidBoardIdException",
            )
        return responses.board_info(boards[0])

    def find_items_by_column_value(self, board_id: int, column_id: str, values: list[str]) -> dict[str, list[dict]]:
        """Items whose `column_id` text equals one of `values` (e.g. the AAG ORDER NUMBER column)."""
        wanted = list(dict.fromkeys(str(v) for v in values if str(v) != ""))
        found: dict[str, list[dict]] = {value: [] for value in wanted}
        folded = {value.casefold(): value for value in wanted}
        for chunk in _chunks(wanted, LOOKUP_VALUES_PER_REQUEST):
            variables = documents.items_by_column_values_variables(board_id, column_id, chunk, PAGE_LIMIT)
            for item in self._paged_items(variables):
                text = item["column_values"].get(column_id, {}).get("text") or ""
                value = text if text in found else folded.get(text.casefold())
                if value is not None and all(existing["id"] != item["id"] for existing in found[value]):
                    found[value].append(item)
        return found

    def get_items(self, item_ids: list[int]) -> list[dict]:
        """Active items by id (archived and deleted ones are absent from the result)."""
        items: list[dict] = []
        for chunk in _chunks(list(dict.fromkeys(item_ids)), ITEMS_PER_REQUEST):
            body = self._query(documents.ITEMS_QUERY, documents.items_variables(chunk), operation="get_items")
            items.extend(responses.item(raw) for raw in (body.get("data") or {}).get("items") or [] if raw)
        return items

    def get_group_items(self, board_id: int, group_ids: list[str], *, limit: int = 25) -> dict[str, list[dict]]:
        """The first `limit` active items of each group, by group id; groups not on the board are absent."""
        wanted = list(dict.fromkeys(str(g) for g in group_ids))
        if not wanted:
            return {}
        variables = documents.group_items_variables(board_id, wanted, limit)
        body = self._query(documents.GROUP_ITEMS_QUERY, variables, operation="get_group_items")
        found: dict[str, list[dict]] = {}
        for board in (body.get("data") or {}).get("boards") or []:
            for group in (board or {}).get("groups") or []:
                if group and str(group.get("id")) in wanted:
                    items = ((group.get("items_page") or {}).get("items")) or []
                    found[str(group["id"])] = [{"id": str(i["id"]), "name": i.get("name", "")} for i in items if i]
        return found

    def read(self, query: str, variables: dict[str, object], *, operation: str) -> dict:
        """The body of a read document the caller built (a whole-board read, activity logs), sent with
        the same retries, budget throttle and API log as every query; a partly failed read raises."""
        return self._query(query, variables, operation=operation)

    def _paged_items(self, first_variables: dict[str, object]) -> Iterator[dict]:
        body = self._query(documents.ITEMS_BY_COLUMN_VALUES_QUERY, first_variables, operation="find_items")
        page = (body.get("data") or {}).get("items_page_by_column_values") or {}
        while True:
            yield from (responses.item(raw) for raw in page.get("items") or [] if raw)
            cursor = page.get("cursor")
            if not cursor:
                return
            variables = documents.next_items_page_variables(cursor, PAGE_LIMIT)
            body = self._query(documents.NEXT_ITEMS_PAGE_QUERY, variables, operation="find_items_next_page")
            page = (body.get("data") or {}).get("next_items_page") or {}

    def _query(self, query: str, variables: dict[str, object], *, operation: str) -> dict:
        body = self._execute(query, variables, operation=operation, idempotency_key="", mutations=0).body or {}
        errors = responses.normalise_errors(body)
        if errors:  # a read that came back partly failed would make the engine act on a wrong picture
            first = errors[0]
            raise MondayRequestError(
                f"monday refused the {operation} query for {self.environment}: {first.get('message', '')}",
                code=responses.error_code(first),
            )
        return body

    # --- transport and retries ---------------------------------------------------------------

    def _execute(
        self,
        query: str,
        variables: dict[str, object],
        *,
        operation: str,
        idempotency_key: str,
        mutations: int,
        lost_is_final: bool = False,
    ) -> _Outcome:
        """One request with its retries; the answer that was not retried.

        `lost_is_final`: a mutation request whose answer never came raises `_ResponseLost` (after the
        backoff) instead of being sent again, so the caller can look up what monday applied."""
        if not self._token:
            raise MondayAuthError(self._missing_token_message(), code="NoToken")
        payload = json.dumps({"query": query, "variables": variables}, ensure_ascii=False, separators=(",", ":"))
        body = payload.encode("utf-8")
        headers = self._headers(idempotency_key)
        reason = ""
        in_a_row_500 = 0
        for attempt in range(1, self.max_retries + 2):
            self._wait_for_budget()
            outcome = self._send(body, headers)
            action, hint, reason = self._classify(outcome, mutations)
            self._record(outcome, operation, attempt, mutations, idempotency_key, payload, action, reason)
            if action == "ok":
                self._note_budget(outcome)
                return outcome
            self._raise_if_fatal(action, reason, outcome)
            in_a_row_500 = in_a_row_500 + 1 if outcome.status == 500 and mutations else 0
            if in_a_row_500 >= (SPLIT_AFTER_500S if mutations > 1 else ALONE_FAILS_AFTER_500S):
                raise _Persistent500(reason)
            if attempt > self.max_retries:
                break
            self._wait_before_retry(operation, attempt, hint, reason, throttle=action == "wait")
            if outcome.status is None and mutations and lost_is_final:
                raise _ResponseLost(reason)
        raise self._gave_up(operation, reason)

    def _gave_up(self, operation: str, reason: str) -> MondayUnavailableError:
        return MondayUnavailableError(
            f"monday ({self.environment}) did not complete {operation} after {self.max_retries + 1} attempts; "
            f"last problem: {reason}. Nothing further was sent. Retry the sync later; if this keeps happening, "
            "check monday's status page and the run's API log.",
            http_status=None,
        )

    def _headers(self, idempotency_key: str) -> dict[str, str]:
        headers = {
            "Authorization": self._token,
            "API-Version": self.api_version,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "orderops-monday-client/1",
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    def _send(self, body: bytes, headers: dict[str, str]) -> _Outcome:
        self.stats.requests += 1
        started = time.perf_counter()
        try:
            response = self._session.post(self.api_url, data=body, headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:
            return _Outcome(None, transport_error=f"timed out ({type(exc).__name__})", duration_ms=_ms(started))
        except requests.ConnectionError as exc:
            return _Outcome(None, transport_error=f"connection failed ({_short(exc)})", duration_ms=_ms(started))
        text = response.text
        return _Outcome(response.status_code, text, responses.json_object(text), response.headers, "", _ms(started))

    def _classify(self, outcome: _Outcome, mutations: int = 0) -> tuple[str, float | None, str]:
        """Decide what an attempt means: (action, wait hint in seconds, human-readable reason)."""
        if outcome.status is None:
            return "retry", None, outcome.transport_error
        status, errors = outcome.status, outcome.errors
        codes = {responses.error_code(e) for e in errors}
        message = responses.first_message(errors) or _snippet(outcome.text)
        if status in (401, 403) or codes & AUTH_CODES:
            return "auth", None, f"HTTP {status}: {message}"
        if codes & DAILY_LIMIT_CODES:
            return "daily", None, message
        throttled = bool(codes & RATE_LIMIT_CODES) or responses.budget_exhausted(errors)
        # A batch some of whose aliases were applied is answered, not retried whole: resending it would
        # apply those again. Its throttled aliases are sent again on their own (see _send_chunk).
        if status == 429 or (throttled and not (mutations and responses.applied_aliases(outcome.body))):
            return "wait", responses.retry_in(errors, outcome.headers), f"rate limited (HTTP {status}: {message})"
        if status == 409:
            if codes & IDEMPOTENCY_RUNNING_CODES or (not any(codes) and "idempot" in message.lower()):
                return (
                    "wait",
                    responses.retry_after(outcome.headers),
                    "the same idempotent request is still running (HTTP 409)",
                )
            if mutations and errors:  # e.g. DeleteLastGroupException: an answer about one mutation
                return "ok", None, ""
            return "reject", None, f"HTTP {status}: {message}"
        if status == 423 or status >= 500:
            return "retry", responses.retry_after(outcome.headers), f"HTTP {status} ({_snippet(outcome.text)})"
        if outcome.body is None or not ({"data", "errors"} & outcome.body.keys()):
            return "retry", None, f"malformed response body (HTTP {status}: {_snippet(outcome.text)})"
        if status != 200 or codes & REQUEST_REJECTED_CODES or responses.request_failed(outcome.body, errors):
            return "reject", None, f"HTTP {status}: {message}"
        return "ok", None, ""

    def _raise_if_fatal(self, action: str, reason: str, outcome: _Outcome) -> None:
        code = next((c for c in (responses.error_code(e) for e in outcome.errors) if c), "")
        if action == "auth":
            raise MondayAuthError(self._auth_message(reason), code=code, http_status=outcome.status)
        if action == "daily":
            raise MondayDailyLimitError(
                f"monday's daily API call limit for the {self.environment} environment's account is used up "
                f"(DAILY_LIMIT_EXCEEDED: {reason}). The sync stopped; it can resume after the limit resets at "
                "midnight UTC, or after a monday admin raises the limit.",
                code="DAILY_LIMIT_EXCEEDED",
                http_status=outcome.status,
            )
        if action == "reject":
            raise MondayRequestError(
                f"monday rejected the request for {self.environment} ({reason}). This is not transient and was not "
                "retried; the API log holds the request body.",
                code=code,
                http_status=outcome.status,
            )

    def _wait_before_retry(
        self, operation: str, attempt: int, hint: float | None, reason: str, *, throttle: bool = False
    ) -> None:
        if hint is not None:
            wait = max(0.0, min(hint, self.max_wait_seconds))
        else:
            backoff = min(self.max_wait_seconds, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
            wait = backoff * random.uniform(0.5, 1.0)  # jitter only; not security-sensitive
        self.stats.retries += 1
        # The note goes to the run page's status line: plain words, no operation names or monday's JSON
        # (the API log keeps those, with `reason`).
        if throttle:
            self._log(f"Waiting for monday's budget ({self.environment}): {_resumes(wait)}.")
        else:
            self._log(
                f"monday ({self.environment}) did not answer properly ({_plain_reason(reason)}); "
                f"trying again {_resumes(wait, short=True)} (retry {attempt} of {self.max_retries})."
            )
        self._pause(wait)

    # --- proactive throttling ----------------------------------------------------------------

    def _note_budget(self, outcome: _Outcome) -> None:
        version = (outcome.headers or {}).get("API-Version") if outcome.headers else None
        if version:
            self.answered_version = str(version)
        complexity = ((outcome.body or {}).get("data") or {}).get("complexity") or {}
        remaining, reset_in = complexity.get("after"), complexity.get("reset_in_x_seconds")
        self._budget_limit = max(self._budget_limit, int(complexity.get("before") or 0))
        cost = int(complexity.get("query") or 0)
        self.stats.complexity_used += cost
        header_remaining, header_reset, header_limit = responses.rate_limit_headers(outcome.headers)
        self._budget_limit = max(self._budget_limit, header_limit or 0)
        if remaining is None:
            remaining, reset_in = header_remaining, header_reset
        if remaining is None or not self._budget_limit:
            return
        # The next request may cost what this one did (a read's pages cost the same, a quarter of an
        # app token's minute): wait when it would not fit, not only below the margin. 0 turns it off.
        fraction = self.throttle_below_fraction
        if fraction > 0 and remaining < max(fraction * self._budget_limit, cost):
            self._throttle_seconds = float(reset_in or 0)
            self._throttle_set_at = time.monotonic()

    def _wait_for_budget(self) -> None:
        if self._throttle_seconds <= 0:
            return
        remaining = self._throttle_seconds - (time.monotonic() - self._throttle_set_at)
        self._throttle_seconds = 0.0
        wait = min(max(remaining, 0.0), self.max_wait_seconds)
        if wait <= 0:
            return
        self._log(f"Waiting for monday's budget ({self.environment}): {_resumes(wait)}.")
        self._pause(wait)

    def _pause(self, seconds: float) -> None:
        self.stats.waited_seconds += seconds
        self._sleep(seconds)

    # --- reporting ---------------------------------------------------------------------------

    def _record(
        self,
        outcome: _Outcome,
        operation: str,
        attempt: int,
        mutations: int,
        idempotency_key: str,
        payload: str,
        action: str,
        reason: str,
    ) -> None:
        if self._recorder is None:
            return
        budget = ((outcome.body or {}).get("data") or {}).get("complexity") or {}
        complexity = budget.get("query")
        remaining = budget.get("after")
        if remaining is None:
            remaining = responses.rate_limit_headers(outcome.headers)[0]
        error = reason or responses.alias_error_summary(outcome.errors)
        record = ApiCallRecord(
            operation=operation,
            http_status=outcome.status,
            ok=action == "ok",
            attempt=attempt,
            mutations=mutations,
            duration_ms=outcome.duration_ms,
            complexity=int(complexity) if complexity is not None else None,
            idempotency_key=idempotency_key,
            error=error,
            request_body=payload[:RECORD_BODY_LIMIT],
            response_body=(outcome.text or outcome.transport_error)[:RECORD_BODY_LIMIT],
            budget_remaining=int(remaining) if remaining is not None else None,
        )
        try:
            self._recorder(record)
        except Exception as exc:  # an audit failure must not lose the mutation results already applied
            self._log(f"monday {self.environment}: could not record API call ({type(exc).__name__}: {exc})")

    def _log(self, message: str) -> None:
        if self._log_fn is not None:
            self._log_fn(message)

    def _missing_token_message(self) -> str:
        variable = token_variable(self.environment)
        return (
            f"No monday API token is configured for the {self.environment} environment. Set {variable} "
            "(in the environment or .env) to an API token of the monday user that owns the boards, then restart."
        )

    def _auth_message(self, reason: str) -> str:
        variable = token_variable(self.environment)
        return (
            f"monday refused the {self.environment} token ({reason}). Check {variable}: it must hold a valid "
            f"monday API token whose user can edit the {self.environment} boards (monday: avatar > Developers > "
            "My access tokens). Fix the variable and restart; nothing more was sent."
        )


# --- helpers ---------------------------------------------------------------------------------


def _pooled_session() -> requests.Session:
    session = requests.Session()
    # requests' own retries are off: the client decides what is safe to retry and how long to wait.
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _chunks(sequence: list, size: int) -> Iterator[list]:
    for start in range(0, len(sequence), size):
        yield sequence[start : start + size]


def _check_unique_keys(mutations: Iterable[Mutation]) -> None:
    seen: set[str] = set()
    for mutation in mutations:
        if mutation.key in seen:
            raise ValueError(f"Mutation key '{mutation.key}' appears twice in one batch; results are keyed by it.")
        seen.add(mutation.key)


def _alone_failed(mutation: Mutation, reason: str) -> MutationResult:
    return MutationResult(
        mutation.key,
        False,
        None,
        f"monday answered this change, sent on its own, with a whole-request error ({reason}) "
        f"{ALONE_FAILS_AFTER_500S} times in a row; its batch-mates "
        "were sent without it. A stale item id (deleted or archived on the board) or a value monday cannot read "
        "is the usual cause.",
        "WholeRequestError",
    )


def _resumes(wait: float, *, short: bool = False) -> str:
    """'resumes at 14:05:31 PST (in 42 s)' for the run page's status line, in the console's time zone."""
    if short:
        return f"in {wait:.0f} s" if wait >= 1 else "now"
    at = timezone.localtime(timezone.now() + timedelta(seconds=wait))
    return f"resumes at {at:%H:%M:%S} {at.tzname()} (in {wait:.0f} s)"


def _plain_reason(reason: str) -> str:
    """The kind of trouble in a few words, without monday's JSON."""
    match = re.match(r"(HTTP \d+)", reason or "")
    if match:
        return match.group(1)
    if reason.startswith("malformed"):
        return "an unreadable answer"
    if reason.startswith("timed out"):
        return "no answer in time"
    if reason.startswith("connection"):
        return "the connection was lost"
    return "an unexpected answer"


def _snippet(text: str, limit: int = 160) -> str:
    flat = " ".join((text or "").split())
    return flat[:limit] + ("…" if len(flat) > limit else "") if flat else "empty body"


def _short(exc: Exception) -> str:
    return type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {str(exc)[:160]}"


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
