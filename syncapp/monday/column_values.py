"""monday.com write formats by column type.

Every value the sync writes goes through `format_column_value`, so the shape monday expects for a
column type lives in one place. Formats and clears follow monday's column type reference pages
(developer.monday.com/api-reference/reference/<type>, "Clear"):

    text       "some text"                      clear: null   (or "")
    long_text  {"text": "some text"}            clear: null
    numbers    "1234.5" (numeric string)        clear: null   ("" is NOT a clear: monday writes 0)
    dropdown   {"labels": ["A", "B"]}           clear: null   (or {"labels": []}; {} is refused)
    status     {"label": "Done"}                clear: null   (or {})
    date       {"date": "2025-01-31"}           clear: null   ({} is refused)

orderops clears every type with null, the one form monday documents for all six.
An empty source value (None, "", whitespace, an empty list) therefore produces the clearing value:
the sync must never silently skip a column whose source became empty, or the board keeps a stale
value forever.

monday's limits on what a column holds (`limit_problem`): a long text at most 2,000 characters, a
status label at most 30 characters and a status column at most 40 labels; a group name at most 255
characters. A value over a limit fails its row before anything is sent (never cut: a cut note or
label would be a silent change of the order's data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation

# Types orderops writes. Everything else on the boards is computed by monday or out of scope.
WRITABLE_TYPES: frozenset[str] = frozenset({"text", "long_text", "numbers", "dropdown", "status", "date"})

# Types monday computes itself or orderops never writes through a column value (the item name has its
# own argument, connections their own mutation): a write is refused here, with a clearer message than
# monday's, and the configuration check refuses a mapping to one of them (sync_config imports this).
READ_ONLY_TYPES: frozenset[str] = frozenset(
    {
        "auto_number",
        "board_relation",
        "button",
        "creation_log",
        "formula",
        "item_id",
        "last_updated",
        "mirror",
        "name",
        "subtasks",
    }
)

# Types whose labels must exist on the board (or be created with create_labels_if_missing).
LABEL_TYPES: frozenset[str] = frozenset({"dropdown", "status"})

ITEM_NAME_MAX = 255
GROUP_NAME_MAX = 255
LONG_TEXT_MAX = 2_000
STATUS_LABEL_MAX = 30
STATUS_LABELS_PER_COLUMN = 40


def clear_value(column_type: str) -> None:
    """The value that empties a column of this type: null, documented for every type orderops writes."""
    _require_writable(column_type)
    return None


def limit_problem(column_type: str, formatted: object, *, known_labels: Iterable[str] = ()) -> str:
    """What in a formatted value is over one of monday's limits ("" when nothing is).

    `known_labels`: the labels the column has now; a new status label must still fit in the 40."""
    if column_type == "long_text" and isinstance(formatted, Mapping):
        length = len(str(formatted.get("text") or ""))
        if length > LONG_TEXT_MAX:
            return f"{length:,} characters; monday's long text column holds at most {LONG_TEXT_MAX:,}"
    if column_type == "status":
        for label in labels_in(column_type, formatted):
            if len(label) > STATUS_LABEL_MAX:
                return (
                    f"the status label {label!r} has {len(label)} characters; monday allows at most "
                    f"{STATUS_LABEL_MAX} in a status label"
                )
            known = set(known_labels)
            if label not in known and len(known) >= STATUS_LABELS_PER_COLUMN:
                return (
                    f"the status label {label!r} would be a new label, and the column already has "
                    f"{len(known)}; monday allows at most {STATUS_LABELS_PER_COLUMN} labels in a status column"
                )
    return ""


def group_name_problem(name: str) -> str:
    """Why monday would refuse this group name ("" when it would not)."""
    if len(name) > GROUP_NAME_MAX:
        return f"the group name has {len(name)} characters; monday allows at most {GROUP_NAME_MAX}"
    return ""


def format_column_value(column_type: str, value: object) -> object:
    """Convert a source value into monday's write format for `column_type`.

    Raises ValueError for read-only or unsupported column types and for values that cannot be
    represented in the type (a non-numeric string for a numbers column, an invalid date).
    """
    _require_writable(column_type)
    if _is_empty(value):
        return clear_value(column_type)
    return _FORMATTERS[column_type](value)


def item_name(text: object) -> str:
    """An item name monday accepts: trimmed, 1..255 characters."""
    name = "" if text is None else str(text).strip()
    if not name:
        raise ValueError("An item name cannot be empty: monday requires 1 to 255 characters.")
    return name[:ITEM_NAME_MAX]


def labels_in(column_type: str, formatted: object) -> list[str]:
    """The dropdown/status labels a formatted value refers to (empty for other types)."""
    if column_type == "dropdown" and isinstance(formatted, Mapping):
        return [str(label) for label in formatted.get("labels", [])]
    if column_type == "status" and isinstance(formatted, Mapping) and "label" in formatted:
        return [str(formatted["label"])]
    return []


def partition_by_label_policy(
    column_values: Mapping[str, object],
    column_types: Mapping[str, str],
    may_create_labels: Iterable[str],
) -> tuple[dict[str, object], dict[str, object]]:
    """Split formatted column values into (columns without label creation, columns that may create).

    `create_labels_if_missing` applies to a whole mutation. Sending a value for a column whose policy
    forbids new labels in the same mutation as one whose policy allows them would let monday create
    a label where it must not, so callers send the second dict in its own mutation with the flag on.
    """
    allowed = set(may_create_labels)
    strict: dict[str, object] = {}
    creating: dict[str, object] = {}
    for column_id, formatted in column_values.items():
        column_type = column_types.get(column_id, "")
        target = creating if column_type in LABEL_TYPES and column_id in allowed else strict
        target[column_id] = formatted
    return strict, creating


def written_text(column_type: str, value: object) -> str | None:
    """The text monday shows for a value orderops wrote in its write format (None when it cannot tell).

    A rollback compares it with the text read before the update, to write back only what changed."""
    if value is None:
        return ""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip()
    if not isinstance(value, Mapping):
        return None
    if not value:
        return ""
    if column_type == "long_text":
        return str(value.get("text") or "").strip()
    if column_type == "date":
        return str(value.get("date") or "").strip()
    if column_type == "dropdown" and isinstance(value.get("labels"), list):
        return ", ".join(str(label) for label in value["labels"])
    if column_type == "status" and "label" in value:
        return str(value["label"]).strip()
    return None


def restore_value(column_type: str, before: Mapping | None) -> object:
    """A value read from the board (get_items: {"id", "text", "value", "type"}) in monday's write format.

    `value` is monday's stored JSON, already parsed: text and numbers hold a string, long_text
    {"text"}, date {"date", "time"}, dropdown {"ids": [...]}, status {"index": n}. Dropdowns and
    statuses are written back by id and index, so a label renamed since is still the same label.
    An empty `before` (the column had no value) gives the documented clear (null), never "" or {}:
    "" would write 0 to a numbers column and {} is refused for dates and dropdowns.
    """
    _require_writable(column_type)
    before = before if isinstance(before, Mapping) else {}
    value, text = before.get("value"), before.get("text")
    restored: object = None
    if column_type == "text":
        restored = value if isinstance(value, str) else (text or "")
    elif column_type == "numbers":
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            restored = str(value).strip()
        else:
            restored = (text or "").strip()
    elif column_type == "long_text":
        content = value.get("text") if isinstance(value, Mapping) else text
        restored = {"text": str(content)} if content else None
    elif column_type == "date":
        if isinstance(value, Mapping) and value.get("date"):
            restored = {"date": str(value["date"])}
            if value.get("time"):
                restored["time"] = str(value["time"])
    elif column_type == "dropdown":
        ids = value.get("ids") if isinstance(value, Mapping) else None
        restored = {"ids": [int(i) for i in ids]} if ids else None
    elif column_type == "status":
        index = value.get("index") if isinstance(value, Mapping) else None
        restored = {"index": int(index)} if index is not None else None
    return clear_value(column_type) if restored in ("", None) else restored


def _require_writable(column_type: str) -> None:
    if column_type in WRITABLE_TYPES:
        return
    if column_type in READ_ONLY_TYPES:
        raise ValueError(f"Column type '{column_type}' is read-only on monday; orderops cannot write it.")
    raise ValueError(
        f"Column type '{column_type}' is not supported by orderops; writable types are {sorted(WRITABLE_TYPES)}."
    )


def _is_empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | set | frozenset):
        return not any(not _is_empty(part) for part in value)
    return False


def _text(value: object) -> str:
    return str(value)


def _long_text(value: object) -> dict[str, str]:
    return {"text": str(value)}


def _numbers(value: object) -> str:
    if isinstance(value, bool):
        raise ValueError(f"A numbers column cannot hold the boolean {value!r}.")
    try:
        number = Decimal(str(value).strip().replace(",", "")) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a number, so it cannot be written to a numbers column.") from None
    if not number.is_finite():
        raise ValueError(f"'{value}' is not a finite number, so it cannot be written to a numbers column.")
    # normalize() drops trailing zeros; the 'f' format then never uses an exponent (1E+2 -> "100").
    text = format(number.normalize(), "f")
    return "0" if text in {"-0", ""} else text


def _labels(value: object) -> list[str]:
    parts = value if isinstance(value, list | tuple | set | frozenset) else [value]
    labels: list[str] = []
    for part in parts:
        label = "" if part is None else str(part).strip()
        if label and label not in labels:
            labels.append(label)
    return labels


def _dropdown(value: object) -> dict[str, list[str]]:
    return {"labels": _labels(value)}


def _status(value: object) -> dict[str, str]:
    labels = _labels(value)
    if len(labels) != 1:
        raise ValueError(f"A status column holds exactly one label, got {labels!r}.")
    return {"label": labels[0]}


def _date(value: object) -> dict[str, str]:
    if isinstance(value, dt.datetime):
        return {"date": value.date().isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    text = str(value).strip()
    try:
        # Accept a timestamp string ("2025-01-31 00:00:00" from SQL) by keeping its date part.
        return {"date": dt.date.fromisoformat(text[:10]).isoformat()}
    except ValueError:
        raise ValueError(f"'{value}' is not a date (expected YYYY-MM-DD).") from None


_FORMATTERS = {
    "text": _text,
    "long_text": _long_text,
    "numbers": _numbers,
    "dropdown": _dropdown,
    "status": _status,
    "date": _date,
}
