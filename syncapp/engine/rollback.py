"""Executing a rollback run: undo on the board what its parent run did, then give its rows back.

The plan (`engine.rollback_plan`) is made again when the rollback executes, from the journal as it is
then. Every answered batch is settled in the journal at once (BoardChange.reverted_at /
reverted_by_run), so a rollback that stops half-way (worker killed, daily limit, cancelled) finishes
when it is run again and never repeats recorded work. Work monday did whose answer was lost is
repeated harmlessly: removing an item or a group that is already gone counts as done.

Labels a run created on dropdown and status columns stay on the board: monday's API cannot delete
labels, and a label nobody uses changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from syncapp.domain.states import RESTORED
from syncapp.engine import mutations as build
from syncapp.engine.journal import Journal, run_changes, unreverted_record_uuids
from syncapp.engine.progress import RunProgress, RunStopped, client_stats, stop_reason
from syncapp.engine.rollback_plan import (
    REMOVE_GROUP,
    REMOVE_ITEM,
    REMOVE_SUBITEM,
    RESTORE_ITEM,
    RESTORE_QTY,
    UNARCHIVE_BY_HAND,
    RollbackPlanner,
    RollbackStep,
    RowRestore,
)
from syncapp.engine.row_states import lines_transition, rows_transition
from syncapp.models import BoardGroup, FactOrderList, ItemLink, OrderLine, RowResult, SubitemLink, SyncRun
from syncapp.monday.client import MondayClient
from syncapp.monday.errors import MondayError
from syncapp.monday.factory import monday_client
from syncapp.monday.types import Mutation, MutationResult
from syncapp.sync_config import SyncConfig

NOT_FOUND = "ResourceNotFoundException"
LAST_GROUP = "DeleteLastGroupException"
ROLLED_BACK = "ROLLED BACK"  # api_status of a row a rollback returned to PENDING (fits NVARCHAR(20))


class RollbackRefused(Exception):
    """The plan refuses the rollback now (something changed since it was created)."""


class RollbackCancelled(RunStopped):
    """Someone cancelled the rollback; what was undone so far is recorded."""


@dataclass
class RowNotes:
    """What the rollback did and failed to do for one row (or, keyed "group:<id>", one group)."""

    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    item_id: int | None = None
    group_id: str = ""


class RollbackExecutor:
    """Executes one rollback run (kind "rollback", parent = the run it undoes).

    `config` is the configuration read once when the run started; `batch_size` overrides the
    mutations per request (sync.updates_per_request). `done` counts what was done, by kind.
    """

    def __init__(self, run: SyncRun, *, config: SyncConfig, batch_size: int | None = None):
        self.run = run
        self.config = config
        self.parent = SyncRun.objects.get(pk=run.parent_id)
        self.delete = bool((run.scope or {}).get("delete"))
        self.env = config.environment(run.environment)
        self.batch_size = batch_size or config.sync.updates_per_request
        self.progress = RunProgress(run.pk)
        self.client: MondayClient = monday_client(
            self.env, profile="sync", run_id=run.pk, log=self.progress.step, settings_=config.sync
        )
        self.journal = Journal(run, self.env)
        # Per run undone, not per rollback run: a second rollback of the same run must not resend
        # what monday already answered for the first (the idempotency cache answers it).
        self.scope = f"rollback:{self.parent.pk}"
        self.notes: dict[str, RowNotes] = defaultdict(RowNotes)
        self.done: dict[str, int] = defaultdict(int)
        self.kept_groups: list[str] = []
        self.started = False

    def planner(self) -> RollbackPlanner:
        return RollbackPlanner(self.parent, self.env, delete=self.delete)

    def execute(self) -> None:
        self.started = True
        plan = self.planner().plan()
        if plan.refusal:
            raise RollbackRefused(plan.refusal)
        SyncRun.objects.filter(pk=self.run.pk).update(total_rows=len(plan.rows))
        steps = defaultdict(list)
        for step in plan.steps:
            steps[step.kind].append(step)
        self.restore_quantities(steps[RESTORE_QTY])
        self.restore_items(steps[RESTORE_ITEM])
        self.remove(steps[REMOVE_SUBITEM], subitems=True)
        self.remove(steps[REMOVE_ITEM], subitems=False)
        self.remove_groups(steps[REMOVE_GROUP])
        self.hand_over(steps[UNARCHIVE_BY_HAND])
        # Board work is finished (or failed for some rows): rows whose changes are all undone go back.
        self.restore_rows(self.planner().rows(run_changes(self.parent)))

    # --- sending ---------------------------------------------------------------------------------

    def send(self, mutations: list[Mutation], operation: str) -> Iterator[dict[str, MutationResult]]:
        """Batches of `batch_size`, one request each, so every answer can be recorded before the next."""
        for start in range(0, len(mutations), self.batch_size):
            if self.progress.cancel_requested():
                raise RollbackCancelled("the rollback was cancelled")
            chunk = mutations[start : start + self.batch_size]
            self.progress.step(f"{operation.replace('_', ' ')}: {start + 1}-{start + len(chunk)} of {len(mutations)}")
            yield self.client.run_batch(chunk, operation=operation, idempotency_scope=self.scope)

    def settle(self, step: RollbackStep) -> None:
        self.journal.mark_reverted(step.change_ids)

    def fail(self, step: RollbackStep, message: str) -> None:
        self.done["errors"] += 1
        text = f"{step.describe(delete=self.delete)}: {message}"
        if step.record_uuid:
            self.notes[step.record_uuid].errors.append(text)
        else:
            self.notes[f"group:{step.monday_id}"].errors.append(text)

    def note(self, step: RollbackStep, message: str) -> None:
        if step.record_uuid:
            self.notes[step.record_uuid].messages.append(message)

    # --- 1. subitem quantities --------------------------------------------------------------------

    def restore_quantities(self, steps: list[RollbackStep]) -> None:
        unknown = [s for s in steps if s.note]
        for step in unknown:
            with transaction.atomic():
                self.settle(step)
            self.note(step, f"subitem {step.monday_id}: {step.note}")
        todo = [s for s in steps if not s.note]
        mutations = [
            build.change_columns(
                f"c{s.change_ids[0]}", board_id=s.board_id, item_id=int(s.monday_id), column_values=s.column_values
            )
            for s in todo
        ]
        by_key = {f"c{s.change_ids[0]}": s for s in todo}
        for results in self.send(mutations, "rollback_restore_subitems"):
            for key, result in results.items():
                step = by_key[key]
                if result.ok or result.error_code == NOT_FOUND:
                    qty = step.column_values[self.env.qty_column_id]
                    with transaction.atomic():
                        self.settle(step)
                        SubitemLink.objects.filter(
                            environment=self.env.name, monday_subitem_id=int(step.monday_id)
                        ).update(qty=int(qty))
                    if result.ok:
                        self.done["subitems_restored"] += 1
                        self.note(step, f"subitem {step.monday_id} qty back to {qty}")
                    else:
                        self.note(step, f"subitem {step.monday_id} is no longer on the board")
                else:
                    self.fail(step, result.error_message)

    # --- 2. item values ----------------------------------------------------------------------------

    def restore_items(self, steps: list[RollbackStep]) -> None:
        if not steps:
            return
        self.progress.step(f"reading {len(steps)} item(s) to restore")
        current = {str(i["id"]): i for i in self.client.get_items(sorted({int(s.monday_id) for s in steps}))}
        mutations, by_key = [], {}
        for step in steps:
            key = f"c{step.change_ids[0]}"
            item = current.get(step.monday_id)
            if item is None:
                # Archived or deleted by someone since: there is nothing left to put the values back on.
                with transaction.atomic():
                    self.settle(step)
                self.note(step, f"item {step.monday_id} is no longer on the board; nothing to restore")
                self.done["already_gone"] += 1
                continue
            if step.column_values:
                by_key[key] = step
                mutations.append(
                    build.change_columns(
                        key, board_id=step.board_id, item_id=int(step.monday_id), column_values=step.column_values
                    )
                )
            if step.move_to_group and item.get("group_id") != step.move_to_group:
                by_key[f"{key}/move"] = step
                mutations.append(
                    build.move_item(f"{key}/move", item_id=int(step.monday_id), group_id=step.move_to_group)
                )
            if not step.column_values and not step.move_to_group:
                with transaction.atomic():
                    self.settle(step)
        failed: set[int] = set()
        answered: dict[int, RollbackStep] = {}
        for results in self.send(mutations, "rollback_restore_items"):
            for key, result in results.items():
                step = by_key[key]
                answered[id(step)] = step
                if not result.ok:
                    failed.add(id(step))
                    self.fail(step, result.error_message)
        for step in answered.values():
            if id(step) in failed:
                continue
            with transaction.atomic():
                self.settle(step)
                if step.move_to_group:
                    ItemLink.objects.filter(environment=self.env.name, monday_item_id=int(step.monday_id)).update(
                        group_id=step.move_to_group
                    )
                    if self.env.is_production and step.record_uuid:
                        FactOrderList.objects.filter(record_uuid=step.record_uuid).update(group_id=step.move_to_group)
            self.done["items_restored"] += 1
            self.note(step, f"item {step.monday_id} values restored")
            notes = self.notes[step.record_uuid]
            notes.item_id, notes.group_id = int(step.monday_id), step.move_to_group or notes.group_id

    # --- 3 and 4. subitems and items it created ---------------------------------------------------

    def remove(self, steps: list[RollbackStep], *, subitems: bool) -> None:
        verb = "delete" if self.delete else "archive"
        orphaned = [s for s in steps if not s.monday_id]
        for step in orphaned:
            with transaction.atomic():
                self.settle(step)
        steps = [s for s in steps if s.monday_id]
        mutations = [
            build.remove_item(f"c{s.change_ids[0]}", item_id=int(s.monday_id), delete=self.delete) for s in steps
        ]
        by_key = {f"c{s.change_ids[0]}": s for s in steps}
        what = "subitems" if subitems else "items"
        for results in self.send(mutations, f"rollback_{verb}_{what}"):
            for key, result in results.items():
                step = by_key[key]
                if not result.ok and result.error_code != NOT_FOUND:
                    self.fail(step, result.error_message)
                    continue
                with transaction.atomic():
                    self.settle(step)
                    if subitems:
                        self.forget_subitem(step)
                    else:
                        self.forget_item(step)
                if result.ok:
                    self.done[f"{what}_{verb}d"] += 1
                    self.done["subitems_removed_with_items"] += step.subitems
                    self.note(step, f"{'subitem' if subitems else 'item'} {step.monday_id} {verb}d")
                else:
                    self.done["already_gone"] += 1
                    self.note(step, f"{'subitem' if subitems else 'item'} {step.monday_id} was already gone")

    def forget_item(self, step: RollbackStep) -> None:
        item_id = int(step.monday_id)
        env = self.env.name
        ItemLink.objects.filter(environment=env, monday_item_id=item_id).delete()
        SubitemLink.objects.filter(environment=env, parent_item_id=item_id).delete()
        if step.record_uuid:
            SubitemLink.objects.filter(environment=env, record_uuid=step.record_uuid).delete()
        if self.env.is_production and step.record_uuid:
            FactOrderList.objects.filter(record_uuid=step.record_uuid, monday_item_id=item_id).update(
                monday_item_id=None, group_id=None
            )
            OrderLine.objects.filter(record_uuid=step.record_uuid).update(
                monday_item_id=None, monday_subitem_id=None, parent_item_id=None
            )

    def forget_subitem(self, step: RollbackStep) -> None:
        subitem_id = int(step.monday_id)
        SubitemLink.objects.filter(environment=self.env.name, monday_subitem_id=subitem_id).delete()
        if self.env.is_production:
            OrderLine.objects.filter(monday_subitem_id=subitem_id).update(monday_subitem_id=None, parent_item_id=None)

    # --- 5. groups ----------------------------------------------------------------------------------

    def remove_groups(self, steps: list[RollbackStep]) -> None:
        if not steps:
            return
        self.progress.step(f"checking {len(steps)} group(s) the run created")
        live = self.client.get_group_items(self.env.items_board_id, [s.monday_id for s in steps], limit=5)
        to_delete = []
        for step in steps:
            if step.monday_id not in live:
                self.forget_group(step)
                self.done["already_gone"] += 1
            elif live[step.monday_id]:
                # Items created since (by hand or by another run) live there: the group stays.
                self.kept_groups.append(f"{step.label} ({step.monday_id})")
            else:
                to_delete.append(step)
        mutations = [
            build.delete_group(f"c{s.change_ids[0]}", board_id=s.board_id, group_id=s.monday_id) for s in to_delete
        ]
        by_key = {f"c{s.change_ids[0]}": s for s in to_delete}
        for results in self.send(mutations, "rollback_delete_groups"):
            for key, result in results.items():
                step = by_key[key]
                if result.ok or result.error_code == NOT_FOUND:
                    self.forget_group(step)
                    self.done["groups_deleted" if result.ok else "already_gone"] += 1
                elif result.error_code == LAST_GROUP:
                    self.kept_groups.append(f"{step.label} ({step.monday_id}, the board's last group)")
                else:
                    self.fail(step, result.error_message)

    def forget_group(self, step: RollbackStep) -> None:
        with transaction.atomic():
            self.settle(step)
            BoardGroup.objects.filter(board_id=self.env.items_board_id, group_id=step.monday_id).delete()

    def hand_over(self, steps: list[RollbackStep]) -> None:
        """Duplicates a repair archived: monday's API cannot un-archive, so nothing is sent. The step
        is recorded as handed over (settled), or the repair could never be fully rolled back and
        would block the rollback of every earlier run of the same items."""
        for step in steps:
            with transaction.atomic():
                self.settle(step)
            self.done["items_to_unarchive_by_hand"] += 1
            self.note(step, f"item {step.monday_id} stays archived: restore it by hand in monday's archive if wanted")

    # --- 6. rows ------------------------------------------------------------------------------------

    def restore_rows(self, rows: list[RowRestore]) -> None:
        self.progress.step(f"returning {len(rows)} row(s) to their earlier state")
        unsettled = unreverted_record_uuids(self.parent, [r.record_uuid for r in rows])
        now = timezone.now()
        processed = 0
        for row in rows:
            notes = self.notes[row.record_uuid]
            processed += 1
            if row.record_uuid in unsettled:
                message = "; ".join(notes.errors) or "some of its board changes could not be undone"
                self.result(row, RowResult.Outcome.ERROR, f"left {row.current_state}: {message}")
                continue
            with transaction.atomic():
                # RESTORED leaves a CLAIMED row alone (a run owns it now) and writes PENDING, the
                # state every row a sync claimed had before (RowRestore.sync_state).
                rows_transition(
                    FactOrderList.objects.filter(record_uuid=row.record_uuid),
                    RESTORED,
                    action=row.action_type,
                    api_status=ROLLED_BACK,
                    api_error_message=None,
                    sync_error_message=None,
                    sync_pending_at=now,
                    updated_at=now,
                )
                lines_transition(
                    OrderLine.objects.filter(record_uuid=row.record_uuid),
                    RESTORED,
                    action=row.action_type,
                    updated_at=now,
                )
                done = "; ".join(notes.messages)
                self.result(
                    row,
                    RowResult.Outcome.SYNCED,
                    f"{row.current_state} -> {row.sync_state}/{row.action_type}" + (f"; {done}" if done else ""),
                )
            self.done["rows_restored"] += 1
            if processed % 100 == 0:
                self.progress.processed(processed)
        self.progress.processed(processed, self.stats())
        # Rows whose only changes failed, though the plan did not list them to restore (already PENDING).
        listed = {r.record_uuid for r in rows}
        for uuid, notes in self.notes.items():
            if notes.errors and not uuid.startswith("group:") and uuid not in listed:
                RowResult.objects.update_or_create(
                    run=self.run,
                    record_uuid=uuid,
                    defaults={
                        "action": RowResult.Action.ROLLBACK,
                        "outcome": RowResult.Outcome.ERROR,
                        "message": "; ".join(notes.errors)[:4000],
                    },
                )

    def result(self, row: RowRestore, outcome: str, message: str) -> None:
        notes = self.notes[row.record_uuid]
        parent = self.parent.results.filter(record_uuid=row.record_uuid).first()
        RowResult.objects.update_or_create(
            run=self.run,
            record_uuid=row.record_uuid,
            defaults={
                "aag_order_number": row.aag_order_number[:100],
                "customer_name": parent.customer_name if parent else "",
                "po_number": row.po_number[:255],
                "action": RowResult.Action.ROLLBACK,
                "outcome": outcome,
                "monday_item_id": notes.item_id or (parent.monday_item_id if parent else None),
                "group_id": notes.group_id or (parent.group_id if parent else ""),
                "message": message[:4000],
                "error_code": "RollbackIncomplete" if outcome == RowResult.Outcome.ERROR else "",
                "previous_sync_state": row.current_state[:10],
                "previous_action_type": row.current_action[:10],
            },
        )

    # --- the finished run ---------------------------------------------------------------------------

    def stats(self) -> dict:
        """The monday client's counters under the run's field names (requests_count, ...)."""
        return client_stats(self.client)

    def board_errors(self) -> list[str]:
        """Failures not tied to a row (groups)."""
        return [e for key, n in self.notes.items() if key.startswith("group:") for e in n.errors]

    def release(self, *, reason: str) -> None:
        """A rollback claims no rows, so there is nothing to give back when it stops."""

    def stop_message(self, error: Exception) -> str:
        if isinstance(error, RollbackCancelled):
            return "the rollback was cancelled"
        text = stop_reason(error)
        if isinstance(error, MondayError):
            return f"{text} What was undone so far is recorded; roll back the run again to finish."
        return text

    def finish_fields(self, *, status: str, counts: dict[str, int]) -> dict:
        """The fields of the finished rollback run (counts: its RowResult outcomes). A completed
        rollback that could not undo everything says so in error_message and needs attention."""
        restored, failed = counts.get(RowResult.Outcome.SYNCED, 0), counts.get(RowResult.Outcome.ERROR, 0)
        board_errors = self.board_errors()
        errors = failed + len(board_errors)
        rate = round(100.0 * restored / (restored + errors), 1) if restored + errors else None
        completed = status == SyncRun.Status.COMPLETED
        outcome = self.config.outcome_for(rate) if completed and not errors else ""
        if not outcome:
            outcome = SyncRun.Outcome.NEEDS_ATTENTION if completed else SyncRun.Outcome.FAILED
        fields = {
            "updated_count": self.done.get("items_restored", 0),
            "failed_count": errors,
            "success_rate": rate,
            "outcome": outcome,
        }
        if completed and errors:
            fields["error_message"] = (
                f"{errors} change(s) could not be undone; see the row messages. Fix the cause and roll back again."
            )
        if self.started:
            fields.update(self.stats())
            plan = dict(self.run.plan or {})
            plan["done"] = {**self.done, "groups_kept": self.kept_groups, "board_errors": board_errors}
            fields["plan"] = plan
        return fields

    def finish_audit(self, *, status: str, error: str) -> dict:
        """The audit entry of the finished rollback, as `audit_record` keyword arguments. The engine
        writes no audit log (that is the services' layer): the caller records it."""
        return finish_audit_entry(self.run, status=status, error=error, done=dict(self.done))


def finish_audit_entry(run: SyncRun, *, status: str, error: str, done: dict) -> dict:
    """`audit_record` keyword arguments for a finished rollback run (also when it never started)."""
    return {
        "actor": run.requested_by,
        "via": run.requested_via if run.requested_via in ("console", "cli", "task") else "task",
        "environment": run.environment,
        "target_type": "run",
        "target_id": run.pk,
        "action": "rollback_finish",
        "summary": f"rollback run {run.pk} of run {run.parent_id}: {status}" + (f" ({error})" if error else ""),
        "details": {"run": run.pk, "rolled_back_run": run.parent_id, "status": status, "done": done},
    }
