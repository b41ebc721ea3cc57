"""The board side of a repair run: its monday client, journal, groups and labels, and the writes.

`engine/repair.py` decides what each finding needs; this module sends it the way the sync does
(the engine's mutation builders, the planner's values, natural-key recovery of lost answers), links
what it creates (ItemLink, SubitemLink, the production ids in FACT_ORDER_LIST and ORDER_LIST_LINES)
and journals every change as the repair run's BoardChange rows, per answered request, so a repair
that stops half-way is still known to its counts and its rollback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction

from syncapp.engine import mutations as build
from syncapp.engine.journal import IN_CHUNK, Journal
from syncapp.engine.plan import Planner, RowPlan
from syncapp.engine.progress import RunProgress, client_stats
from syncapp.engine.recovery import NaturalKeyRecovery
from syncapp.engine.rows import OrderRow
from syncapp.models import (
    BoardChange,
    BoardGroup,
    FactOrderList,
    ItemLink,
    OrderLine,
    RowResult,
    SubitemLink,
    SyncRun,
)
from syncapp.monday.factory import monday_client
from syncapp.monday.types import Mutation, MutationResult
from syncapp.order_tables import canonical_uuid
from syncapp.raw_sql import chunks
from syncapp.sync_config import SyncConfig

NOT_FOUND = "ResourceNotFoundException"


@dataclass
class SizeTask:
    """One size to create under an item, or whose quantity to write back; `findings` it settles."""

    record_uuid: str
    size_code: str
    item_id: int
    qty: int
    subitem_id: int | None = None  # the live subitem; None: create it
    board_qty: int | None = None
    findings: list = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.record_uuid}/{self.size_code}"


class RepairBoard:
    def __init__(self, run: SyncRun, *, config: SyncConfig, progress: RunProgress):
        self.run = run
        self.config = config
        self.env = env = config.environment(run.environment)
        self.progress = progress
        self.client = monday_client(env, profile="sync", run_id=run.pk, log=progress.step, settings_=config.sync)
        self.recovery = NaturalKeyRecovery(self.client, aag_column_id=env.item_columns.get("AAG ORDER NUMBER"))
        self.journal = Journal(run, env)
        self.groups: dict[str, str] = {}
        self.known_labels: dict[str, set[str]] = {}
        self.planner: Planner | None = None

    def load(self) -> None:
        self.progress.step("reading the board's groups and labels")
        board = self.client.get_board(self.env.items_board_id)
        subitems_board = self.client.get_board(self.env.subitems_board_id)
        self.known_labels = {c.id: set(c.labels) for b in (board, subitems_board) for c in b.columns.values()}
        self.groups = {g.title: g.id for g in board.groups}
        self.planner = Planner(self.config, self.env, self.known_labels)

    def stats(self) -> dict:
        return client_stats(self.client)

    def plan(self, row: OrderRow) -> RowPlan:
        # Planned as an update (item id 0 is never sent): every mapped value, the group and the sizes,
        # also for a cancelled line, whose item is re-created as cancelled.
        return self.planner.plan(row, item_id=0, group_id="", subitems={})

    def live_items(self, item_ids: list[int]) -> dict[int, dict]:
        """Active items (or subitems) by id; archived and deleted ones are absent."""
        ids = sorted({int(i) for i in item_ids if i})
        return {int(i["id"]): i for i in self.client.get_items(ids)} if ids else {}

    def send(
        self,
        mutations: list[Mutation],
        operation: str,
        *,
        on_chunk: Callable[[dict[str, MutationResult]], None] | None = None,
        batch_size: int | None = None,
    ) -> dict[str, MutationResult]:
        if not mutations:
            return {}
        self.progress.step(f"{operation.replace('_', ' ')}: {len(mutations)} change(s)")
        # Per run: a second repair must not be answered from this one's idempotency cache.
        return self.client.run_batch(
            mutations,
            operation=operation,
            idempotency_scope=f"run:{self.run.pk}",
            recover=self.recovery,
            on_chunk=on_chunk,
            **({"batch_size": batch_size} if batch_size else {}),
        )

    # --- groups and links --------------------------------------------------------------------------

    def ensure_groups(self, names: set[str]) -> dict[str, str]:
        """Create the groups the board lacks; returns those monday refused, with its message."""
        missing = sorted(n for n in names if n and n not in self.groups)
        mutations = [build.create_group(n, board_id=self.env.items_board_id, name=n) for n in missing]
        refused = {}
        for name, result in self.send(mutations, "repair_create_groups").items():
            if not result.ok:
                refused[name] = result.error_message
                continue
            group_id = str(result.data["id"])
            self.groups[name] = group_id
            registry = BoardGroup.objects.filter(board_id=self.env.items_board_id)
            registry.filter(group_id=group_id).exclude(group_name=name).delete()
            registry.update_or_create(
                board_id=self.env.items_board_id,
                group_name=name,
                defaults={"group_id": group_id, "created_by_run": self.run},
            )
            self.journal.record(BoardChange.Kind.GROUP_CREATED, group_id, after={"title": name})
        self.journal.flush()
        return refused

    def item_link(self, record_uuid: str) -> ItemLink | None:
        return ItemLink.objects.filter(environment=self.env.name, record_uuid=record_uuid).first()

    def mirror(self, record_uuid: str, *, item_id: int | None = None, group_id: str | None = None) -> None:
        """FACT_ORDER_LIST carries the production board's ids (and only those)."""
        if not self.env.is_production:
            return
        fields = {k: v for k, v in (("monday_item_id", item_id), ("group_id", group_id)) if v is not None}
        FactOrderList.objects.filter(record_uuid=record_uuid).update(**fields)

    def find_on_board(self, rows: list[OrderRow]) -> dict[str, dict]:
        """Items still on the board under a line's AAG ORDER NUMBER and linked to no other line."""
        aag_column = self.env.item_columns.get("AAG ORDER NUMBER")
        by_aag = {r.aag_order_number: r.record_uuid for r in rows if r.aag_order_number}
        if not aag_column or not by_aag:
            return {}
        matches = self.client.find_items_by_column_value(self.env.items_board_id, aag_column, sorted(by_aag))
        taken: dict[int, str] = {}
        for chunk in chunks([int(i["id"]) for items in matches.values() for i in items], IN_CHUNK):
            links = ItemLink.objects.filter(environment=self.env.name, monday_item_id__in=chunk)
            taken.update((link.monday_item_id, canonical_uuid(link.record_uuid)) for link in links)
        found = {}
        for aag, items in matches.items():
            uuid = by_aag.get(aag)
            free = [i for i in items if taken.get(int(i["id"]), uuid) == uuid]
            if uuid and free:
                found[uuid] = min(free, key=lambda i: int(i["id"]))
        return found

    def relink(self, row: OrderRow, item: dict) -> None:
        """Link the line to its item found on the board again, with its size subitems by name."""
        item_id, prefix, env = int(item["id"]), self.config.naming.subitem_name_prefix, self.env
        with transaction.atomic():
            ItemLink.objects.filter(environment=env.name, record_uuid=row.record_uuid).delete()
            ItemLink.objects.create(
                environment=env.name,
                board_id=env.items_board_id,
                record_uuid=row.record_uuid,
                aag_order_number=row.aag_order_number[:100],
                monday_item_id=item_id,
                group_id=item.get("group_id") or "",
            )
            links = SubitemLink.objects.filter(environment=env.name, record_uuid=row.record_uuid)
            links.exclude(parent_item_id=item_id).delete()
            for sub in item.get("subitems") or []:
                if (sub.get("name") or "").startswith(prefix):
                    links.update_or_create(
                        environment=env.name,
                        record_uuid=row.record_uuid,
                        size_code=sub["name"][len(prefix) :],
                        defaults={
                            "board_id": env.subitems_board_id,
                            "monday_subitem_id": int(sub["id"]),
                            "parent_item_id": item_id,
                            "qty": subitem_qty(sub, env.qty_column_id),
                        },
                    )
            self.mirror(row.record_uuid, item_id=item_id, group_id=item.get("group_id") or "")

    # --- creating ---------------------------------------------------------------------------------------

    def create_items(self, plans: dict[str, RowPlan]) -> tuple[dict[str, int], dict[str, str]]:
        """The engine's create path: items with their values, then the values that may create labels.
        Returns (record uuid -> new item id, record uuid -> why monday refused)."""
        created: dict[str, int] = {}
        refused: dict[str, str] = {}
        mutations = [
            build.create_item(
                uuid,
                board_id=self.env.items_board_id,
                group_id=self.groups[p.group_name],
                name=p.item_name,
                column_values=p.column_values,
            )
            for uuid, p in plans.items()
        ]

        def record(results: dict[str, MutationResult]) -> None:
            # Per request: a stop later in the batch still leaves these linked and journaled.
            for uuid, result in results.items():
                p = plans[uuid]
                if not result.ok:
                    refused[uuid] = f"monday refused to re-create it: {result.error_message}"
                    continue
                item_id, group_id = int(result.data["id"]), self.groups[p.group_name]
                created[uuid] = item_id
                with transaction.atomic():
                    ItemLink.objects.filter(environment=self.env.name, record_uuid=uuid).delete()
                    SubitemLink.objects.filter(environment=self.env.name, record_uuid=uuid).delete()
                    ItemLink.objects.create(
                        environment=self.env.name,
                        board_id=self.env.items_board_id,
                        record_uuid=uuid,
                        aag_order_number=p.row.aag_order_number[:100],
                        monday_item_id=item_id,
                        group_id=group_id,
                        created_by_run=self.run,
                    )
                    self.mirror(uuid, item_id=item_id, group_id=group_id)
                    # The line's result in this run: a rollback of the repair removes the item again
                    # and returns the line to PENDING/INSERT (engine/rollback_plan.rows), so the next
                    # sync creates it, instead of leaving a synced line without an item.
                    RowResult.objects.update_or_create(
                        run=self.run,
                        record_uuid=uuid,
                        defaults={
                            "aag_order_number": p.row.aag_order_number[:100],
                            "customer_name": p.row.customer_name[:100],
                            "po_number": p.row.po_number[:255],
                            "action": RowResult.Action.CREATE,
                            "outcome": RowResult.Outcome.SYNCED,
                            "monday_item_id": item_id,
                            "group_id": group_id,
                            "message": "re-created by the repair: its item was missing from the board",
                            "previous_sync_state": p.row.sync_state[:10],
                            "previous_action_type": p.row.action_type[:10],
                        },
                    )
                self.journal.record(
                    BoardChange.Kind.ITEM_CREATED,
                    item_id,
                    record_uuid=uuid,
                    after={"name": p.item_name, "group_id": group_id},
                )
            self.journal.flush()

        self.send(mutations, "repair_create_items", on_chunk=record)
        label_writes = [
            build.change_columns(
                u,
                board_id=self.env.items_board_id,
                item_id=i,
                column_values=plans[u].new_label_values,
                create_labels=True,
            )
            for u, i in created.items()
            if plans[u].new_label_values
        ]
        for uuid, result in self.send(label_writes, "repair_create_labels").items():
            if result.ok:
                self.planner.learn_labels(plans[uuid])
            else:
                refused[uuid] = (
                    f"its item {created[uuid]} was re-created, but its new labels were refused: {result.error_message}"
                )
        return created, refused

    def write_sizes(self, tasks: list[SizeTask]) -> dict[str, str]:
        """Create sizes or write their quantity back, linked and journaled per answered request.
        Returns monday's refusals by task key."""
        env, errors = self.env, {}
        may_create = self.config.create_labels.get("size", False)
        known = self.known_labels.setdefault(env.size_column_id, set())
        by_key = {t.key: t for t in tasks}
        mutations = [
            build.create_subitem(
                t.key,
                parent_item_id=t.item_id,
                name=f"{self.config.naming.subitem_name_prefix}{t.size_code}",
                column_values={env.size_column_id: {"labels": [t.size_code]}, env.qty_column_id: str(t.qty)},
                create_labels=may_create and t.size_code not in known,
            )
            if t.subitem_id is None
            else build.subitem_qty(
                t.key,
                board_id=env.subitems_board_id,
                subitem_id=t.subitem_id,
                qty_column_id=env.qty_column_id,
                qty=t.qty,
            )
            for t in tasks
        ]

        def record(results: dict[str, MutationResult]) -> None:
            for key, result in results.items():
                t = by_key[key]
                if not result.ok:
                    errors[key] = result.error_message
                    continue
                new = t.subitem_id is None
                subitem_id = int(result.data["id"]) if new else t.subitem_id
                with transaction.atomic():
                    SubitemLink.objects.update_or_create(
                        environment=env.name,
                        record_uuid=t.record_uuid,
                        size_code=t.size_code,
                        defaults={
                            "board_id": env.subitems_board_id,
                            "monday_subitem_id": subitem_id,
                            "parent_item_id": t.item_id,
                            "qty": t.qty,
                            **({"created_by_run": self.run} if new else {}),
                        },
                    )
                    if env.is_production:
                        OrderLine.objects.filter(record_uuid=t.record_uuid, size_code=t.size_code).update(
                            monday_subitem_id=subitem_id, parent_item_id=t.item_id, monday_item_id=t.item_id
                        )
                if new:
                    known.add(t.size_code)
                    kind, before, after = (
                        BoardChange.Kind.SUBITEM_CREATED,
                        {},
                        {"qty": t.qty, "parent_item_id": t.item_id},
                    )
                else:
                    kind, before, after = BoardChange.Kind.SUBITEM_UPDATED, {"qty": t.board_qty}, {"qty": t.qty}
                self.journal.record(
                    kind, subitem_id, record_uuid=t.record_uuid, size_code=t.size_code, before=before, after=after
                )
            self.journal.flush()

        self.send(mutations, "repair_write_subitems", on_chunk=record, batch_size=self.config.sync.subitems_per_request)
        return errors

    # --- changing and archiving ---------------------------------------------------------------------

    def write_values(
        self, writes: dict[int, tuple[str, dict, dict, dict]], *, subitems: bool = False
    ) -> dict[int, str]:
        """Write values back per item: item id -> (record uuid, strict values, values that may create
        labels, the board's values before). Journaled as an update with the values replaced. Returns
        monday's refusals by item id."""
        board_id = self.env.subitems_board_id if subitems else self.env.items_board_id
        mutations = []
        for item_id, (_uuid, strict, creating, _before) in writes.items():
            for key, values, create in ((f"{item_id}", strict, False), (f"{item_id}/labels", creating, True)):
                if values:
                    mutations.append(
                        build.change_columns(
                            key, board_id=board_id, item_id=item_id, column_values=values, create_labels=create
                        )
                    )
        refused: dict[int, str] = {}
        answered: set[int] = set()
        for key, result in self.send(mutations, "repair_write_values").items():
            item_id = int(key.split("/")[0])
            if result.ok:
                answered.add(item_id)
            else:
                refused.setdefault(item_id, result.error_message)
        for item_id in sorted(answered):
            uuid, strict, creating, before = writes[item_id]
            self._journal_update(item_id, board_id, uuid, before, {**strict, **creating})
        return refused

    def _journal_update(self, item_id: int, board_id: int, uuid: str, before: dict, after: dict) -> None:
        # A subitem's update is journaled on the subitems board (Journal.record puts item kinds on the
        # items board), so a rollback writes the old value back on the right board.
        BoardChange.objects.create(
            run=self.run,
            environment=self.env.name,
            board_id=board_id,
            kind=BoardChange.Kind.ITEM_UPDATED,
            monday_id=str(item_id),
            record_uuid=uuid,
            before=before,
            after=after,
        )

    def move_items(self, moves: dict[int, tuple[str, str, str]]) -> dict[int, str]:
        """Move items back to their group: item id -> (record uuid, current group, target group).
        Journaled as item_moved; returns monday's refusals by item id."""
        mutations = [build.move_item(str(i), item_id=i, group_id=target) for i, (_u, _c, target) in moves.items()]
        refused = {}
        for key, result in self.send(mutations, "repair_move_items").items():
            item_id = int(key)
            uuid, current, target = moves[item_id]
            if not result.ok:
                refused[item_id] = result.error_message
                continue
            with transaction.atomic():
                ItemLink.objects.filter(environment=self.env.name, monday_item_id=item_id).update(group_id=target)
                self.mirror(uuid, group_id=target)
            self.journal.record(
                BoardChange.Kind.ITEM_MOVED,
                item_id,
                record_uuid=uuid,
                before={"group_id": current},
                after={"group_id": target},
            )
        self.journal.flush()
        return refused

    def archive(self, targets: dict[str, tuple[int, bool, str | None, str, str]]) -> dict[str, MutationResult]:
        """Archive (never delete) items or subitems: key -> (monday id, is a subitem, record uuid,
        size code, name). Journaled as item_archived (a rollback hands it to a person: monday's API
        cannot un-archive). An item already gone answers NOT_FOUND and changes nothing."""
        mutations = [build.remove_item(key, item_id=t[0], delete=False) for key, t in targets.items()]
        results = self.send(mutations, "repair_archive_items")
        for key, result in results.items():
            monday_id, subitem, uuid, size_code, name = targets[key]
            if result.ok:
                BoardChange.objects.create(
                    run=self.run,
                    environment=self.env.name,
                    board_id=self.env.subitems_board_id if subitem else self.env.items_board_id,
                    kind=BoardChange.Kind.ITEM_ARCHIVED,
                    monday_id=str(monday_id),
                    record_uuid=uuid,
                    size_code=size_code,
                    before={"name": name},
                )
            if subitem and (result.ok or result.error_code == NOT_FOUND):
                SubitemLink.objects.filter(environment=self.env.name, monday_subitem_id=monday_id).delete()
        return results

    def created_by_orderops(self, monday_id: int, *, subitem: bool) -> bool:
        """Did a run of orderops create this item or subitem (its links and its journal say)?"""
        if subitem:
            linked = SubitemLink.objects.filter(environment=self.env.name, monday_subitem_id=monday_id)
        else:
            linked = ItemLink.objects.filter(environment=self.env.name, monday_item_id=monday_id)
        kind = BoardChange.Kind.SUBITEM_CREATED if subitem else BoardChange.Kind.ITEM_CREATED
        return (
            linked.filter(created_by_run__isnull=False).exists()
            or BoardChange.objects.filter(environment=self.env.name, kind=kind, monday_id=str(monday_id)).exists()
        )


def subitem_qty(subitem: dict, qty_column_id: str) -> int | None:
    """A size subitem's quantity as the board shows it (None when empty or not a number)."""
    text = ((subitem.get("column_values") or {}).get(qty_column_id) or {}).get("text")
    try:
        return int(float(text)) if text not in (None, "") else None
    except ValueError:
        return None
