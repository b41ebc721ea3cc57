"""Executes a sync run: groups, then items, then subitems, writing results back row by row.

The order of work in each chunk of rows:
1. find items for rows that have no link on this environment (natural key: AAG ORDER NUMBER), so
   a run that died after monday created an item does not create it twice;
2. plan every row (create, update, cancel, skip, fail);
3. create the groups the chunk needs and the board does not have;
4. create items; update and move existing ones (recording the values an update replaced);
5. create, update or zero their subitems;
6. write each row's outcome back to FACT_ORDER_LIST and ORDER_LIST_LINES (`engine.writeback`).
A failing row never fails its batch-mates: monday's per-alias errors are recorded per row.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable

from django.db.models import F

from syncapp.engine import mutations as build
from syncapp.engine import plan as planning
from syncapp.engine.journal import Journal
from syncapp.engine.plan import Planner, RowPlan
from syncapp.engine.progress import RunProgress, RunStopped, client_stats
from syncapp.engine.recovery import NaturalKeyRecovery
from syncapp.engine.rows import rows_load
from syncapp.engine.writeback import Outcome, outcomes_write
from syncapp.models import BoardChange, BoardGroup, ItemLink, SubitemLink, SyncRun
from syncapp.monday.client import MondayClient
from syncapp.monday.factory import monday_client
from syncapp.monday.types import Mutation, MutationResult
from syncapp.sync_config import SyncConfig

# Answers to a write that may mean its item or subitem is gone from the board (WholeRequestError: the
# client isolated a mutation monday refused with a whole-request 500).
STALE_ID_CODES = frozenset({"WholeRequestError", "ResourceNotFoundException", "InvalidItemIdException"})


class SyncEngine:
    """One run's work. `config` is read once by the caller (the run's configuration throughout)."""

    def __init__(
        self,
        run: SyncRun,
        *,
        config: SyncConfig,
        client: MondayClient | None = None,
        chunk_rows: int | None = None,
    ):
        self.run = run
        self.config = config
        self.env = config.environment(run.environment)
        self.progress = RunProgress(run.pk)
        self.client = client or monday_client(
            self.env,
            profile="quick" if run.dry_run else "sync",
            run_id=run.pk,
            log=self.progress.step,
            settings_=config.sync,
        )
        self.chunk_rows = chunk_rows or config.sync.items_per_request * 8
        # A lost answer to a create is looked up on the board before anything is sent again.
        self.recovery = NaturalKeyRecovery(self.client, aag_column_id=self.env.item_columns.get("AAG ORDER NUMBER"))
        self.journal = Journal(run, self.env)
        self.preview: list[dict] = []
        self.groups_to_create: set[str] = set()

    # --- board state -----------------------------------------------------------------------

    def load_board(self) -> None:
        self.progress.step("reading the board's groups and labels")
        board = self.client.get_board(self.env.items_board_id)
        subitems_board = self.client.get_board(self.env.subitems_board_id)
        self.column_titles = {c.id: c.title for c in self.env.items_board.columns.values()}
        known: dict[str, set[str]] = {}
        for b in (board, subitems_board):
            for column in b.columns.values():
                known[column.id] = set(column.labels)
        self.known_labels = known
        self.groups = {g.title: g.id for g in board.groups}
        if not self.run.dry_run:
            self._remember_groups(self.groups)
        self.planner = Planner(self.config, self.env, known)

    def _remember_groups(self, groups: dict[str, str]) -> None:
        board_id = self.env.items_board_id
        registered = dict(BoardGroup.objects.filter(board_id=board_id).values_list("group_name", "group_id"))
        for name, group_id in groups.items():
            if registered.get(name) != group_id:
                BoardGroup.objects.filter(board_id=board_id).filter(group_id=group_id).exclude(group_name=name).delete()
                BoardGroup.objects.update_or_create(board_id=board_id, group_name=name, defaults={"group_id": group_id})

    # --- the run ---------------------------------------------------------------------------

    def execute(self, record_uuids: list[str]) -> None:
        self.load_board()
        for start in range(0, len(record_uuids), self.chunk_rows):
            if not self.run.dry_run and self.progress.cancel_requested():
                raise RunStopped("the run was cancelled.")
            chunk = record_uuids[start : start + self.chunk_rows]
            self.progress.step(f"rows {start + 1}-{start + len(chunk)} of {len(record_uuids)}")
            self.process_chunk(chunk)
            self.progress.processed(start + len(chunk), self.stats())

    def process_chunk(self, record_uuids: list[str]) -> None:
        rows = rows_load(self.config, record_uuids)
        links = {
            str(link.record_uuid): link
            for link in ItemLink.objects.filter(environment=self.env.name, record_uuid__in=record_uuids)
        }
        found = self._find_unlinked(rows, links)
        sub_links = defaultdict(dict)
        for link in SubitemLink.objects.filter(environment=self.env.name, record_uuid__in=record_uuids):
            sub_links[str(link.record_uuid)][link.size_code] = (link.monday_subitem_id, link.qty)
        plans = []
        for row in rows:
            link = links.get(row.record_uuid)
            item_id = link.monday_item_id if link else found.get(row.record_uuid)
            group_id = link.group_id if link else ""
            plans.append(
                self.planner.plan(row, item_id=item_id, group_id=group_id, subitems=sub_links[row.record_uuid])
            )
        if self.run.dry_run:
            self._preview(plans)
            return
        outcomes = {p.record_uuid: Outcome(p) for p in plans}
        finished = False
        try:
            for stage in (self._ensure_groups, self._create_items, self._update_items, self._write_subitems):
                stage(outcomes)
                self.journal.flush()
            finished = True
        finally:
            self.journal.flush()
            # When the run stops mid-chunk, only rows whose fate is already known are written;
            # the others stay claimed and are released as PENDING for the next run.
            self._write_back(outcomes if finished else {k: o for k, o in outcomes.items() if o.settled})

    # --- natural key recovery ----------------------------------------------------------------

    def _find_unlinked(self, rows, links) -> dict[str, int]:
        """Items already on the board for rows this environment has no link for (a run that died)."""
        aag_column = self.env.item_columns.get("AAG ORDER NUMBER")
        unlinked = {r.aag_order_number: r for r in rows if r.record_uuid not in links and r.aag_order_number}
        if not aag_column or not unlinked:
            return {}
        matches = self.client.find_items_by_column_value(self.env.items_board_id, aag_column, sorted(unlinked))
        found: dict[str, int] = {}
        for aag, items in matches.items():
            row = unlinked.get(aag)
            if not row or not items:
                continue
            item = min(items, key=lambda i: int(i["id"]))
            found[row.record_uuid] = int(item["id"])
            if self.run.dry_run:
                continue
            ItemLink.objects.update_or_create(
                environment=self.env.name,
                record_uuid=row.record_uuid,
                defaults={
                    "board_id": self.env.items_board_id,
                    "monday_item_id": int(item["id"]),
                    "group_id": item.get("group_id") or "",
                    "aag_order_number": aag,
                },
            )
            self._adopt_subitems(row.record_uuid, int(item["id"]), item.get("subitems") or [])
        return found

    def _adopt_subitems(self, record_uuid: str, item_id: int, subitems: list[dict]) -> None:
        prefix = self.config.naming.subitem_name_prefix
        for subitem in subitems:
            name = subitem.get("name") or ""
            if not name.startswith(prefix):
                continue
            SubitemLink.objects.get_or_create(
                environment=self.env.name,
                record_uuid=record_uuid,
                size_code=name[len(prefix) :],
                defaults={
                    "board_id": self.env.subitems_board_id,
                    "monday_subitem_id": int(subitem["id"]),
                    "parent_item_id": item_id,
                    "qty": None,
                },
            )

    # --- groups ------------------------------------------------------------------------------

    def _ensure_groups(self, outcomes: dict[str, Outcome]) -> None:
        needed = {
            o.plan.group_name
            for o in outcomes.values()
            if o.plan.action in (planning.CREATE, planning.UPDATE, planning.CANCEL)
        }
        missing = sorted(needed - set(self.groups))
        if not missing:
            return
        self.progress.step(f"creating {len(missing)} group(s)")
        mutations = [build.create_group(name, board_id=self.env.items_board_id, name=name) for name in missing]

        def record(results: dict[str, MutationResult]) -> None:
            for name, result in results.items():
                if not result.ok:
                    for o in outcomes.values():
                        if o.plan.group_name == name:
                            o.fail(f"group {name!r} could not be created: {result.error_message}", result.error_code)
                    continue
                group_id = result.data["id"]
                self.groups[name] = group_id
                BoardGroup.objects.update_or_create(
                    board_id=self.env.items_board_id,
                    group_name=name,
                    defaults={"group_id": group_id, "created_by_run": self.run},
                )
                self.journal.record(BoardChange.Kind.GROUP_CREATED, group_id, after={"title": name})
                SyncRun.objects.filter(pk=self.run.pk).update(groups_created=F("groups_created") + 1)
            self.journal.flush()

        self._batch(mutations, "create_group", on_chunk=record)

    # --- items -------------------------------------------------------------------------------

    def _create_items(self, outcomes: dict[str, Outcome]) -> None:
        creates = [o for o in outcomes.values() if o.ok and o.plan.action == planning.CREATE]
        if not creates:
            return
        self.progress.step(f"creating {len(creates)} item(s)")
        mutations = [
            build.create_item(
                o.plan.record_uuid,
                board_id=self.env.items_board_id,
                group_id=self.groups[o.plan.group_name],
                name=o.plan.item_name,
                column_values=o.plan.column_values,
            )
            for o in creates
        ]
        by_key = {o.plan.record_uuid: o for o in creates}

        def record(results: dict[str, MutationResult]) -> None:
            # Recorded per request: if a later request stops the run, these items are still linked
            # and journaled, so the run's counts and its rollback see them.
            links = []
            for key, result in results.items():
                o = by_key[key]
                if not result.ok:
                    o.fail(result.error_message, result.error_code)
                    continue
                o.item_id = int(result.data["id"])
                o.group_id = self.groups[o.plan.group_name]
                links.append(
                    ItemLink(
                        environment=self.env.name,
                        record_uuid=o.plan.record_uuid,
                        board_id=self.env.items_board_id,
                        monday_item_id=o.item_id,
                        group_id=o.group_id,
                        aag_order_number=o.plan.row.aag_order_number,
                        created_by_run=self.run,
                    )
                )
                self.journal.record(
                    BoardChange.Kind.ITEM_CREATED,
                    o.item_id,
                    record_uuid=o.plan.record_uuid,
                    after={"name": o.plan.item_name, "group_id": o.group_id},
                )
            # Created items had no link on this environment (the planner checked), so these are all new.
            ItemLink.objects.bulk_create(links, batch_size=500)
            self.journal.flush()

        self._batch(mutations, "create_item", on_chunk=record)
        self._write_new_labels([o for o in creates if o.ok])

    def _write_new_labels(self, outcomes: list[Outcome]) -> None:
        """Columns whose policy allows new labels, sent on their own with create_labels_if_missing."""
        pending = [o for o in outcomes if o.plan.new_label_values]
        if not pending:
            return
        mutations = [
            build.change_columns(
                o.plan.record_uuid,
                board_id=self.env.items_board_id,
                item_id=o.item_id,
                column_values=o.plan.new_label_values,
                create_labels=True,
            )
            for o in pending
        ]
        results = self._batch(mutations, "create_labels")
        for o in pending:
            result = results[o.plan.record_uuid]
            if result.ok:
                self.planner.learn_labels(o.plan)
            else:
                o.fail(result.error_message, result.error_code)

    def _update_items(self, outcomes: dict[str, Outcome]) -> None:
        updates = [o for o in outcomes.values() if o.ok and o.plan.action in (planning.UPDATE, planning.CANCEL)]
        if not updates:
            return
        self.progress.step(f"updating {len(updates)} item(s)")
        current = {int(i["id"]): i for i in self.client.get_items([o.item_id for o in updates])}
        mutations = []
        for o in updates:
            item = current.get(o.item_id)
            if item is None:
                o.fail(
                    f"item {o.item_id} is no longer on the board (deleted or archived). Its link was removed; "
                    "the next sync creates the item again.",
                    "ResourceNotFoundException",
                )
                ItemLink.objects.filter(environment=self.env.name, record_uuid=o.plan.record_uuid).delete()
                SubitemLink.objects.filter(environment=self.env.name, record_uuid=o.plan.record_uuid).delete()
                continue
            self._forget_gone_subitems(o, item.get("subitems") or [])
            self._adopt_subitems(o.plan.record_uuid, o.item_id, item.get("subitems") or [])
            self._refresh_size_links(o)
            values = {**o.plan.column_values, "name": o.plan.item_name}
            # Columns that may create labels are written in a second mutation; their old values
            # are kept too, or a rollback could not restore them.
            written = [*o.plan.column_values, *o.plan.new_label_values]
            before = {column_id: item["column_values"].get(column_id, {}) for column_id in written}
            before["name"] = {"value": json.dumps(item.get("name")), "text": item.get("name")}
            before["group_id"] = item.get("group_id")
            self.journal.record(
                BoardChange.Kind.ITEM_UPDATED, o.item_id, record_uuid=o.plan.record_uuid, before=before, after=values
            )
            mutations.append(
                build.change_columns(
                    o.plan.record_uuid, board_id=self.env.items_board_id, item_id=o.item_id, column_values=values
                )
            )
            target_group = self.groups[o.plan.group_name]
            if before["group_id"] != target_group:
                mutations.append(
                    build.move_item(f"{o.plan.record_uuid}/move", item_id=o.item_id, group_id=target_group)
                )
        results = self._batch(mutations, "update_item")
        for o in updates:
            for key in (o.plan.record_uuid, f"{o.plan.record_uuid}/move"):
                result = results.get(key)
                if result is not None and not result.ok:
                    o.fail(result.error_message, result.error_code)
            if o.ok:
                o.group_id = self.groups[o.plan.group_name]
                ItemLink.objects.filter(environment=self.env.name, record_uuid=o.plan.record_uuid).update(
                    group_id=o.group_id
                )
        self._write_new_labels([o for o in updates if o.ok])

    def _forget_gone_subitems(self, o: Outcome, subitems: list[dict]) -> None:
        """Links to sizes deleted or archived on the board are dropped, and those sizes created again:
        a write to a stale subitem id would be refused (monday may refuse its whole request)."""
        alive = {int(s["id"]) for s in subitems}
        gone = SubitemLink.objects.filter(environment=self.env.name, record_uuid=o.plan.record_uuid).exclude(
            monday_subitem_id__in=alive
        )
        gone_ids = set(gone.values_list("monday_subitem_id", flat=True))
        if not gone_ids:
            return
        gone.delete()
        for size in o.plan.sizes:
            if size.subitem_id in gone_ids:
                size.subitem_id, size.previous_qty = None, None

    def _refresh_size_links(self, o: Outcome) -> None:
        links = {
            link.size_code: link
            for link in SubitemLink.objects.filter(environment=self.env.name, record_uuid=o.plan.record_uuid)
        }
        for size in o.plan.sizes:
            link = links.get(size.size_code)
            if link and size.subitem_id is None:
                size.subitem_id, size.previous_qty = link.monday_subitem_id, link.qty

    # --- subitems ----------------------------------------------------------------------------

    def _write_subitems(self, outcomes: dict[str, Outcome]) -> None:
        env = self.env
        may_create_size = self.config.create_labels.get("size", False)
        known_sizes = self.known_labels.setdefault(env.size_column_id, set())
        mutations, targets = [], {}
        for o in outcomes.values():
            if (
                not o.ok
                or o.item_id is None
                or o.plan.action not in (planning.CREATE, planning.UPDATE, planning.CANCEL)
            ):
                continue
            for size in o.plan.sizes:
                if not size.needs_write:
                    continue
                key = f"{o.plan.record_uuid}/{size.size_code}"
                targets[key] = (o, size)
                if size.subitem_id is None:
                    mutations.append(
                        build.create_subitem(
                            key,
                            parent_item_id=o.item_id,
                            name=f"{self.config.naming.subitem_name_prefix}{size.size_code}",
                            column_values={
                                env.size_column_id: {"labels": [size.size_code]},
                                env.qty_column_id: str(size.qty),
                            },
                            create_labels=may_create_size and size.size_code not in known_sizes,
                        )
                    )
                else:
                    self.journal.record(
                        BoardChange.Kind.SUBITEM_UPDATED,
                        size.subitem_id,
                        record_uuid=o.plan.record_uuid,
                        size_code=size.size_code,
                        before={"qty": size.previous_qty},
                        after={"qty": size.qty},
                    )
                    mutations.append(
                        build.subitem_qty(
                            key,
                            board_id=env.subitems_board_id,
                            subitem_id=size.subitem_id,
                            qty_column_id=env.qty_column_id,
                            qty=size.qty,
                        )
                    )
        if not mutations:
            return
        self.progress.step(f"writing {len(mutations)} size(s)")

        def record(results: dict[str, MutationResult]) -> None:
            new_links = []
            for key, result in results.items():
                o, size = targets[key]
                if not result.ok:
                    o.fail(f"size {size.size_code}: {result.error_message}", result.error_code)
                    if size.subitem_id is not None and result.error_code in STALE_ID_CODES:
                        # Perhaps deleted on the board: the next sync adopts it again by name if it is
                        # still there, or creates it.
                        SubitemLink.objects.filter(
                            environment=env.name, record_uuid=o.plan.record_uuid, size_code=size.size_code
                        ).delete()
                    continue
                o.subitems_written += 1
                if size.subitem_id is None:
                    size.subitem_id = int(result.data["id"])
                    known_sizes.add(size.size_code)
                    new_links.append(
                        SubitemLink(
                            environment=env.name,
                            record_uuid=o.plan.record_uuid,
                            size_code=size.size_code,
                            board_id=env.subitems_board_id,
                            monday_subitem_id=size.subitem_id,
                            parent_item_id=o.item_id,
                            qty=size.qty,
                            created_by_run=self.run,
                        )
                    )
                    self.journal.record(
                        BoardChange.Kind.SUBITEM_CREATED,
                        size.subitem_id,
                        record_uuid=o.plan.record_uuid,
                        size_code=size.size_code,
                        after={"qty": size.qty, "parent_item_id": o.item_id},
                    )
                else:
                    SubitemLink.objects.filter(
                        environment=env.name, record_uuid=o.plan.record_uuid, size_code=size.size_code
                    ).update(qty=size.qty)
            SubitemLink.objects.bulk_create(new_links, batch_size=500)
            self.journal.flush()

        self._batch(mutations, "write_subitems", batch_size=self.config.sync.subitems_per_request, on_chunk=record)

    # --- helpers -------------------------------------------------------------------------------

    def _batch(
        self,
        mutations: list[Mutation],
        operation: str,
        *,
        batch_size: int | None = None,
        on_chunk: Callable[[dict[str, MutationResult]], None] | None = None,
    ) -> dict[str, MutationResult]:
        # Per run: a retry run must not be answered from the cache of the run it retries.
        scope = f"run:{self.run.id}"
        return self.client.run_batch(
            mutations,
            operation=operation,
            idempotency_scope=scope,
            recover=self.recovery,
            on_chunk=on_chunk,
            **({"batch_size": batch_size} if batch_size else {}),
        )

    def _preview(self, plans: list[RowPlan]) -> None:
        for p in plans:
            if p.action in (planning.CREATE, planning.UPDATE, planning.CANCEL) and p.group_name not in self.groups:
                self.groups_to_create.add(p.group_name)
            self.preview.append(p.as_preview(self.column_titles))

    def stats(self) -> dict:
        """The monday client's counters under the run's field names (requests_count, ...)."""
        return client_stats(self.client)

    def _write_back(self, outcomes: dict[str, Outcome]) -> None:
        outcomes_write(run=self.run, env=self.env, outcomes=outcomes)
