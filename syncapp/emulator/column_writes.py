"""Column writes as monday validates them, before the resolvers' writers store anything.

The resolvers call `checked_value` once per column value of a mutation (and `check_group_name`
for a new group); a refusal raises the GraphQL error monday gives, so the mutation fails on its
alias and nothing of it is applied.

Clearing values. monday documents one way to clear each type, and only those are accepted here:

    numbers     null                (an empty string is not a clear: it SETS the column to 0)
    date        null
    dropdown    null or {"labels": []}
    status      null or {}
    text        null or ""
    long_text   null

Any other empty form (`{}` on a date, dropdown, numbers or text column; `""` on a date, dropdown,
status or long text; `{"text": ""}` or `{}` on a long text; `{"ids": []}` on a dropdown) is refused
the way monday refuses an invalid value: `ColumnValueException` with `error_data.column_type` in
monday's own type names ("color" for status, see MONDAY_COLUMN_TYPES).

Limits: long text at most 2,000 characters, a status label at most 30 characters (and at most 40
labels per status column, enforced where labels are created), group names at most 255 characters.
"""

from __future__ import annotations

import json

from graphql import GraphQLError

LONG_TEXT_MAX = 2_000
STATUS_LABEL_MAX = 30
GROUP_NAME_MAX = 255
# monday reports a column's type in error_data with its internal name; only "color" for status is
# documented (issue #12); the others keep the API's type name, which is a guess.
MONDAY_COLUMN_TYPES = {"status": "color"}
_DOCS = "https://developer.monday.com/api-reference/docs/column-types-reference"

# Per type: the documented clears (compared with ==) and the empty forms that are refused.
_CLEARS: dict[str, tuple[object, ...]] = {
    "numbers": (None,),
    "date": (None,),
    "dropdown": (None, {"labels": []}),
    "status": (None, {}),
    "text": (None, ""),
    "long_text": (None,),
}
_UNDOCUMENTED_EMPTY: tuple[object, ...] = ("", {}, {"text": ""}, {"ids": []}, {"labels": []}, [])


def monday_column_type(api_type: str) -> str:
    return MONDAY_COLUMN_TYPES.get(api_type, api_type)


def column_value_error(column: dict, message: str, value: object) -> GraphQLError:
    """monday's ColumnValueException for `value` written to `column` (alias path added by graphql-core)."""
    return GraphQLError(
        message,
        extensions={
            "code": "ColumnValueException",
            "status_code": 200,
            "error_data": {
                "column_id": column["id"],
                "column_type": monday_column_type(column["type"]),
                "column_value": value if isinstance(value, str) else json.dumps(value, ensure_ascii=False),
            },
        },
    )


def checked_value(column: dict, value: object) -> object:
    """The value the writer of `column`'s type should store, or a ColumnValueException.

    An empty string on a numbers column comes back as "0": monday writes 0 for it, which is the
    data risk the documented clear (null) avoids.
    """
    kind = column["type"]
    clears = _CLEARS.get(kind)
    if clears is not None and any(value == clear and type(value) is type(clear) for clear in clears):
        return value
    if kind == "numbers" and value == "":
        return "0"
    if clears is not None and _is_undocumented_empty(value):
        documented = " or ".join("null" if c is None else json.dumps(c) for c in clears)
        raise column_value_error(
            column,
            f"invalid value {json.dumps(value)} for a {kind} column: to clear it send {documented}. See {_DOCS}",
            value,
        )
    if kind == "long_text":
        _check_long_text(column, value)
    elif kind == "status":
        _check_status_label(column, value)
    return value


def check_group_name(name: object) -> None:
    text = "" if name is None else str(name)
    if len(text) > GROUP_NAME_MAX:
        raise GraphQLError(
            f"Group name is too long: {len(text)} characters, the maximum is {GROUP_NAME_MAX}",
            extensions={
                "code": "InvalidArgumentException",
                "status_code": 200,
                "error_data": {"group_name_length": len(text)},
            },
        )


def _is_undocumented_empty(value: object) -> bool:
    return any(value == empty and type(value) is type(empty) for empty in _UNDOCUMENTED_EMPTY)


def _check_long_text(column: dict, value: object) -> None:
    text = value.get("text") if isinstance(value, dict) else value
    if isinstance(text, str) and len(text) > LONG_TEXT_MAX:
        raise column_value_error(
            column,
            f"Long text is limited to {LONG_TEXT_MAX:,} characters; this value has {len(text):,}",
            value,
        )


def _check_status_label(column: dict, value: object) -> None:
    label = value.get("label") if isinstance(value, dict) else value
    if isinstance(label, str) and not label.strip().isdigit() and len(label.strip()) > STATUS_LABEL_MAX:
        raise column_value_error(
            column,
            f"A status label is limited to {STATUS_LABEL_MAX} characters; '{label.strip()}' has {len(label.strip())}",
            value,
        )
