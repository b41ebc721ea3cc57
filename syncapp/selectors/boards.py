"""Check an environment's boards on monday against the sync configuration's column mapping.

The Environments page and the preflight both use `board_check`: one client profile ("check": a
person is waiting, so one retry and short waits; every call logged to ORDER_LIST_API_LOG) and one
comparison (syncapp/monday/board_compare.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncapp.monday.board_compare import BoardComparison, ColumnCheck, board_compare
from syncapp.monday.client import MondayClient
from syncapp.monday.errors import MondayError
from syncapp.monday.factory import monday_client
from syncapp.sync_config import get_sync_config


@dataclass
class BoardCheck:
    environment: str
    label: str
    error: str = ""
    items_board_id: int | None = None  # as monday answered
    subitems_board_id: int | None = None
    items_board_name: str = ""
    subitems_board_name: str = ""
    expected_items_board_name: str = ""
    comparison: BoardComparison = field(default_factory=BoardComparison)

    @property
    def columns(self) -> list[ColumnCheck]:
        return self.comparison.columns

    @property
    def problems(self) -> list[ColumnCheck]:
        return self.comparison.column_problems

    @property
    def renamed(self) -> list[ColumnCheck]:
        return self.comparison.renamed

    @property
    def ok(self) -> bool:
        return not self.error and not self.problems


def board_check(name: str, *, client: MondayClient | None = None) -> BoardCheck:
    """Fetch the environment's items and subitems boards and compare their columns with the mapping.
    ConfigError when the environment cannot be read from the configuration; a monday error is kept
    in `error`."""
    env = get_sync_config().environment(name)
    result = BoardCheck(environment=env.name, label=env.label, expected_items_board_name=env.items_board.name)
    own_client = client is None
    client = client or monday_client(env, profile="check")
    try:
        items = client.get_board(env.items_board_id)
        subitems = client.get_board(env.subitems_board_id)
    except MondayError as error:
        result.error = str(error)
        return result
    finally:
        if own_client:
            client.close()
    result.items_board_id, result.subitems_board_id = items.id, subitems.id
    result.items_board_name, result.subitems_board_name = items.name, subitems.name
    result.comparison = board_compare(env, items, subitems)
    return result
