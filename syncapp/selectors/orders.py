"""Reads for the orders list: the filters, one row per PO, the figures per PO, and the scopes
(selections) built from ticked POs or from a filter, with their counts.

The orders list must stay fast at 200,000 order lines, so it works in two steps: the filtered
order lines are grouped by (CUSTOMER NAME, PO NUMBER) and only that grouped key list is counted and
paginated; the figures shown for each PO are then read for the keys on the page alone. Nothing per
PO is computed for POs that are not displayed.

A PO is its customer and PO number under the one case rule of `syncapp.domain.scope` (no case, no
outer spaces), the rule every sync applies: `GREYSON` and `greyson` on PO 4755 are one PO here, on
the PO page and in every count, because a sync of that PO takes both.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, F, Max, Min, Q, QuerySet, Subquery, Sum

from syncapp.domain.scope import IN_CHUNK, Scope, customer_equals, key, values_in
from syncapp.models import FactOrderList, OrderLine, RowResult, SyncState

PER_PAGE = 50
STATE_ORDER = [s.value for s in SyncState]

# Sort keys offered on the orders list, over the grouped keys (`customer_key`, `po_key`) and the
# figure (`sort_value`) the figure sorts aggregate.
SORTS = {
    "customer": ("customer_key", "po_key"),
    "-customer": ("-customer_key", "-po_key"),
    "po": ("po_key", "customer_key"),
    "-po": ("-po_key", "-customer_key"),
    "qty": ("sort_value", "customer_key", "po_key"),
    "-qty": ("-sort_value", "customer_key", "po_key"),
    "lines": ("sort_value", "customer_key", "po_key"),
    "-lines": ("-sort_value", "customer_key", "po_key"),
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


def state_rank(state: str) -> int:
    """Where a sync state sorts in the console's lists: the order of SyncState."""
    return STATE_ORDER.index(state) if state in STATE_ORDER else len(STATE_ORDER)


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
    """The order lines the filters select (row by row; a PO is listed when any of its lines match).
    Customer and PO are compared under the case rule, like the scope the filter becomes."""
    lines = FactOrderList.objects.all()
    if filters.customer:
        lines = lines.filter(customer_equals("customer_name", filters.customer))
    if filters.po:
        lines = lines.filter(values_in("po_number", [filters.po]))
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


def _grouped_by_po(lines: QuerySet) -> QuerySet:
    """SQL Server: `lines` grouped by PO; its _CI_ collation already groups the spellings, and
    grouping by the columns walks the (CUSTOMER NAME, PO NUMBER) index."""
    keys = lines.values(customer_key=F("customer_name"), po_key=F("po_number"))
    return keys.annotate(customer_shown=Min("customer_name"), po_shown=Min("po_number"))


def _folded_by_po(lines: QuerySet, sort: str) -> list[dict]:
    """SQLite and PostgreSQL: one row per PO under the case rule, sorted as `sort` says.

    The distinct (customer, PO) spellings are read through the (CUSTOMER NAME, PO NUMBER) index —
    as many rows as POs, not as order lines — and folded here. Grouping by UPPER() in SQL would
    read and sort every order line (ten times slower at 200,000 lines, benchmarks/README.md). Each
    row keeps the PO's spellings (`po_spellings`) so its figures are then read by the index too.
    """
    if sort in ("qty", "-qty", "lines", "-lines"):
        figure = Sum("total_qty") if sort.endswith("qty") else Count("*")
        rows = lines.values_list("customer_name", "po_number").annotate(figure=figure).order_by().iterator()
    else:
        rows = ((c, p, 0) for c, p in lines.values_list("customer_name", "po_number").order_by().distinct())
    folded: dict[tuple[str, str], dict] = {}
    for customer, po, value in rows:
        customer, po = customer or "", po or ""
        po_key = (customer.strip().upper(), po.strip().upper())
        entry = folded.get(po_key)
        if entry is None:
            folded[po_key] = {
                "customer_key": po_key[0],
                "po_key": po_key[1],
                "customer_shown": customer,
                "po_shown": po,
                "sort_value": value or 0,
                "po_spellings": {po},
            }
            continue
        entry["customer_shown"] = min(entry["customer_shown"], customer)
        entry["po_shown"] = min(entry["po_shown"], po)
        entry["sort_value"] += value or 0
        entry["po_spellings"].add(po)
    result = list(folded.values())
    fields = SORTS.get(sort, SORTS["customer"])
    if len({f.startswith("-") for f in fields}) == 1:
        result.sort(key=itemgetter(*(f.lstrip("-") for f in fields)), reverse=fields[0].startswith("-"))
    else:
        for field_name in reversed(fields):  # stable sorts, last key first
            result.sort(key=itemgetter(field_name.lstrip("-")), reverse=field_name.startswith("-"))
    return result


def po_keys_matching(filters: OrderFilters) -> QuerySet | list[dict]:
    """One row per PO of the matching lines, sorted; count() and slicing are what the paginator needs."""
    lines = order_lines_matching(filters)
    if connection.vendor != "microsoft":
        return _folded_by_po(lines, filters.sort)
    grouped = _grouped_by_po(lines)
    ordering = SORTS.get(filters.sort, SORTS["customer"])
    if filters.sort in ("qty", "-qty"):
        grouped = grouped.annotate(sort_value=Sum("total_qty"))
    elif filters.sort in ("lines", "-lines"):
        grouped = grouped.annotate(sort_value=Count("*"))
    return grouped.order_by(*ordering)


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
    keys = [(row["customer_shown"] or "", row["po_shown"] or "") for row in page.object_list]
    spellings = sorted({p for row in page.object_list for p in row.get("po_spellings", ())})
    return page, po_summaries(keys, po_spellings=spellings or None)


def _po_key(customer: object, po: object) -> tuple[str, str]:
    return (key(customer), key(po))


def po_summaries(keys: list[tuple[str, str]], *, po_spellings: list[str] | None = None) -> list[PoSummary]:
    """Figures for the given POs (each counted under the case rule), in the given order: three
    queries per thousand PO numbers whatever the page size. `po_spellings`, when the caller knows
    every spelling of these PO numbers in the order table, lets the rows be read by the PO index."""
    if not keys:
        return []
    summaries: dict[tuple[str, str], PoSummary] = {}
    for customer, po in keys:
        summaries.setdefault(_po_key(customer, po), PoSummary(customer=customer, po=po))
    pos = po_spellings or sorted({po for _, po in keys})
    states: dict[tuple[str, str], Counter] = defaultdict(Counter)
    customer_seasons: dict[tuple[str, str], set] = defaultdict(set)
    aag_seasons: dict[tuple[str, str], set] = defaultdict(set)
    po_of: dict[str, tuple[str, str]] = {}
    for start in range(0, len(pos), IN_CHUNK):
        chunk = pos[start : start + IN_CHUNK]
        same_pos = Q(po_number__in=chunk) if po_spellings else _po_in(FactOrderList, chunk)
        rows = FactOrderList.objects.filter(same_pos).values_list(
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
            po_key = _po_key(customer, po)
            summary = summaries.get(po_key)
            if summary is None:
                continue  # the same PO number at another customer
            po_of[str(uuid)] = po_key
            summary.lines += 1
            summary.total_qty += qty or 0
            summary.cancelled += (order_type or "").strip().upper() == "CANCELLED"
            states[po_key][state or "NEW"] += 1
            if c_season:
                customer_seasons[po_key].add(c_season)
            if a_season:
                aag_seasons[po_key].add(a_season)
        in_page = FactOrderList.objects.filter(same_pos).values("record_uuid")
        for uuid, sizes in (
            OrderLine.objects.filter(record_uuid__in=Subquery(in_page), qty__gt=0)
            .values_list("record_uuid")
            .annotate(n=Count("*"))
            .order_by()
        ):
            po_key = po_of.get(str(uuid))
            if po_key:
                summaries[po_key].sizes += sizes
        for customer, po, environment, last in (
            RowResult.objects.filter(_po_in(RowResult, chunk), outcome=RowResult.Outcome.SYNCED, run__dry_run=False)
            .values_list("customer_name", "po_number", "run__environment")
            .annotate(last=Max("finished_at"))
            .order_by()
        ):
            summary = summaries.get(_po_key(customer, po))
            if summary:
                # Two spellings of one PO are two groups here; the PO's last sync is the later.
                known = [d for d in (summary.last_sync.get(environment), last) if d]
                summary.last_sync[environment] = max(known, default=None)
    for po_key, summary in summaries.items():
        summary.states = sorted(states[po_key].items(), key=lambda kv: state_rank(kv[0]))
        summary.customer_seasons = sorted(customer_seasons[po_key])
        summary.aag_seasons = sorted(aag_seasons[po_key])
    return [summaries[_po_key(customer, po)] for customer, po in keys]


def _po_in(model: type[FactOrderList] | type[RowResult], pos: list[str]) -> Q:
    """`po_number` is one of `pos` under the case rule, in a form the PO index serves.

    UPPER(po_number) IN (...) reads every row of the table; instead the spellings present are read
    from the PO index alone (an index-only scan) and the rows are then looked up by them. On SQL
    Server the _CI_ collation compares the column itself, which already uses the index.
    """
    if connection.vendor == "microsoft":
        return values_in("po_number", pos)
    spellings = model.objects.filter(values_in("po_number", pos)).values("po_number")
    return Q(po_number__in=Subquery(spellings))


def customer_names() -> list[str]:
    """The customers to filter by, one spelling each under the case rule."""
    names: dict[str, str] = {}
    for name in (
        FactOrderList.objects.exclude(customer_name=None)
        .values_list("customer_name", flat=True)
        .order_by("customer_name")
        .distinct()
    ):
        names.setdefault(key(name), name)
    return list(names.values())


# --- selections and scopes -------------------------------------------------------------------


def scope_for_keys(keys: list[tuple[str, str]]) -> Scope:
    """The sync/mark scope that selects exactly these POs (under the case rule).

    A scope names PO numbers (and at most one customer). When other customers use the same PO
    numbers, the scope also lists the selected order lines' record_uuids so nothing else is touched.
    """
    chosen: dict[tuple[str, str], tuple[str, str]] = {}
    for customer, po in sorted(set(keys)):
        chosen.setdefault(_po_key(customer, po), (customer, po))
    if not chosen:
        return Scope()
    customers = {customer_key for customer_key, _ in chosen}
    pos = [po for _, po in chosen.values()]
    if len(customers) == 1 and next(iter(customers)):
        return Scope.parse(customer=next(iter(chosen.values()))[0], pos=pos)
    by_po = Scope.parse(pos=pos)
    uuids: list[str] = []
    others = False
    for query in by_po.querysets(FactOrderList.objects.all()):
        for uuid, customer, po in query.values_list("record_uuid", "customer_name", "po_number"):
            if _po_key(customer, po) in chosen:
                uuids.append(str(uuid))
            else:
                others = True
    return Scope.parse(pos=pos, record_uuids=uuids) if others else by_po


def scope_for_filters(filters: OrderFilters) -> Scope | None:
    """The scope for "every PO matching the filter"; None when no PO matches."""
    if not filters.narrowing:
        return Scope()
    if not (filters.state or filters.season or filters.cancelled or filters.q):
        return Scope.parse(customer=filters.customer, pos=[filters.po] if filters.po else None)
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


def scope_counts(scope: Scope) -> ScopeCounts:
    """Order lines and POs in a scope (its limit aside), by state: what the confirmation pages show."""
    by_state: Counter = Counter()
    po_keys: set[tuple[str, str]] = set()
    for query in scope.querysets(FactOrderList.objects.all()):
        for state, action, n in (
            query.values_list("sync_state", "action_type")
            .annotate(n=Count("*"))
            .order_by()
            .values_list("sync_state", "action_type", "n")
        ):
            by_state[(state or "", action or "")] += n
        po_keys.update(_po_key(c, p) for c, p in query.values_list("customer_name", "po_number").order_by().distinct())
    return ScopeCounts(lines=sum(by_state.values()), pos=len(po_keys), by_state=dict(by_state))
