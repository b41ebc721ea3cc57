"""Helpers for tests that sync to the emulator: point settings at it, read what the board holds."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.core.management import call_command
from django.db import connection

from syncapp.domain.scope import Scope
from syncapp.models import SyncRun
from syncapp.order_tables import sql_name
from syncapp.services.sync import sync_run_create, sync_run_execute

DEV_ITEMS, DEV_SUBITEMS = "9609317401", "9609317948"
PROD_ITEMS, PROD_SUBITEMS = "9200517329", "9200771505"
AAG_COLUMN, CUSTOMER_COLUMN, ORDER_TYPE_COLUMN = "text_mkr5wya6", "dropdown_mkr542p2", "dropdown_mkr518fc"
SIZE_COLUMN, QTY_COLUMN = "dropdown_mkrak7qp", "numeric_mkra7j8e"


def point_at(emulator, settings) -> None:
    settings.MONDAY_API_URL = emulator.url
    settings.MONDAY_API_TOKEN_DEVELOPMENT = emulator.tokens["development"]
    settings.MONDAY_API_TOKEN_PRODUCTION = emulator.tokens["production"]


def stage_and_merge(orders: int = 120) -> None:
    call_command("seed_demo", orders=orders, no_users=True)
    call_command("merge_orders")


def only_po_pending(po: str = "4755", env: str = "development") -> None:
    call_command("mark_orders", "completed", "--po", po, "--invert")
    call_command("mark_orders", "pending", "--po", po, "--env", env)


def sync(environment: str = "development", **scope) -> SyncRun:
    confirm = PROD_ITEMS if environment == "production" else ""
    run = sync_run_create(
        environment=environment,
        scope=Scope.parse(**scope),
        dry_run=False,
        via="cli",
        enqueue=False,
        confirm_text=confirm,
    )
    return sync_run_execute(run_id=run.pk)


def set_staged(aag: str, column: str, value) -> None:
    q = sql_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q('swp_ORDER_LIST_SYNC')} SET {q(column)} = %s WHERE {q('AAG ORDER NUMBER')} = %s", [value, aag]
        )


@dataclass
class BoardItem:
    id: str
    name: str
    group: str
    values: dict[str, str | None]
    subitems: dict[str, dict]  # subitem name -> {"id", "size", "qty"}


def board(emulator, items_board: str) -> list[BoardItem]:
    """The active items of a board, as a person would read them."""
    state = emulator.state
    with state.lock:
        board_def = state.board(items_board)
        groups = {g["id"]: g["title"] for g in board_def["groups"]} if "groups" in board_def else {}
        result = []
        for item in state.active_items(items_board):
            subitems = {}
            for sub in state.active_subitems(item):
                subitems[sub["name"]] = {
                    "id": sub["id"],
                    "size": (sub["values"].get(SIZE_COLUMN) or {}).get("text"),
                    "qty": (sub["values"].get(QTY_COLUMN) or {}).get("text"),
                }
            group = state.group(board_def, item["group_id"])
            result.append(
                BoardItem(
                    id=item["id"],
                    name=item["name"],
                    group=(group or {}).get("title") or groups.get(item["group_id"], ""),
                    values={k: v.get("text") for k, v in item["values"].items()},
                    subitems=subitems,
                )
            )
    return result


def duplicates(items: list[BoardItem]) -> list[str]:
    """AAG ORDER NUMBERs with more than one item, and items with a size twice."""
    counts = Counter(i.values.get(AAG_COLUMN) for i in items)
    problems = [f"item {aag} x{n}" for aag, n in counts.items() if n > 1]
    for item in items:
        sizes = Counter(s["size"] for s in item.subitems.values())
        problems += [f"{item.values.get(AAG_COLUMN)} size {s} x{n}" for s, n in sizes.items() if n > 1]
    return problems


def group_titles(emulator, items_board: str) -> list[str]:
    state = emulator.state
    with state.lock:
        return [g["title"] for g in state.active_groups(state.board(items_board))]
