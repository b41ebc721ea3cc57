"""The one comparison of an environment's live boards with its column mapping.

Pure: given the environment's configuration (the mapping and the board files it was exported from)
and the two boards monday returned, say for each mapped column what was expected and what was found,
and list the problems in words. Fetching the boards is the caller's business (selectors/boards.py);
the Environments page and the preflight both show this comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncapp.monday.types import BoardInfo
from syncapp.sync_config import EnvironmentConfig


@dataclass
class ColumnCheck:
    board_id: int
    mapped_as: str  # the order column, or "size"/"qty" on the subitems board
    column_id: str
    expected_title: str
    expected_type: str
    found_title: str = ""
    found_type: str = ""
    on_subitems: bool = False

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

    @property
    def problem(self) -> str:
        """What is wrong with the column, in words ("" when it is fine)."""
        if self.ok:
            return ""
        if self.on_subitems:
            found = "missing" if self.missing else f"a {self.found_type} column"
            return f"the subitem {self.mapped_as} column {self.column_id} is {found}, expected {self.expected_type}"
        if self.missing:
            return f"{self.expected_title} ({self.column_id}, for {self.mapped_as!r}) is not on the board"
        return (
            f"{self.expected_title} ({self.column_id}) is a {self.found_type} column on the board, "
            f"not {self.expected_type}"
        )


@dataclass
class BoardComparison:
    columns: list[ColumnCheck] = field(default_factory=list)
    # The items board keeps its subitems on another board than the configured one ("" when they agree).
    subitems_board_mismatch: str = ""

    @property
    def column_problems(self) -> list[ColumnCheck]:
        return [c for c in self.columns if not c.ok]

    @property
    def renamed(self) -> list[ColumnCheck]:
        return [c for c in self.columns if c.ok and c.title_changed]

    @property
    def problems(self) -> list[str]:
        """Every problem in words: the columns first, then the subitems board."""
        found = [c.problem for c in self.column_problems]
        return [*found, self.subitems_board_mismatch] if self.subitems_board_mismatch else found


def board_compare(env: EnvironmentConfig, items: BoardInfo, subitems: BoardInfo) -> BoardComparison:
    """Compare the live items and subitems boards with the environment's mapping."""
    comparison = BoardComparison()
    for order_column, column_id in sorted(env.item_columns.items()):
        expected = env.items_board.columns[column_id]
        comparison.columns.append(_column(items, order_column, column_id, expected.title, expected.type, False))
    for mapped_as, column_id in (("size", env.size_column_id), ("qty", env.qty_column_id)):
        expected = env.subitems_board.columns[column_id]
        comparison.columns.append(_column(subitems, mapped_as, column_id, expected.title, expected.type, True))
    if items.subitems_board_id is not None and items.subitems_board_id != env.subitems_board_id:
        comparison.subitems_board_mismatch = (
            f"the board's subitems live on board {items.subitems_board_id}, not {env.subitems_board_id} as configured"
        )
    return comparison


def _column(
    board: BoardInfo, mapped_as: str, column_id: str, title: str, column_type: str, on_subitems: bool
) -> ColumnCheck:
    check = ColumnCheck(board.id, mapped_as, column_id, title, column_type, on_subitems=on_subitems)
    found = board.columns.get(column_id)
    if found is not None:
        check.found_title, check.found_type = found.title, found.type
    return check
