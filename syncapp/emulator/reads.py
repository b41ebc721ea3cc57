"""Reads of the emulated monday API: the root queries and the fields of boards, groups, items,
columns and column values that the emulator models (everything else resolves to monday's "nothing",
see executable.py).

Rules taken from monday's documentation:
- `items(ids:)` at the root returns at most 100 items ("you cannot return more than 100 items per
  query when using items at the root", Items reference): a request for more ids is refused.
- Cursors live 60 minutes from the first page and can be sent again (cursors.py).
- `items_page_by_column_values` searches by whole values (a text column matches the entire value,
  not a part of it), ignoring case, and takes either `columns` (a first page) or `cursor` (a later
  page), not both.
What the documentation leaves open (error codes and wording of these refusals) is listed in the
emulator's guesses (server.py's module docstring).
"""

from __future__ import annotations

import datetime as dt
import json

from syncapp.emulator.cursors import CursorExpired, CursorStore
from syncapp.emulator.resolvers import RequestContext, _board, api_error

PAGE_LIMIT_MAX = 500
ITEMS_BY_ID_MAX = 100
EMULATOR_ACCOUNT = {"id": "1", "name": "orderops emulator", "slug": "orderops-emulator", "tier": "enterprise"}
EMULATOR_USER = {
    "id": "1",
    "name": "orderops emulator",
    "email": "emulator@orderops.invalid",
    "title": "API user",
    "url": "https://emulator.monday.local/users/1",
    "kind": "admin",
    "account_id": "1",
    "account": EMULATOR_ACCOUNT,
    "created_at": "2026-01-01T00:00:00Z",
    "status": "ACTIVE",
}


# --- root queries ----------------------------------------------------------------------------------


def resolve_boards(_root, info, ids=None, limit=None, page=None, state=None, **_args) -> list[dict]:
    ctx: RequestContext = info.context
    boards = [b for b in ctx.state.boards.values() if ctx.may_use(b["id"])]
    if ids is not None:
        wanted = {str(i) for i in ids}
        boards = [b for b in boards if b["id"] in wanted]
    limit = limit or 25
    start = max((page or 1) - 1, 0) * limit
    return boards[start : start + limit]


def resolve_items(
    _root, info, ids=None, limit=None, page=None, exclude_nonactive=None, newest_first=None, **_args
) -> list[dict]:
    ctx: RequestContext = info.context
    ids = list(ids or [])
    if len(ids) > ITEMS_BY_ID_MAX:
        raise api_error(
            "InvalidArgumentException",
            f"You can't query more than {ITEMS_BY_ID_MAX} items by id in one request; {len(ids)} ids were sent",
            ids_count=len(ids),
            limit=ITEMS_BY_ID_MAX,
        )
    candidates = [ctx.state.item(i, include_inactive=True) for i in dict.fromkeys(str(i) for i in ids)]
    # Archived and deleted items stay readable, their `state` saying which, unless the caller excludes
    # them ("exclude_nonactive: excludes items that are inactive, deleted, or belong to deleted items").
    items = [
        item
        for item in candidates
        if item is not None and not (exclude_nonactive and item["state"] != "active") and ctx.may_use(item["board_id"])
    ]
    if newest_first:
        items.reverse()
    limit = limit or 25
    start = max((page or 1) - 1, 0) * limit
    return items[start : start + limit]


def resolve_items_page_by_column_values(_root, info, board_id, limit=25, columns=None, cursor=None, **_args) -> dict:
    ctx: RequestContext = info.context
    if cursor and columns:
        raise api_error(
            "InvalidArgumentException",
            "items_page_by_column_values takes either columns (the first page) or cursor (the next pages), not both",
        )
    if cursor:
        return _next_page(ctx, cursor, limit)
    board = _board(ctx, board_id)
    _check_limit(limit)
    filters: list[tuple[dict | None, set[str]]] = []
    for wanted in columns or []:
        column_id = wanted["column_id"]
        column = None if column_id == "name" else ctx.state.column(board, column_id)
        if column_id != "name" and column is None:
            raise api_error(
                "InvalidColumnIdException",
                f"This column ID doesn't exist for the board: {column_id}",
                column_id=column_id,
            )
        filters.append((column, {str(v).casefold() for v in wanted["column_values"] if v is not None}))
    matches = [item["id"] for item in ctx.state.active_items(board["id"]) if _matches(item, filters)]
    return _first_page(ctx, matches, limit)


def resolve_next_items_page(_root, info, cursor, limit=25) -> dict:
    return _next_page(info.context, cursor, limit)


def resolve_complexity(_root, info) -> dict:
    return info.context.complexity


def resolve_me(_root, info) -> dict:
    return EMULATOR_USER


def resolve_account(_root, info) -> dict:
    return EMULATOR_ACCOUNT


def resolve_users(_root, info, ids=None, **_args) -> list[dict]:
    return [EMULATOR_USER] if ids is None or EMULATOR_USER["id"] in {str(i) for i in ids} else []


def _matches(item: dict, filters: list[tuple[dict | None, set[str]]]) -> bool:
    for column, wanted in filters:
        if column is None:
            texts = {item["name"]}
        else:
            stored = item["values"].get(column["id"])
            text = stored["text"] if stored else ""
            # A dropdown holds several labels; each is one whole value. Other columns hold one value.
            texts = {part.strip() for part in text.split(",")} if column["type"] == "dropdown" else {text}
        if not {text.casefold() for text in texts} & wanted:
            return False
    return True


# --- items_page on boards and groups -----------------------------------------------------------------


def resolve_board_items_page(board, info, cursor=None, limit=25, query_params=None, **_args) -> dict:
    ctx: RequestContext = info.context
    if cursor:
        return _next_page(ctx, cursor, limit)
    _check_limit(limit)
    items = _filtered(ctx, board, list(ctx.state.active_items(board["id"])), query_params)
    return _first_page(ctx, [item["id"] for item in items], limit)


def resolve_group_items_page(group, info, cursor=None, limit=25, query_params=None, **_args) -> dict:
    ctx: RequestContext = info.context
    if cursor:
        return _next_page(ctx, cursor, limit)
    _check_limit(limit)
    board = ctx.state.boards[group["_board_id"]]
    items = [item for item in ctx.state.active_items(board["id"]) if item["group_id"] == group["id"]]
    items = _filtered(ctx, board, items, query_params)
    return _first_page(ctx, [item["id"] for item in items], limit)


_RULE_TESTS = {
    "any_of": lambda text, values: text.casefold() in values,
    "not_any_of": lambda text, values: text.casefold() not in values,
    "is_empty": lambda text, values: text == "",
    "is_not_empty": lambda text, values: text != "",
    "contains_text": lambda text, values: any(v in text.casefold() for v in values),
    "not_contains_text": lambda text, values: not any(v in text.casefold() for v in values),
    "starts_with": lambda text, values: any(text.casefold().startswith(v) for v in values),
    "ends_with": lambda text, values: any(text.casefold().endswith(v) for v in values),
}


def _filtered(ctx: RequestContext, board: dict, items: list[dict], query_params: dict | None) -> list[dict]:
    """`query_params` of items_page: ids, groups and text rules (any_of, contains_text, ...)."""
    if not query_params:
        return items
    if query_params.get("ids"):
        wanted_ids = {str(i) for i in query_params["ids"]}
        items = [item for item in items if item["id"] in wanted_ids]
    groups = [g for g in query_params.get("groups") or [] if g.get("group_id")]
    rules = query_params.get("rules") or []
    checks = []
    for rule in rules:
        operator = rule.get("operator") or "any_of"
        test = _RULE_TESTS.get(operator)
        if test is None:
            raise api_error(
                "InvalidArgumentException",
                f"The emulator does not model the items_page rule operator {operator}",
                operator=operator,
            )
        values = rule.get("compare_value")
        values = values if isinstance(values, list) else [values]
        checks.append((rule["column_id"], test, {str(v).casefold() for v in values if v is not None}))
    group_ids = {g["group_id"] for g in groups}
    combine = all if (query_params.get("operator") or "and") == "and" else any

    def keep(item: dict) -> bool:
        if group_ids and item["group_id"] not in group_ids:
            return False
        results = [test(_rule_text(item, column_id), values) for column_id, test, values in checks]
        return combine(results) if results else True

    return [item for item in items if keep(item)]


def _rule_text(item: dict, column_id: str) -> str:
    if column_id == "name":
        return item["name"]
    stored = item["values"].get(column_id)
    return stored["text"] if stored else ""


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= PAGE_LIMIT_MAX:
        raise api_error("InvalidArgumentException", f"limit must be between 1 and {PAGE_LIMIT_MAX}", limit=limit)


def _first_page(ctx: RequestContext, item_ids: list[str], limit: int) -> dict:
    page, cursor = _cursors(ctx).first_page(item_ids, limit)
    return {"cursor": cursor, "items": _active(ctx, page)}


def _next_page(ctx: RequestContext, cursor: str, limit: int) -> dict:
    _check_limit(limit)
    try:
        page, next_cursor = _cursors(ctx).next_page(cursor, limit)
    except CursorExpired as exc:
        reason = (
            "The cursor has expired: a cursor is valid for 60 minutes after the first page was requested"
            if exc.known
            else "The cursor is invalid: it was not issued by this API or is malformed"
        )
        raise api_error("CursorExpiredError", reason) from None
    return {"cursor": next_cursor, "items": _active(ctx, page)}


def _active(ctx: RequestContext, item_ids: list[str]) -> list[dict]:
    # Items deleted or archived since the first page are left out of later pages.
    return [ctx.state.items[i] for i in item_ids if ctx.state.item(i) is not None]


def _cursors(ctx: RequestContext) -> CursorStore:
    if ctx.cursors is None:
        ctx.cursors = CursorStore()
    return ctx.cursors


# --- boards, groups, columns -----------------------------------------------------------------------


def board_columns(board, info, ids=None, types=None, **_args) -> list[dict]:
    ctx: RequestContext = info.context
    columns = [c for c in board["columns"] if (ids is None or c["id"] in ids) and (types is None or c["type"] in types)]
    return [column_view(ctx, board, c) for c in columns]


def board_groups(board, info, ids=None) -> list[dict]:
    ctx: RequestContext = info.context
    return [{**g, "_board_id": board["id"]} for g in ctx.state.active_groups(board) if ids is None or g["id"] in ids]


def board_top_group(board, info) -> dict:
    ctx: RequestContext = info.context
    groups = ctx.state.active_groups(board) or board["groups"]
    return {**groups[0], "_board_id": board["id"]}


def board_updated_at(board, info) -> str | None:
    ctx: RequestContext = info.context
    return max((item["updated_at"] for item in ctx.state.board_item_list(board["id"])), default=None)


def board_activity_logs(
    board, info, item_ids=None, column_ids=None, group_ids=None, user_ids=None, limit=25, page=1, **args
) -> list[dict]:
    """The board's activity log, newest first, filtered and paged as monday documents it (limit
    default 25, page from 1); `from`/`to` are ISO 8601 timestamps."""
    entries = list(reversed(board.get("activity") or []))
    start_at, end_at = _instant(args.get("from")), _instant(args.get("to"))
    wanted_items = {str(i) for i in item_ids} if item_ids else None
    wanted_columns = set(column_ids) if column_ids else None
    wanted_users = {str(u) for u in user_ids} if user_ids else None
    wanted_groups = set(group_ids) if group_ids else None
    kept = [
        e
        for e in entries
        if (wanted_items is None or e["item_id"] in wanted_items)
        and (wanted_columns is None or e["column_id"] in wanted_columns)
        and (wanted_users is None or e["user_id"] in wanted_users)
        and (wanted_groups is None or json.loads(e["data"]).get("group_id") in wanted_groups)
        and (start_at is None or _instant(e["at"]) >= start_at)
        and (end_at is None or _instant(e["at"]) <= end_at)
    ]
    limit = limit or 25
    first = max((page or 1) - 1, 0) * limit
    return kept[first : first + limit]


def _instant(text: object) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise api_error("InvalidArgumentException", f"{text!r} is not an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


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


# --- items and column values -----------------------------------------------------------------------


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


def item_column_values(item, info, ids=None, types=None, **_args) -> list[dict]:
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


def value_typename(kind: str) -> str:
    """monday's implementation of ColumnValue for a column type: long_text -> LongTextValue.

    The schema builder falls back to UnsupportedValue where monday has no such type.
    """
    return "".join(part.capitalize() for part in kind.split("_")) + "Value"


def _value_view(ctx: RequestContext, board: dict, item: dict, column: dict) -> dict:
    stored = item["values"].get(column["id"])
    kind = column["type"]
    text, raw = (stored["text"], stored["value"]) if stored else (_empty_text(kind), None)
    view = {
        "__typename": value_typename(kind),
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
        view.update(text=names, display_value=names, subitems_ids=[s["id"] for s in subitems], subitems=subitems)
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


# --- wiring: (type, field) -> resolver, read by executable.py ---------------------------------------

QUERY_FIELDS = {
    "boards": resolve_boards,
    "items": resolve_items,
    "items_page_by_column_values": resolve_items_page_by_column_values,
    "next_items_page": resolve_next_items_page,
    "complexity": resolve_complexity,
    "me": resolve_me,
    "account": resolve_account,
    "users": resolve_users,
}
OBJECT_FIELDS = {
    "Board": {
        "columns": board_columns,
        "groups": board_groups,
        "items_page": resolve_board_items_page,
        "activity_logs": board_activity_logs,
        "items_count": lambda board, info: sum(1 for _ in info.context.state.active_items(board["id"])),
        "url": lambda board, info: f"https://emulator.monday.local/boards/{board['id']}",
        "state": lambda board, info: "active",
        "board_kind": lambda board, info: "public",
        "permissions": lambda board, info: "everyone",
        "access_level": lambda board, info: "edit",
        "type": lambda board, info: "sub_items_board" if board["kind"] == "subitems" else "board",
        "top_group": board_top_group,
        "updated_at": board_updated_at,
        "creator": lambda board, info: EMULATOR_USER,
        "owner": lambda board, info: EMULATOR_USER,
        "owners": lambda board, info: [EMULATOR_USER],
    },
    "Group": {"items_page": resolve_group_items_page},
    "Item": {
        "board": item_board,
        "group": item_group,
        "parent_item": item_parent,
        "subitems": item_subitems,
        "column_values": item_column_values,
        "url": item_url,
        "creator": lambda item, info: EMULATOR_USER,
        "creator_id": lambda item, info: EMULATOR_USER["id"],
        "relative_link": lambda item, info: f"/boards/{item['board_id']}/pulses/{item['id']}",
    },
}
