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
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, build_schema

from syncapp.emulator.state import EmulatorState

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
ITEM_NAME_MAX = 255
STATUS_LABEL_LIMIT = 40
PAGE_LIMIT_MAX = 500
READ_ONLY_TYPES = frozenset(
    {"mirror", "formula", "item_id", "last_updated", "subtasks", "creation_log", "auto_number", "button"}
)
VALUE_TYPENAMES = {
    "text": "TextValue",
    "long_text": "LongTextValue",
    "numbers": "NumbersValue",
    "dropdown": "DropdownValue",
    "status": "StatusValue",
    "date": "DateValue",
    "mirror": "MirrorValue",
    "formula": "FormulaValue",
    "item_id": "ItemIdValue",
    "last_updated": "LastUpdatedValue",
    "subtasks": "SubtasksValue",
    "board_relation": "BoardRelationValue",
}
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


class CursorStore:
    """Pagination cursors, shared across requests; like monday's they expire after 60 minutes."""

    TTL_SECONDS = 3600
    MAX_CURSORS = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def put(self, item_ids: list[str]) -> str:
        cursor = "MSw" + secrets.token_urlsafe(24)  # opaque, like monday's
        with self._lock:
            now = time.monotonic()
            for key in [k for k, (at, _) in self._entries.items() if now - at > self.TTL_SECONDS]:
                del self._entries[key]
            while len(self._entries) >= self.MAX_CURSORS:
                del self._entries[next(iter(self._entries))]
            self._entries[cursor] = (now, item_ids)
        return cursor

    def take(self, cursor: str) -> list[str] | None:
        with self._lock:
            entry = self._entries.pop(cursor, None)
        if entry is None or time.monotonic() - entry[0] > self.TTL_SECONDS:
            return None
        return entry[1]


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
        raise api_error("ItemNameEmptyException", "Item name can't be blank")
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
    item = _item(ctx, item_id)
    if item["board_id"] != board["id"]:
        raise api_error(
            "ResourceNotFoundException",
            f"Item with id {item_id} not found on board {board['id']}",
            item_id=str(item_id),
            board_id=board["id"],
        )
    writes = validate_writes(
        ctx, board, parse_column_values(column_values), bool(kwargs.get("create_labels_if_missing"))
    )
    apply_writes(ctx, board, item, writes)
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


# --- queries ---------------------------------------------------------------------------------------


def resolve_boards(_root, info, ids=None, limit=25, page=1, state="active") -> list[dict]:
    ctx: RequestContext = info.context
    boards = [b for b in ctx.state.boards.values() if ctx.may_use(b["id"])]
    if ids is not None:
        wanted = {str(i) for i in ids}
        boards = [b for b in boards if b["id"] in wanted]
    start = max(page - 1, 0) * limit
    return boards[start : start + limit]


def resolve_items(_root, info, ids=None, limit=25, page=1, exclude_nonactive=None, newest_first=None) -> list[dict]:
    ctx: RequestContext = info.context
    candidates = [ctx.state.item(i, include_inactive=True) for i in dict.fromkeys(str(i) for i in ids or [])]
    # Deleted items are gone; archived ones stay readable unless the caller excludes them.
    items = [
        item
        for item in candidates
        if item is not None
        and item["state"] != "deleted"
        and not (exclude_nonactive and item["state"] != "active")
        and ctx.may_use(item["board_id"])
    ]
    if newest_first:
        items.reverse()
    start = max(page - 1, 0) * limit
    return items[start : start + limit]


def resolve_items_page_by_column_values(_root, info, board_id, limit=25, columns=None, cursor=None) -> dict:
    ctx: RequestContext = info.context
    if cursor:
        return _next_page(ctx, cursor, limit)
    board = _board(ctx, board_id)
    _check_limit(limit)
    filters = [(f["column_id"], {str(v) for v in f["column_values"] if v is not None}) for f in columns or []]
    for column_id, _ in filters:
        if column_id != "name" and ctx.state.column(board, column_id) is None:
            raise api_error(
                "InvalidColumnIdException",
                f"This column ID doesn't exist for the board: {column_id}",
                column_id=column_id,
            )
    matches = [item["id"] for item in ctx.state.active_items(board["id"]) if _matches(item, filters)]
    return _page(ctx, matches, limit)


def resolve_next_items_page(_root, info, cursor, limit=25) -> dict:
    return _next_page(info.context, cursor, limit)


def resolve_board_items_page(board, info, cursor=None, limit=25) -> dict:
    ctx: RequestContext = info.context
    if cursor:
        return _next_page(ctx, cursor, limit)
    _check_limit(limit)
    return _page(ctx, [item["id"] for item in ctx.state.active_items(board["id"])], limit)


def resolve_group_items_page(group, info, cursor=None, limit=25) -> dict:
    ctx: RequestContext = info.context
    if cursor:
        return _next_page(ctx, cursor, limit)
    _check_limit(limit)
    board_id = group["_board_id"]
    ids = [item["id"] for item in ctx.state.active_items(board_id) if item["group_id"] == group["id"]]
    return _page(ctx, ids, limit)


def _matches(item: dict, filters: list[tuple[str, set[str]]]) -> bool:
    for column_id, wanted in filters:
        if column_id == "name":
            texts = {item["name"]}
        else:
            stored = item["values"].get(column_id)
            text = stored["text"] if stored else ""
            texts = {text} | {part.strip() for part in text.split(",")}
        if not texts & wanted:
            return False
    return True


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= PAGE_LIMIT_MAX:
        raise api_error("InvalidArgumentException", f"limit must be between 1 and {PAGE_LIMIT_MAX}", limit=limit)


def _page(ctx: RequestContext, item_ids: list[str], limit: int) -> dict:
    page, rest = item_ids[:limit], item_ids[limit:]
    cursor = _cursors(ctx).put(rest) if rest else None
    return {"cursor": cursor, "items": [ctx.state.items[i] for i in page if ctx.state.item(i) is not None]}


def _next_page(ctx: RequestContext, cursor: str, limit: int) -> dict:
    _check_limit(limit)
    item_ids = _cursors(ctx).take(cursor)
    if item_ids is None:
        raise api_error("CursorExpiredError", "The cursor is invalid or expired (cursors live 60 minutes)")
    return _page(ctx, item_ids, limit)


def _cursors(ctx: RequestContext) -> CursorStore:
    if ctx.cursors is None:
        ctx.cursors = CursorStore()
    return ctx.cursors


def resolve_complexity(_root, info) -> dict:
    return info.context.complexity


# --- object fields -----------------------------------------------------------------------------


def board_view_columns(board, info, ids=None, types=None) -> list[dict]:
    ctx: RequestContext = info.context
    columns = [c for c in board["columns"] if (ids is None or c["id"] in ids) and (types is None or c["type"] in types)]
    return [column_view(ctx, board, c) for c in columns]


def board_groups(board, info, ids=None) -> list[dict]:
    ctx: RequestContext = info.context
    return [{**g, "_board_id": board["id"]} for g in ctx.state.active_groups(board) if ids is None or g["id"] in ids]


def column_view(ctx: RequestContext, board: dict, column: dict) -> dict:
    settings: dict = {}
    settings_str: dict = {}
    labels = ctx.state.labels(board, column["id"])
    if column["type"] == "status":
        settings = {"labels": [{**e, "index": e["id"], "is_done": False, "is_deactivated": False} for e in labels]}
        settings_str = {"labels": {str(e["id"]): e["label"] for e in labels}}
    elif column["type"] == "dropdown":
        settings = {"labels": [{**e, "is_deactivated": False} for e in labels]}
        settings_str = {"labels": [{"id": e["id"], "name": e["label"]} for e in labels]}
    elif column["type"] == "subtasks":
        sub_board = ctx.state.subitems_board_for(board)
        settings = settings_str = {"boardIds": [int(sub_board["id"])]} if sub_board else {}
    return {**column, "archived": False, "settings": settings, "settings_str": json.dumps(settings_str)}


def item_board(item, info) -> dict:
    return info.context.state.boards[item["board_id"]]


def item_group(item, info) -> dict | None:
    board = info.context.state.boards[item["board_id"]]
    group = next((g for g in board["groups"] if g["id"] == item["group_id"]), None)
    return {**group, "_board_id": board["id"]} if group else None


def item_parent(item, info) -> dict | None:
    return info.context.state.item(item["parent_id"]) if item["parent_id"] else None


def item_subitems(item, info) -> list[dict]:
    return info.context.state.active_subitems(item)


def item_url(item, info) -> str:
    return f"https://emulator.monday.local/boards/{item['board_id']}/pulses/{item['id']}"


def item_column_values(item, info, ids=None, types=None) -> list[dict]:
    ctx: RequestContext = info.context
    board = ctx.state.boards[item["board_id"]]
    views = []
    for column in board["columns"]:
        if column["type"] == "name" or (ids is not None and column["id"] not in ids):
            continue
        if types is not None and column["type"] not in types:
            continue
        views.append(_value_view(ctx, board, item, column))
    return views


def _value_view(ctx: RequestContext, board: dict, item: dict, column: dict) -> dict:
    stored = item["values"].get(column["id"])
    kind = column["type"]
    text, raw = (stored["text"], stored["value"]) if stored else (_empty_text(kind), None)
    view = {
        "__typename": VALUE_TYPENAMES.get(kind, "UnsupportedValue"),
        "_board": board,
        "_column": column,
        "id": column["id"],
        "type": kind,
        "is_leaf": not item["subitem_ids"],
        "text": text,
        "value": json.dumps(raw, ensure_ascii=False) if raw is not None else None,
    }
    if kind == "item_id":
        view.update(text=item["id"], item_id=item["id"])
    elif kind == "last_updated":
        view.update(text=item["updated_at"], updated_at=item["updated_at"])
    elif kind == "subtasks":
        subitems = ctx.state.active_subitems(item)
        names = ", ".join(s["name"] for s in subitems)
        view.update(text=names, display_value=names, subitems_ids=[s["id"] for s in subitems])
    elif kind in {"mirror", "formula", "board_relation"}:
        view.update(display_value="", linked_item_ids=[])
    elif kind == "numbers":
        view["number"] = float(stored["value"]) if stored else None
    elif kind == "status":
        view.update(index=raw["index"] if raw else None, label=text)
    elif kind == "dropdown":
        entries = {e["id"]: e["label"] for e in ctx.state.labels(board, column["id"])}
        view["values"] = [{"id": i, "label": entries.get(i, "")} for i in (raw or {}).get("ids", [])]
    elif kind == "date":
        view.update(date=(raw or {}).get("date"), time=(raw or {}).get("time"))
    return view


def _empty_text(kind: str) -> str | None:
    # monday returns "" for most empty columns and null for status, dropdown and mirror-like columns.
    return None if kind in {"status", "dropdown", "mirror", "board_relation", "formula"} else ""


def value_column(view, info) -> dict:
    return column_view(info.context, view["_board"], view["_column"])


# --- schema wiring -------------------------------------------------------------------------------

_QUERY = {
    "boards": resolve_boards,
    "items": resolve_items,
    "items_page_by_column_values": resolve_items_page_by_column_values,
    "next_items_page": resolve_next_items_page,
    "complexity": resolve_complexity,
}
_MUTATION = {
    "create_group": resolve_create_group,
    "create_item": resolve_create_item,
    "create_subitem": resolve_create_subitem,
    "change_multiple_column_values": resolve_change_multiple_column_values,
    "move_item_to_group": resolve_move_item_to_group,
    "archive_item": resolve_archive_item,
    "delete_item": resolve_delete_item,
    "delete_group": resolve_delete_group,
    "complexity": resolve_complexity,
}
_OBJECT_FIELDS = {
    "Board": {
        "columns": board_view_columns,
        "groups": board_groups,
        "items_page": resolve_board_items_page,
        "items_count": lambda board, info: sum(1 for _ in info.context.state.active_items(board["id"])),
        "url": lambda board, info: f"https://emulator.monday.local/boards/{board['id']}",
        "state": lambda board, info: "active",
    },
    "Group": {"items_page": resolve_group_items_page},
    "Item": {
        "board": item_board,
        "group": item_group,
        "parent_item": item_parent,
        "subitems": item_subitems,
        "column_values": item_column_values,
        "url": item_url,
    },
}


def build_executable_schema() -> GraphQLSchema:
    schema = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
    for name, resolver in _QUERY.items():
        schema.query_type.fields[name].resolve = resolver
    for name, resolver in _MUTATION.items():
        schema.mutation_type.fields[name].resolve = resolver
    for type_name, fields in _OBJECT_FIELDS.items():
        object_type = schema.get_type(type_name)
        for name, resolver in fields.items():
            object_type.fields[name].resolve = resolver
    for type_name in set(VALUE_TYPENAMES.values()) | {"UnsupportedValue"}:
        schema.get_type(type_name).fields["column"].resolve = value_column
    schema.get_type("ColumnValue").resolve_type = lambda view, _info, _type: view["__typename"]
    return schema
