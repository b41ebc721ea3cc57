"""Reading a whole board for a reconcile: its groups and every active item with the mapped column
values and its size subitems, page by page; then the two bounded look-ups a reconcile makes about
what it did not find or found changed.

The read goes through the run's monday client (`monday/factory.monday_client`), so every request is
in the API log with its complexity, the retries and waits are the client's, and the proactive
throttle sleeps until the complexity budget resets when the remaining budget falls below
`throttle_below_fraction`, or below what the last page cost, instead of running into 429s.

Cost. monday charges a read by what it may return. A page asks for PAGE_LIMIT items (500, the
largest page `items_page` and `next_items_page` allow) with only the columns a reconcile compares:
`column_values(ids: [...])` on the item (the mapped columns) and on its subitems (size and qty), no
updates, assets or other columns. A 7,000-item board is 14 page requests. The emulator charges such a
page by all it may return (emulator/limits.py): 500 items, their 43 mapped values and their subitems
cost about 1,235,000, a quarter of the 5,000,000 cap on one document. The cursor of a read lives
60 minutes from its first page; a read whose cursor expired (a long wait for the budget) starts
over once from the first page.

Items are returned in the client's item shape (`monday/responses.item`): id, name, state, group_id,
board_id, column_values {column id: {"text", "value"}} and subitems in the same shape.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from syncapp.monday import responses
from syncapp.monday.client import MondayClient
from syncapp.monday.documents import COMPLEXITY_SELECTION
from syncapp.monday.errors import MondayRequestError
from syncapp.sync_config import EnvironmentConfig

# monday's largest page for items_page / next_items_page.
PAGE_LIMIT = 500
# items(ids:) answers at most 100 ids.
ITEMS_PER_LOOKUP = 100
# Activity log look-ups: items per request, entries per page, pages per chunk at most.
ACTIVITY_ITEMS_PER_REQUEST = 25
ACTIVITY_PAGE_LIMIT = 100
ACTIVITY_MAX_PAGES = 3

_ITEM_FRAGMENT = """
fragment OrderopsReadItem on Item {
  id
  name
  state
  group { id }
  board { id }
  column_values(ids: $columns) { id text value }
  subitems {
    id
    name
    state
    column_values(ids: $sub_columns) { id text value }
  }
}
"""

BOARD_READ_QUERY = f"""query OrderopsBoardRead(
  $board_ids: [ID!], $limit: Int!, $columns: [String!], $sub_columns: [String!]
) {{
  boards(ids: $board_ids) {{
    id
    groups {{ id title }}
    items_page(limit: $limit) {{ cursor items {{ ...OrderopsReadItem }} }}
  }}
  {COMPLEXITY_SELECTION}
}}
{_ITEM_FRAGMENT}"""

BOARD_READ_NEXT_QUERY = f"""query OrderopsBoardReadNext(
  $cursor: String!, $limit: Int!, $columns: [String!], $sub_columns: [String!]
) {{
  next_items_page(cursor: $cursor, limit: $limit) {{ cursor items {{ ...OrderopsReadItem }} }}
  {COMPLEXITY_SELECTION}
}}
{_ITEM_FRAGMENT}"""

# Without exclude_nonactive: archived and deleted items answer too, their `state` saying which.
ITEMS_STATE_QUERY = f"""query OrderopsReadItems(
  $item_ids: [ID!], $limit: Int, $columns: [String!], $sub_columns: [String!]
) {{
  items(ids: $item_ids, limit: $limit) {{ ...OrderopsReadItem }}
  {COMPLEXITY_SELECTION}
}}
{_ITEM_FRAGMENT}"""

ACTIVITY_QUERY = f"""query OrderopsActivity(
  $board_ids: [ID!], $item_ids: [ID!], $column_ids: [String], $limit: Int, $page: Int
) {{
  boards(ids: $board_ids) {{
    activity_logs(item_ids: $item_ids, column_ids: $column_ids, limit: $limit, page: $page) {{
      id event data user_id created_at
    }}
  }}
  {COMPLEXITY_SELECTION}
}}"""

USERS_QUERY = f"""query OrderopsUsers($ids: [ID!]) {{
  users(ids: $ids) {{ id name }}
  {COMPLEXITY_SELECTION}
}}"""


@dataclass
class BoardRead:
    """A whole board as one read saw it."""

    groups: dict[str, str] = field(default_factory=dict)  # group id -> title
    items: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class ColumnChange:
    """Who last changed a column of an item on monday, and when, as its activity log says."""

    user_id: str
    user_name: str
    at: dt.datetime | None


class BoardReader:
    """Reads one environment's items board through `client`; `step` receives progress notes."""

    def __init__(
        self,
        client: MondayClient,
        env: EnvironmentConfig,
        *,
        page_limit: int = PAGE_LIMIT,
        step: Callable[[str], None] | None = None,
    ):
        self.client = client
        self.env = env
        self.page_limit = page_limit
        self.step = step or (lambda _text: None)
        self.columns = sorted(set(env.item_columns.values()))
        self.sub_columns = sorted({env.size_column_id, env.qty_column_id})

    def read(self) -> BoardRead:
        """Every active item of the board (archived and deleted ones are not in items_page)."""
        try:
            return self._read()
        except MondayRequestError as error:
            if error.code != "CursorExpiredError":
                raise
            self.step("the board read took longer than monday keeps a cursor; reading it again from the start")
            return self._read()

    def _read(self) -> BoardRead:
        variables = {
            "board_ids": [str(self.env.items_board_id)],
            "limit": self.page_limit,
            "columns": self.columns,
            "sub_columns": self.sub_columns,
        }
        body = self.client.read(BOARD_READ_QUERY, variables, operation="read_board")
        boards = (body.get("data") or {}).get("boards") or []
        if not boards:
            raise MondayRequestError(
                f"Board {self.env.items_board_id} was not found with the {self.env.name} token; check the board id "
                f"in the sync configuration and that {self.env.token_setting}'s user can open the board.",
                code="InvalidBoardIdException",
            )
        board = boards[0]
        result = BoardRead(groups={g["id"]: g.get("title", "") for g in board.get("groups") or [] if g})
        for page in self._pages(board.get("items_page") or {}):
            result.items.extend(responses.item(raw) for raw in page if raw)
            self.step(f"reading the board: {len(result.items)} items so far")
        return result

    def _pages(self, first: dict) -> Iterator[list[dict]]:
        page = first
        while True:
            yield page.get("items") or []
            cursor = page.get("cursor")
            if not cursor:
                return
            variables = {
                "cursor": cursor,
                "limit": self.page_limit,
                "columns": self.columns,
                "sub_columns": self.sub_columns,
            }
            body = self.client.read(BOARD_READ_NEXT_QUERY, variables, operation="read_board_next_page")
            page = (body.get("data") or {}).get("next_items_page") or {}

    def items_by_id(self, item_ids: list[int]) -> dict[int, dict]:
        """The items monday still knows by id, active or not (`state`: active, archived, deleted);
        an id monday no longer answers for is absent."""
        found: dict[int, dict] = {}
        wanted = list(dict.fromkeys(int(i) for i in item_ids))
        for start in range(0, len(wanted), ITEMS_PER_LOOKUP):
            chunk = wanted[start : start + ITEMS_PER_LOOKUP]
            variables = {
                "item_ids": [str(i) for i in chunk],
                "limit": len(chunk),
                "columns": self.columns,
                "sub_columns": self.sub_columns,
            }
            body = self.client.read(ITEMS_STATE_QUERY, variables, operation="read_items_state")
            for raw in (body.get("data") or {}).get("items") or []:
                if raw:
                    found[int(raw["id"])] = responses.item(raw)
        return found

    def column_changes(self, pairs: set[tuple[int, str]]) -> dict[tuple[int, str], ColumnChange]:
        """Who last changed each (item id, column id) on the board, from its activity log: bounded to
        ACTIVITY_ITEMS_PER_REQUEST items per request and ACTIVITY_MAX_PAGES pages per chunk."""
        found: dict[tuple[int, str], tuple[str, dt.datetime | None]] = {}
        items = sorted({item_id for item_id, _ in pairs})
        for start in range(0, len(items), ACTIVITY_ITEMS_PER_REQUEST):
            chunk = items[start : start + ACTIVITY_ITEMS_PER_REQUEST]
            wanted = {p for p in pairs if p[0] in chunk}
            columns = sorted({column for _, column in wanted})
            for page in range(1, ACTIVITY_MAX_PAGES + 1):
                variables = {
                    "board_ids": [str(self.env.items_board_id)],
                    "item_ids": [str(i) for i in chunk],
                    "column_ids": columns,
                    "limit": ACTIVITY_PAGE_LIMIT,
                    "page": page,
                }
                body = self.client.read(ACTIVITY_QUERY, variables, operation="read_activity_logs")
                boards = (body.get("data") or {}).get("boards") or [{}]
                entries = (boards[0] or {}).get("activity_logs") or []
                for entry in entries:  # newest first: the first entry per pair is the last change
                    key = _change_key(entry)
                    if key in wanted and key not in found:
                        found[key] = (str(entry.get("user_id") or ""), activity_time(entry.get("created_at")))
                if len(entries) < ACTIVITY_PAGE_LIMIT or wanted <= set(found):
                    break
        names = self._user_names({user for user, _ in found.values() if user})
        return {key: ColumnChange(user, names.get(user, ""), at) for key, (user, at) in found.items()}

    def _user_names(self, user_ids: set[str]) -> dict[str, str]:
        if not user_ids:
            return {}
        body = self.client.read(USERS_QUERY, {"ids": sorted(user_ids)}, operation="read_users")
        return {str(u["id"]): str(u.get("name") or "") for u in (body.get("data") or {}).get("users") or [] if u}


def _change_key(entry: dict) -> tuple[int, str] | None:
    if entry.get("event") != "update_column_value":
        return None
    data = responses.parse_json(entry.get("data"))
    if not isinstance(data, dict):
        return None
    try:
        return int(data.get("pulse_id")), str(data.get("column_id") or "")
    except (TypeError, ValueError):
        return None


def activity_time(value: object) -> dt.datetime | None:
    """An activity log's created_at: monday sends a 17-digit string of 100-nanosecond units since the
    Unix epoch; an ISO 8601 timestamp is read too."""
    text = str(value or "").strip()
    if text.isdigit():
        return dt.datetime.fromtimestamp(int(text) / 10_000_000, tz=dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def sample_documents() -> list[tuple[str, str, dict[str, object]]]:
    """The read documents with plausible variables, for the schema contract (tests validate them)."""
    columns = {"columns": ["text_mkr5wya6"], "sub_columns": ["numeric_mkra7j8e"]}
    return [
        ("board read", BOARD_READ_QUERY, {"board_ids": ["9609317401"], "limit": PAGE_LIMIT, **columns}),
        ("board read next page", BOARD_READ_NEXT_QUERY, {"cursor": "opaque", "limit": PAGE_LIMIT, **columns}),
        ("items state", ITEMS_STATE_QUERY, {"item_ids": ["1"], "limit": 1, **columns}),
        (
            "activity logs",
            ACTIVITY_QUERY,
            {"board_ids": ["9609317401"], "item_ids": ["1"], "column_ids": ["text_mkr5wya6"], "limit": 100, "page": 1},
        ),
        ("users", USERS_QUERY, {"ids": ["1"]}),
    ]


def value_json(value: object) -> str:
    """A column value read from the board, as stored text for a finding (JSON for objects)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
