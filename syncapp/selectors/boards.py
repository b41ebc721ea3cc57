"""Check an environment's boards on monday against the sync configuration's column mapping."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from syncapp.monday.client import BoardInfo, MondayClient
from syncapp.monday.errors import MondayError
from syncapp.sync_config import EnvironmentConfig, get_sync_config

# A person is waiting on the page: fail fast instead of the sync's minute-long retry budget.
CHECK_RETRIES = 1
CHECK_MAX_WAIT_SECONDS = 2.0
CHECK_CONNECT_TIMEOUT = 3.0
CHECK_READ_TIMEOUT = 15.0


@dataclass
class ColumnCheck:
    board_id: int
    mapped_as: str  # the order column, or "size"/"qty" on the subitems board
    column_id: str
    expected_title: str
    expected_type: str
    found_title: str = ""
    found_type: str = ""

    @property
    def missing(self) -> bool:
        return not self.found_type

    @property
    def type_mismatch(self) -> bool:
        return bool(self.found_type) and self.found_type != self.expected_type

    @property
    def title_changed(self) -> bool:
        return bool(self.found_type) and self.found_title != self.expected_title

    @property
    def ok(self) -> bool:
        return not (self.missing or self.type_mismatch)


@dataclass
class BoardCheck:
    environment: str
    label: str
    error: str = ""
    items_board_name: str = ""
    subitems_board_name: str = ""
    expected_items_board_name: str = ""
    columns: list[ColumnCheck] = field(default_factory=list)

    @property
    def problems(self) -> list[ColumnCheck]:
        return [c for c in self.columns if not c.ok]

    @property
    def renamed(self) -> list[ColumnCheck]:
        return [c for c in self.columns if c.ok and c.title_changed]

    @property
    def ok(self) -> bool:
        return not self.error and not self.problems


def check_client(env: EnvironmentConfig) -> MondayClient:
    sync = get_sync_config().sync
    return MondayClient(
        api_url=settings.MONDAY_API_URL,
        token=env.token,
        environment=env.name,
        batch_size=sync.items_per_request,
        max_retries=CHECK_RETRIES,
        max_wait_seconds=CHECK_MAX_WAIT_SECONDS,
        connect_timeout=CHECK_CONNECT_TIMEOUT,
        read_timeout=CHECK_READ_TIMEOUT,
        throttle_below_fraction=sync.throttle_below_fraction,
    )


def board_check(name: str, *, client: MondayClient | None = None) -> BoardCheck:
    """Fetch the environment's items and subitems boards and compare their columns with the mapping."""
    env = get_sync_config().environment(name)
    result = BoardCheck(environment=env.name, label=env.label, expected_items_board_name=env.items_board.name)
    own_client = client is None
    client = client or check_client(env)
    try:
        items = client.get_board(env.items_board_id)
        subitems = client.get_board(env.subitems_board_id)
    except MondayError as error:
        result.error = str(error)
        return result
    finally:
        if own_client:
            client.close()
    result.items_board_name, result.subitems_board_name = items.name, subitems.name
    for order_column, column_id in sorted(env.item_columns.items()):
        expected = env.items_board.columns[column_id]
        result.columns.append(_compare(items, order_column, column_id, expected.title, expected.type))
    for mapped_as, column_id in (("size", env.size_column_id), ("qty", env.qty_column_id)):
        expected = env.subitems_board.columns[column_id]
        result.columns.append(_compare(subitems, mapped_as, column_id, expected.title, expected.type))
    return result


def _compare(board: BoardInfo, mapped_as: str, column_id: str, title: str, column_type: str) -> ColumnCheck:
    check = ColumnCheck(board.id, mapped_as, column_id, title, column_type)
    found = board.columns.get(column_id)
    if found is not None:
        check.found_title, check.found_type = found.title, found.type
    return check
