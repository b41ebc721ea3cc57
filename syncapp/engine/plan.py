"""What a sync will do with each order line, decided before anything is sent.

The same plan drives a real run and the dry-run preview, so what ops review is what is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from syncapp.domain.sizes import size_sort_key
from syncapp.engine.rows import OrderRow
from syncapp.monday.column_values import (
    LABEL_TYPES,
    format_column_value,
    group_name_problem,
    item_name,
    labels_in,
    limit_problem,
)
from syncapp.order_tables import declared_size_columns
from syncapp.sync_config import EnvironmentConfig, SyncConfig

CREATE, UPDATE, CANCEL, SKIP, FAIL = "create", "update", "cancel", "skip", "fail"


@dataclass
class SizePlan:
    size_code: str
    qty: int
    subitem_id: int | None = None  # known subitem on this environment's board
    previous_qty: int | None = None

    @property
    def needs_write(self) -> bool:
        if self.subitem_id is None:
            return self.qty > 0
        return self.previous_qty != self.qty


@dataclass
class RowPlan:
    row: OrderRow
    action: str
    message: str = ""
    group_name: str = ""
    item_name: str = ""
    column_values: dict[str, object] = field(default_factory=dict)  # strict: sent without label creation
    new_label_values: dict[str, object] = field(default_factory=dict)  # may create labels, sent on their own
    item_id: int | None = None
    current_group_id: str = ""
    sizes: list[SizePlan] = field(default_factory=list)
    # Labels this row sends that the board's column lacks and the policy does not create: monday
    # will refuse the row. Known before anything is sent, so the preview says so (the run still
    # sends it: a label added in monday meanwhile makes it pass).
    missing_labels: list[str] = field(default_factory=list)
    # Why the row's group is not named from CUSTOMER SEASON (empty when it is).
    group_note: str = ""

    @property
    def record_uuid(self) -> str:
        return self.row.record_uuid

    def as_preview(self, column_titles: dict[str, str]) -> dict:
        values = {**self.column_values, **self.new_label_values}
        action, message = self.action, self.message
        if self.missing_labels and action in (CREATE, UPDATE, CANCEL):
            action, message = FAIL, "; ".join(self.missing_labels)
        return {
            "record_uuid": self.record_uuid,
            "aag_order_number": self.row.aag_order_number,
            "customer": self.row.customer_name,
            "po": self.row.po_number,
            "action": action,
            "planned_action": self.action,
            "message": message,
            "group": self.group_name,
            "group_note": self.group_note,
            "item_name": self.item_name,
            "item_id": self.item_id,
            "columns": {column_titles.get(k, k): v for k, v in values.items()},
            "new_labels": sorted(column_titles.get(k, k) for k in self.new_label_values),
            "sizes": [
                {"size": s.size_code, "qty": s.qty, "subitem_id": s.subitem_id, "write": s.needs_write}
                for s in self.sizes
            ],
        }


class Planner:
    """Plans rows for one environment, given the board's known labels."""

    def __init__(self, config: SyncConfig, env: EnvironmentConfig, known_labels: dict[str, set[str]]):
        self.config = config
        self.env = env
        self.known_labels = known_labels  # column id -> labels on the board

    def group_name(self, row: OrderRow) -> str | None:
        naming = self.config.naming
        parts = [str(row.values.get(c) or "").strip() for c in naming.group_columns]
        if len(parts) > 1 and not parts[-1] and naming.group_fallback_column:
            parts[-1] = str(row.values.get(naming.group_fallback_column) or "").strip()
        if not all(parts):
            return None
        return " ".join(parts)

    def item_name(self, row: OrderRow) -> str:
        naming = self.config.naming
        parts = [str(row.values.get(c) or "").strip() for c in naming.item_name_columns]
        return item_name(naming.item_name_separator.join(p for p in parts if p))

    def column_values(self, row: OrderRow, *, cancel: bool) -> tuple[dict, dict, str]:
        """(strict values, values that need new labels, error message)."""
        strict: dict[str, object] = {}
        creating: dict[str, object] = {}
        for order_column, column_id in self.env.item_columns.items():
            column_type = self.env.column_type(order_column)
            value = row.values.get(order_column)
            if cancel and order_column == "ORDER TYPE":
                value = "CANCELLED"
            try:
                formatted = format_column_value(column_type, value)
            except ValueError as error:
                return {}, {}, f"{order_column}: {error}"
            # monday's limits are checked here, so an over-long value fails its own row before anything
            # is sent instead of an error inside a batch (see column_values.limit_problem).
            problem = limit_problem(column_type, formatted, known_labels=self.known_labels.get(column_id, ()))
            if problem:
                return {}, {}, f"{order_column} ({column_id}): {problem}."
            if (
                column_type in LABEL_TYPES
                and self.config.create_labels.get(order_column)
                and self._new_labels(column_id, formatted)
            ):
                creating[column_id] = formatted
            else:
                strict[column_id] = formatted
        return strict, creating, ""

    def _new_labels(self, column_id: str, formatted: object) -> bool:
        return bool(self._missing(column_id, formatted))

    def _missing(self, column_id: str, formatted: object) -> list[str]:
        known = self.known_labels.get(column_id, set())
        column_type = self.env.items_board.columns[column_id].type
        return [label for label in labels_in(column_type, formatted) if label not in known]

    def missing_labels(self, strict: dict[str, object]) -> list[str]:
        """Why monday will refuse the strict values: each label the board's column lacks, worded as
        monday words it (so selectors/error_causes groups a preview and a run alike) and the policy."""
        problems = []
        for column_id, formatted in strict.items():
            column = self.env.items_board.columns[column_id]
            if column.type not in LABEL_TYPES:
                continue
            for label in self._missing(column_id, formatted):
                kind = "dropdown label" if column.type == "dropdown" else "status label"
                what = (
                    f"The {kind} '{label}' does not exist in column '{column.title}' ({column_id})"
                    if column.type == "dropdown"
                    else f"This status label doesn't exist: '{label}' in column '{column.title}' ({column_id})"
                )
                problems.append(
                    f"{what} on board {self.env.items_board_id}, and the label policy does not create "
                    f"{kind}s in this column: monday will refuse this row"
                )
        return problems

    def plan(
        self, row: OrderRow, *, item_id: int | None, group_id: str, subitems: dict[str, tuple[int, int | None]]
    ) -> RowPlan:
        """`subitems`: size code -> (subitem id, qty last written) for this environment."""
        cancel = row.is_cancelled
        if item_id is None and cancel:
            return RowPlan(row, SKIP, "cancelled before it was ever synced to this board: nothing to create")
        group = self.group_name(row)
        if group is None:
            return RowPlan(
                row,
                FAIL,
                "no group: the row has no CUSTOMER NAME, or neither CUSTOMER SEASON nor AAG SEASON. "
                "Fill them in the customer's spreadsheet and merge again.",
            )
        problem = group_name_problem(group)
        if problem:
            return RowPlan(
                row, FAIL, f"group {group[:60]!r}…: {problem}. Shorten the customer or season name and merge again."
            )
        try:
            name = self.item_name(row)
        except ValueError as error:
            return RowPlan(row, FAIL, f"{error} Fill the item name columns and merge again.")
        strict, creating, problem = self.column_values(row, cancel=cancel)
        if problem:
            return RowPlan(row, FAIL, f"{problem} Correct the value in the spreadsheet and merge again.")
        sizes = []
        # Apparel order (XS S M L XL ...), so subitems are created on the board in the order ops read.
        for line in sorted(row.sizes, key=lambda s: _size_key()(s.size_code)):
            known = subitems.get(line.size_code)
            qty = 0 if cancel else line.qty
            sizes.append(SizePlan(line.size_code, qty, known[0] if known else None, known[1] if known else None))
        action = CREATE if item_id is None else (CANCEL if cancel else UPDATE)
        return RowPlan(
            row,
            action,
            group_name=group,
            item_name=name,
            column_values=strict,
            new_label_values=creating,
            item_id=item_id,
            current_group_id=group_id,
            sizes=sizes,
            missing_labels=self.missing_labels(strict),
            group_note=self.group_note(row),
        )

    def group_note(self, row: OrderRow) -> str:
        """Why the group is named from the fallback season: such rows land in a group parallel to
        the customer's season group ("RHONE 2027 SPRING" beside "RHONE SP27")."""
        naming = self.config.naming
        if len(naming.group_columns) < 2 or not naming.group_fallback_column:
            return ""
        season_column = naming.group_columns[-1]
        if str(row.values.get(season_column) or "").strip():
            return ""
        return (
            f"no {season_column}: grouped by {naming.group_fallback_column} instead, which may put it in a "
            f"group beside the customer's {season_column} group. Fill {season_column} in the customer's "
            "spreadsheet and merge again to keep the season in one group"
        )

    def learn_labels(self, plan: RowPlan) -> None:
        for column_id, formatted in plan.new_label_values.items():
            column_type = self.env.items_board.columns[column_id].type
            self.known_labels.setdefault(column_id, set()).update(labels_in(column_type, formatted))


@cache
def _size_key():
    """Sizes in the order of the production size columns (read once per process)."""
    return size_sort_key(declared_size_columns())
