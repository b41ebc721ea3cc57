"""Reads for the PO page: one PO's order lines with their sizes and items, the runs that touched
it and its last error. The PO is a scope of one customer and one PO number, read under the case
rule, so the page lists exactly the lines a sync of that PO takes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Max, Q, Subquery

from syncapp.domain.scope import Scope
from syncapp.domain.sizes import size_sort_key
from syncapp.models import FactOrderList, ItemLink, OrderLine, RowResult, SyncRun
from syncapp.order_tables import declared_size_columns
from syncapp.selectors.environments import environment_config, environments_order, monday_board_url, monday_item_url
from syncapp.selectors.orders import state_rank
from syncapp.sync_config import ConfigError

PO_LINE_FIELDS = (
    "record_uuid",
    "aag_order_number",
    "customer_name",
    "po_number",
    "customer_season",
    "aag_season",
    "customer_style",
    "style_description",
    "customer_colour_description",
    "order_type",
    "total_qty",
    "sync_state",
    "action_type",
    "api_status",
    "api_error_message",
    "sync_error_message",
    "last_synced_at",
    "sync_pending_at",
)

# monday's error codes, said plainly for the PO page.
ERROR_EXPLANATIONS = {
    "ColumnValueException": "monday refused a column value (wrong format or a label the board does not have).",
    "InvalidColumnIdException": "a mapped column is not on the board any more; an admin should check the board.",
    "ResourceNotFoundException": "the item or group is no longer on the board (deleted or archived).",
    "InvalidBoardIdException": "the board was not found with this environment's token.",
    "ItemNameTooLongException": "the item name is longer than monday allows.",
    "CreateLabelsLimitException": "the column has too many labels to add a new one.",
    "UserUnauthorizedException": "the token's user may not edit this board.",
}
RUNS_SHOWN = 25


@dataclass
class PoLine:
    line: FactOrderList
    sizes: list[dict] = field(default_factory=list)
    items: dict[str, dict] = field(default_factory=dict)  # environment -> {item_id, board_id, url}
    synced_on: str = ""  # the environment of the run that last synced the line (its SYNCED means that board)


@dataclass
class PoDetail:
    customer: str
    po: str
    lines: list[PoLine]
    runs: list[dict]
    last_error: RowResult | None
    last_error_explained: str
    boards: dict[str, dict] = field(default_factory=dict)  # environment -> {label, board_id, url}

    @property
    def total_qty(self) -> int:
        return sum(pl.line.total_qty or 0 for pl in self.lines)

    @property
    def states(self) -> list[tuple[str, int]]:
        counts = Counter(pl.line.sync_state or "NEW" for pl in self.lines)
        return sorted(counts.items(), key=lambda kv: state_rank(kv[0]))

    @property
    def board_states(self) -> list[dict]:
        """{state, environment, lines, board}: one state column serves both boards, so a SYNCED says
        which board it refers to (the environment of the run that synced the line last, with a link to
        that board). Other states are about the line, not a board."""
        counts = Counter(
            (pl.line.sync_state or "NEW", pl.synced_on if pl.line.sync_state == "SYNCED" else "") for pl in self.lines
        )
        ordered = sorted(counts.items(), key=lambda kv: (state_rank(kv[0][0]), kv[0][1]))
        return [
            {"state": state, "environment": env, "lines": n, "board": self.boards.get(env)}
            for (state, env), n in ordered
        ]

    @property
    def not_on_production(self) -> int:
        """Order lines with no item on the production board."""
        return sum(1 for pl in self.lines if "production" not in pl.items)


def po_detail(scope: Scope) -> PoDetail | None:
    """The PO page for a scope of one customer and one PO number; None when it has no order lines."""
    if not scope.customer or len(scope.pos) != 1 or scope.record_uuids:
        raise ValueError("a PO page is one customer and one PO number")
    (lines_qs,) = scope.querysets(FactOrderList.objects.all())
    lines = [PoLine(line) for line in lines_qs.only(*PO_LINE_FIELDS).order_by("aag_order_number")]
    if not lines:
        return None
    by_uuid = {str(pl.line.record_uuid): pl for pl in lines}
    uuids = Subquery(lines_qs.values("record_uuid"))
    for size in (
        OrderLine.objects.filter(record_uuid__in=uuids)
        .values("record_uuid", "size_code", "qty", "sync_state", "action_type")
        .order_by("record_uuid", "size_code")
    ):
        by_uuid[str(size["record_uuid"])].sizes.append(size)
    # Apparel order (XS S M L XL ..., 0 2 4 ..., waist by length): the production size columns' order.
    key = size_sort_key(declared_size_columns())
    for pl in lines:
        pl.sizes.sort(key=lambda size: key(size["size_code"]))
    for link in ItemLink.objects.filter(record_uuid__in=uuids).values(
        "environment", "record_uuid", "monday_item_id", "board_id", "group_id"
    ):
        link["url"] = monday_item_url(link["board_id"], link["monday_item_id"])
        by_uuid[str(link["record_uuid"])].items[link["environment"]] = link
    (results,) = scope.querysets(RowResult.objects.all())
    # Newest first, so the first environment seen per line is the board its SYNCED refers to.
    for record_uuid, environment in (
        RowResult.objects.filter(record_uuid__in=uuids, outcome=RowResult.Outcome.SYNCED, run__dry_run=False)
        .order_by("-id")
        .values_list("record_uuid", "run__environment")
    ):
        pl = by_uuid.get(str(record_uuid))
        if pl is not None and not pl.synced_on:
            pl.synced_on = environment
    touched = list(
        results.values("run_id")
        .annotate(
            rows=Count("*"),
            synced=Count("id", filter=Q(outcome=RowResult.Outcome.SYNCED)),
            errors=Count("id", filter=Q(outcome=RowResult.Outcome.ERROR)),
            last=Max("finished_at"),
        )
        .order_by("-run_id")[:RUNS_SHOWN]
    )
    runs = SyncRun.objects.defer("plan", "summary").in_bulk([t["run_id"] for t in touched])
    for t in touched:
        t["run"] = runs.get(t["run_id"])
    last_error = results.filter(outcome=RowResult.Outcome.ERROR).select_related("run").order_by("-id").first()
    explained = ERROR_EXPLANATIONS.get(last_error.error_code, "") if last_error else ""
    return PoDetail(scope.customer, scope.pos[0], lines, touched, last_error, explained, _boards())


def _boards() -> dict[str, dict]:
    boards = {}
    for name in environments_order():
        try:
            env = environment_config(name)
        except ConfigError:
            continue
        boards[name] = {"label": env.label, "board_id": env.items_board_id, "url": monday_board_url(env.items_board_id)}
    return boards
