"""Reads for the console's dashboard, orders list and PO pages.

The orders list must stay fast at 200,000 order lines, so it works in two steps: the filtered
order lines are grouped by (CUSTOMER NAME, PO NUMBER) and only that grouped key list is counted and
paginated (an index-only scan for the default sort); the figures shown for each PO are then read
for the keys on the page alone. Nothing per PO is computed for POs that are not displayed.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Q, QuerySet, Subquery, Sum

from syncapp.models import ConsoleSettings, FactOrderList, ItemLink, OrderLine, RowResult, SyncRun, SyncState
from syncapp.selectors.environments import uses_emulator
from syncapp.selectors.sync import IN_CHUNK
from syncapp.sync_config import ENVIRONMENTS

PER_PAGE = 50
STATE_ORDER = [s.value for s in SyncState]
ACTION_ORDER = ["INSERT", "UPDATE", "NONE"]

# Sort keys offered on the orders list. Key sorts walk the (CUSTOMER NAME, PO NUMBER) index;
# the figure sorts aggregate every matching line first, which is still one GROUP BY.
SORTS = {
    "customer": ("customer_name", "po_number"),
    "-customer": ("-customer_name", "-po_number"),
    "po": ("po_number", "customer_name"),
    "-po": ("-po_number", "-customer_name"),
    "qty": ("sort_value", "customer_name", "po_number"),
    "-qty": ("-sort_value", "customer_name", "po_number"),
    "lines": ("sort_value", "customer_name", "po_number"),
    "-lines": ("-sort_value", "customer_name", "po_number"),
}
SORT_LABELS = {
    "customer": "Customer, PO",
    "-customer": "Customer, PO (Z-A)",
    "po": "PO number",
    "-po": "PO number (descending)",
    "-qty": "Total qty (largest first)",
    "qty": "Total qty (smallest first)",
    "-lines": "Order lines (most first)",
    "lines": "Order lines (fewest first)",
}
CANCELLED_CHOICES = {"": "Include cancelled", "hide": "Hide cancelled", "only": "Only cancelled"}


# --- orders list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFilters:
    customer: str = ""
    po: str = ""
    state: str = ""
    season: str = ""
    cancelled: str = ""
    q: str = ""
    sort: str = "customer"

    @property
    def narrowing(self) -> bool:
        """True when the filters select fewer than all order lines."""
        return any((self.customer, self.po, self.state, self.season, self.cancelled, self.q))

    def as_params(self) -> dict[str, str]:
        params = {
            "customer": self.customer,
            "po": self.po,
            "state": self.state,
            "season": self.season,
            "cancelled": self.cancelled,
            "q": self.q,
        }
        if self.sort != "customer":
            params["sort"] = self.sort
        return {k: v for k, v in params.items() if v}


def order_lines_matching(filters: OrderFilters) -> QuerySet[FactOrderList]:
    """The order lines the filters select (row by row; a PO is listed when any of its lines match)."""
    lines = FactOrderList.objects.all()
    if filters.customer:
        lines = lines.filter(customer_name=filters.customer)
    if filters.po:
        lines = lines.filter(po_number=filters.po)
    if filters.state:
        lines = lines.filter(sync_state=filters.state)
    if filters.season:
        lines = lines.filter(Q(customer_season__iexact=filters.season) | Q(aag_season__iexact=filters.season))
    if filters.cancelled == "hide":
        lines = lines.exclude(order_type__iexact="CANCELLED")
    elif filters.cancelled == "only":
        lines = lines.filter(order_type__iexact="CANCELLED")
    if filters.q:
        q = filters.q
        lines = lines.filter(
            Q(po_number__icontains=q)
            | Q(aag_order_number__icontains=q)
            | Q(customer_name__icontains=q)
            | Q(customer_style__icontains=q)
        )
    return lines


def po_keys_matching(filters: OrderFilters) -> QuerySet:
    """One row per (customer_name, po_number) of the matching lines, sorted; count() and slicing
    are what the paginator needs."""
    lines = order_lines_matching(filters).values("customer_name", "po_number")
    ordering = SORTS.get(filters.sort, SORTS["customer"])
    if filters.sort in ("qty", "-qty"):
        return lines.annotate(sort_value=Sum("total_qty")).order_by(*ordering)
    if filters.sort in ("lines", "-lines"):
        return lines.annotate(sort_value=Count("*")).order_by(*ordering)
    return lines.order_by(*ordering).distinct()


@dataclass
class PoSummary:
    customer: str
    po: str
    customer_seasons: list[str] = field(default_factory=list)
    aag_seasons: list[str] = field(default_factory=list)
    lines: int = 0
    sizes: int = 0
    total_qty: int = 0
    cancelled: int = 0
    states: list[tuple[str, int]] = field(default_factory=list)
    last_sync: dict[str, datetime | None] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.customer, self.po)

    @property
    def key_value(self) -> str:
        return po_key_value(self.customer, self.po)


def po_key_value(customer: str, po: str) -> str:
    """How a selected PO travels in a form: JSON, so no separator can collide with the data."""
    return json.dumps([customer or "", po or ""], ensure_ascii=False)


def po_page(filters: OrderFilters, page_number: object = 1, per_page: int = PER_PAGE) -> tuple[Page, list[PoSummary]]:
    paginator = Paginator(po_keys_matching(filters), per_page)
    page = paginator.get_page(page_number)
    keys = [(row["customer_name"] or "", row["po_number"] or "") for row in page.object_list]
    return page, po_summaries(keys)


def po_summaries(keys: list[tuple[str, str]]) -> list[PoSummary]:
    """Figures for the given POs, in the given order: four queries whatever the page size."""
    if not keys:
        return []
    wanted = set(keys)
    pos = sorted({po for _, po in keys})
    summaries = {key: PoSummary(customer=key[0], po=key[1]) for key in keys}
    states: dict[tuple[str, str], Counter] = defaultdict(Counter)
    customer_seasons: dict[tuple[str, str], set] = defaultdict(set)
    aag_seasons: dict[tuple[str, str], set] = defaultdict(set)
    po_of: dict[str, tuple[str, str]] = {}
    rows = FactOrderList.objects.filter(po_number__in=pos).values_list(
        "record_uuid",
        "customer_name",
        "po_number",
        "customer_season",
        "aag_season",
        "total_qty",
        "sync_state",
        "order_type",
    )
    for uuid, customer, po, c_season, a_season, qty, state, order_type in rows:
        key = (customer or "", po or "")
        if key not in wanted:
            continue  # the same PO number at another customer
        po_of[str(uuid)] = key
        summary = summaries[key]
        summary.lines += 1
        summary.total_qty += qty or 0
        summary.cancelled += (order_type or "").strip().upper() == "CANCELLED"
        states[key][state or "NEW"] += 1
        if c_season:
            customer_seasons[key].add(c_season)
        if a_season:
            aag_seasons[key].add(a_season)
    in_page = FactOrderList.objects.filter(po_number__in=pos).values("record_uuid")
    for uuid, sizes in (
        OrderLine.objects.filter(record_uuid__in=Subquery(in_page), qty__gt=0)
        .values_list("record_uuid")
        .annotate(n=Count("*"))
        .order_by()
    ):
        key = po_of.get(str(uuid))
        if key:
            summaries[key].sizes += sizes
    for customer, po, environment, last in (
        RowResult.objects.filter(po_number__in=pos, outcome=RowResult.Outcome.SYNCED, run__dry_run=False)
        .values_list("customer_name", "po_number", "run__environment")
        .annotate(last=Max("finished_at"))
        .order_by()
    ):
        summary = summaries.get((customer, po))
        if summary:
            summary.last_sync[environment] = last
    for key, summary in summaries.items():
        summary.states = sorted(states[key].items(), key=lambda kv: _state_rank(kv[0]))
        summary.customer_seasons = sorted(customer_seasons[key])
        summary.aag_seasons = sorted(aag_seasons[key])
    return [summaries[key] for key in keys]


def _state_rank(state: str) -> int:
    return STATE_ORDER.index(state) if state in STATE_ORDER else len(STATE_ORDER)


def customer_names() -> list[str]:
    return list(
        FactOrderList.objects.exclude(customer_name=None)
        .values_list("customer_name", flat=True)
        .order_by("customer_name")
        .distinct()
    )


# --- selections and scopes -------------------------------------------------------------------


def scope_for_keys(keys: list[tuple[str, str]]) -> dict:
    """The sync/mark scope that selects exactly these POs.

    A scope names PO numbers (and at most one customer). When other customers use the same PO
    numbers, the scope also lists the selected order lines' record_uuids so nothing else is touched.
    """
    keys = sorted(set(keys))
    if not keys:
        return {}
    customers = {customer for customer, _ in keys}
    pos = sorted({po for _, po in keys})
    scope: dict = {"pos": pos}
    if len(customers) == 1:
        scope["customer"] = next(iter(customers))
        return scope
    wanted = set(keys)
    uuids: list[str] = []
    others = False
    for start in range(0, len(pos), IN_CHUNK):
        for uuid, customer, po in FactOrderList.objects.filter(po_number__in=pos[start : start + IN_CHUNK]).values_list(
            "record_uuid", "customer_name", "po_number"
        ):
            if (customer, po) in wanted:
                uuids.append(str(uuid))
            else:
                others = True
    if others:
        scope["record_uuids"] = sorted(uuids)
    return scope


def scope_for_filters(filters: OrderFilters) -> dict | None:
    """The scope for "every PO matching the filter"; None when no PO matches."""
    if not filters.narrowing:
        return {}
    if not (filters.state or filters.season or filters.cancelled or filters.q):
        scope: dict = {}
        if filters.customer:
            scope["customer"] = filters.customer
        if filters.po:
            scope["pos"] = [filters.po]
        return scope
    keys = [
        (row["customer_name"] or "", row["po_number"] or "")
        for row in order_lines_matching(filters).values("customer_name", "po_number").order_by().distinct()
    ]
    return scope_for_keys(keys) if keys else None


@dataclass
class ScopeCounts:
    lines: int = 0
    pos: int = 0
    by_state: dict[tuple[str, str], int] = field(default_factory=dict)

    def state(self, sync_state: str, action_type: str | None = None) -> int:
        return sum(n for (s, a), n in self.by_state.items() if s == sync_state and action_type in (None, a))

    @property
    def pending_insert(self) -> int:
        return self.state("PENDING", "INSERT")

    @property
    def pending_update(self) -> int:
        return self.state("PENDING", "UPDATE")

    @property
    def pending(self) -> int:
        return self.pending_insert + self.pending_update

    @property
    def claimed(self) -> int:
        return self.state("CLAIMED")


def scope_counts(scope: dict) -> ScopeCounts:
    """Order lines and POs in a scope, by state: what the confirmation pages show."""
    counts = ScopeCounts()
    base = FactOrderList.objects.all()
    if scope.get("customer"):
        base = base.filter(customer_name__iexact=scope["customer"])
    pos = list(scope.get("pos") or [])
    uuids = list(scope.get("record_uuids") or [])
    if uuids:
        if pos and len(pos) <= IN_CHUNK:
            base = base.filter(po_number__in=pos)
        chunks = [base.filter(record_uuid__in=uuids[i : i + IN_CHUNK]) for i in range(0, len(uuids), IN_CHUNK)]
    elif pos:
        chunks = [base.filter(po_number__in=pos[i : i + IN_CHUNK]) for i in range(0, len(pos), IN_CHUNK)]
    else:
        chunks = [base]
    by_state: Counter = Counter()
    po_keys: set = set()
    for chunk in chunks:
        for state, action, n in (
            chunk.values_list("sync_state", "action_type")
            .annotate(n=Count("*"))
            .order_by()
            .values_list("sync_state", "action_type", "n")
        ):
            by_state[(state or "", action or "")] += n
        po_keys.update(chunk.values_list("customer_name", "po_number").order_by().distinct())
    counts.by_state = dict(by_state)
    counts.lines = sum(by_state.values())
    counts.pos = len(po_keys)
    return counts


# --- PO detail -------------------------------------------------------------------------------

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


@dataclass
class PoLine:
    line: FactOrderList
    sizes: list[dict] = field(default_factory=list)
    items: dict[str, dict] = field(default_factory=dict)  # environment -> {item_id, board_id, url}


@dataclass
class PoDetail:
    customer: str
    po: str
    lines: list[PoLine]
    runs: list[dict]
    last_error: RowResult | None
    last_error_explained: str

    @property
    def total_qty(self) -> int:
        return sum(pl.line.total_qty or 0 for pl in self.lines)

    @property
    def states(self) -> list[tuple[str, int]]:
        counts = Counter(pl.line.sync_state or "NEW" for pl in self.lines)
        return sorted(counts.items(), key=lambda kv: _state_rank(kv[0]))


def po_detail(customer: str, po: str) -> PoDetail | None:
    lines_qs = FactOrderList.objects.filter(customer_name=customer, po_number=po)
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
    for link in ItemLink.objects.filter(record_uuid__in=uuids).values(
        "environment", "record_uuid", "monday_item_id", "board_id", "group_id"
    ):
        link["url"] = monday_item_url(link["board_id"], link["monday_item_id"])
        by_uuid[str(link["record_uuid"])].items[link["environment"]] = link
    touched = (
        RowResult.objects.filter(po_number=po, customer_name=customer)
        .values("run_id")
        .annotate(
            rows=Count("*"),
            synced=Count("id", filter=Q(outcome=RowResult.Outcome.SYNCED)),
            errors=Count("id", filter=Q(outcome=RowResult.Outcome.ERROR)),
            last=Max("finished_at"),
        )
        .order_by("-run_id")[:25]
    )
    touched = list(touched)
    runs = SyncRun.objects.defer("plan", "summary").in_bulk([t["run_id"] for t in touched])
    for t in touched:
        t["run"] = runs.get(t["run_id"])
    last_error = (
        RowResult.objects.filter(po_number=po, customer_name=customer, outcome=RowResult.Outcome.ERROR)
        .select_related("run")
        .order_by("-id")
        .first()
    )
    explained = ERROR_EXPLANATIONS.get(last_error.error_code, "") if last_error else ""
    return PoDetail(customer, po, lines, touched, last_error, explained)


def monday_web_url() -> str:
    """Where people open boards: the emulator's own pages locally, monday.com otherwise."""
    configured = getattr(settings, "ORDEROPS_MONDAY_WEB_URL", "")
    if configured:
        return configured.rstrip("/")
    api = settings.MONDAY_API_URL.rstrip("/")
    if api.endswith("/v2") and "api.monday.com" not in api:
        return api[: -len("/v2")]
    return "https://monday.com"


def monday_board_url(board_id: int) -> str:
    return f"{monday_web_url()}/boards/{board_id}"


def monday_item_url(board_id: int, item_id: int) -> str:
    if uses_emulator():
        return monday_board_url(board_id)  # the emulator shows whole boards, not single items
    return f"{monday_board_url(board_id)}/pulses/{item_id}"


# --- dashboard -------------------------------------------------------------------------------


@dataclass
class StateMatrix:
    actions: list[str]
    rows: list[tuple[str, list[int], int]]  # state, counts per action, total
    total: int


def state_matrix() -> StateMatrix:
    # COUNT(*) rather than COUNT(record_uuid): SQLite answers it from the (sync_state, action_type)
    # index alone, ten times faster at 200,000 lines.
    rows = FactOrderList.objects.values_list("sync_state", "action_type").annotate(n=Count("*")).order_by()
    counts: Counter = Counter()
    for state, action, n in rows:
        counts[(state or "NEW", action or "NONE")] += n
    actions = ACTION_ORDER + sorted({a for _, a in counts} - set(ACTION_ORDER))
    states = sorted({s for s, _ in counts}, key=_state_rank)
    rows = []
    for state in states:
        values = [counts.get((state, action), 0) for action in actions]
        rows.append((state, values, sum(values)))
    return StateMatrix(actions, rows, sum(counts.values()))


def pending_by_customer() -> list[dict]:
    return list(
        FactOrderList.objects.filter(sync_state="PENDING")
        .values("customer_name")
        .annotate(lines=Count("*"), pos=Count("po_number", distinct=True))
        .order_by("-lines", "customer_name")
    )


def recent_runs(limit: int = 10) -> list[SyncRun]:
    return list(SyncRun.objects.filter(dry_run=False).select_related("requested_by").defer("plan")[:limit])


def active_runs() -> list[SyncRun]:
    return list(
        SyncRun.objects.filter(status__in=SyncRun.ACTIVE_STATUSES, dry_run=False)
        .select_related("requested_by")
        .defer("plan", "summary")
    )


def run_history(limit: int = 20) -> list[dict]:
    """The last finished real runs, oldest first: what the dashboard chart draws."""
    rows = list(
        SyncRun.objects.filter(dry_run=False, finished_at__isnull=False)
        .order_by("-id")
        .values(
            "id",
            "environment",
            "status",
            "success_rate",
            "created_count",
            "updated_count",
            "cancelled_count",
            "failed_count",
            "finished_at",
        )[:limit]
    )
    rows.reverse()
    for row in rows:
        row["synced"] = row["created_count"] + row["updated_count"] + row["cancelled_count"]
    return rows


def environments_order() -> tuple[str, ...]:
    return ENVIRONMENTS


def console_settings_row() -> ConsoleSettings | None:
    return ConsoleSettings.objects.select_related("changed_by").filter(pk=1).first()
