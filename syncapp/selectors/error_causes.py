"""Row errors grouped by cause, in ops words, each with the fix.

A run that fails 239 rows for one reason shows one line: what is wrong, in the words of the person
watching ("TRACKSMITH is not a label of the CUSTOMER column on board 9609317401"), and what to do
about it ("add it in monday, then retry these 239 rows"). monday's own message is kept on the group
(`raw_message`) for a <details> element one click away; it is never the only thing shown, because it
is written for developers: "Send create_labels_if_missing: true" contradicts the configured label
policy (labels of that column are created by hand in monday, on purpose).

Works on anything shaped like a RowResult (attributes or dict keys `message`, `error_code`,
`customer_name`/`customer`, `po_number`/`po`, `aag_order_number`), so the run page (RowResult rows) and
the dry-run preview (plan dicts) group the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from syncapp.monday.errors import AUTH_CODES, DAILY_LIMIT_CODES, RATE_LIMIT_CODES

# Sample rows kept per group: enough to recognise the POs, not a second copy of the results table.
SAMPLE_ROWS = 5

# monday's answers for a label the column does not have (dropdown and status), as monday and the
# emulator word them. A subitem write is prefixed "size XS: ".
_DROPDOWN_MISSING = re.compile(
    r"dropdown label '(?P<label>[^']*)' does not exist(?: in column '(?P<title>[^']*)' \((?P<column>[^)]*)\))?"
    r"(?: on board (?P<board>\d+))?",
    re.IGNORECASE,
)
_STATUS_MISSING = re.compile(
    r"status label doesn't exist: '(?P<label>[^']*)'(?: in column '(?P<title>[^']*)' \((?P<column>[^)]*)\))?"
    r"(?: on board (?P<board>\d+))?",
    re.IGNORECASE,
)
# The planner's own refusals (engine/plan.py) already say what to do; they are grouped by their text.
_PLANNER_PREFIXES = ("no group:", "group ")
_STALE_CODES = frozenset({"ResourceNotFoundException", "InvalidItemIdException"})


@dataclass
class ErrorGroup:
    """One cause of failure, the rows it hit, and the fix."""

    cause: str  # a stable key: "missing_label", "daily_limit", ...
    text: str  # what happened, in ops words
    fix: str  # what to do, in ops words
    raw_message: str  # monday's (or the engine's) message of the first row, for the <details>
    error_code: str = ""
    count: int = 0
    samples: list[dict] = field(default_factory=list)  # {"customer", "po", "aag_order_number"}
    pos: set[tuple[str, str]] = field(default_factory=set)  # (customer, po) pairs hit

    @property
    def po_count(self) -> int:
        return len(self.pos)

    @property
    def sentence(self) -> str:
        """The whole story on one line: cause, then the fix."""
        return f"{self.text}: {self.fix}"


def _get(row: object, *names: str) -> str:
    for name in names:
        value = row.get(name) if isinstance(row, dict) else getattr(row, name, None)
        if value not in (None, ""):
            return str(value)
    return ""


def _rows(count: int) -> str:
    return "this row" if count == 1 else f"these {count} rows"


def _board(board_id: int | str | None) -> str:
    return f" on board {board_id}" if board_id else ""


def classify(message: str, error_code: str = "", *, board_id: int | str | None = None) -> tuple[str, str, str]:
    """(cause key, ops text, fix template with {rows}) for one row's error.

    The key separates causes that need different fixes: each missing label is its own group, because
    each is added in monday on its own.
    """
    message = message or ""
    for pattern, kind in ((_DROPDOWN_MISSING, "dropdown"), (_STATUS_MISSING, "status")):
        match = pattern.search(message)
        if match:
            label = match.group("label")
            title = match.group("title") or match.group("column") or "the"
            return (
                f"missing_label:{kind}:{match.group('column') or title}:{label.casefold()}",
                f"{label} is not a label of the {title} column{_board(match.group('board') or board_id)}",
                "add it in monday (the column's label settings), then retry {rows}",
            )
    if error_code in DAILY_LIMIT_CODES:
        return (
            "daily_limit",
            "monday's daily limit of API calls for this account was reached",
            "wait until the limit resets (midnight in the account's time zone), then retry {rows}",
        )
    if error_code in RATE_LIMIT_CODES:
        return (
            "rate_limit",
            "monday asked the sync to slow down and the wait ran out",
            "retry {rows} later; nothing is wrong with the rows themselves",
        )
    if error_code in AUTH_CODES:
        return (
            "auth",
            "monday refused the API token",
            "ask an admin to check the token on the Environments page, then retry {rows}",
        )
    if error_code in _STALE_CODES or "no longer on the board" in message:
        return (
            "item_gone",
            f"the item was deleted or archived{_board(board_id)}",
            "retry {rows}: the next sync creates the items again",
        )
    if message.startswith("not sent:"):
        return (
            "not_sent",
            "the run stopped before these rows were sent",
            "nothing to fix: the rows are PENDING again and the next sync takes {rows}",
        )
    if message.startswith(_PLANNER_PREFIXES) or "merge again" in message:
        text, _, fix = message.partition(". ")
        fix = fix.rstrip(".") or "correct the order data and merge again"
        return (f"row:{text}", text.rstrip("."), fix[:1].lower() + fix[1:])
    # Anything else: one group per code and message (ids and numbers removed so repeats group).
    generic = re.sub(r"\d+", "#", message)[:200]
    return (
        f"other:{error_code}:{generic}",
        f"monday refused the write ({error_code})" if error_code else "the write failed",
        "read monday's message below; fix the cause, then retry {rows}",
    )


def error_groups(
    results: Iterable[object], *, board_id: int | str | None = None, preview: bool = False
) -> list[ErrorGroup]:
    """Failed rows grouped by cause, the largest group first. Rows without a message are ignored.
    `preview`: the rows were not sent yet, so the fix ends in a sync, not a retry."""
    groups: dict[str, ErrorGroup] = {}
    for row in results:
        message = _get(row, "message")
        if not message:
            continue
        code = _get(row, "error_code")
        key, text, fix = classify(message, code, board_id=board_id)
        group = groups.get(key)
        if group is None:
            group = groups[key] = ErrorGroup(cause=key.split(":", 1)[0], text=text, fix=fix, raw_message=message)
            group.error_code = code
        group.count += 1
        customer, po = _get(row, "customer_name", "customer"), _get(row, "po_number", "po")
        group.pos.add((customer, po))
        if len(group.samples) < SAMPLE_ROWS:
            group.samples.append({"customer": customer, "po": po, "aag_order_number": _get(row, "aag_order_number")})
    ordered = sorted(groups.values(), key=lambda g: (-g.count, g.text))
    for group in ordered:
        if preview:
            group.fix = group.fix.replace("then retry {rows}", "then preview again and sync {rows}")
        group.fix = group.fix.replace("{rows}", _rows(group.count))
    return ordered


@dataclass
class FallbackGroup:
    """A group a preview names from the fallback season, beside the customer's other groups."""

    group: str
    rows: int
    note: str
    siblings: list[str]  # the customer's other groups in the same preview


def preview_findings(rows: list[dict]) -> tuple[list[ErrorGroup], list[FallbackGroup]]:
    """A dry run's plan rows: the rows that will fail grouped by cause, and the groups named from the
    fallback season (rows without a CUSTOMER SEASON) with the customer's other groups beside them."""
    failing = error_groups((row for row in rows if row.get("action") == "fail"), preview=True)
    by_customer: dict[str, set[str]] = {}
    for row in rows:
        if row.get("group"):
            by_customer.setdefault(str(row.get("customer") or "").casefold(), set()).add(row["group"])
    fallback: dict[str, FallbackGroup] = {}
    for row in rows:
        if not row.get("group_note") or not row.get("group"):
            continue
        entry = fallback.get(row["group"])
        if entry is None:
            customer = str(row.get("customer") or "").casefold()
            siblings = sorted(g for g in by_customer.get(customer, ()) if g != row["group"])
            entry = fallback[row["group"]] = FallbackGroup(row["group"], 0, row["group_note"], siblings)
        entry.rows += 1
    return failing, sorted(fallback.values(), key=lambda g: g.group)
