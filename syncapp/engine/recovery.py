"""What monday applied when its answer was lost: looked up by natural key before anything is resent.

monday's idempotent replay is best-effort (a per-user cache budget; answers over 1 MB are not cached),
so a create whose answer was lost cannot simply be sent again: if monday applied it and the replay is
not honoured, the board gets a second item. `NaturalKeyRecovery` is the `recover` the engine hands to
`MondayClient.run_batch`: given the mutations of the lost request, it returns the ones already on the
board (by caller key), and the client sends only the rest.

Natural keys: an item by its AAG ORDER NUMBER in its board; a subitem by its parent's subitems and
its name ("Size M"); a group by its title in its board. Other mutations (column changes, moves) have
no natural key and are sent again unchanged: writing the same values twice leaves the same board.
"""

from __future__ import annotations

from collections import defaultdict

from syncapp.monday.client import MondayClient
from syncapp.monday.types import Mutation


class NaturalKeyRecovery:
    def __init__(self, client: MondayClient, *, aag_column_id: str | None) -> None:
        self.client = client
        self.aag_column_id = aag_column_id
        self.recovered = 0  # mutations found applied instead of being sent again

    def __call__(self, mutations: list[Mutation]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        found.update(self._items([m for m in mutations if m.kind == "create_item"]))
        found.update(self._subitems([m for m in mutations if m.kind == "create_subitem"]))
        found.update(self._groups([m for m in mutations if m.kind == "create_group"]))
        self.recovered += len(found)
        return found

    def _items(self, creates: list[Mutation]) -> dict[str, dict]:
        if not creates or not self.aag_column_id:
            return {}
        by_board: dict[int, dict[str, str]] = defaultdict(dict)  # board -> AAG -> caller key
        for mutation in creates:
            aag = str((mutation.args.get("column_values") or {}).get(self.aag_column_id) or "")
            if aag:
                by_board[int(mutation.args["board_id"])][aag] = mutation.key
        found: dict[str, dict] = {}
        for board_id, keys in by_board.items():
            matches = self.client.find_items_by_column_value(board_id, self.aag_column_id, sorted(keys))
            for aag, items in matches.items():
                if items and aag in keys:
                    item = min(items, key=lambda i: int(i["id"]))
                    found[keys[aag]] = {"id": str(item["id"]), "name": item.get("name", "")}
        return found

    def _subitems(self, creates: list[Mutation]) -> dict[str, dict]:
        if not creates:
            return {}
        parents = {str(i["id"]): i for i in self.client.get_items([int(m.args["parent_item_id"]) for m in creates])}
        found: dict[str, dict] = {}
        for mutation in creates:
            parent = parents.get(str(mutation.args["parent_item_id"]))
            named = [s for s in (parent or {}).get("subitems") or [] if s.get("name") == mutation.args["item_name"]]
            if named:
                subitem = min(named, key=lambda s: int(s["id"]))
                found[mutation.key] = {"id": str(subitem["id"]), "name": subitem.get("name", "")}
        return found

    def _groups(self, creates: list[Mutation]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for board_id in sorted({int(m.args["board_id"]) for m in creates}):
            titles = {g.title: g.id for g in self.client.get_board(board_id).groups}
            for mutation in creates:
                if int(mutation.args["board_id"]) == board_id and mutation.args["group_name"] in titles:
                    title = mutation.args["group_name"]
                    found[mutation.key] = {"id": titles[title], "title": title}
        return found
