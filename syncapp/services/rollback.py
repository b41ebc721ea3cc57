"""Rolling back a sync run: undo what it did on the board and give its rows back.

What a run did is read from its journal (BoardChange): the groups, items and subitems it created,
and the values, names, groups and quantities its updates replaced. A rollback works backwards:

1. put back the subitem quantities the run changed;
2. put back the item values, names and groups its updates replaced;
3. archive (default) or delete the subitems it added to items that existed before;
4. archive or delete the items it created (monday takes their subitems with them);
5. delete the groups it created, when nothing is left in them (checked live on the board);
6. return its rows to the state they had before the run: PENDING with their earlier action, INSERT
   when their item is gone; this environment's links to removed items and subitems are removed, and
   on production the mirrored ids in the order tables are cleared.

A rollback is itself a SyncRun (kind "rollback", parent = the run it undoes), so it takes the
environment's one-active-run slot and appears in the console's run list. Every answered batch is
recorded at once (BoardChange.reverted_at / reverted_by_run), so a rollback that stops half-way
(worker killed, daily limit, cancelled) finishes when it is run again and never repeats recorded
work. Work monday did whose answer was lost is repeated harmlessly: removing an item or a group that
is already gone counts as done.

Labels a run created on dropdown and status columns stay on the board: monday's API cannot delete
labels, and a label nobody uses changes nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from syncapp.engine.progress import stop_reason
from syncapp.models import BoardChange, BoardGroup, FactOrderList, ItemLink, OrderLine, RowResult, SubitemLink, SyncRun
from syncapp.monday.client import MondayClient, Mutation, MutationResult
from syncapp.monday.errors import MondayError
from syncapp.monday.factory import monday_client
from syncapp.selectors.runs import customer_outcomes
from syncapp.services.audit import audit_record
from syncapp.services.confirmation import production_confirmed
from syncapp.services.sync import SyncRefusedError, busy_error, runs_release_stale
from syncapp.sync_config import ConfigError, EnvironmentConfig, get_sync_config

logger = logging.getLogger(__name__)

ROLLBACK_KINDS = (SyncRun.Kind.SYNC, SyncRun.Kind.RETRY)
FINISHED_STATUSES = (SyncRun.Status.COMPLETED, SyncRun.Status.FAILED, SyncRun.Status.CANCELLED)
# Parameters per IN (...) query: SQL Server accepts at most 2,100 per statement.
IN_CHUNK = 1000
NOT_FOUND = "ResourceNotFoundException"
LAST_GROUP = "DeleteLastGroupException"
ROLLED_BACK = "ROLLED BACK"  # api_status of a row a rollback returned to PENDING (fits NVARCHAR(20))

# Step kinds, in the order they are executed.
RESTORE_QTY = "restore_qty"
RESTORE_ITEM = "restore_item"
REMOVE_SUBITEM = "remove_subitem"
REMOVE_ITEM = "remove_item"
REMOVE_GROUP = "remove_group"
STEP_ORDER = (RESTORE_QTY, RESTORE_ITEM, REMOVE_SUBITEM, REMOVE_ITEM, REMOVE_GROUP)


class RollbackRefusedError(SyncRefusedError):
    """The rollback cannot start; the message says why and what to do."""


# --- the plan ------------------------------------------------------------------------------------


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


def rollback_plan(*, run_id: int, delete: bool = False) -> RollbackPlan:
    """What run `run_id` did on its board and what rolling it back will do. Changes nothing.

    `plan.refusal` says why the run cannot be rolled back (still active, a dry run, a later run
    changed the same items, ...); `plan.nothing_to_do` is true once everything has been undone.
    """
    run = SyncRun.objects.get(pk=run_id)
    env = _environment(run)
    return _Planner(run, env, delete=delete).plan()


class _Planner:
    def __init__(self, run: SyncRun, env: EnvironmentConfig | None, *, delete: bool):
        self.run = run
        self.env = env
        self.delete = delete
        self.groups_after: dict[str, str] = {}  # record_uuid -> the group its item was in after the run

    def plan(self) -> RollbackPlan:
        run, env = self.run, self.env
        changes = list(BoardChange.objects.filter(run=run).order_by("id"))
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
        if plan.refusal or env is None:
            return plan
        labels = self.row_labels()
        self.groups_after = {
            str(u): g for u, g in self.run.results.exclude(group_id="").values_list("record_uuid", "group_id")
        }
        plan.steps = self.steps(changes, pending, labels, env)
        plan.rows = self.rows(changes)
        plan.warnings = [
            f"{s.label}: {s.note}" for s in plan.steps if s.note and s.kind == RESTORE_QTY
        ] + self.unrestorable_columns(plan.steps)
        return plan

    # --- may this run be rolled back? ------------------------------------------------------------

    def refusal(self, changes: list[BoardChange]) -> str:
        run, env = self.run, self.env
        if run.kind not in ROLLBACK_KINDS:
            return f"run {run.pk} is a {run.kind} run; only sync and retry runs can be rolled back."
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
            ids = ", ".join(str(r) for r in later)
            return (
                f"later run(s) {ids} changed items or rows this run touched. Roll back the latest of them first "
                f"(python manage.py rollback_run {later[-1]}), then this run."
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
        for chunk in _chunks(monday_ids, IN_CHUNK):
            found |= set(later.filter(monday_id__in=chunk).values_list("run_id", flat=True))
        for chunk in _chunks(uuids, IN_CHUNK):
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
            if column_id in after and _written_text(column_type, after[column_id]) == old_text:
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
        done = _restored_rows(run)
        uuids = sorted(u for u in results if u not in done)
        current: dict[str, tuple[str, str]] = {}
        for chunk in _chunks(uuids, IN_CHUNK):
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
            if state == "CLAIMED":
                continue
            if uuid in created:
                target, reason = "INSERT", "its item is removed"
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


def _written_text(column_type: str, value: object) -> str | None:
    """The text monday shows for a value orderops wrote (None when it cannot tell)."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value).strip()
    if not isinstance(value, Mapping):
        return None
    if not value:
        return ""
    if column_type == "long_text":
        return str(value.get("text") or "").strip()
    if column_type == "date":
        return str(value.get("date") or "").strip()
    if column_type == "dropdown" and isinstance(value.get("labels"), list):
        return ", ".join(str(label) for label in value["labels"])
    if column_type == "status" and "label" in value:
        return str(value["label"]).strip()
    return None


def restore_value(column_type: str, before: Mapping | None) -> object:
    """A value read from the board (get_items: {"id", "text", "value", "type"}) in monday's write format.

    `value` is monday's stored JSON, already parsed: text and numbers hold a string, long_text
    {"text"}, date {"date", "time"}, dropdown {"ids": [...]}, status {"index": n}. Dropdowns and
    statuses are written back by id and index, so a label renamed since is still the same label.
    An empty `before` (the column had no value) gives the value that clears the column.
    """
    before = before if isinstance(before, Mapping) else {}
    value, text = before.get("value"), before.get("text")
    if column_type == "text":
        return value if isinstance(value, str) else (text or "")
    if column_type == "numbers":
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value).strip()
        return (text or "").strip()
    if column_type == "long_text":
        if isinstance(value, Mapping):
            return {"text": str(value.get("text") or "")}
        return {"text": text or ""}
    if column_type == "date":
        if isinstance(value, Mapping) and value.get("date"):
            restored = {"date": str(value["date"])}
            if value.get("time"):
                restored["time"] = str(value["time"])
            return restored
        return {}
    if column_type == "dropdown":
        ids = value.get("ids") if isinstance(value, Mapping) else None
        return {"ids": [int(i) for i in ids]} if ids else {}
    if column_type == "status":
        index = value.get("index") if isinstance(value, Mapping) else None
        return {"index": int(index)} if index is not None else {}
    raise ValueError(f"a {column_type or 'unknown'} column cannot be written back by orderops")


# --- creating and executing a rollback run --------------------------------------------------------


def rollback_run_create(
    *,
    run_id: int,
    actor=None,
    via: str = "console",
    delete: bool = False,
    confirm_text: str = "",
    enqueue: bool = False,
) -> SyncRun:
    """Record a rollback of run `run_id` (a SyncRun of kind "rollback" whose parent is the run).

    Refused (RollbackRefusedError) when the plan refuses, when nothing is left to undo, when the
    environment's token is missing, or on production without `confirm_text` equal to the board's
    name or id. SyncBusyError when another run is active on the environment. `enqueue` hands it to
    the django-q2 worker once committed; otherwise call rollback_run_execute.
    """
    plan = rollback_plan(run_id=run_id, delete=delete)
    if plan.refusal:
        raise RollbackRefusedError(f"run {run_id} cannot be rolled back: {plan.refusal}")
    if plan.nothing_to_do:
        raise RollbackRefusedError(
            f"run {run_id} has already been rolled back"
            + (f" (by run {', '.join(str(r) for r in plan.rolled_back_by)})" if plan.rolled_back_by else "")
            + "; there is nothing left to undo."
        )
    env = get_sync_config().environment(plan.environment)
    if not env.token:
        raise RollbackRefusedError(
            f"{env.token_setting} is not set, so orderops cannot write to the {env.label} board. Set it to the "
            "monday API token of that account and restart the console and the worker, then roll back again."
        )
    if plan.is_production and not production_confirmed(
        typed=confirm_text, board_id=plan.board_id, board_name=plan.board_name
    ):
        raise RollbackRefusedError(
            f"rolling back run {run_id} changes the production board. Type the board's name "
            f"({plan.board_name!r}) or its id ({plan.board_id}) to confirm."
        )
    parent = SyncRun.objects.get(pk=run_id)
    runs_release_stale()
    mode = "delete" if delete else "archive"
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                kind=SyncRun.Kind.ROLLBACK,
                environment=env.name,
                items_board_id=env.items_board_id,
                subitems_board_id=env.subitems_board_id,
                dry_run=False,
                scope={
                    "rollback_of": parent.pk,
                    "delete": delete,
                    "record_uuids": sorted(r.record_uuid for r in plan.rows),
                },
                requested_by=actor if actor is not None and actor.is_authenticated else None,
                requested_via=via,
                parent=parent,
                total_rows=len(plan.rows),
                plan={"rollback": plan.as_dict()},
            )
            counts = plan.counts()
            audit_record(
                actor=actor,
                via=via,
                environment=env.name,
                target_type="run",
                target_id=run.pk,
                action="rollback_start",
                summary=(
                    f"rollback of run {parent.pk} on {env.describe()}: {mode} {counts['items_to_remove']} item(s), "
                    f"restore {counts['items_to_restore']} item(s), return {counts['rows_to_restore']} row(s)"
                ),
                details={"run": run.pk, "rolled_back_run": parent.pk, "mode": mode, "counts": counts},
            )
            if enqueue:
                transaction.on_commit(lambda: rollback_run_enqueue(rollback_run_id=run.pk))
    except IntegrityError:
        raise busy_error(env.name, env.label, "start the rollback") from None
    return run


def rollback_run_enqueue(*, rollback_run_id: int) -> None:
    from django_q.tasks import async_task

    async_task(
        "syncapp.tasks.rollback_run_task", rollback_run_id, task_name=f"run-{rollback_run_id}", group="orderops-sync"
    )


def rollback_run_execute(*, rollback_run_id: int, batch_size: int | None = None) -> SyncRun:
    """Execute a queued rollback run. A run that is already running or finished is returned as it is.

    Safe to repeat: what an earlier (interrupted) rollback of the same run recorded is not sent again.
    `batch_size` overrides the mutations per request (sync.updates_per_request).
    """
    if not SyncRun.objects.filter(pk=rollback_run_id, kind=SyncRun.Kind.ROLLBACK).exists():
        raise ValueError(f"run {rollback_run_id} is not a rollback run; execute sync runs with sync_run_execute.")
    started = SyncRun.objects.filter(pk=rollback_run_id, status=SyncRun.Status.QUEUED).update(
        status=SyncRun.Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(), current_step="starting"
    )
    run = SyncRun.objects.get(pk=rollback_run_id)
    if not started:
        return run
    executor: _Executor | None = None
    try:
        if run.cancel_requested:
            _finish(run, status=SyncRun.Status.CANCELLED, error="cancelled before it started")
        else:
            executor = _Executor(run, batch_size=batch_size)
            executor.execute()
            _finish(run, status=SyncRun.Status.COMPLETED, executor=executor)
    except _Cancelled:
        _finish(run, status=SyncRun.Status.CANCELLED, error="the rollback was cancelled", executor=executor)
    except Exception as error:  # the run must end with a status, whatever happened
        logger.exception("rollback run %s stopped", rollback_run_id)
        _finish(run, status=SyncRun.Status.FAILED, error=_stop_message(error), executor=executor)
    run.refresh_from_db()
    return run


class _Cancelled(Exception):
    pass


@dataclass
class _RowNotes:
    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    item_id: int | None = None
    group_id: str = ""


class _Executor:
    def __init__(self, run: SyncRun, *, batch_size: int | None = None):
        self.run = run
        self.parent = SyncRun.objects.get(pk=run.parent_id)
        self.delete = bool((run.scope or {}).get("delete"))
        config = get_sync_config()
        self.env = config.environment(run.environment)
        self.batch_size = batch_size or config.sync.updates_per_request
        self.client: MondayClient = monday_client(self.env, run_id=run.pk, log=self.step)
        self.scope = f"rollback:{self.parent.pk}"
        self.notes: dict[str, _RowNotes] = defaultdict(_RowNotes)
        self.stats: dict[str, int] = defaultdict(int)
        self.kept_groups: list[str] = []

    def execute(self) -> None:
        plan = _Planner(self.parent, self.env, delete=self.delete).plan()
        if plan.refusal:
            raise RollbackRefusedError(plan.refusal)
        SyncRun.objects.filter(pk=self.run.pk).update(total_rows=len(plan.rows))
        steps = defaultdict(list)
        for step in plan.steps:
            steps[step.kind].append(step)
        self.restore_quantities(steps[RESTORE_QTY])
        self.restore_items(steps[RESTORE_ITEM])
        self.remove(steps[REMOVE_SUBITEM], subitems=True)
        self.remove(steps[REMOVE_ITEM], subitems=False)
        self.remove_groups(steps[REMOVE_GROUP])
        # Board work is finished (or failed for some rows): rows whose changes are all undone go back.
        self.restore_rows(_Planner(self.parent, self.env, delete=self.delete).rows(self.parent_changes()))

    def parent_changes(self) -> list[BoardChange]:
        return list(BoardChange.objects.filter(run=self.parent).order_by("id"))

    # --- sending ---------------------------------------------------------------------------------

    def send(self, mutations: list[Mutation], operation: str) -> Iterator[dict[str, MutationResult]]:
        """Batches of `batch_size`, one request each, so every answer can be recorded before the next."""
        for start in range(0, len(mutations), self.batch_size):
            if SyncRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
                raise _Cancelled()
            chunk = mutations[start : start + self.batch_size]
            self.step(f"{operation.replace('_', ' ')}: {start + 1}-{start + len(chunk)} of {len(mutations)}")
            yield self.client.run_batch(chunk, operation=operation, idempotency_scope=self.scope)

    def settle(self, step: RollbackStep) -> None:
        BoardChange.objects.filter(pk__in=step.change_ids, reverted_at__isnull=True).update(
            reverted_at=timezone.now(), reverted_by_run=self.run
        )

    def fail(self, step: RollbackStep, message: str) -> None:
        self.stats["errors"] += 1
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
            Mutation(
                key=f"c{s.change_ids[0]}",
                kind="change_columns",
                args={
                    "board_id": s.board_id,
                    "item_id": int(s.monday_id),
                    "column_values": s.column_values,
                    "create_labels_if_missing": False,
                },
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
                        self.stats["subitems_restored"] += 1
                        self.note(step, f"subitem {step.monday_id} qty back to {qty}")
                    else:
                        self.note(step, f"subitem {step.monday_id} is no longer on the board")
                else:
                    self.fail(step, result.error_message)

    # --- 2. item values ----------------------------------------------------------------------------

    def restore_items(self, steps: list[RollbackStep]) -> None:
        if not steps:
            return
        self.step(f"reading {len(steps)} item(s) to restore")
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
                self.stats["already_gone"] += 1
                continue
            if step.column_values:
                by_key[key] = step
                mutations.append(
                    Mutation(
                        key=key,
                        kind="change_columns",
                        args={
                            "board_id": step.board_id,
                            "item_id": int(step.monday_id),
                            "column_values": step.column_values,
                            "create_labels_if_missing": False,
                        },
                    )
                )
            if step.move_to_group and item.get("group_id") != step.move_to_group:
                by_key[f"{key}/move"] = step
                mutations.append(
                    Mutation(
                        key=f"{key}/move",
                        kind="move_item",
                        args={"item_id": int(step.monday_id), "group_id": step.move_to_group},
                    )
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
            self.stats["items_restored"] += 1
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
            Mutation(key=f"c{s.change_ids[0]}", kind=f"{verb}_item", args={"item_id": int(s.monday_id)}) for s in steps
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
                    self.stats[f"{what}_{verb}d"] += 1
                    self.stats["subitems_removed_with_items"] += step.subitems
                    self.note(step, f"{'subitem' if subitems else 'item'} {step.monday_id} {verb}d")
                else:
                    self.stats["already_gone"] += 1
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
        self.step(f"checking {len(steps)} group(s) the run created")
        live = self.client.get_group_items(self.env.items_board_id, [s.monday_id for s in steps], limit=5)
        to_delete = []
        for step in steps:
            if step.monday_id not in live:
                self.forget_group(step)
                self.stats["already_gone"] += 1
            elif live[step.monday_id]:
                # Items created since (by hand or by another run) live there: the group stays.
                self.kept_groups.append(f"{step.label} ({step.monday_id})")
            else:
                to_delete.append(step)
        mutations = [
            Mutation(
                key=f"c{s.change_ids[0]}", kind="delete_group", args={"board_id": s.board_id, "group_id": s.monday_id}
            )
            for s in to_delete
        ]
        by_key = {f"c{s.change_ids[0]}": s for s in to_delete}
        for results in self.send(mutations, "rollback_delete_groups"):
            for key, result in results.items():
                step = by_key[key]
                if result.ok or result.error_code == NOT_FOUND:
                    self.forget_group(step)
                    self.stats["groups_deleted" if result.ok else "already_gone"] += 1
                elif result.error_code == LAST_GROUP:
                    self.kept_groups.append(f"{step.label} ({step.monday_id}, the board's last group)")
                else:
                    self.fail(step, result.error_message)

    def forget_group(self, step: RollbackStep) -> None:
        with transaction.atomic():
            self.settle(step)
            BoardGroup.objects.filter(board_id=self.env.items_board_id, group_id=step.monday_id).delete()

    # --- 6. rows ------------------------------------------------------------------------------------

    def restore_rows(self, rows: list[RowRestore]) -> None:
        self.step(f"returning {len(rows)} row(s) to their earlier state")
        unsettled = set()
        for chunk in _chunks(sorted(r.record_uuid for r in rows), IN_CHUNK):
            unsettled |= {
                str(u)
                for u in BoardChange.objects.filter(run=self.parent, record_uuid__in=chunk, reverted_at__isnull=True)
                .values_list("record_uuid", flat=True)
                .distinct()
            }
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
                FactOrderList.objects.filter(record_uuid=row.record_uuid).exclude(sync_state="CLAIMED").update(
                    sync_state=row.sync_state,
                    action_type=row.action_type,
                    api_status=ROLLED_BACK,
                    api_error_message=None,
                    sync_error_message=None,
                    sync_pending_at=now,
                    updated_at=now,
                )
                OrderLine.objects.filter(record_uuid=row.record_uuid).update(
                    sync_state=row.sync_state, action_type=row.action_type, updated_at=now
                )
                done = "; ".join(notes.messages)
                self.result(
                    row,
                    RowResult.Outcome.SYNCED,
                    f"{row.current_state} -> {row.sync_state}/{row.action_type}" + (f"; {done}" if done else ""),
                )
            self.stats["rows_restored"] += 1
            if processed % 100 == 0:
                SyncRun.objects.filter(pk=self.run.pk).update(processed_rows=processed, heartbeat_at=timezone.now())
        SyncRun.objects.filter(pk=self.run.pk).update(processed_rows=processed)
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

    def step(self, text: str) -> None:
        SyncRun.objects.filter(pk=self.run.pk).update(current_step=text[:200], heartbeat_at=timezone.now())


def _finish(run: SyncRun, *, status: str, error: str = "", executor: _Executor | None = None) -> None:
    config = get_sync_config()
    counts = dict(RowResult.objects.filter(run=run).values_list("outcome").annotate(n=Count("id")))
    restored, failed = counts.get("synced", 0), counts.get("error", 0)
    stats = dict(executor.stats) if executor else {}
    board_errors = [
        e for key, n in (executor.notes.items() if executor else []) if key.startswith("group:") for e in n.errors
    ]
    errors = failed + len(board_errors)
    rate = round(100.0 * restored / (restored + errors), 1) if restored + errors else None
    per_customer = customer_outcomes(run)
    if status == SyncRun.Status.COMPLETED and errors:
        error = f"{errors} change(s) could not be undone; see the row messages. Fix the cause and roll back again."
    outcome = config.outcome_for(rate) if status == SyncRun.Status.COMPLETED and not errors else ""
    if not outcome:
        outcome = SyncRun.Outcome.NEEDS_ATTENTION if status == SyncRun.Status.COMPLETED else SyncRun.Outcome.FAILED
    fields = {
        "status": status,
        "finished_at": timezone.now(),
        "error_message": error,
        "current_step": status,
        "updated_count": stats.get("items_restored", 0),
        "failed_count": errors,
        "success_rate": rate,
        "outcome": outcome,
        "summary": per_customer,
    }
    if executor is not None:
        client_stats = executor.client.stats
        fields.update(
            requests_count=client_stats.requests,
            mutations_count=client_stats.mutations,
            retries_count=client_stats.retries,
            complexity_used=client_stats.complexity_used,
        )
        plan = dict(run.plan or {})
        plan["done"] = {**stats, "groups_kept": executor.kept_groups, "board_errors": board_errors}
        fields["plan"] = plan
    SyncRun.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    audit_record(
        actor=run.requested_by,
        via=run.requested_via if run.requested_via in ("console", "cli", "task") else "task",
        environment=run.environment,
        target_type="run",
        target_id=run.pk,
        action="rollback_finish",
        summary=f"rollback run {run.pk} of run {run.parent_id}: {status}" + (f" ({error})" if error else ""),
        details={"run": run.pk, "rolled_back_run": run.parent_id, "status": status, "done": stats},
    )


def rollback_summary(run: SyncRun) -> str:
    """One line about a finished rollback run, starting with its id (the CLI's last line)."""
    done = (run.plan or {}).get("done") or {}
    verb = "deleted" if (run.scope or {}).get("delete") else "archived"
    text = (
        f"run {run.pk}: rollback of run {run.parent_id} {run.status} {run.outcome or ''} — "
        f"{verb} {done.get(f'items_{verb}', 0)} item(s) and {done.get(f'subitems_{verb}', 0)} subitem(s), "
        f"restored {done.get('items_restored', 0)} item(s) and {done.get('subitems_restored', 0)} subitem(s), "
        f"deleted {done.get('groups_deleted', 0)} group(s), returned {done.get('rows_restored', 0)} row(s)"
    )
    if done.get("already_gone"):
        text += f"; {done['already_gone']} already gone"
    if done.get("groups_kept"):
        text += f"; kept group(s) not empty: {', '.join(done['groups_kept'])}"
    if run.error_message:
        text += f"; {run.error_message}"
    return text


# --- helpers --------------------------------------------------------------------------------------


def _environment(run: SyncRun) -> EnvironmentConfig | None:
    try:
        return get_sync_config().environment(run.environment)
    except ConfigError:
        return None


def _restored_rows(run: SyncRun) -> set[str]:
    return {
        str(u)
        for u in RowResult.objects.filter(
            run__parent=run, run__kind=SyncRun.Kind.ROLLBACK, outcome=RowResult.Outcome.SYNCED
        ).values_list("record_uuid", flat=True)
    }


def _chunks(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _stop_message(error: Exception) -> str:
    text = stop_reason(error)
    if isinstance(error, MondayError | _Cancelled):
        return f"{text} What was undone so far is recorded; roll back the run again to finish."
    return text
