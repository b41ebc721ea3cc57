"""Resolvers of the emulated monday API and its column semantics.

Application errors are raised as GraphQL errors carrying monday's `extensions.code`
(ColumnValueException, InvalidColumnIdException, InvalidBoardIdException, ItemNameTooLongException,
ResourceNotFoundException, UserUnauthorizedException); graphql-core attaches the alias `path`, so
in a batch only the failing alias is null and the others keep their data, as at monday.

A mutation validates all its column values before it changes anything: a bad value fails the whole
mutation and creates no label, item or value.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from graphql import GraphQLError

from syncapp.emulator import column_writes
from syncapp.emulator.cursors import CursorStore
from syncapp.emulator.state import EmulatorState

ITEM_NAME_MAX = 255
STATUS_LABEL_LIMIT = 40
READ_ONLY_TYPES = frozenset(
    {"mirror", "formula", "item_id", "last_updated", "subtasks", "creation_log", "auto_number", "button"}
)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_DOCS = "https://developer.monday.com/api-reference/docs/change-column-values"


@dataclass
class RequestContext:
    state: EmulatorState
    token: str
    environment: str
    complexity: dict[str, int]
    allowed_boards: frozenset[str] | None = None  # None: the token may use every board
    cursors: CursorStore | None = None

    def may_use(self, board_id: str) -> bool:
        return self.allowed_boards is None or board_id in self.allowed_boards


def api_error(code: str, message: str, status_code: int = 200, **error_data: object) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, "status_code": status_code, "error_data": error_data})


# --- lookups shared by resolvers -------------------------------------------------------------------


def _board(ctx: RequestContext, board_id: object) -> dict:
    board = ctx.state.board(board_id)
    if board is None:
        raise api_error(
            "InvalidBoardIdException",
            "The board does not exist. Please check your board ID and try again",
            board_id=str(board_id),
        )
    _require_access(ctx, board)
    return board


def _require_access(ctx: RequestContext, board: dict) -> None:
    if not ctx.may_use(board["id"]):
        raise api_error(
            "UserUnauthorizedException",
            f"User unauthorized to perform action: the {ctx.environment} token has no access to board {board['id']}",
            status_code=403,
            board_id=board["id"],
        )


def _item(ctx: RequestContext, item_id: object) -> dict:
    item = ctx.state.item(item_id) if item_id is not None else None
    if item is None:
        raise api_error("ResourceNotFoundException", f"Item with id {item_id} not found", item_id=str(item_id))
    _require_access(ctx, ctx.state.boards[item["board_id"]])
    return item


def _group_of(ctx: RequestContext, board: dict, group_id: str) -> dict:
    group = ctx.state.group(board, group_id)
    if group is None:
        raise api_error(
            "ResourceNotFoundException",
            f"Group with id {group_id} not found on board {board['id']}",
            group_id=group_id,
            board_id=board["id"],
        )
    return group


def _check_name(name: object) -> str:
    text = "" if name is None else str(name)
    if len(text) > ITEM_NAME_MAX:
        raise api_error(
            "ItemNameTooLongException",
            f"Item name is too long: {len(text)} characters, the maximum is {ITEM_NAME_MAX}",
            item_name_length=len(text),
        )
    if not text.strip():
        raise api_error("InvalidItemNameException", "Item name can't be empty", item_name=text)
    return text


# --- column values -----------------------------------------------------------------------------------


@dataclass
class PendingWrite:
    """A validated column write, applied only once every value of the mutation passed validation."""

    column: dict
    stored: dict | None  # None clears the column
    new_labels: list[str] = field(default_factory=list)
    resolve: Callable[[], dict | None] | None = None  # builds `stored` after labels exist


def _column_error(column: dict, message: str, value: object) -> GraphQLError:
    return api_error(
        "ColumnValueException",
        message,
        column_id=column["id"],
        column_type=column["type"],
        column_value=json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value,
    )


def parse_column_values(raw: object) -> dict:
    if raw is None:
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise api_error("ColumnValueException", f"invalid JSON in column_values. See {_DOCS}") from None
    if not isinstance(raw, dict):
        raise api_error("ColumnValueException", f"column_values must be a JSON object keyed by column id. See {_DOCS}")
    return raw


def validate_writes(ctx: RequestContext, board: dict, values: dict, create_labels: bool) -> list[PendingWrite]:
    writes: list[PendingWrite] = []
    for column_id, value in values.items():
        column = ctx.state.column(board, column_id)
        if column is None:
            raise api_error(
                "InvalidColumnIdException",
                f"This column ID doesn't exist for the board: {column_id}",
                column_id=column_id,
                board_id=board["id"],
            )
        if column["type"] in READ_ONLY_TYPES:
            raise _column_error(
                column,
                f"Column '{column['title']}' ({column['id']}) is a {column['type']} column; its value is computed by "
                "monday and cannot be changed through the API",
                value,
            )
        value = column_writes.checked_value(column, value)  # monday's documented clears and limits
        writer = _WRITERS.get(column["type"])
        if writer is None:
            raise _column_error(column, f"Column type {column['type']} is not supported by the emulator", value)
        writes.append(writer(ctx, board, column, value, create_labels))
    return writes


def apply_writes(ctx: RequestContext, board: dict, item: dict, writes: list[PendingWrite]) -> None:
    for write in writes:
        for label in write.new_labels:
            ctx.state.add_label(board, write.column, label)
        stored = write.resolve() if write.resolve is not None else write.stored
        if write.column["type"] == "name":
            item["name"] = stored["text"] if stored else item["name"]
        elif stored is None:
            item["values"].pop(write.column["id"], None)
        else:
            item["values"][write.column["id"]] = stored
    item["updated_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ctx.state.touch()


def _is_clear(value: object) -> bool:
    return value is None or value == "" or value == {}


def _write_name(ctx, board, column, value, create_labels) -> PendingWrite:
    return PendingWrite(column, {"text": _check_name(value)})


def _write_text(ctx, board, column, value, create_labels) -> PendingWrite:
    if _is_clear(value):
        return PendingWrite(column, None)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _column_error(column, f"invalid value for a text column: expected a string. See {_DOCS}", value)
    return PendingWrite(column, {"value": str(value), "text": str(value)})


def _write_long_text(ctx, board, column, value, create_labels) -> PendingWrite:
    if isinstance(value, dict) and set(value) <= {"text"}:
        value = value.get("text", "")
    if _is_clear(value):
        return PendingWrite(column, None)
    if not isinstance(value, str):
        raise _column_error(
            column, f'invalid value for a long text column: expected {{"text": "..."}}. See {_DOCS}', value
        )
    return PendingWrite(column, {"value": {"text": value}, "text": value})


def _write_numbers(ctx, board, column, value, create_labels) -> PendingWrite:
    if _is_clear(value):
        return PendingWrite(column, None)
    text = str(value).strip() if isinstance(value, str | int | float) and not isinstance(value, bool) else None
    if text is None or not _NUMBER.match(text):
        raise _column_error(
            column, f"invalid value for a numbers column: {value!r} is not a number. See {_DOCS}", value
        )
    return PendingWrite(column, {"value": text, "text": text})


def _write_date(ctx, board, column, value, create_labels) -> PendingWrite:
    if _is_clear(value):
        return PendingWrite(column, None)
    date_text, time_text = (value.get("date"), value.get("time")) if isinstance(value, dict) else (value, None)
    try:
        day = dt.date.fromisoformat(str(date_text)) if isinstance(date_text, str) and len(date_text) == 10 else None
        clock = dt.time.fromisoformat(time_text) if time_text else None
    except ValueError:
        day = None
    if day is None:
        raise _column_error(
            column, f'invalid value for a date column: expected {{"date": "YYYY-MM-DD"}}. See {_DOCS}', value
        )
    stored: dict = {"date": day.isoformat()}
    if clock is not None:
        stored["time"] = clock.strftime("%H:%M:%S")
    text = stored["date"] + (f" {stored['time']}" if "time" in stored else "")
    return PendingWrite(column, {"value": stored, "text": text})


def _write_dropdown(ctx, board, column, value, create_labels) -> PendingWrite:
    if _is_clear(value) or value in ({"labels": []}, {"ids": []}):
        return PendingWrite(column, None)
    if isinstance(value, str):
        labels, ids = [part.strip() for part in value.split(",") if part.strip()], []
    elif isinstance(value, dict) and isinstance(value.get("labels"), list):
        labels, ids = value["labels"], []
    elif isinstance(value, dict) and isinstance(value.get("ids"), list):
        labels, ids = [], value["ids"]
    else:
        raise _column_error(
            column, f'invalid value for a dropdown column: expected {{"labels": [...]}}. See {_DOCS}', value
        )
    if not all(isinstance(label, str) and label.strip() for label in labels):
        raise _column_error(column, "invalid value for a dropdown column: labels must be non-empty strings", value)
    known = {entry["id"]: entry["label"] for entry in ctx.state.labels(board, column["id"])}
    for label_id in ids:
        if not str(label_id).isdigit() or int(label_id) not in known:
            raise _column_error(
                column, f"The dropdown label id {label_id} does not exist in column {column['id']}", value
            )
    labels = list(dict.fromkeys([*labels, *(known[int(i)] for i in ids)]))
    missing = [label for label in labels if ctx.state.find_label(board, column["id"], label) is None]
    if missing and not create_labels:
        raise _column_error(
            column,
            f"The dropdown label '{missing[0]}' does not exist in column '{column['title']}' ({column['id']}); "
            f"possible labels are: {_label_map(ctx, board, column)}. Send create_labels_if_missing: true to create it",
            value,
        )

    def resolve() -> dict:
        entries = [ctx.state.find_label(board, column["id"], label) for label in labels]
        return {"value": {"ids": [e["id"] for e in entries]}, "text": ", ".join(e["label"] for e in entries)}

    return PendingWrite(column, None, missing, resolve)


def _write_status(ctx, board, column, value, create_labels) -> PendingWrite:
    if _is_clear(value):
        return PendingWrite(column, None)
    label: str | None = None
    index: int | None = None
    if isinstance(value, str):
        index, label = (int(value), None) if value.strip().isdigit() else (None, value.strip())
    elif isinstance(value, dict) and isinstance(value.get("label"), str) and value["label"].strip():
        label = value["label"].strip()
    elif isinstance(value, dict) and isinstance(value.get("index"), int) and not isinstance(value["index"], bool):
        index = value["index"]
    else:
        raise _column_error(
            column, f'invalid value for a status column: expected {{"label": "..."}}. See {_DOCS}', value
        )
    entries = ctx.state.labels(board, column["id"])
    if index is not None:
        entry = next((e for e in entries if e["id"] == index), None)
        if entry is None:
            raise _column_error(
                column,
                f"This status label index doesn't exist, possible statuses are: {_label_map(ctx, board, column)}",
                value,
            )
        label = entry["label"]
    missing = [label] if ctx.state.find_label(board, column["id"], label) is None else []
    if missing and not create_labels:
        raise _column_error(
            column,
            f"This status label doesn't exist: '{label}' in column '{column['title']}' ({column['id']}); possible "
            f"statuses are: {_label_map(ctx, board, column)}. Send create_labels_if_missing: true to create it",
            value,
        )
    if missing and len(entries) >= STATUS_LABEL_LIMIT:
        raise _column_error(column, f"A status column has at most {STATUS_LABEL_LIMIT} labels", value)

    def resolve() -> dict:
        entry = ctx.state.find_label(board, column["id"], label)
        return {"value": {"index": entry["id"]}, "text": entry["label"]}

    return PendingWrite(column, None, missing, resolve)


def _write_board_relation(ctx, board, column, value, create_labels) -> PendingWrite:
    if _is_clear(value) or value == {"item_ids": []}:
        return PendingWrite(column, None)
    ids = value.get("item_ids") if isinstance(value, dict) else None
    if not isinstance(ids, list):
        raise _column_error(column, 'invalid value for a connect boards column: expected {"item_ids": [...]}', value)
    return PendingWrite(column, {"value": {"linkedPulseIds": [{"linkedPulseId": i} for i in ids]}, "text": ""})


def _label_map(ctx: RequestContext, board: dict, column: dict) -> str:
    entries = ctx.state.labels(board, column["id"])
    return "{" + ", ".join(f"{e['id']}: {e['label']}" for e in entries) + "}"


_WRITERS: dict[str, Callable[..., PendingWrite]] = {
    "name": _write_name,
    "text": _write_text,
    "long_text": _write_long_text,
    "numbers": _write_numbers,
    "date": _write_date,
    "dropdown": _write_dropdown,
    "status": _write_status,
    "board_relation": _write_board_relation,
}


# --- mutations -------------------------------------------------------------------------------------


def resolve_create_group(_root, info, board_id, group_name, group_color=None, position=None, **kwargs) -> dict:
    ctx: RequestContext = info.context
    board = _board(ctx, board_id)
    if not str(group_name).strip():
        raise api_error("InvalidArgumentException", "Group name can't be blank")
    column_writes.check_group_name(group_name)
    before = kwargs.get("position_relative_method") == "before_at"
    group = ctx.state.create_group(board, str(group_name), group_color, kwargs.get("relative_to"), before)
    return {**group, "_board_id": board["id"]}


def resolve_create_item(_root, info, board_id, item_name, group_id=None, column_values=None, **kwargs) -> dict:
    ctx: RequestContext = info.context
    board = _board(ctx, board_id)
    name = _check_name(item_name)
    group = _group_of(ctx, board, group_id) if group_id else ctx.state.active_groups(board)[0]
    writes = validate_writes(
        ctx, board, parse_column_values(column_values), bool(kwargs.get("create_labels_if_missing"))
    )
    item = ctx.state.create_item(board, group["id"], name)
    apply_writes(ctx, board, item, writes)
    return item


def resolve_create_subitem(_root, info, parent_item_id, item_name, column_values=None, **kwargs) -> dict:
    ctx: RequestContext = info.context
    parent = _item(ctx, parent_item_id)
    sub_board = ctx.state.subitems_board_for(ctx.state.boards[parent["board_id"]])
    if sub_board is None:
        raise api_error(
            "InvalidBoardIdException",
            f"Item {parent_item_id} is on a board without subitems",
            item_id=str(parent_item_id),
        )
    _require_access(ctx, sub_board)
    name = _check_name(item_name)
    writes = validate_writes(
        ctx, sub_board, parse_column_values(column_values), bool(kwargs.get("create_labels_if_missing"))
    )
    subitem = ctx.state.create_item(sub_board, ctx.state.active_groups(sub_board)[0]["id"], name, parent=parent)
    apply_writes(ctx, sub_board, subitem, writes)
    return subitem


def resolve_change_multiple_column_values(_root, info, board_id, column_values, item_id=None, **kwargs) -> dict:
    ctx: RequestContext = info.context
    board = _board(ctx, board_id)
    item = _item_on_board(ctx, board, item_id)
    writes = validate_writes(
        ctx, board, parse_column_values(column_values), bool(kwargs.get("create_labels_if_missing"))
    )
    _apply_logged(ctx, board, item, writes)
    return item


def resolve_move_item_to_group(_root, info, group_id, item_id=None) -> dict:
    ctx: RequestContext = info.context
    item = _item(ctx, item_id)
    group = _group_of(ctx, ctx.state.boards[item["board_id"]], group_id)
    item["group_id"] = group["id"]
    ctx.state.touch()
    return item


def resolve_archive_item(_root, info, item_id=None) -> dict:
    ctx: RequestContext = info.context
    item = _item(ctx, item_id)
    ctx.state.set_item_state(item, "archived")
    return item


def resolve_delete_item(_root, info, item_id=None) -> dict:
    ctx: RequestContext = info.context
    item = _item(ctx, item_id)
    ctx.state.set_item_state(item, "deleted")
    return item


def resolve_delete_group(_root, info, board_id, group_id) -> dict:
    ctx: RequestContext = info.context
    board = _board(ctx, board_id)
    group = _group_of(ctx, board, group_id)
    if len(ctx.state.active_groups(board)) == 1:
        raise api_error(
            "DeleteLastGroupException", "Deleting the last group of a board is not allowed", group_id=group_id
        )
    ctx.state.delete_group(board, group)
    return {**group, "_board_id": board["id"]}


def resolve_change_column_value(_root, info, board_id, column_id, value, item_id=None, **kwargs) -> dict:
    """One column in monday's JSON format: the same writers as change_multiple_column_values."""
    return _change_one_column(info.context, board_id, item_id, column_id, _json_value(value), kwargs)


def resolve_change_simple_column_value(_root, info, board_id, column_id, value=None, item_id=None, **kwargs) -> dict:
    """One column as a plain string ("Done", "2025-01-31", "12"): every writer here accepts a string."""
    return _change_one_column(info.context, board_id, item_id, column_id, value, kwargs)


def _change_one_column(ctx: RequestContext, board_id, item_id, column_id: str, value: object, kwargs: dict) -> dict:
    board = _board(ctx, board_id)
    item = _item_on_board(ctx, board, item_id)
    writes = validate_writes(ctx, board, {column_id: value}, bool(kwargs.get("create_labels_if_missing")))
    _apply_logged(ctx, board, item, writes)
    return item


def _apply_logged(ctx: RequestContext, board: dict, item: dict, writes: list[PendingWrite]) -> None:
    """Apply a change of an existing item's columns and log each changed value in the board's activity
    log (event update_column_value, or update_name), as monday's board activity log records it."""
    before = {w.column["id"]: item["values"].get(w.column["id"]) for w in writes}
    old_name = item["name"]
    apply_writes(ctx, board, item, writes)
    for write in writes:
        column = write.column
        if column["type"] == "name":
            if item["name"] != old_name:
                data = {
                    "pulse_id": int(item["id"]),
                    "value": {"name": item["name"]},
                    "previous_value": {"name": old_name},
                }
                ctx.state.log_activity(board, "update_name", item, data)
            continue
        after = item["values"].get(column["id"])
        if after == before[column["id"]]:
            continue
        data = {
            "pulse_id": int(item["id"]),
            "pulse_name": item["name"],
            "column_id": column["id"],
            "column_type": column["type"],
            "column_title": column["title"],
            "value": _logged_value(after),
            "previous_value": _logged_value(before[column["id"]]),
        }
        ctx.state.log_activity(board, "update_column_value", item, data)


def _logged_value(stored: dict | None) -> dict | None:
    # The stored JSON with the text monday shows beside it (the emulator's guess at the log's shape).
    return None if stored is None else {"value": stored["value"], "text": stored["text"]}


def _json_value(raw: object) -> object:
    # monday's JSON arguments arrive as a JSON-encoded string (its documented form) or as a literal.
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            raise api_error("ColumnValueException", f"invalid JSON in value. See {_DOCS}") from None
    return raw


def _item_on_board(ctx: RequestContext, board: dict, item_id: object) -> dict:
    item = _item(ctx, item_id)
    if item["board_id"] != board["id"]:
        raise api_error(
            "ResourceNotFoundException",
            f"Item with id {item_id} not found on board {board['id']}",
            item_id=str(item_id),
            board_id=board["id"],
        )
    return item


def resolve_duplicate_group(_root, info, board_id, group_id, add_to_top=None, group_title=None) -> dict:
    ctx: RequestContext = info.context
    board = _board(ctx, board_id)
    source = _group_of(ctx, board, group_id)
    title = group_title if group_title is not None else f"Duplicate of {source['title']}"
    column_writes.check_group_name(title)
    group = ctx.state.create_group(board, str(title), source["color"], None if add_to_top else source["id"], False)
    for item in [i for i in ctx.state.active_items(board["id"]) if i["group_id"] == source["id"]]:
        copy = ctx.state.create_item(board, group["id"], item["name"])
        copy["values"] = json.loads(json.dumps(item["values"]))
    return {**group, "_board_id": board["id"]}


def resolve_duplicate_item(_root, info, board_id, item_id=None, with_updates=None) -> dict:
    """monday's duplicate_item: a copy of the item (name, column values, subitems) in the same group,
    placed right below the original. The emulator models no updates, so `with_updates` copies nothing."""
    ctx: RequestContext = info.context
    board = _board(ctx, board_id)
    source = _item_on_board(ctx, board, item_id)
    parent = ctx.state.item(source["parent_id"]) if source["parent_id"] else None
    duplicate = ctx.state.create_item(board, source["group_id"], source["name"], parent=parent)
    duplicate["values"] = json.loads(json.dumps(source["values"]))
    ctx.state.place_after(board["id"], duplicate["id"], source["id"])
    sub_board = ctx.state.subitems_board_for(board)
    for sub in ctx.state.active_subitems(source) if sub_board is not None else []:
        sub_copy = ctx.state.create_item(sub_board, sub["group_id"], sub["name"], parent=duplicate)
        sub_copy["values"] = json.loads(json.dumps(sub["values"]))
    ctx.state.log_activity(board, "create_pulse", duplicate, {"pulse_id": int(duplicate["id"])})
    return duplicate


def resolve_archive_group(_root, info, board_id, group_id) -> dict:
    ctx: RequestContext = info.context
    board = _board(ctx, board_id)
    group = _group_of(ctx, board, group_id)
    if len(ctx.state.active_groups(board)) == 1:
        raise api_error(
            "DeleteLastGroupException", "Archiving the last group of a board is not allowed", group_id=group_id
        )
    ctx.state.archive_group(board, group)
    return {**group, "_board_id": board["id"]}


def resolve_update_group(_root, info, board_id, group_id, group_attribute, new_value) -> dict:
    ctx: RequestContext = info.context
    board = _board(ctx, board_id)
    group = _group_of(ctx, board, group_id)
    if group_attribute == "title":
        if not str(new_value).strip():
            raise api_error("InvalidArgumentException", "Group name can't be blank")
        column_writes.check_group_name(new_value)
        group["title"] = str(new_value)
    elif group_attribute == "color":
        group["color"] = str(new_value)
    else:
        raise api_error(
            "EmulatorUnsupported",
            f"The emulator does not model update_group of {group_attribute}; nothing was changed",
            group_attribute=str(group_attribute),
        )
    ctx.state.touch()
    return {**group, "_board_id": board["id"]}


# --- wiring: Mutation field -> resolver, read by executable.py --------------------------------------

MUTATION_FIELDS = {
    "create_group": resolve_create_group,
    "duplicate_group": resolve_duplicate_group,
    "duplicate_item": resolve_duplicate_item,
    "archive_group": resolve_archive_group,
    "update_group": resolve_update_group,
    "create_item": resolve_create_item,
    "create_subitem": resolve_create_subitem,
    "change_multiple_column_values": resolve_change_multiple_column_values,
    "change_column_value": resolve_change_column_value,
    "change_simple_column_value": resolve_change_simple_column_value,
    "move_item_to_group": resolve_move_item_to_group,
    "archive_item": resolve_archive_item,
    "delete_item": resolve_delete_item,
    "delete_group": resolve_delete_group,
}
