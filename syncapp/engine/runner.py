"""Executes a sync run: groups, then items, then subitems, writing results back row by row.

The order of work in each chunk of rows:
1. find items for rows that have no link on this environment (natural key: AAG ORDER NUMBER), so
   a run that died after monday created an item does not create it twice;
2. plan every row (create, update, cancel, skip, fail);
3. create the groups the chunk needs and the board does not have;
4. create items; update and move existing ones (recording the values an update replaced);
5. create, update or zero their subitems;
6. write each row's outcome back to FACT_ORDER_LIST and ORDER_LIST_LINES.
A failing row never fails its batch-mates: monday's per-alias errors are recorded per row.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from syncapp.engine import plan as planning
from syncapp.engine.claims import claim_marker
from syncapp.engine.plan import Planner, RowPlan
from syncapp.engine.rows import rows_load
from syncapp.models import (
    ApiCall,
    BoardChange,
    BoardGroup,
    FactOrderList,
    ItemLink,
    OrderLine,
    RowResult,
    SubitemLink,
    SyncRun,
)
from syncapp.monday.client import ApiCallRecord, MondayClient, Mutation, MutationResult
from syncapp.monday.errors import MondayError
from syncapp.order_tables import FACT_TABLE, LINES_TABLE, canonical_uuid, db_uuid, sql_name
from syncapp.sync_config import EnvironmentConfig, SyncConfig, get_sync_config

logger = logging.getLogger(__name__)
MAX_LOG_BODY = 20_000


class RunStopped(Exception):
    """The run must stop (cancelled, or monday refuses to go on); unfinished rows are released."""


def client_for(env: EnvironmentConfig, *, run: SyncRun | None = None, quick: bool = False) -> MondayClient:
    """A monday client for one environment, logging every request to ORDER_LIST_API_LOG.

    `quick` is for someone waiting on a page (a preview, a board check): one retry and short waits,
    so an unreachable monday is reported in seconds rather than after the full retry budget.
    """
    from django.conf import settings

    config = get_sync_config().sync

    def record(call: ApiCallRecord) -> None:
        ApiCall.objects.create(
            run=run,
            environment=env.name,
            operation=call.operation,
            http_status=call.http_status,
            ok=call.ok,
            attempt=call.attempt,
            mutations=call.mutations,
            duration_ms=call.duration_ms,
            complexity=call.complexity,
            idempotency_key=call.idempotency_key,
            error=call.error[:2000],
            request_body=call.request_body[:MAX_LOG_BODY],
            response_body=call.response_body[:MAX_LOG_BODY],
        )

    def log(message: str) -> None:
        logger.info("%s: %s", run or env.name, message)
        if run is not None:
            SyncRun.objects.filter(pk=run.pk).update(current_step=message[:200], heartbeat_at=timezone.now())

    return MondayClient(
        api_url=settings.MONDAY_API_URL,
        token=env.token,
        environment=env.name,
        batch_size=config.items_per_request,
        max_retries=1 if quick else config.max_retries,
        max_wait_seconds=min(config.max_wait_seconds, 5) if quick else config.max_wait_seconds,
        connect_timeout=config.connect_timeout_seconds,
        read_timeout=min(config.read_timeout_seconds, 15) if quick else config.read_timeout_seconds,
        throttle_below_fraction=config.throttle_below_fraction,
        recorder=record,
        log=log,
    )


class Outcome:
    """What happened to one row during the run."""

    def __init__(self, plan: RowPlan):
        self.plan = plan
        self.error = ""
        self.error_code = ""
        self.item_id = plan.item_id
        self.group_id = plan.current_group_id
        self.subitems_written = 0

    def fail(self, message: str, code: str = "") -> None:
        if not self.error:
            self.error, self.error_code = message, code

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def settled(self) -> bool:
        """Known to have failed or to need no request, whatever happens to the rest of the chunk."""
        return bool(self.error) or self.plan.action in (planning.SKIP, planning.FAIL)


class SyncEngine:
    def __init__(self, run: SyncRun, *, client: MondayClient | None = None, chunk_rows: int | None = None):
        self.run = run
        self.config: SyncConfig = get_sync_config()
        self.env = self.config.environment(run.environment)
        self.client = client or client_for(self.env, run=run, quick=run.dry_run)
        self.chunk_rows = chunk_rows or self.config.sync.items_per_request * 8
        self.marker = claim_marker(run.id)
        self.preview: list[dict] = []
        self.groups_to_create: set[str] = set()
        self._journal_buffer: list[BoardChange] = []

    # --- board state -----------------------------------------------------------------------

    def load_board(self) -> None:
        self._step("reading the board's groups and labels")
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
            if not self.run.dry_run:
                self._check_cancelled()
            chunk = record_uuids[start : start + self.chunk_rows]
            self._step(f"rows {start + 1}-{start + len(chunk)} of {len(record_uuids)}")
            self.process_chunk(chunk)
            self._progress(start + len(chunk))

    def _check_cancelled(self) -> None:
        if SyncRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
            raise RunStopped("the run was cancelled.")

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
                self._flush_journal()
            finished = True
        finally:
            self._flush_journal()
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
        self._step(f"creating {len(missing)} group(s)")
        mutations = [
            Mutation(key=name, kind="create_group", args={"board_id": self.env.items_board_id, "group_name": name})
            for name in missing
        ]
        results = self._batch(mutations, "create_group")
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
            self._journal(BoardChange.Kind.GROUP_CREATED, group_id, after={"title": name})
            SyncRun.objects.filter(pk=self.run.pk).update(groups_created=F("groups_created") + 1)

    # --- items -------------------------------------------------------------------------------

    def _create_items(self, outcomes: dict[str, Outcome]) -> None:
        creates = [o for o in outcomes.values() if o.ok and o.plan.action == planning.CREATE]
        if not creates:
            return
        self._step(f"creating {len(creates)} item(s)")
        mutations = [
            Mutation(
                key=o.plan.record_uuid,
                kind="create_item",
                args={
                    "board_id": self.env.items_board_id,
                    "group_id": self.groups[o.plan.group_name],
                    "item_name": o.plan.item_name,
                    "column_values": o.plan.column_values,
                    "create_labels_if_missing": False,
                },
            )
            for o in creates
        ]
        results = self._batch(mutations, "create_item")
        links = []
        for o in creates:
            result = results[o.plan.record_uuid]
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
            self._journal(
                BoardChange.Kind.ITEM_CREATED,
                o.item_id,
                record_uuid=o.plan.record_uuid,
                after={"name": o.plan.item_name, "group_id": o.group_id},
            )
        # Created items had no link on this environment (the planner checked), so these are all new.
        ItemLink.objects.bulk_create(links, batch_size=500)
        self._flush_journal()
        self._write_new_labels([o for o in creates if o.ok])

    def _write_new_labels(self, outcomes: list[Outcome]) -> None:
        """Columns whose policy allows new labels, sent on their own with create_labels_if_missing."""
        pending = [o for o in outcomes if o.plan.new_label_values]
        if not pending:
            return
        mutations = [
            Mutation(
                key=o.plan.record_uuid,
                kind="change_columns",
                args={
                    "board_id": self.env.items_board_id,
                    "item_id": o.item_id,
                    "column_values": o.plan.new_label_values,
                    "create_labels_if_missing": True,
                },
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
        self._step(f"updating {len(updates)} item(s)")
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
            self._adopt_subitems(o.plan.record_uuid, o.item_id, item.get("subitems") or [])
            self._refresh_size_links(o)
            values = {**o.plan.column_values, "name": o.plan.item_name}
            # Columns that may create labels are written in a second mutation; their old values
            # are kept too, or a rollback could not restore them.
            written = [*o.plan.column_values, *o.plan.new_label_values]
            before = {column_id: item["column_values"].get(column_id, {}) for column_id in written}
            before["name"] = {"value": json.dumps(item.get("name")), "text": item.get("name")}
            before["group_id"] = item.get("group_id")
            self._journal(
                BoardChange.Kind.ITEM_UPDATED, o.item_id, record_uuid=o.plan.record_uuid, before=before, after=values
            )
            mutations.append(
                Mutation(
                    key=o.plan.record_uuid,
                    kind="change_columns",
                    args={
                        "board_id": self.env.items_board_id,
                        "item_id": o.item_id,
                        "column_values": values,
                        "create_labels_if_missing": False,
                    },
                )
            )
            target_group = self.groups[o.plan.group_name]
            if before["group_id"] != target_group:
                mutations.append(
                    Mutation(
                        key=f"{o.plan.record_uuid}/move",
                        kind="move_item",
                        args={"item_id": o.item_id, "group_id": target_group},
                    )
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
                qty = str(size.qty)
                if size.subitem_id is None:
                    mutations.append(
                        Mutation(
                            key=key,
                            kind="create_subitem",
                            args={
                                "parent_item_id": o.item_id,
                                "item_name": f"{self.config.naming.subitem_name_prefix}{size.size_code}",
                                "column_values": {
                                    env.size_column_id: {"labels": [size.size_code]},
                                    env.qty_column_id: qty,
                                },
                                "create_labels_if_missing": may_create_size and size.size_code not in known_sizes,
                            },
                        )
                    )
                else:
                    self._journal(
                        BoardChange.Kind.SUBITEM_UPDATED,
                        size.subitem_id,
                        record_uuid=o.plan.record_uuid,
                        size_code=size.size_code,
                        before={"qty": size.previous_qty},
                        after={"qty": size.qty},
                    )
                    mutations.append(
                        Mutation(
                            key=key,
                            kind="change_columns",
                            args={
                                "board_id": env.subitems_board_id,
                                "item_id": size.subitem_id,
                                "column_values": {env.qty_column_id: qty},
                                "create_labels_if_missing": False,
                            },
                        )
                    )
        if not mutations:
            return
        self._step(f"writing {len(mutations)} size(s)")
        results = self._batch(mutations, "write_subitems", batch_size=self.config.sync.subitems_per_request)
        new_links = []
        for key, (o, size) in targets.items():
            result: MutationResult = results[key]
            if not result.ok:
                o.fail(f"size {size.size_code}: {result.error_message}", result.error_code)
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
                self._journal(
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
        self._flush_journal()

    # --- write-back ----------------------------------------------------------------------------

    def _write_back(self, outcomes: dict[str, Outcome]) -> None:
        """Each row's outcome into FACT_ORDER_LIST, ORDER_LIST_LINES and its RowResult, in a few bulk
        statements per chunk. Only rows still claimed by this run are written."""
        if not outcomes:
            return
        now = timezone.now()
        skipped = [o for o in outcomes.values() if o.plan.action == planning.SKIP]
        failed = [
            o
            for o in outcomes.values()
            if o.plan.action == planning.FAIL or (o.plan.action != planning.SKIP and not o.ok)
        ]
        synced = [o for o in outcomes.values() if o.plan.action not in (planning.SKIP, planning.FAIL) and o.ok]
        owned = FactOrderList.objects.filter(sync_state="CLAIMED", api_status=self.marker)
        with transaction.atomic():
            self._write_skipped(owned, skipped, now)
            self._write_failed(owned, failed, now)
            self._write_synced(owned, synced, now)
            self._write_results(outcomes)

    def _write_skipped(self, owned, skipped: list[Outcome], now) -> None:
        by_message = defaultdict(list)
        for o in skipped:
            by_message[o.plan.message].append(o.plan.record_uuid)
        for message, uuids in by_message.items():
            owned.filter(record_uuid__in=uuids).update(
                sync_state="COMPLETED",
                action_type="NONE",
                api_status="SKIPPED",
                api_error_message=message,
                sync_completed_at=now,
                updated_at=now,
            )
            OrderLine.objects.filter(record_uuid__in=uuids).update(sync_state="COMPLETED", action_type="NONE")

    def _write_failed(self, owned, failed: list[Outcome], now) -> None:
        # Messages differ per row, and failures are few: one statement per row is fine here.
        for o in failed:
            message = self._message(o)
            owned.filter(record_uuid=o.plan.record_uuid).update(
                sync_state="ERROR",
                api_status="ERROR",
                api_error_message=message[:2000],
                sync_error_message=message[:1000],
                api_operation_type=o.plan.action,
                retry_count=F("retry_count") + 1,
                api_response_timestamp=now,
                updated_at=now,
            )
            OrderLine.objects.filter(record_uuid=o.plan.record_uuid).update(
                sync_state="ERROR", api_status="ERROR", api_error_message=message[:2000], updated_at=now
            )

    def _write_synced(self, owned, synced: list[Outcome], now) -> None:
        if not synced:
            return
        uuids = [o.plan.record_uuid for o in synced]
        # Locks the rows (PostgreSQL, SQL Server; SQLite's write transaction serialises anyway) so a
        # merge cannot change a hash between this read and the update below.
        current = {
            canonical_uuid(u): h
            for u, h in owned.select_for_update().filter(record_uuid__in=uuids).values_list("record_uuid", "row_hash")
        }
        # A merge that changed the row while it was claimed wins: the row stays PENDING/UPDATE.
        unchanged = [o.plan.record_uuid for o in synced if current.get(o.plan.record_uuid) == o.plan.row.row_hash]
        changed = [
            o.plan.record_uuid
            for o in synced
            if o.plan.record_uuid in current and current[o.plan.record_uuid] != o.plan.row.row_hash
        ]
        common = {
            "api_status": "SUCCESS",
            "api_error_message": None,
            "sync_error_message": None,
            "sync_completed_at": now,
            "last_synced_at": now,
            "api_response_timestamp": now,
            "updated_at": now,
        }
        production = self.env.is_production
        fields = ["group_name", "item_name", "api_operation_type"]
        if production:
            fields += ["monday_item_id", "group_id"]
        # One prepared statement for the values that differ per row: Django's bulk_update builds a
        # CASE per field, which costs more than the sync itself at this size.
        self._update_each(
            FACT_TABLE,
            fields,
            "record_uuid",
            [
                (o.plan.group_name, o.plan.item_name, o.plan.action)
                + ((o.item_id, o.group_id) if production else ())
                + (db_uuid(o.plan.record_uuid),)
                for o in synced
                if o.plan.record_uuid in current
            ],
        )
        owned.filter(record_uuid__in=unchanged).update(sync_state="SYNCED", **common)
        owned.filter(record_uuid__in=changed).update(sync_state="PENDING", action_type="UPDATE", **common)
        # Only the size lines of unchanged rows are SYNCED: a merge during the run may have changed a
        # changed row's quantities after they were read, and those lines stay PENDING with their row.
        OrderLine.objects.filter(record_uuid__in=unchanged).update(
            sync_state="SYNCED", api_status="SUCCESS", api_error_message=None, sync_completed_at=now, updated_at=now
        )
        if production:
            self._mirror_subitems([o for o in synced if o.plan.record_uuid in current])

    def _mirror_subitems(self, synced: list[Outcome]) -> None:
        """FACT and ORDER_LIST_LINES carry the production board's ids (and only those)."""
        q = sql_name
        per_line = [
            (s.subitem_id, o.item_id, o.item_id, db_uuid(o.plan.record_uuid), s.size_code)
            for o in synced
            for s in o.plan.sizes
            if s.subitem_id
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {q(LINES_TABLE)} SET {q('monday_subitem_id')} = %s, {q('parent_item_id')} = %s, "  # noqa: S608
                f"{q('monday_item_id')} = %s WHERE {q('record_uuid')} = %s AND {q('size_code')} = %s",
                per_line,
            )

    @staticmethod
    def _update_each(table: str, fields: list[str], key: str, rows: list[tuple]) -> None:
        if not rows:
            return
        assignments = ", ".join(f"{sql_name(f)} = %s" for f in fields)
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {sql_name(table)} SET {assignments} WHERE {sql_name(key)} = %s", rows)  # noqa: S608

    def _write_results(self, outcomes: dict[str, Outcome]) -> None:
        # The claim created a planned result per row holding its earlier state; it is replaced by the
        # final one (a delete and a bulk insert cost far less than Django's bulk_update).
        planned = RowResult.objects.filter(run=self.run, record_uuid__in=list(outcomes))
        earlier = {
            canonical_uuid(u): (state, action)
            for u, state, action in planned.values_list("record_uuid", "previous_sync_state", "previous_action_type")
        }
        planned.delete()
        fresh = []
        for key, o in outcomes.items():
            p = o.plan
            action = p.action
            if action == planning.FAIL:
                action = RowResult.Action.CREATE if o.item_id is None else RowResult.Action.UPDATE
            if p.action == planning.SKIP:
                outcome = RowResult.Outcome.SKIPPED
            elif o.ok and p.action != planning.FAIL:
                outcome = RowResult.Outcome.SYNCED
            else:
                outcome = RowResult.Outcome.ERROR
            previous_state, previous_action = earlier.get(key, ("", ""))
            fresh.append(
                RowResult(
                    run=self.run,
                    record_uuid=key,
                    aag_order_number=p.row.aag_order_number[:100],
                    customer_name=p.row.customer_name[:100],
                    po_number=p.row.po_number[:255],
                    action=action,
                    outcome=outcome,
                    monday_item_id=o.item_id,
                    group_id=o.group_id or "",
                    sizes_written=o.subitems_written,
                    message=p.message if p.action in (planning.SKIP, planning.FAIL) else o.error,
                    error_code=o.error_code[:100],
                    previous_sync_state=previous_state,
                    previous_action_type=previous_action,
                )
            )
        RowResult.objects.bulk_create(fresh, batch_size=200)

    @staticmethod
    def _message(o: Outcome) -> str:
        return o.plan.message if o.plan.action == planning.FAIL else o.error

    # --- helpers -------------------------------------------------------------------------------

    def _batch(self, mutations: list[Mutation], operation: str, *, batch_size: int | None = None):
        # Per run: a retry run must not be answered from the cache of the run it retries.
        scope = f"run:{self.run.id}"
        results = self.client.run_batch(
            mutations,
            operation=operation,
            idempotency_scope=scope,
            **({"batch_size": batch_size} if batch_size else {}),
        )
        return results

    def _journal(
        self,
        kind: str,
        monday_id,
        *,
        record_uuid: str | None = None,
        size_code: str = "",
        before: dict | None = None,
        after: dict | None = None,
    ) -> None:
        self._journal_buffer.append(
            BoardChange(
                run=self.run,
                environment=self.env.name,
                board_id=self.env.subitems_board_id if kind.startswith("subitem") else self.env.items_board_id,
                kind=kind,
                monday_id=str(monday_id),
                record_uuid=record_uuid,
                size_code=size_code,
                before=before or {},
                after=after or {},
            )
        )

    def _flush_journal(self) -> None:
        BoardChange.objects.bulk_create(self._journal_buffer, batch_size=500)
        self._journal_buffer = []

    def _preview(self, plans: list[RowPlan]) -> None:
        for p in plans:
            if p.action in (planning.CREATE, planning.UPDATE, planning.CANCEL) and p.group_name not in self.groups:
                self.groups_to_create.add(p.group_name)
            self.preview.append(p.as_preview(self.column_titles))

    def _step(self, text: str) -> None:
        SyncRun.objects.filter(pk=self.run.pk).update(current_step=text[:200], heartbeat_at=timezone.now())

    def _progress(self, processed: int) -> None:
        SyncRun.objects.filter(pk=self.run.pk).update(
            processed_rows=processed, heartbeat_at=timezone.now(), **self._stats()
        )

    def _stats(self) -> dict:
        stats = self.client.stats
        return {
            "requests_count": stats.requests,
            "mutations_count": stats.mutations,
            "retries_count": stats.retries,
            "complexity_used": stats.complexity_used,
            "waited_seconds": round(stats.waited_seconds, 1),
        }


def stop_reason(error: Exception) -> str:
    if isinstance(error, MondayError):
        return str(error)
    return f"{type(error).__name__}: {error}"
