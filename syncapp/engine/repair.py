"""A repair run: the open findings of a finished reconcile run, settled on the board orderops owns.

The run lifecycle (services/runs.py) starts and finishes the run. This executor claims the findings
the repair was asked for (a compare-and-set UPDATE: one repair run per finding), decides what each
needs and has `engine/repair_board.RepairBoard` send it (journaled as the repair run's BoardChange
rows, so `engine/rollback.py` undoes a repair like a sync run), then settles each finding:

- missing item: looked up on the board by its AAG ORDER NUMBER first (it may only have lost its
  link) and linked again; otherwise re-created in its group with its sizes, and linked;
- missing size, size drift: the size is created, its quantity or size label written back; a size
  subitem the order does not have, or a second one for a size, is archived only when orderops
  created it;
- value drift: the order's value is written back (order_wins), or, for a column people own on
  monday (board_wins in the configuration or on the finding), nothing is written: left for review;
- wrong group: the item is moved back to the group it belongs in;
- duplicate: a copy of an order line's item orderops created (a second item with its AAG ORDER
  NUMBER, whoever made the copy) is archived, never deleted (monday keeps it 30 days in the board's
  archive); the linked item is kept. Only items orderops created are touched that way: a copy of an
  item orderops did not create (a line linked to an item a person made) is left alone (not_ours),
  and while the line's linked item is not on the board nothing is archived (failed: link it first);
- orphan: never touched.

One finding's failure (monday refusing its mutation, an order line gone) settles that finding as
failed and never stops the others. A stop of the whole run (cancelled, monday unavailable, the token
refused) leaves the findings it did not reach open for the next repair. Row states are not changed:
a repair puts the board back to what the order lines, already synced, say.
"""

from __future__ import annotations

import json
from collections import defaultdict

from django.db.models import Count
from django.utils import timezone

from syncapp.engine import plan as planning
from syncapp.engine.journal import IN_CHUNK
from syncapp.engine.plan import RowPlan
from syncapp.engine.progress import RunProgress, RunStopped, stop_reason
from syncapp.engine.repair_board import NOT_FOUND, RepairBoard, SizeTask, subitem_qty
from syncapp.engine.rows import OrderRow, rows_load
from syncapp.models import BoardChange, ItemLink, ReconcileFinding, SubitemLink, SyncRun
from syncapp.monday.errors import MondayError
from syncapp.order_tables import canonical_uuid
from syncapp.raw_sql import chunks
from syncapp.sync_config import SyncConfig

Kind, Status, Policy = ReconcileFinding.Kind, ReconcileFinding.Status, ReconcileFinding.Policy
SETTLED = (Status.REPAIRED, Status.REVIEW, Status.FAILED, Status.NOT_OURS)
AGAIN = "Reconcile again to see what is left."


class RepairCancelled(RunStopped):
    """Someone cancelled the repair; the findings it did not reach stay open."""


class RepairExecutor:
    """Executes one repair run (kind "repair", parent = the reconcile run whose findings it settles)."""

    def __init__(self, run: SyncRun, *, config: SyncConfig):
        self.run = run
        self.config = config
        self.env = config.environment(run.environment)
        self.progress = RunProgress(run.pk)
        self.board = RepairBoard(run, config=config, progress=self.progress)
        self.done: dict[str, int] = defaultdict(int)
        self.started = False
        self.rows: dict[str, OrderRow] = {}
        self.items_done: dict[str, str] = {}  # record uuid -> "" (its item repaired) or why it failed

    def execute(self) -> None:
        self.started = True
        findings = self.claim()
        SyncRun.objects.filter(pk=self.run.pk).update(total_rows=len(findings))
        if not findings:
            return
        self.board.load()
        uuids = sorted({canonical_uuid(f.record_uuid) for f in findings if f.record_uuid})
        self.rows = {row.record_uuid: row for row in rows_load(self.config, uuids)}
        by_stage: dict[str, list[ReconcileFinding]] = defaultdict(list)
        for finding in findings:
            by_stage[self.stage_of(finding)].append(finding)
        stages = (
            ("leave", self.leave_alone),
            ("missing", self.repair_missing_items),
            ("sizes", self.repair_sizes),
            ("values", self.repair_values),
            ("groups", self.repair_groups),
            ("duplicates", self.archive_duplicates),
        )
        for name, stage in stages:
            if self.progress.cancel_requested():
                raise RepairCancelled("the repair was cancelled")
            if by_stage[name]:
                try:
                    stage(by_stage[name])
                finally:
                    self.board.journal.flush()
            self.progress.processed(self.settled_count(), self.board.stats())

    def stage_of(self, f: ReconcileFinding) -> str:
        if f.kind == Kind.ORPHAN:
            return "leave"
        if f.kind == Kind.VALUE_DRIFT and self.board_wins(f):
            return "leave"
        if f.kind == Kind.SIZE_DRIFT or (f.kind == Kind.MISSING and f.size_code):
            return "sizes"
        stages = {Kind.MISSING: "missing", Kind.VALUE_DRIFT: "values", Kind.WRONG_GROUP: "groups"}
        return stages.get(f.kind, "duplicates" if f.kind == Kind.DUPLICATE else "leave")

    def board_wins(self, f: ReconcileFinding) -> bool:
        # Either says so: a person's value is never overwritten because the configuration changed
        # between the reconcile and the repair.
        return f.policy == Policy.BOARD_WINS or self.env.column_policy(f.column_id) == Policy.BOARD_WINS

    # --- claiming and settling findings ----------------------------------------------------------

    def claim(self) -> list[ReconcileFinding]:
        """The repair's findings: open ones of the reconcile run, not held by another active repair."""
        free = ReconcileFinding.objects.filter(run_id=self.run.parent_id, status=Status.OPEN).exclude(
            repaired_by_run__status__in=SyncRun.ACTIVE_STATUSES
        )
        wanted = (self.run.scope or {}).get("finding_ids")
        if wanted is None:
            claimed = free.update(repaired_by_run=self.run)
        else:
            claimed = sum(
                free.filter(pk__in=c).update(repaired_by_run=self.run) for c in chunks(sorted(wanted), IN_CHUNK)
            )
            # Settled meanwhile by another repair, or no longer open: counted, never repaired twice.
            self.done["not_open"] = len(set(wanted)) - claimed
        self.done["claimed"] = claimed
        return list(ReconcileFinding.objects.filter(repaired_by_run=self.run, status=Status.OPEN).order_by("id"))

    def settle(self, f: ReconcileFinding, status: str, message: str) -> None:
        settled = ReconcileFinding.objects.filter(pk=f.pk, repaired_by_run=self.run, status=Status.OPEN).update(
            status=status, message=message[:4000], repaired_at=timezone.now()
        )
        if settled:
            self.done[status] += 1
            f.status, f.message = status, message

    def settle_all(self, findings: list[ReconcileFinding], status: str, text: str) -> None:
        for f in findings:
            self.settle(f, status, f"{self.label(f)}: {text}")

    def settled_count(self) -> int:
        return sum(self.done[s] for s in SETTLED)

    def label(self, f: ReconcileFinding) -> str:
        what = f.aag_order_number or (f"item {f.monday_item_id}" if f.monday_item_id else f"finding {f.pk}")
        what = f"{what} (PO {f.po_number})" if f.po_number else what
        return f"{what} size {f.size_code}" if f.size_code else what

    def uuid(self, f: ReconcileFinding) -> str:
        return canonical_uuid(f.record_uuid) if f.record_uuid else ""

    def item_settled(self, findings: list[ReconcileFinding], what: str) -> list[ReconcileFinding]:
        """Findings whose item this repair re-created or linked again are settled with it; the rest
        (whose line is still an order line) are returned."""
        rest = []
        for f in findings:
            uuid = self.uuid(f)
            if uuid in self.items_done:
                why = self.items_done[uuid]
                text = f"its item could not be repaired ({why})." if why else f"the {what} came back with its item."
                self.settle(f, Status.FAILED if why else Status.REPAIRED, f"{self.label(f)}: {text}")
            elif uuid not in self.rows:
                self.settle(f, Status.FAILED, f"{self.label(f)}: the order line is no longer in the order tables.")
            else:
                rest.append(f)
        return rest

    # --- findings left alone -------------------------------------------------------------------------

    def leave_alone(self, findings: list[ReconcileFinding]) -> None:
        for f in findings:
            if f.kind == Kind.VALUE_DRIFT:
                text = (
                    f"kept the board's value {f.board_value!r} in {f.column_title or f.column_id}, a column people "
                    f"own on monday (board_wins); the order says {f.order_value!r}. Review it with whoever owns "
                    "the column on monday, then correct the order or the board."
                )
                self.settle(f, Status.REVIEW, f"{self.label(f)}: {text}")
            else:
                text = (
                    f"item {f.monday_item_id} matches no order line orderops synced; a repair never touches it. "
                    "Archive it on the board by hand if nobody needs it."
                )
                self.settle(f, Status.NOT_OURS, text)

    # --- missing items -------------------------------------------------------------------------------

    def repair_missing_items(self, findings: list[ReconcileFinding]) -> None:
        targets: dict[str, list[ReconcileFinding]] = defaultdict(list)
        for f in findings:
            if self.uuid(f) in self.rows:
                targets[self.uuid(f)].append(f)
            else:
                self.settle(f, Status.FAILED, f"{self.label(f)}: no longer in the order tables; nothing to re-create.")
        found = self.board.find_on_board([self.rows[u] for u in targets])
        for uuid, item in found.items():
            self.board.relink(self.rows[uuid], item)
            self.items_done[uuid] = ""
            text = (
                f"item {item['id']} was still on the board (only its link was lost): linked again. Its sizes and "
                "values are checked by the next reconcile."
            )
            self.settle_all(targets.pop(uuid), Status.REPAIRED, text)
        plans: dict[str, RowPlan] = {}
        for uuid, group in targets.items():
            p = self.board.plan(self.rows[uuid])
            if p.action in (planning.FAIL, planning.SKIP):
                self.fail_item(uuid, group, f"it cannot be re-created: {p.message}")
            else:
                plans[uuid] = p
        refused = self.board.ensure_groups({p.group_name for p in plans.values()})
        for uuid in [u for u, p in plans.items() if p.group_name in refused]:
            name = plans.pop(uuid).group_name
            self.fail_item(uuid, targets[uuid], f"its group {name!r} could not be created: {refused[name]}")
        created, refusals = self.board.create_items(plans)
        tasks = [SizeTask(u, s.size_code, i, s.qty) for u, i in created.items() for s in plans[u].sizes if s.qty > 0]
        errors = self.board.write_sizes(tasks)
        for uuid in plans:
            if uuid not in created:
                self.fail_item(uuid, targets[uuid], refusals.get(uuid, "monday did not answer the create."))
                continue
            failed = [
                f"size {t.size_code}: {errors[t.key]}" for t in tasks if t.record_uuid == uuid and t.key in errors
            ]
            sizes = sum(1 for t in tasks if t.record_uuid == uuid) - len(failed)
            text = f"re-created as item {created[uuid]} in group {plans[uuid].group_name!r} with {sizes} size(s)"
            if failed or uuid in refusals:
                why = "; ".join(failed + ([refusals[uuid]] if uuid in refusals else []))
                self.fail_item(uuid, targets[uuid], f"{text}, but {why}. {AGAIN}")
            else:
                self.items_done[uuid] = ""
                self.settle_all(targets[uuid], Status.REPAIRED, f"{text}.")

    def fail_item(self, uuid: str, findings: list[ReconcileFinding], why: str) -> None:
        self.items_done[uuid] = why
        self.settle_all(findings, Status.FAILED, why)

    # --- sizes -----------------------------------------------------------------------------------------

    def repair_sizes(self, findings: list[ReconcileFinding]) -> None:
        pending = self.item_settled(findings, "size")
        links = {self.uuid(f): self.board.item_link(self.uuid(f)) for f in pending}
        live = self.board.live_items([link.monday_item_id for link in links.values() if link])
        sized = {}
        for chunk in chunks(sorted(links), IN_CHUNK):
            size_links = SubitemLink.objects.filter(environment=self.env.name, record_uuid__in=chunk)
            for u, size, subitem_id in size_links.values_list("record_uuid", "size_code", "monday_subitem_id"):
                sized[(canonical_uuid(u), size)] = subitem_id
        tasks: dict[str, SizeTask] = {}
        labels: dict[int, tuple[str, dict, dict, dict]] = {}
        label_findings: dict[int, list[ReconcileFinding]] = defaultdict(list)
        archive = {}
        for f in pending:
            uuid, link = self.uuid(f), links[self.uuid(f)]
            item = live.get(link.monday_item_id) if link else None
            if item is None:
                self.settle(f, Status.FAILED, f"{self.label(f)}: the order line's item is not on the board. {AGAIN}")
                continue
            row = self.rows[uuid]
            order = {s.size_code: (0 if row.is_cancelled else s.qty) for s in row.sizes}
            subs = {int(s["id"]): s for s in item.get("subitems") or []}
            sub = subs.get(f.monday_subitem_id) if f.monday_subitem_id else None
            linked = sized.get((uuid, f.size_code))
            if f.kind == Kind.MISSING or not f.monday_subitem_id:
                if order.get(f.size_code, 0) <= 0:
                    self.settle(f, Status.REPAIRED, f"{self.label(f)}: the order has no quantity; nothing to create.")
                else:
                    task = tasks.setdefault(
                        f"{uuid}/{f.size_code}", SizeTask(uuid, f.size_code, link.monday_item_id, order[f.size_code])
                    )
                    task.findings.append(f)
            elif sub is None:
                self.settle(f, Status.REPAIRED, f"{self.label(f)}: subitem {f.monday_subitem_id} is no longer there.")
            elif not f.column_id or f.size_code not in order or (linked and linked != f.monday_subitem_id):
                # No column: the reconcile found a size the order does not have, or a second subitem.
                archive[f] = sub
            elif f.column_id and f.column_id == self.env.size_column_id:
                before = {f.column_id: sub["column_values"].get(f.column_id, {})}
                labels[f.monday_subitem_id] = (uuid, {f.column_id: {"labels": [f.size_code]}}, {}, before)
                label_findings[f.monday_subitem_id].append(f)
            else:
                task = tasks.setdefault(
                    f"{uuid}/{f.size_code}", SizeTask(uuid, f.size_code, link.monday_item_id, order[f.size_code])
                )
                task.subitem_id, task.board_qty = int(sub["id"]), subitem_qty(sub, self.env.qty_column_id)
                task.findings.append(f)
        for task in [t for t in tasks.values() if t.subitem_id and t.board_qty == t.qty]:
            self.settle_all(tasks.pop(task.key).findings, Status.REPAIRED, f"already {task.qty}, as ordered.")
        errors = self.board.write_sizes(list(tasks.values()))
        for task in tasks.values():
            done = f"qty {task.board_qty} -> {task.qty}" if task.subitem_id else f"created with qty {task.qty}"
            if task.key in errors:
                self.settle_all(task.findings, Status.FAILED, f"monday refused the size: {errors[task.key]}")
            else:
                self.settle_all(task.findings, Status.REPAIRED, f"{done}, as ordered.")
        refused = self.board.write_values(labels, subitems=True)
        for subitem_id, group in label_findings.items():
            if subitem_id in refused:
                self.settle_all(group, Status.FAILED, f"monday refused the size label: {refused[subitem_id]}")
            else:
                self.settle_all(group, Status.REPAIRED, f"subitem {subitem_id} says size {group[0].size_code} again.")
        self.archive_sizes(archive)

    def archive_sizes(self, archive: dict[ReconcileFinding, dict]) -> None:
        """Size subitems the order does not have, or second ones: archived only if orderops made them."""
        targets = {}
        for f, sub in archive.items():
            if self.board.created_by_orderops(int(sub["id"]), subitem=True):
                targets[str(f.pk)] = (int(sub["id"]), True, self.uuid(f) or None, f.size_code, sub.get("name") or "")
            else:
                text = (
                    f"subitem {sub['id']} is not one the order needs, but orderops did not create it: left alone. "
                    "Archive it on the board by hand if it is not wanted."
                )
                self.settle(f, Status.NOT_OURS, f"{self.label(f)}: {text}")
        self.settle_archived(targets, {str(f.pk): f for f in archive}, "size subitem")

    def settle_archived(
        self, targets: dict, findings: dict[str, ReconcileFinding], what: str, *, notes: dict[str, str] | None = None
    ) -> None:
        for key, result in self.board.archive(targets).items():
            f, monday_id = findings[key], targets[key][0]
            if result.ok:
                text = (
                    f"{what} {monday_id} archived, never deleted: monday keeps it 30 days in the board's archive, "
                    f"where it can be restored if it was wanted.{(notes or {}).get(key, '')}"
                )
                self.settle(f, Status.REPAIRED, f"{self.label(f)}: {text}")
            elif result.error_code == NOT_FOUND:
                self.settle(f, Status.REPAIRED, f"{self.label(f)}: {what} {monday_id} was already gone.")
            else:
                text = f"monday refused to archive {what} {monday_id}: {result.error_message}"
                self.settle(f, Status.FAILED, f"{self.label(f)}: {text}")

    # --- values, groups, duplicates ------------------------------------------------------------------

    def repair_values(self, findings: list[ReconcileFinding]) -> None:
        per_item = self.per_item(self.item_settled(findings, "value"))
        live = self.board.live_items(list(per_item))
        writes: dict[int, tuple[str, dict, dict, dict]] = {}
        written: dict[int, list[ReconcileFinding]] = defaultdict(list)
        for item_id, group in per_item.items():
            item = live.get(item_id)
            if item is None:
                self.settle_all(group, Status.FAILED, f"item {item_id} is no longer on the board. {AGAIN}")
                continue
            strict, creating, before = {}, {}, {}
            for f in group:
                row = self.rows[self.uuid(f)]
                values, new_labels, problem = self.board.planner.column_values(row, cancel=row.is_cancelled)
                if problem:
                    self.settle(f, Status.FAILED, f"{self.label(f)}: {problem}")
                elif f.column_id == "name":
                    strict["name"] = self.board.planner.item_name(row)
                    before["name"] = {"value": json.dumps(item.get("name")), "text": item.get("name")}
                elif f.column_id in values or f.column_id in new_labels:
                    target = strict if f.column_id in values else creating
                    target[f.column_id] = {**values, **new_labels}[f.column_id]
                    before[f.column_id] = item["column_values"].get(f.column_id, {})
                else:
                    self.settle(f, Status.FAILED, f"{self.label(f)}: column {f.column_id} is no longer mapped.")
                if f.status == Status.OPEN:
                    written[item_id].append(f)
            if strict or creating:
                writes[item_id] = (self.uuid(group[0]), strict, creating, before)
        refused = self.board.write_values(writes)
        for item_id, group in written.items():
            if item_id in refused:
                self.settle_all(group, Status.FAILED, f"monday refused the write: {refused[item_id]}")
                continue
            for f in group:
                text = f"{f.column_title or f.column_id} written back: {f.board_value!r} -> {f.order_value!r}."
                self.settle(f, Status.REPAIRED, f"{self.label(f)}: {text}")

    def repair_groups(self, findings: list[ReconcileFinding]) -> None:
        per_item = self.per_item(self.item_settled(findings, "group"))
        live = self.board.live_items(list(per_item))
        known = set(self.board.groups.values())
        # The group the reconcile named when it is still on the board, else the sync's group by name.
        names = {
            item_id: ""
            if group[0].expected_group_id in known
            else self.board.planner.group_name(self.rows[self.uuid(group[0])]) or ""
            for item_id, group in per_item.items()
        }
        refused = self.board.ensure_groups({n for n in names.values() if n})
        moves: dict[int, tuple[str, str, str]] = {}
        for item_id, group in per_item.items():
            item, name = live.get(item_id), names[item_id]
            expected = group[0].expected_group_id
            target = expected if expected in known else self.board.groups.get(name, "")
            if item is None:
                self.settle_all(group, Status.FAILED, f"item {item_id} is no longer on the board. {AGAIN}")
            elif name in refused:
                self.settle_all(group, Status.FAILED, f"its group {name!r} could not be created: {refused[name]}")
            elif not target:
                self.settle_all(group, Status.FAILED, "the order line has no customer or season to name its group.")
            elif item.get("group_id") == target:
                self.settle_all(group, Status.REPAIRED, f"item {item_id} is already in its group.")
            else:
                moves[item_id] = (self.uuid(group[0]), item.get("group_id") or "", target)
        refused_moves = self.board.move_items(moves)
        titles = {v: k for k, v in self.board.groups.items()}
        for item_id, (_uuid, _current, target) in moves.items():
            if item_id in refused_moves:
                self.settle_all(per_item[item_id], Status.FAILED, f"monday refused the move: {refused_moves[item_id]}")
            else:
                text = f"item {item_id} moved back to group {titles.get(target, target)!r}."
                self.settle_all(per_item[item_id], Status.REPAIRED, text)

    def per_item(self, findings: list[ReconcileFinding]) -> dict[int, list[ReconcileFinding]]:
        per_item: dict[int, list[ReconcileFinding]] = defaultdict(list)
        for f in findings:
            link = self.board.item_link(self.uuid(f))
            if link is None:
                self.settle(f, Status.FAILED, f"{self.label(f)}: the order line has no item on this board. {AGAIN}")
            else:
                per_item[link.monday_item_id].append(f)
        return per_item

    def archive_duplicates(self, findings: list[ReconcileFinding]) -> None:
        """Copies of an order line's item: archived when orderops created the line's linked item and
        that item is on the board to keep. Decided on the links and the journal as they are now (a
        missing item re-linked earlier in this repair counts), and only when the reconcile also
        found the copy to be of orderops' record: what it reported as a person's is never archived."""
        links = {self.uuid(f): self.board.item_link(self.uuid(f)) for f in findings if self.uuid(f)}
        live = self.board.live_items([link.monday_item_id for link in links.values() if link])
        targets, by_key = {}, {}
        for f in findings:
            copy_id, link = f.monday_item_id, links.get(self.uuid(f))
            kept = link.monday_item_id if link else None
            if not copy_id:
                self.settle(f, Status.FAILED, f"{self.label(f)}: the finding names no item. {AGAIN}")
            elif kept is None or kept not in live:
                text = (
                    f"item {copy_id} carries the order line's AAG ORDER NUMBER, but the line's own item is not on "
                    "the board, so nothing was archived: link the line again first (repair its missing item), then "
                    "reconcile and repair again."
                )
                self.settle(f, Status.FAILED, f"{self.label(f)}: {text}")
            elif copy_id == kept or ItemLink.objects.filter(environment=self.env.name, monday_item_id=copy_id).exists():
                text = f"item {copy_id} is now an order line's linked item, so it is kept. {AGAIN}"
                self.settle(f, Status.FAILED, f"{self.label(f)}: {text}")
            elif not self.board.created_by_orderops(kept, subitem=False):
                text = (
                    f"item {copy_id} is a copy of item {kept}, which orderops did not create (the order line was "
                    "linked to an item made on monday): both left alone. Decide on the board which one the order "
                    f"follows and archive the other by hand; if it is item {copy_id}, archive item {kept}, then "
                    "reconcile and repair so the line is linked to the one left."
                )
                self.settle(f, Status.NOT_OURS, f"{self.label(f)}: {text}")
            elif not f.created_by_orderops:
                text = (
                    f"the reconcile did not find item {copy_id} to be a copy of the order line's item orderops "
                    f"created (the line's item was missing, or the board changed since), so it was not archived. "
                    f"{AGAIN}"
                )
                self.settle(f, Status.FAILED, f"{self.label(f)}: {text}")
            else:
                targets[str(f.pk)] = (copy_id, False, self.uuid(f) or None, "", f.aag_order_number)
                by_key[str(f.pk)] = f
        kept_note = {
            k: f" Item {links[self.uuid(f)].monday_item_id} is kept as the order line's item."
            for k, f in by_key.items()
        }
        self.settle_archived(targets, by_key, "duplicate item", notes=kept_note)

    # --- the finished run --------------------------------------------------------------------------

    def release(self, *, reason: str) -> None:
        """Findings the repair did not reach are given back, open, for the next repair."""
        ReconcileFinding.objects.filter(repaired_by_run=self.run, status=Status.OPEN).update(repaired_by_run=None)

    def stop_message(self, error: Exception) -> str:
        if isinstance(error, RunStopped):
            return "the repair was cancelled; the findings it did not reach stay open and can be repaired again"
        if isinstance(error, MondayError):
            return f"{stop_reason(error)} The findings the repair did not reach stay open; repair them again."
        return f"orderops stopped the repair on an unexpected error ({stop_reason(error)})"

    def finish_fields(self, *, status: str, counts: dict[str, int]) -> dict:
        """Counts from the findings it settled and the journal it wrote (a repair has no row results)."""
        done = self.done
        repaired, failed = done[Status.REPAIRED], done[Status.FAILED]
        completed = status == SyncRun.Status.COMPLETED
        rate = round(100.0 * repaired / (repaired + failed), 1) if repaired + failed and completed else None
        if status == SyncRun.Status.CANCELLED:
            outcome = ""
        else:
            outcome = self.config.outcome_for(rate) if completed else SyncRun.Outcome.FAILED
        journal = dict(BoardChange.objects.filter(run=self.run).values_list("kind").annotate(n=Count("id")).order_by())
        kinds = BoardChange.Kind
        fields = {
            "processed_rows": self.settled_count(),
            "created_count": journal.get(kinds.ITEM_CREATED, 0),
            "updated_count": sum(
                journal.get(k, 0) for k in (kinds.ITEM_UPDATED, kinds.ITEM_MOVED, kinds.SUBITEM_UPDATED)
            ),
            "cancelled_count": journal.get(kinds.ITEM_ARCHIVED, 0),
            "groups_created": journal.get(kinds.GROUP_CREATED, 0),
            "subitems_written": journal.get(kinds.SUBITEM_CREATED, 0) + journal.get(kinds.SUBITEM_UPDATED, 0),
            "skipped_count": done[Status.REVIEW] + done[Status.NOT_OURS],
            "failed_count": failed,
            "success_rate": rate,
            "outcome": outcome,
            "plan": {**(self.run.plan or {}), "done": {k: v for k, v in done.items() if v}},
        }
        if completed and failed:
            fields["error_message"] = f"{failed} finding(s) could not be repaired; their messages say why."
        if self.started:
            fields.update(self.board.stats())
        return fields

    def finish_audit(self, *, status: str, error: str) -> dict:
        """The audit entry of the finished repair as `audit_record` keyword arguments (the engine
        writes no audit log; the lifecycle records it)."""
        run, done = self.run, {k: v for k, v in self.done.items() if v}
        settled = ", ".join(f"{done[s]} {s}" for s in SETTLED if s in done) or "nothing settled"
        return {
            "actor": run.requested_by,
            "via": run.requested_via if run.requested_via in ("console", "cli", "task") else "task",
            "environment": run.environment,
            "target_type": "run",
            "target_id": run.pk,
            "action": "reconcile_repair_finish",
            "summary": f"repair run {run.pk} of reconcile run {run.parent_id}: {status} ({settled})"
            + (f"; {error}" if error else ""),
            "details": {"run": run.pk, "reconcile_run": run.parent_id, "status": status, "done": done},
        }
