"""A reconcile run: read the board, gather what orderops knows, compare, store the findings.

The run lifecycle (services/runs.py) starts and finishes it like any run; this executor writes
nothing to the board and claims no rows (a reconcile run is a dry run).

The board read is always the whole items board (engine/board_read.py), whatever the scope: an item
a person moved may sit in any group, and a copy or a stray item anywhere, so reading only the
customer's groups would report moved items as missing and miss copies outside them. The scope
limits what is compared and reported: the order lines in scope (and their duplicates), and orphans
whose CUSTOMER NAME and PO NUMBER on the board are in scope.

What a sync would write today is the engine's own plan (engine/plan.Planner over engine/rows), so
"order value" is what a sync sends; what orderops last wrote comes from the journal (the latest
ITEM_UPDATED of the item) and the size links (SubitemLink.qty). The comparison itself is pure
(engine/reconcile_compare.py). Who changed a drifted value, and when, is read from the board's
activity log for those items only.

A reconcile is refused while a run writes to the board (services/reconcile.py), and a write run that
starts while the board is read makes the reconcile stop without findings: its writes would read as
drift.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from django.db.models import Q
from django.utils import timezone

from syncapp.domain.scope import Scope, key
from syncapp.domain.states import State
from syncapp.engine import reconcile_compare as compare
from syncapp.engine.board_read import BoardReader
from syncapp.engine.plan import FAIL, SKIP, Planner
from syncapp.engine.progress import RunProgress, RunStopped, client_stats, stop_reason
from syncapp.engine.rows import rows_load
from syncapp.models import BoardChange, BoardGroup, FactOrderList, ItemLink, ReconcileFinding, SubitemLink, SyncRun
from syncapp.monday.errors import MondayError
from syncapp.monday.factory import monday_client
from syncapp.order_tables import canonical_uuid
from syncapp.raw_sql import chunks
from syncapp.sync_config import SyncConfig

# SQL Server accepts at most 2,100 parameters per statement.
IN_CHUNK = 1000
FINDINGS_BATCH = 500
# A line's values are known to be on the board (the last sync wrote them) in these states.
WRITTEN_STATES = frozenset({State.SYNCED.value, State.COMPLETED.value})


class BoardChangedMeanwhile(RunStopped):
    """A run wrote to the board while the reconcile read it."""


class ReconcileExecutor:
    def __init__(self, run: SyncRun, *, config: SyncConfig, client=None):
        self.run = run
        self.config = config
        self.env = config.environment(run.environment)
        self.scope = Scope.from_dict(run.scope)
        self.progress = RunProgress(run.pk)
        self.client = client or monday_client(
            self.env, profile="sync", run_id=run.pk, log=self.progress.step, settings_=config.sync
        )
        self.counts: dict[str, int] = {}
        self.lines_compared = 0
        self.items_read = 0

    # --- the run -------------------------------------------------------------------------------

    def execute(self) -> None:
        started = timezone.now()
        self._refuse_if_written(started)
        reader = BoardReader(self.client, self.env, step=self._step)
        self._step("reading the board")
        read = reader.read()
        self.items_read = len(read.items)
        board = self._board(read)
        self._step("comparing with the order tables")
        lines, line_item_ids, created = self._lines(board)
        self.lines_compared = len(lines)
        SyncRun.objects.filter(pk=self.run.pk).update(total_rows=len(lines))
        missing = [line.item_id for line in lines if line.item_id not in board.items]
        if missing:
            board.looked_up = reader.items_by_id(missing)
        findings = compare.compare(
            lines,
            board,
            order_lines_by_aag=self._order_lines_by_aag(board),
            linked_item_ids=line_item_ids,
            created_item_ids=created,
            in_scope=self._in_scope,
        )
        drifted = {(f.monday_item_id, f.column_id) for f in findings if f.kind == compare.VALUE_DRIFT}
        changes = reader.column_changes(drifted) if drifted else {}
        self._refuse_if_written(started)
        self._store(findings, changes)
        self.progress.processed(len(lines), client_stats(self.client))

    def _step(self, text: str) -> None:
        if self.progress.cancel_requested():
            raise RunStopped("the reconcile was cancelled.")
        self.progress.step(text)

    def _refuse_if_written(self, since) -> None:
        writes = SyncRun.objects.filter(environment=self.run.environment, dry_run=False).exclude(pk=self.run.pk)
        busy = writes.filter(Q(status__in=SyncRun.ACTIVE_STATUSES) | Q(finished_at__gte=since)).first()
        if busy is not None:
            raise BoardChangedMeanwhile(
                f"run {busy.pk} wrote to the {self.env.label} board while the reconcile read it, so its changes "
                "would show as differences. Run the reconcile again once no run is writing to the board."
            )

    # --- what orderops knows -----------------------------------------------------------------------

    def _board(self, read) -> compare.Board:
        env, items = self.env, {int(i["id"]): i for i in read.items}
        columns = {
            c: (env.items_board.columns[c].title, env.items_board.columns[c].type) for c in env.item_columns.values()
        }
        return compare.Board(
            items=items,
            groups=read.groups,
            columns=columns,
            aag_column=env.item_columns.get("AAG ORDER NUMBER", ""),
            customer_column=env.item_columns.get("CUSTOMER NAME", ""),
            po_column=env.item_columns.get("PO NUMBER", ""),
            size_column=env.size_column_id,
            qty_column=env.qty_column_id,
            subitem_prefix=self.config.naming.subitem_name_prefix,
        )

    def _lines(self, board: compare.Board) -> tuple[list[compare.Line], set[int], set[int]]:
        """The linked order lines in scope, the items of every linked line that still exists, and the
        items orderops created (links and the journal)."""
        env_links = list(ItemLink.objects.filter(environment=self.env.name))
        by_uuid = {canonical_uuid(link.record_uuid): link for link in env_links}
        facts = self._facts(list(by_uuid))
        line_item_ids = {by_uuid[u].monday_item_id for u in facts}
        created = {link.monday_item_id for link in env_links if link.created_by_run_id is not None}
        created |= self._journal_created(board)
        scoped = [u for u, (_aag, customer, po, _state) in facts.items() if self._in_scope(customer, po, u)]
        rows = {r.record_uuid: r for r in rows_load(self.config, sorted(scoped))}
        written = self._last_written([by_uuid[u].monday_item_id for u in rows])
        sizes = self._sizes(list(rows))
        planner = Planner(self.config, self.env, {})
        group_ids = self._group_ids(board)
        lines = []
        for u in sorted(rows, key=lambda u: facts[u][0]):
            link, row = by_uuid[u], rows[u]
            plan = planner.plan(row, item_id=link.monday_item_id, group_id=link.group_id, subitems=sizes.get(u, {}))
            expected = None
            if plan.action not in (FAIL, SKIP):
                expected = compare.Expected(
                    group_name=plan.group_name,
                    group_id=group_ids.get(plan.group_name, ""),
                    values={**plan.column_values, **plan.new_label_values},
                    sizes={s.size_code: s.qty for s in plan.sizes},
                )
            aag, customer, po, state = facts[u]
            lines.append(
                compare.Line(
                    record_uuid=u,
                    aag_order_number=aag,
                    customer_name=customer,
                    po_number=po,
                    item_id=link.monday_item_id,
                    pending=state not in WRITTEN_STATES,
                    created_by_orderops=link.monday_item_id in created,
                    expected=expected,
                    problem=plan.message if expected is None else "",
                    written=written.get(link.monday_item_id, {}),
                    sizes=sizes.get(u, {}),
                )
            )
        return lines, line_item_ids, created

    def _facts(self, record_uuids: list[str]) -> dict[str, tuple[str, str, str, str]]:
        """record uuid -> (AAG ORDER NUMBER, customer, PO, sync_state) of the lines that still exist."""
        found = {}
        fields = ("record_uuid", "aag_order_number", "customer_name", "po_number", "sync_state")
        for chunk in chunks(record_uuids, IN_CHUNK):
            for u, aag, customer, po, state in FactOrderList.objects.filter(record_uuid__in=chunk).values_list(*fields):
                found[canonical_uuid(u)] = ((aag or "")[:100], (customer or "")[:100], (po or "")[:255], state or "")
        return found

    def _in_scope(self, customer: str, po: str, record_uuid: str | None = None) -> bool:
        return self.scope.matches(customer, po, record_uuid)

    def _journal_created(self, board: compare.Board) -> set[int]:
        ids = [str(i) for i in board.items]
        created: set[int] = set()
        for chunk in chunks(ids, IN_CHUNK):
            created |= {
                int(m)
                for m in BoardChange.objects.filter(
                    environment=self.env.name, kind=BoardChange.Kind.ITEM_CREATED, monday_id__in=chunk
                ).values_list("monday_id", flat=True)
            }
        return created

    def _last_written(self, item_ids: list[int]) -> dict[int, dict[str, object]]:
        """Per item, the column values of orderops' latest update (the values a rollback put back, when
        that update was rolled back)."""
        latest: dict[int, dict[str, object]] = {}
        for chunk in chunks([str(i) for i in item_ids], IN_CHUNK):
            changes = BoardChange.objects.filter(
                environment=self.env.name, kind=BoardChange.Kind.ITEM_UPDATED, monday_id__in=chunk
            ).order_by("id")
            for monday_id, before, after, reverted_at in changes.values_list(
                "monday_id", "before", "after", "reverted_at"
            ):
                latest[int(monday_id)] = dict(before or {}) if reverted_at else dict(after or {})
        return latest

    def _sizes(self, record_uuids: list[str]) -> dict[str, dict[str, tuple[int, int | None]]]:
        sizes: dict[str, dict[str, tuple[int, int | None]]] = defaultdict(dict)
        for chunk in chunks(record_uuids, IN_CHUNK):
            links = SubitemLink.objects.filter(environment=self.env.name, record_uuid__in=chunk)
            for u, size, sub_id, qty in links.values_list("record_uuid", "size_code", "monday_subitem_id", "qty"):
                sizes[canonical_uuid(u)][size] = (sub_id, qty)
        return sizes

    def _group_ids(self, board: compare.Board) -> dict[str, str]:
        """Group name -> the id the sync uses: the registry's, when that group is on the board, else the
        board's group of that title."""
        by_title: dict[str, str] = {}
        for group_id, title in board.groups.items():
            by_title.setdefault(title, group_id)
        registered = BoardGroup.objects.filter(board_id=self.env.items_board_id).values_list("group_name", "group_id")
        for name, group_id in registered:
            if group_id in board.groups:
                by_title[name] = group_id
        return by_title

    def _order_lines_by_aag(self, board: compare.Board) -> dict[str, list[tuple[str, str, str]]]:
        numbers = sorted({compare.item_text(item, board.aag_column) for item in board.items.values()} - {""})
        found: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for chunk in chunks(numbers, IN_CHUNK):
            rows = FactOrderList.objects.filter(aag_order_number__in=chunk).order_by("record_uuid")
            for u, aag, customer, po in rows.values_list(
                "record_uuid", "aag_order_number", "customer_name", "po_number"
            ):
                found[key(aag)].append((canonical_uuid(u), customer or "", po or ""))
        return found

    # --- storing -----------------------------------------------------------------------------------

    def _store(self, findings: list[compare.Finding], changes: dict) -> None:
        self._step(f"storing {len(findings)} finding(s)")
        rows = []
        for f in findings:
            change = changes.get((f.monday_item_id, f.column_id)) if f.kind == compare.VALUE_DRIFT else None
            rows.append(
                ReconcileFinding(
                    run=self.run,
                    kind=f.kind,
                    record_uuid=f.record_uuid,
                    size_code=f.size_code[:20],
                    aag_order_number=f.aag_order_number[:100],
                    customer_name=f.customer_name[:100],
                    po_number=f.po_number[:255],
                    monday_item_id=f.monday_item_id,
                    monday_subitem_id=f.monday_subitem_id,
                    group_id=f.group_id[:128],
                    expected_group_id=f.expected_group_id[:128],
                    created_by_orderops=f.created_by_orderops,
                    column_id=f.column_id[:100],
                    column_title=f.column_title[:255],
                    board_value=f.board_value,
                    order_value=f.order_value,
                    written_value=f.written_value,
                    changed_by=(_who(change) if change else "")[:255],
                    changed_at=change.at if change else None,
                    policy=self.env.column_policy(f.column_id) if f.kind == compare.VALUE_DRIFT else "order_wins",
                    message=f.message,
                )
            )
        ReconcileFinding.objects.bulk_create(rows, batch_size=FINDINGS_BATCH)
        self.counts = dict(Counter(f.kind for f in findings))

    # --- the lifecycle's questions -----------------------------------------------------------------

    def release(self, *, reason: str) -> None:
        """A reconcile claims no rows: nothing to give back."""

    def finish_fields(self, *, status: str, counts: dict[str, int]) -> dict:
        kinds = {kind: self.counts.get(kind, 0) for kind in compare.KINDS}
        total = sum(kinds.values())
        if status != SyncRun.Status.COMPLETED:
            outcome = "" if status == SyncRun.Status.CANCELLED else SyncRun.Outcome.FAILED
        else:
            outcome = SyncRun.Outcome.NEEDS_ATTENTION if total else SyncRun.Outcome.SUCCESS
        return {
            **client_stats(self.client),
            "processed_rows": self.lines_compared,
            "total_rows": self.lines_compared,
            "outcome": outcome,
            "summary": {
                "reconcile": {
                    "findings": kinds,
                    "total": total,
                    "lines_compared": self.lines_compared,
                    "items_read": self.items_read,
                }
            },
        }

    def stop_message(self, error: Exception) -> str:
        if isinstance(error, BoardChangedMeanwhile):
            return str(error)
        if isinstance(error, RunStopped):
            return "cancelled on request; the reconcile stopped before it stored any finding"
        if isinstance(error, MondayError):
            return stop_reason(error)
        return f"orderops stopped the reconcile on an unexpected error ({stop_reason(error)})"

    def finish_audit(self, *, status: str, error: str) -> None:
        """The start is audited; the findings are the run's own record."""
        return None


def _who(change) -> str:
    name = change.user_name or ""
    return f"{name} (user {change.user_id})" if name else (f"user {change.user_id}" if change.user_id else "")
