"""Planning a rollback: what a run did on its board (its journal) and what undoing it takes.

The planner reads the run's journal (BoardChange) and results and changes nothing. It refuses a run
that cannot be rolled back (still active, a dry run, its boards no longer configured, a later run
touched the same items or rows) and otherwise lists, in the order they are executed:

1. the subitem quantities to put back;
2. the item values, names and groups to put back (only what the update changed);
3. the subitems the run added to items that existed before, to archive or delete;
4. the items it created, to archive or delete (their subitems go with them);
5. the groups it created, to delete when nothing is left in them;
6. the rows to return to the state they had before the run.

A repair run (kind "repair") is rolled back the same way: the items and sizes it re-created are
removed, the values it wrote back and the items it moved are put back. A duplicate it archived (a
copy of an order line's item orderops created) cannot be brought back through monday's API: the
plan lists it as a step for a person, in the board's archive in monday (kept there 30 days), and
the rollback records that step as handed over.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from syncapp.domain.states import Action, State
from syncapp.engine.journal import run_changes
from syncapp.models import BoardChange, FactOrderList, RowResult, SyncRun
from syncapp.monday.column_values import restore_value, written_text
from syncapp.raw_sql import chunks
from syncapp.sync_config import EnvironmentConfig

ROLLBACK_KINDS = (SyncRun.Kind.SYNC, SyncRun.Kind.RETRY, SyncRun.Kind.REPAIR)
FINISHED_STATUSES = (SyncRun.Status.COMPLETED, SyncRun.Status.FAILED, SyncRun.Status.CANCELLED)
# Parameters per IN (...) query: SQL Server accepts at most 2,100 per statement.
IN_CHUNK = 1000

# Step kinds, in the order they are executed.
RESTORE_QTY = "restore_qty"
RESTORE_ITEM = "restore_item"
REMOVE_SUBITEM = "remove_subitem"
REMOVE_ITEM = "remove_item"
REMOVE_GROUP = "remove_group"
UNARCHIVE_BY_HAND = "unarchive_by_hand"  # monday's API has no un-archive: a person restores it
STEP_ORDER = (RESTORE_QTY, RESTORE_ITEM, REMOVE_SUBITEM, REMOVE_ITEM, REMOVE_GROUP, UNARCHIVE_BY_HAND)


@dataclass
class RollbackStep:
    """One thing the rollback will do on the board, and the journal entries it settles."""

    kind: str
    monday_id: str
    board_id: int
    change_ids: list[int]
    record_uuid: str = ""
    label: str = ""  # "AAG-1234 (PO 4755)" or a group's title
    column_values: dict = field(default_factory=dict)  # RESTORE_ITEM / RESTORE_QTY: what is written back
    move_to_group: str = ""  # RESTORE_ITEM: the group the item was in before the run
    subitems: int = 0  # REMOVE_ITEM: subitems the run created under it (they go with the item)
    details: list[str] = field(default_factory=list)  # readable "column: old value" lines
    note: str = ""  # why a value cannot be put back, when it cannot

    def describe(self, *, delete: bool) -> str:
        verb = "delete" if delete else "archive"
        if not self.monday_id:
            return f"record {len(self.change_ids)} subitem(s) as removed with their item by an earlier rollback"
        if self.kind == REMOVE_ITEM:
            extra = f" and its {self.subitems} subitem(s)" if self.subitems else ""
            return f"{verb} item {self.monday_id} {self.label}{extra}"
        if self.kind == REMOVE_SUBITEM:
            return f"{verb} subitem {self.monday_id} {self.label}"
        if self.kind == REMOVE_GROUP:
            return f"delete group {self.label!r} ({self.monday_id}) if nothing is left in it"
        if self.kind == UNARCHIVE_BY_HAND:
            return (
                f"by hand: item {self.monday_id} {self.label} was archived by the repair (a copy of an order line's "
                "item orderops created, or a size the order does not have), and monday's API cannot un-archive it. "
                "If it is wanted back, restore it in monday from the board's archive (board menu, Archive; monday "
                "keeps it 30 days)"
            )
        if self.kind == RESTORE_QTY:
            if self.note:
                return f"cannot restore subitem {self.monday_id} {self.label}: {self.note}"
            return f"restore subitem {self.monday_id} {self.label}: {'; '.join(self.details)}"
        note = f" (cannot restore {self.note})" if self.note else ""
        return f"restore item {self.monday_id} {self.label}: {'; '.join(self.details)}{note}"


@dataclass
class RowRestore:
    """An order line the rollback returns to an earlier state."""

    record_uuid: str
    aag_order_number: str
    po_number: str
    current_state: str
    current_action: str
    sync_state: str
    action_type: str
    reason: str

    def describe(self) -> str:
        return (
            f"row {self.aag_order_number or self.record_uuid} (PO {self.po_number}): "
            f"{self.current_state}/{self.current_action or '-'} -> {self.sync_state}/{self.action_type} ({self.reason})"
        )


@dataclass
class RollbackPlan:
    run_id: int
    run_kind: str
    run_status: str
    environment: str
    environment_label: str
    board_id: int
    board_name: str
    is_production: bool
    delete: bool
    did: dict[str, int]  # what the run did, by journal kind
    steps: list[RollbackStep]
    rows: list[RowRestore]
    already_reverted: int
    rolled_back_by: list[int]  # earlier rollback runs of this run
    refusal: str = ""
    warnings: list[str] = field(default_factory=list)
    # Later runs that changed the same items or rows: the latest must be rolled back first.
    blocked_by: list[int] = field(default_factory=list)

    @property
    def can_execute(self) -> bool:
        return not self.refusal and not self.nothing_to_do

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps and not self.rows

    def counts(self) -> dict[str, int]:
        by_kind: dict[str, int] = defaultdict(int)
        for step in self.steps:
            by_kind[step.kind] += 1
        return {
            "items_to_remove": by_kind[REMOVE_ITEM],
            "subitems_to_remove": by_kind[REMOVE_SUBITEM]
            + sum(s.subitems for s in self.steps if s.kind == REMOVE_ITEM),
            "items_to_restore": by_kind[RESTORE_ITEM],
            "subitems_to_restore": by_kind[RESTORE_QTY],
            "groups_to_delete": by_kind[REMOVE_GROUP],
            "items_to_unarchive_by_hand": by_kind[UNARCHIVE_BY_HAND],
            "rows_to_restore": len(self.rows),
        }

    def lines(self) -> list[str]:
        """The plan as text, for the CLI and the console."""
        did = self.did
        board = f"{self.environment_label} board {self.board_name!r} ({self.board_id})"
        out = [
            f"Rollback plan for run {self.run_id} ({self.run_kind}, {self.run_status}) on the {board}",
            "What the run did: "
            f"created {did.get('group_created', 0)} group(s), {did.get('item_created', 0)} item(s), "
            f"{did.get('subitem_created', 0)} subitem(s); updated {did.get('item_updated', 0)} item(s) "
            f"and {did.get('subitem_updated', 0)} subitem quantity(ies).",
        ]
        if did.get("item_moved") or did.get("item_archived"):
            out.append(
                f"It also moved {did.get('item_moved', 0)} item(s) between groups and archived "
                f"{did.get('item_archived', 0)} duplicate item(s)."
            )
        if self.already_reverted:
            earlier = ", ".join(str(r) for r in self.rolled_back_by) or "an earlier rollback"
            out.append(f"Already undone by rollback run {earlier}: {self.already_reverted} change(s).")
        if self.refusal:
            out.append(f"Refused: {self.refusal}")
            return out
        if self.nothing_to_do:
            out.append("Nothing is left to undo.")
            return out
        out.append(f"What the rollback will do ({'delete' if self.delete else 'archive'} what the run created):")
        for kind in STEP_ORDER:
            out += [f"  {step.describe(delete=self.delete)}" for step in self.steps if step.kind == kind]
        out += [f"  return {row.describe()}" for row in self.rows]
        out += [f"Warning: {w}" for w in self.warnings]
        return out

    def as_dict(self) -> dict:
        data = asdict(self)
        data["counts"] = self.counts()
        return data


class RollbackPlanner:
    """Reads a run's journal and results; changes nothing."""

    def __init__(self, run: SyncRun, env: EnvironmentConfig | None, *, delete: bool):
        self.run = run
        self.env = env
        self.delete = delete
        self.groups_after: dict[str, str] = {}  # record_uuid -> the group its item was in after the run
        self.blocked_by: list[int] = []  # set by refusal(): later runs to roll back first

    def plan(self) -> RollbackPlan:
        run, env = self.run, self.env
        changes = run_changes(run)
        pending = [c for c in changes if c.reverted_at is None]
        did: dict[str, int] = defaultdict(int)
        for change in changes:
            did[change.kind] += 1
        rolled_back_by = sorted(
            {c.reverted_by_run_id for c in changes if c.reverted_by_run_id}
            | set(run.children.filter(kind=SyncRun.Kind.ROLLBACK).values_list("id", flat=True))
        )
        plan = RollbackPlan(
            run_id=run.pk,
            run_kind=run.kind,
            run_status=run.status,
            environment=run.environment,
            environment_label=env.label if env else run.environment,
            board_id=run.items_board_id,
            board_name=env.items_board.name if env else "",
            is_production=run.environment == "production",
            delete=self.delete,
            did=dict(did),
            steps=[],
            rows=[],
            already_reverted=len(changes) - len(pending),
            rolled_back_by=rolled_back_by,
        )
        plan.refusal = self.refusal(changes)
        plan.blocked_by = self.blocked_by
        if plan.refusal or env is None:
            return plan
        labels = self.row_labels()
        self.groups_after = {
            str(u): g for u, g in self.run.results.exclude(group_id="").values_list("record_uuid", "group_id")
        }
        plan.steps = self.steps(changes, pending, labels, env)
        plan.rows = self.rows(changes)
        plan.warnings = (
            [f"{s.label}: {s.note}" for s in plan.steps if s.note and s.kind == RESTORE_QTY]
            + self.unrestorable_columns(plan.steps)
            + [
                f"item {s.monday_id} {s.label} stays archived: restore it by hand in monday if it is wanted"
                for s in plan.steps
                if s.kind == UNARCHIVE_BY_HAND
            ]
        )
        return plan

    # --- may this run be rolled back? ------------------------------------------------------------

    def refusal(self, changes: list[BoardChange]) -> str:
        run, env = self.run, self.env
        if run.kind not in ROLLBACK_KINDS:
            return f"run {run.pk} is a {run.kind} run; only sync and retry runs, and repairs, can be rolled back."
        if run.dry_run:
            return f"run {run.pk} is a dry run: it changed nothing on the board, so there is nothing to roll back."
        if run.status not in FINISHED_STATUSES:
            return f"run {run.pk} is still {run.status}. Wait for it to finish, or cancel it, then roll it back."
        if env is None:
            return (
                f"the sync configuration is invalid or no longer defines the {run.environment} environment; "
                "fix configs/sync_order_list.toml (python manage.py check) before rolling back."
            )
        if env.items_board_id != run.items_board_id or env.subitems_board_id != run.subitems_board_id:
            return (
                f"run {run.pk} wrote to board {run.items_board_id}, but the configuration now names board "
                f"{env.items_board_id} for {env.label}. Restore the configuration the run used before rolling it back."
            )
        later = self.later_runs(changes)
        if later:
            self.blocked_by = later
            ids = ", ".join(str(r) for r in later)
            return (
                f"later run(s) {ids} changed items or rows this run touched. Roll back the latest of them, "
                f"run {later[-1]}, first, then this run."
            )
        return ""

    def later_runs(self, changes: list[BoardChange]) -> list[int]:
        """Runs after this one whose board changes, not rolled back, touch the same items or rows."""
        run = self.run
        monday_ids = sorted({c.monday_id for c in changes if c.kind != BoardChange.Kind.GROUP_CREATED})
        uuids = sorted({str(c.record_uuid) for c in changes if c.record_uuid})
        uuids += sorted(
            {
                str(u)
                for u in run.results.exclude(outcome=RowResult.Outcome.PLANNED).values_list("record_uuid", flat=True)
            }
            - set(uuids)
        )
        later = BoardChange.objects.filter(
            environment=run.environment,
            run_id__gt=run.pk,
            run__kind__in=ROLLBACK_KINDS,
            run__dry_run=False,
            reverted_at__isnull=True,
        )
        found: set[int] = set()
        for chunk in chunks(monday_ids, IN_CHUNK):
            found |= set(later.filter(monday_id__in=chunk).values_list("run_id", flat=True))
        for chunk in chunks(uuids, IN_CHUNK):
            found |= set(later.filter(record_uuid__in=chunk).values_list("run_id", flat=True))
        return sorted(found)

    # --- board steps -------------------------------------------------------------------------------

    def row_labels(self) -> dict[str, str]:
        return {
            str(u): f"{aag} (PO {po})" if po else str(aag)
            for u, aag, po in self.run.results.values_list("record_uuid", "aag_order_number", "po_number")
        }

    def steps(
        self,
        changes: list[BoardChange],
        pending: list[BoardChange],
        labels: dict[str, str],
        env: EnvironmentConfig,
    ) -> list[RollbackStep]:
        kinds = BoardChange.Kind
        created_items = {c.monday_id: c for c in changes if c.kind == kinds.ITEM_CREATED}
        steps: list[RollbackStep] = []
        # Subitems under an item the run created go with that item.
        under_item: dict[str, list[int]] = defaultdict(list)
        for change in pending:
            if change.kind != kinds.SUBITEM_CREATED:
                continue
            parent = str(change.after.get("parent_item_id") or "")
            if parent in created_items:
                under_item[parent].append(change.id)
        orphaned = [  # their item was removed by an earlier rollback: nothing left to send
            i for parent, ids in under_item.items() if created_items[parent].reverted_at is not None for i in ids
        ]
        titles = {c.id: c.title for c in env.items_board.columns.values()}
        for change in reversed(pending):  # newest first, so the oldest value is the one left on the board
            label = labels.get(str(change.record_uuid), "") if change.record_uuid else ""
            if change.kind == kinds.SUBITEM_UPDATED:
                steps.append(self.qty_step(change, label, env))
            elif change.kind in (kinds.ITEM_UPDATED, kinds.ITEM_MOVED):
                steps.append(self.item_step(change, label, env, titles))
            elif change.kind == kinds.SUBITEM_CREATED:
                parent = str(change.after.get("parent_item_id") or "")
                if parent in created_items:
                    continue
                size = f" size {change.size_code}" if change.size_code else ""
                steps.append(
                    RollbackStep(
                        REMOVE_SUBITEM,
                        change.monday_id,
                        change.board_id,
                        [change.id],
                        str(change.record_uuid),
                        label + size,
                    )
                )
            elif change.kind == kinds.ITEM_CREATED:
                subitems = under_item.get(change.monday_id, [])
                steps.append(
                    RollbackStep(
                        REMOVE_ITEM,
                        change.monday_id,
                        change.board_id,
                        [change.id, *subitems],
                        str(change.record_uuid),
                        label or str(change.after.get("name") or ""),
                        subitems=len(subitems),
                    )
                )
            elif change.kind == kinds.ITEM_ARCHIVED:
                steps.append(
                    RollbackStep(
                        UNARCHIVE_BY_HAND,
                        change.monday_id,
                        change.board_id,
                        [change.id],
                        str(change.record_uuid or ""),
                        label or str(change.before.get("name") or ""),
                    )
                )
            elif change.kind == kinds.GROUP_CREATED:
                steps.append(
                    RollbackStep(
                        REMOVE_GROUP, change.monday_id, change.board_id, [change.id], "", str(change.after.get("title"))
                    )
                )
        if orphaned:
            steps.append(RollbackStep(REMOVE_SUBITEM, "", env.subitems_board_id, orphaned, label="(already removed)"))
        return sorted(steps, key=lambda s: STEP_ORDER.index(s.kind))

    def qty_step(self, change: BoardChange, label: str, env: EnvironmentConfig) -> RollbackStep:
        before = change.before.get("qty")
        after = change.after.get("qty")
        step = RollbackStep(
            RESTORE_QTY,
            change.monday_id,
            change.board_id,
            [change.id],
            str(change.record_uuid or ""),
            f"{label} size {change.size_code}",
        )
        if before is None:
            # The subitem was found on the board (not created by orderops), so its old quantity was never read.
            step.note = f"its quantity before the run is unknown; it stays at {after}"
        else:
            step.column_values = {env.qty_column_id: str(before)}
            step.details = [f"qty {after} -> {before}"]
        return step

    def item_step(
        self, change: BoardChange, label: str, env: EnvironmentConfig, titles: dict[str, str]
    ) -> RollbackStep:
        """Only what the update changed is written back: the engine rewrites every mapped column, and
        writing back the unchanged ones could undo edits people made on the board since."""
        before, after = change.before or {}, change.after or {}
        step = RollbackStep(
            RESTORE_ITEM, change.monday_id, change.board_id, [change.id], str(change.record_uuid or ""), label
        )
        for column_id, old in before.items():
            old_text = str((old or {}).get("text") or "").strip() if isinstance(old, Mapping) else ""
            if column_id == "group_id":
                if old and old != self.groups_after.get(step.record_uuid):
                    step.move_to_group = str(old)
                    step.details.append(f"back to group {old}")
                continue
            if column_id == "name":
                if old_text and old_text != str(after.get("name") or "").strip():
                    step.column_values["name"] = old_text
                    step.details.append(f"name -> {old_text!r}")
                continue
            column = env.items_board.columns.get(column_id)
            column_type = column.type if column else (old or {}).get("type") or ""
            if column_id in after and written_text(column_type, after[column_id]) == old_text:
                continue
            title = titles.get(column_id, column_id)
            try:
                step.column_values[column_id] = restore_value(column_type, old)
            except ValueError as error:
                step.note = (step.note + "; " if step.note else "") + f"{title}: {error}"
                continue
            step.details.append(f"{title} -> {old_text!r}" if old_text else f"{title} -> empty")
        if not step.details and not step.note:
            step.details.append("nothing the update changed is left to restore")
        return step

    def unrestorable_columns(self, steps: list[RollbackStep]) -> list[str]:
        return [f"item {s.monday_id} {s.label}: {s.note}" for s in steps if s.kind == RESTORE_ITEM and s.note]

    # --- rows ----------------------------------------------------------------------------------------

    def rows(self, changes: list[BoardChange]) -> list[RowRestore]:
        run = self.run
        created = {str(c.record_uuid) for c in changes if c.kind == BoardChange.Kind.ITEM_CREATED and c.record_uuid}
        touched = {str(c.record_uuid) for c in changes if c.record_uuid}
        results = {str(r.record_uuid): r for r in run.results.exclude(outcome=RowResult.Outcome.PLANNED).order_by("id")}
        done = restored_rows(run)
        uuids = sorted(u for u in results if u not in done)
        current: dict[str, tuple[str, str]] = {}
        for chunk in chunks(uuids, IN_CHUNK):
            current.update(
                (str(u), (s or "", a or ""))
                for u, s, a in FactOrderList.objects.filter(record_uuid__in=chunk).values_list(
                    "record_uuid", "sync_state", "action_type"
                )
            )
        restores = []
        for uuid in uuids:
            if uuid not in current:
                continue  # the order line no longer exists
            result = results[uuid]
            state, action = current[uuid]
            if state == State.CLAIMED:
                continue
            if uuid in created:
                target, reason = Action.INSERT.value, "its item is removed"
            elif uuid in touched:
                target, reason = result.previous_action_type or "UPDATE", "its earlier state"
            elif state in ("SYNCED", "ERROR", "COMPLETED"):
                target, reason = result.previous_action_type or "INSERT", "its earlier state"
            else:
                continue  # the run never got to it (already PENDING again)
            if (state, action) == ("PENDING", target):
                continue
            restores.append(
                RowRestore(
                    record_uuid=uuid,
                    aag_order_number=result.aag_order_number,
                    po_number=result.po_number,
                    current_state=state,
                    current_action=action,
                    sync_state=result.previous_sync_state or "PENDING",
                    action_type=target,
                    reason=reason,
                )
            )
        return restores


def rollback_plan_build(run: SyncRun, env: EnvironmentConfig | None, *, delete: bool) -> RollbackPlan:
    """The plan to roll back `run`; `env` is its environment in the current configuration (None when
    the configuration no longer defines it, which refuses the plan)."""
    return RollbackPlanner(run, env, delete=delete).plan()


def restored_rows(run: SyncRun) -> set[str]:
    """Rows of `run` that an earlier rollback already returned."""
    return {
        str(u)
        for u in RowResult.objects.filter(
            run__parent=run, run__kind=SyncRun.Kind.ROLLBACK, outcome=RowResult.Outcome.SYNCED
        ).values_list("record_uuid", flat=True)
    }
