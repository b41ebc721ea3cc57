"""The monday mutations the engine sends, built in one place for sync and rollback.

Each builder returns a `Mutation` keyed by the caller: a batch's answers come back per key, so the
caller can tell which row or journal entry each answer settles.
"""

from __future__ import annotations

from syncapp.monday.types import Mutation


def create_group(key: str, *, board_id: int, name: str) -> Mutation:
    return Mutation(key=key, kind="create_group", args={"board_id": board_id, "group_name": name})


def delete_group(key: str, *, board_id: int, group_id: str) -> Mutation:
    return Mutation(key=key, kind="delete_group", args={"board_id": board_id, "group_id": group_id})


def create_item(key: str, *, board_id: int, group_id: str, name: str, column_values: dict) -> Mutation:
    # Labels are never created here: columns whose policy allows new labels are sent afterwards on
    # their own (change_columns with create_labels=True), see plan.RowPlan.new_label_values.
    return Mutation(
        key=key,
        kind="create_item",
        args={
            "board_id": board_id,
            "group_id": group_id,
            "item_name": name,
            "column_values": column_values,
            "create_labels_if_missing": False,
        },
    )


def create_subitem(key: str, *, parent_item_id: int, name: str, column_values: dict, create_labels: bool) -> Mutation:
    return Mutation(
        key=key,
        kind="create_subitem",
        args={
            "parent_item_id": parent_item_id,
            "item_name": name,
            "column_values": column_values,
            "create_labels_if_missing": create_labels,
        },
    )


def change_columns(
    key: str, *, board_id: int, item_id: int, column_values: dict, create_labels: bool = False
) -> Mutation:
    """Write column values (and "name") of one item or subitem."""
    return Mutation(
        key=key,
        kind="change_columns",
        args={
            "board_id": board_id,
            "item_id": item_id,
            "column_values": column_values,
            "create_labels_if_missing": create_labels,
        },
    )


def subitem_qty(key: str, *, board_id: int, subitem_id: int, qty_column_id: str, qty: object) -> Mutation:
    """Set a size subitem's quantity (the sync writing a new one, a rollback putting the old one back)."""
    return change_columns(key, board_id=board_id, item_id=subitem_id, column_values={qty_column_id: str(qty)})


def move_item(key: str, *, item_id: int, group_id: str) -> Mutation:
    return Mutation(key=key, kind="move_item", args={"item_id": item_id, "group_id": group_id})


def remove_item(key: str, *, item_id: int, delete: bool) -> Mutation:
    """Archive (monday keeps it 30 days, restorable) or delete an item or subitem."""
    return Mutation(key=key, kind="delete_item" if delete else "archive_item", args={"item_id": item_id})
