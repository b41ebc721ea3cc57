"""In-memory monday account for the emulator: boards, groups, labels, items and subitems.

Boards come from configs/boards/board_<id>.json (the real boards' column ids and types); dropdown
and status labels that exist on the real boards are seeded from configs/emulator_labels.json.
Everything else is created through the API. With a state file, changes are written back (at most
once per `save_interval`, atomically) and loaded at start, so a demo board survives restarts.

All access goes through `lock`: the HTTP server is threaded and monday applies one request's
mutations in order, so resolvers run while holding it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
DEFAULT_BOARDS_DIR = PROJECT_DIR / "configs" / "boards"
DEFAULT_LABELS_FILE = PROJECT_DIR / "configs" / "emulator_labels.json"

STATE_FORMAT = "orderops-monday-emulator/1"
# Item ids look like today's monday ids (11 digits) and never collide with the 10-digit board ids.
FIRST_ITEM_ID = 10_000_000_001
DEFAULT_GROUP_ID = "topics"
# monday keeps status index 5 for its default blank label, so created labels skip it.
STATUS_RESERVED_INDEX = 5
# monday's board activity log answers at most 10,000 entries; the emulator keeps that many per board.
ACTIVITY_LOG_MAX = 10_000
# The one API user the emulator knows (reads.EMULATOR_USER): every change is logged as made by it.
ACTIVITY_USER_ID = "1"


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EmulatorState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.boards: dict[str, dict] = {}
        self.items: dict[str, dict] = {}
        self.board_items: dict[str, dict[str, None]] = {}  # insertion-ordered item ids per board
        self.next_item_id = FIRST_ITEM_ID
        self.next_group_number = 1
        self.next_activity_id = 0
        self.revision = 0  # bumped on every change; the saver writes when it moved

    # --- construction and persistence ----------------------------------------------------------

    @classmethod
    def from_config(
        cls, boards_dir: Path = DEFAULT_BOARDS_DIR, labels_file: Path | None = DEFAULT_LABELS_FILE
    ) -> EmulatorState:
        state = cls()
        for path in sorted(Path(boards_dir).glob("board_*.json")):
            state.add_board(json.loads(path.read_text(encoding="utf-8")))
        if labels_file is not None and Path(labels_file).exists():
            state.seed_labels(json.loads(Path(labels_file).read_text(encoding="utf-8")))
        return state

    @classmethod
    def load_or_create(
        cls,
        state_file: Path | None,
        boards_dir: Path = DEFAULT_BOARDS_DIR,
        labels_file: Path | None = DEFAULT_LABELS_FILE,
    ) -> EmulatorState:
        if state_file is not None and Path(state_file).exists():
            return cls.from_snapshot(json.loads(Path(state_file).read_text(encoding="utf-8")))
        return cls.from_config(boards_dir, labels_file)

    @classmethod
    def from_snapshot(cls, data: dict) -> EmulatorState:
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"Not an emulator state file (format {data.get('format')!r}, expected {STATE_FORMAT}).")
        state = cls()
        state.boards = data["boards"]
        state.items = data["items"]
        state.next_item_id = int(data["next_item_id"])
        state.next_group_number = int(data["next_group_number"])
        state.board_items = {board_id: {} for board_id in state.boards}
        for item_id, item in state.items.items():
            state.board_items.setdefault(item["board_id"], {})[item_id] = None
        return state

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "format": STATE_FORMAT,
                "next_item_id": self.next_item_id,
                "next_group_number": self.next_group_number,
                "boards": self.boards,
                "items": self.items,
            }

    def save(self, path: Path) -> None:
        """Write the state atomically: a crash mid-write must not leave a truncated file."""
        with self.lock:
            text = json.dumps(self.snapshot(), ensure_ascii=False, separators=(",", ":"))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)

    def touch(self) -> None:
        self.revision += 1

    # --- boards, columns, labels ---------------------------------------------------------------

    def add_board(self, definition: dict) -> dict:
        board_id = str(definition["board_id"])
        kind = definition.get("kind", "items")
        board = {
            "id": board_id,
            "name": definition.get("name", f"Board {board_id}"),
            "kind": kind,
            "parent_board_id": str(definition["parent_board_id"]) if definition.get("parent_board_id") else None,
            "columns": [{"id": c["id"], "title": c["title"], "type": c["type"]} for c in definition["columns"]],
            "labels": {},
            "groups": [_group(DEFAULT_GROUP_ID, "Subitems" if kind == "subitems" else "Group Title", 0)],
        }
        self.boards[board_id] = board
        self.board_items.setdefault(board_id, {})
        return board

    def seed_labels(self, seed: dict) -> None:
        for board_id, columns in (seed.get("boards") or {}).items():
            board = self.boards.get(str(board_id))
            if board is None:
                continue
            for column_id, labels in columns.items():
                column = self.column(board, column_id)
                if column is not None:
                    for label in labels:
                        self.add_label(board, column, label)

    def board(self, board_id: object) -> dict | None:
        return self.boards.get(str(board_id))

    def column(self, board: dict, column_id: str) -> dict | None:
        return next((c for c in board["columns"] if c["id"] == column_id), None)

    def subitems_board_for(self, board: dict) -> dict | None:
        return next((b for b in self.boards.values() if b["parent_board_id"] == board["id"]), None)

    def labels(self, board: dict, column_id: str) -> list[dict]:
        return board["labels"].get(column_id, [])

    def find_label(self, board: dict, column_id: str, text: str) -> dict | None:
        return next((entry for entry in self.labels(board, column_id) if entry["label"] == text), None)

    def add_label(self, board: dict, column: dict, text: str) -> dict:
        existing = self.find_label(board, column["id"], text)
        if existing is not None:
            return existing
        labels = board["labels"].setdefault(column["id"], [])
        used = {entry["id"] for entry in labels}
        if column["type"] == "status":
            new_id = next(i for i in range(len(labels) + 2) if i not in used and i != STATUS_RESERVED_INDEX)
        else:
            new_id = max(used, default=0) + 1
        entry = {"id": new_id, "label": text}
        labels.append(entry)
        self.touch()
        return entry

    # --- groups --------------------------------------------------------------------------------

    def active_groups(self, board: dict) -> list[dict]:
        return [g for g in board["groups"] if not g["deleted"] and not g["archived"]]

    def group(self, board: dict, group_id: str) -> dict | None:
        return next((g for g in self.active_groups(board) if g["id"] == group_id), None)

    def create_group(self, board: dict, title: str, color: str | None, relative_to: str | None, before: bool) -> dict:
        group_id = f"group_mk{self.next_group_number:06d}"
        self.next_group_number += 1
        group = _group(group_id, title, 0, color)
        groups = board["groups"]
        anchor = next((i for i, g in enumerate(groups) if g["id"] == relative_to), None)
        # monday puts a new group at the top unless a relative position says otherwise.
        index = 0 if anchor is None else anchor + (0 if before else 1)
        groups.insert(index, group)
        for position, entry in enumerate(groups):
            entry["position"] = f"{(position + 1) * 65536:.1f}"
        self.touch()
        return group

    def archive_group(self, board: dict, group: dict) -> None:
        group["archived"] = True
        for item in self.board_item_list(board["id"]):
            if item["group_id"] == group["id"] and item["state"] == "active":
                self.set_item_state(item, "archived")
        self.touch()

    def delete_group(self, board: dict, group: dict) -> None:
        group["deleted"] = True
        for item in self.board_item_list(board["id"]):
            if item["group_id"] == group["id"]:
                self.set_item_state(item, "deleted")
        self.touch()

    # --- items ---------------------------------------------------------------------------------

    def item(self, item_id: object, *, include_inactive: bool = False) -> dict | None:
        item = self.items.get(str(item_id))
        if item is None or (not include_inactive and item["state"] != "active"):
            return None
        return item

    def board_item_list(self, board_id: str) -> list[dict]:
        return [self.items[item_id] for item_id in self.board_items.get(board_id, {})]

    def active_items(self, board_id: str) -> Iterator[dict]:
        return (item for item in self.board_item_list(board_id) if item["state"] == "active")

    def create_item(self, board: dict, group_id: str, name: str, parent: dict | None = None) -> dict:
        item_id = str(self.next_item_id)
        self.next_item_id += 1
        now = utc_now()
        item = {
            "id": item_id,
            "board_id": board["id"],
            "group_id": group_id,
            "name": name,
            "parent_id": parent["id"] if parent else None,
            "state": "active",
            "values": {},
            "subitem_ids": [],
            "created_at": now,
            "updated_at": now,
        }
        self.items[item_id] = item
        self.board_items.setdefault(board["id"], {})[item_id] = None
        if parent is not None:
            parent["subitem_ids"].append(item_id)
        self.touch()
        return item

    def place_after(self, board_id: str, item_id: str, anchor_id: str) -> None:
        """Move `item_id` right below `anchor_id` in the board's order (a duplicate sits under its original)."""
        order = [i for i in self.board_items.get(board_id, {}) if i != item_id]
        index = order.index(anchor_id) + 1 if anchor_id in order else len(order)
        order.insert(index, item_id)
        self.board_items[board_id] = dict.fromkeys(order)
        self.touch()

    def log_activity(self, board: dict, event: str, item: dict, data: dict) -> None:
        """One entry of the board's activity log (newest last; the oldest dropped past ACTIVITY_LOG_MAX)."""
        now = dt.datetime.now(dt.UTC)
        log = board.setdefault("activity", [])
        self.next_activity_id += 1
        group = next((g for g in board["groups"] if g["id"] == item["group_id"]), None)
        entry_data = {"board_id": int(board["id"]), "group_id": item["group_id"], **data}
        entry_data["group_title"] = (group or {}).get("title", "")
        log.append(
            {
                "id": f"{now:%Y%m%d%H%M%S}-{self.next_activity_id}",
                "event": event,
                "entity": "pulse",
                "account_id": "1",
                "user_id": ACTIVITY_USER_ID,
                "item_id": item["id"],
                "column_id": data.get("column_id", ""),
                # monday's created_at is a 17-digit string: 100-nanosecond units since the Unix epoch.
                "created_at": str(int(now.timestamp() * 10_000_000)),
                "at": now.isoformat(),
                "data": json.dumps(entry_data, ensure_ascii=False),
            }
        )
        del log[:-ACTIVITY_LOG_MAX]
        self.touch()

    def active_subitems(self, item: dict) -> list[dict]:
        subitems = (self.items.get(sub_id) for sub_id in item["subitem_ids"])
        return [sub for sub in subitems if sub is not None and sub["state"] == "active"]

    def set_item_state(self, item: dict, state: str) -> None:
        item["state"] = state
        item["updated_at"] = utc_now()
        for sub_id in item["subitem_ids"]:
            sub = self.items.get(sub_id)
            if sub is not None and sub["state"] == "active":
                sub["state"] = state
        self.touch()

    def item_count(self) -> int:
        return sum(1 for item in self.items.values() if item["state"] == "active")


def _group(group_id: str, title: str, position: int, color: str | None = None) -> dict:
    return {
        "id": group_id,
        "title": title,
        "color": color or "#579bfc",
        "position": f"{(position + 1) * 65536:.1f}",
        "archived": False,
        "deleted": False,
    }


class StateSaver:
    """Writes the state to its file at most once per interval, and once more on stop."""

    def __init__(self, state: EmulatorState, path: Path, interval: float = 1.0) -> None:
        self.state = state
        self.path = Path(path)
        self.interval = interval
        self._saved_revision = state.revision
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emulator-state-saver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.flush()

    def flush(self) -> None:
        revision = self.state.revision
        if revision != self._saved_revision or not self.path.exists():
            self.state.save(self.path)
            self._saved_revision = revision

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()
