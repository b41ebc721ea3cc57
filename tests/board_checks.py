"""Checks shared by the fault, worker and scale tests: the board and the database tell the same story.

`consistency_problems(emulator, environment)` lists every way the emulator's board and orderops'
tables disagree after a sync (an empty list means they agree):

* no duplicate group title, no two items for one AAG ORDER NUMBER, no size twice under one item;
* no order line left CLAIMED, no run left active, no row result left "planned";
* every order line SYNCED, ERROR with a readable message, or COMPLETED/SKIPPED (cancelled before it
  was ever synced); PENDING only when `stopped=True` (rows a stopped run gave back);
* ItemLinks <-> items and SubitemLinks <-> subitems one to one, with matching AAG ORDER NUMBER,
  parent and size name;
* every SYNCED line's item has the planned name and group and one subitem per size with the line's
  quantity (0 for a cancelled order), and the production mirror columns hold the production ids.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from syncapp.engine.plan import Planner
from syncapp.engine.rows import rows_load
from syncapp.models import FactOrderList, ItemLink, OrderLine, RowResult, SubitemLink, SyncRun
from syncapp.sync_config import get_sync_config

REAL_CONFIG = Path(settings.BASE_DIR) / "configs" / "sync_order_list.toml"


def write_sync_config(path: Path, **sync_values: object) -> Path:
    """A copy of configs/sync_order_list.toml with some [sync] keys changed (smaller timeouts, waits)."""
    text = REAL_CONFIG.read_text(encoding="utf-8")
    for key, value in sync_values.items():
        text, count = re.subn(rf"(?m)^{re.escape(key)} = .*$", f"{key} = {value}", text)
        assert count == 1, f"test setup: [sync] {key} not found exactly once in {REAL_CONFIG}"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class BoardItem:
    id: int
    name: str
    group_id: str
    group: str
    values: dict[str, str | None]
    subitems: list[tuple[int, str, str | None, str | None]] = field(default_factory=list)  # id, name, size, qty


@dataclass
class Board:
    groups: dict[str, str]  # active group id -> title
    items: dict[int, BoardItem]


def read_board(emulator, environment: str) -> Board:
    """What the emulator holds on an environment's items board (active groups, items, subitems)."""
    env = get_sync_config().environment(environment)
    state = emulator.state
    with state.lock:
        board = state.board(str(env.items_board_id))
        groups = {g["id"]: g["title"] for g in state.active_groups(board)}
        items: dict[int, BoardItem] = {}
        for item in state.active_items(str(env.items_board_id)):
            subitems = [
                (
                    int(sub["id"]),
                    sub["name"],
                    (sub["values"].get(env.size_column_id) or {}).get("text"),
                    (sub["values"].get(env.qty_column_id) or {}).get("text"),
                )
                for sub in state.active_subitems(item)
            ]
            items[int(item["id"])] = BoardItem(
                id=int(item["id"]),
                name=item["name"],
                group_id=item["group_id"],
                group=groups.get(item["group_id"], ""),
                values={k: v.get("text") for k, v in item["values"].items()},
                subitems=subitems,
            )
    return Board(groups=groups, items=items)


def _qty(text: str | None) -> int | None:
    return None if text in (None, "") else int(float(text))


def _readable(message: str | None) -> bool:
    text = (message or "").strip()
    return len(text) >= 10 and "Traceback" not in text and not text.startswith("<")


def consistency_problems(
    emulator, environment: str, *, stopped: bool = False, scope: Iterable[str] | None = None
) -> list[str]:
    """`scope`: the order lines synced to this environment (default: all of them)."""
    config = get_sync_config()
    env = config.environment(environment)
    board = read_board(emulator, environment)
    problems: list[str] = []

    titles = Counter(board.groups.values())
    problems += [f"group {t!r} x{n}" for t, n in titles.items() if n > 1]
    aag_column = env.item_columns["AAG ORDER NUMBER"]
    aags = Counter(i.values.get(aag_column) for i in board.items.values())
    problems += [f"item for {a} x{n}" for a, n in aags.items() if n > 1]
    for item in board.items.values():
        names = Counter(name for _, name, _, _ in item.subitems)
        problems += [f"item {item.id}: subitem {s!r} x{n}" for s, n in names.items() if n > 1]

    claimed = FactOrderList.objects.filter(sync_state="CLAIMED").count()
    if claimed:
        problems.append(f"{claimed} order lines are still CLAIMED")
    active = list(SyncRun.objects.filter(status__in=SyncRun.ACTIVE_STATUSES).values_list("pk", flat=True))
    if active:
        problems.append(f"runs {active} are still active")
    planned = RowResult.objects.filter(outcome=RowResult.Outcome.PLANNED).count()
    if planned:
        problems.append(f"{planned} row results are still 'planned'")

    allowed = {"SYNCED", "ERROR", "COMPLETED"} | ({"PENDING"} if stopped else set())
    all_rows = {str(r.record_uuid): r for r in FactOrderList.objects.all()}
    rows = all_rows if scope is None else {str(u): all_rows[str(u)] for u in scope if str(u) in all_rows}
    for row in rows.values():
        if row.sync_state not in allowed:
            problems.append(f"{row.aag_order_number}: sync_state {row.sync_state}")
        elif row.sync_state == "ERROR" and not (_readable(row.api_error_message) and _readable(row.sync_error_message)):
            problems.append(f"{row.aag_order_number}: ERROR without a readable message ({row.api_error_message!r})")
        elif row.sync_state == "COMPLETED" and row.api_status != "SKIPPED" and row.action_type != "NONE":
            problems.append(f"{row.aag_order_number}: COMPLETED with api_status {row.api_status}")

    links = {str(link.record_uuid): link for link in ItemLink.objects.filter(environment=env.name)}
    linked_ids = Counter(link.monday_item_id for link in links.values())
    problems += [f"item {i} linked {n} times" for i, n in linked_ids.items() if n > 1]
    missing = set(linked_ids) - set(board.items)
    extra = set(board.items) - set(linked_ids)
    if missing:
        problems.append(f"ItemLinks to items not on the board: {sorted(missing)[:10]}")
    if extra:
        problems.append(f"items on the board without an ItemLink: {sorted(extra)[:10]}")
    for key, link in links.items():
        item = board.items.get(link.monday_item_id)
        row = all_rows.get(key)
        if item is None:
            continue
        if row is None:
            problems.append(f"ItemLink {link.pk} for an order line that does not exist")
            continue
        if item.values.get(aag_column) != row.aag_order_number or link.aag_order_number not in (
            "",
            row.aag_order_number,
        ):
            problems.append(f"item {item.id} holds {item.values.get(aag_column)!r}, its row {row.aag_order_number!r}")

    sub_links = list(SubitemLink.objects.filter(environment=env.name))
    board_subs = {
        sub_id: (item.id, name, size, qty) for item in board.items.values() for sub_id, name, size, qty in item.subitems
    }
    linked_subs = Counter(s.monday_subitem_id for s in sub_links)
    problems += [f"subitem {i} linked {n} times" for i, n in linked_subs.items() if n > 1]
    if set(linked_subs) - set(board_subs):
        problems.append(f"SubitemLinks to subitems not on the board: {sorted(set(linked_subs) - set(board_subs))[:10]}")
    if set(board_subs) - set(linked_subs):
        problems.append(
            f"subitems on the board without a SubitemLink: {sorted(set(board_subs) - set(linked_subs))[:10]}"
        )
    subs_by_row: dict[str, dict[str, SubitemLink]] = defaultdict(dict)
    for s in sub_links:
        subs_by_row[str(s.record_uuid)][s.size_code] = s
        on_board = board_subs.get(s.monday_subitem_id)
        if on_board is None:
            continue
        parent, name, size, _ = on_board
        if (
            parent != s.parent_item_id
            or name != f"{config.naming.subitem_name_prefix}{s.size_code}"
            or size != s.size_code
        ):
            problems.append(
                f"subitem {s.monday_subitem_id} is {name!r}/{size!r} under {parent}, its link says {s.size_code}"
            )
        link = links.get(str(s.record_uuid))
        if link is None or link.monday_item_id != s.parent_item_id:
            problems.append(f"subitem {s.monday_subitem_id} hangs under an item its order line is not linked to")

    problems += _synced_rows_match(board, env, config, rows, links, subs_by_row)
    return problems


def _synced_rows_match(board: Board, env, config, rows, links, subs_by_row) -> list[str]:
    problems: list[str] = []
    synced = [key for key, row in rows.items() if row.sync_state == "SYNCED"]
    planner = Planner(config, env, {})
    lines: dict[str, dict[str, int]] = defaultdict(dict)
    for line in OrderLine.objects.filter(record_uuid__in=synced).values("record_uuid", "size_code", "qty"):
        lines[str(line["record_uuid"])][line["size_code"]] = int(line["qty"] or 0)
    loaded = {
        r.record_uuid: r for start in range(0, len(synced), 500) for r in rows_load(config, synced[start : start + 500])
    }
    for key in synced:
        row, link = rows[key], links.get(key)
        if link is None or link.monday_item_id not in board.items:
            problems.append(f"{row.aag_order_number} is SYNCED but has no item on the {env.name} board")
            continue
        item, order = board.items[link.monday_item_id], loaded[key]
        if item.name != planner.item_name(order) or item.group != planner.group_name(order):
            problems.append(f"{row.aag_order_number}: item is {item.name!r} in {item.group!r}")
        on_board = {size: _qty(qty) for _, _, size, qty in item.subitems}
        for size, qty in lines[key].items():
            expected = 0 if order.is_cancelled else qty
            if size in on_board and on_board[size] != expected:
                problems.append(f"{row.aag_order_number} size {size}: board {on_board[size]}, order {expected}")
            elif size not in on_board and expected:
                problems.append(f"{row.aag_order_number} size {size} ({expected}) is missing on the board")
            link_qty = subs_by_row[key].get(size)
            if size in on_board and (link_qty is None or link_qty.qty != on_board[size]):
                problems.append(f"{row.aag_order_number} size {size}: SubitemLink qty {getattr(link_qty, 'qty', None)}")
        unknown = set(on_board) - set(lines[key])
        if unknown:
            problems.append(f"{row.aag_order_number}: subitems {sorted(unknown)} have no order line")
        if env.is_production and row.monday_item_id != link.monday_item_id:
            problems.append(
                f"{row.aag_order_number}: FACT monday_item_id {row.monday_item_id} != {link.monday_item_id}"
            )
    return problems


def assert_consistent(
    emulator, environment: str = "development", *, stopped: bool = False, scope: Iterable[str] | None = None
) -> None:
    problems = consistency_problems(emulator, environment, stopped=stopped, scope=scope)
    assert not problems, f"{len(problems)} problem(s) on {environment}:\n" + "\n".join(problems[:30])


def replayed_keys(emulator) -> set[str]:
    """Idempotency-Keys the emulator answered from its cache (Idempotency-Replayed: true)."""
    return {e["headers"].get("Idempotency-Key", "") for e in emulator.request_log if e.get("replayed")}
