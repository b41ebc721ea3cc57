"""Reads for the dashboard: order lines by state and action, what is pending per customer, the
recent and active runs, and the history the run chart draws."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, F, Min

from syncapp.domain.scope import key
from syncapp.models import FactOrderList, SyncRun
from syncapp.selectors.orders import state_rank

ACTION_ORDER = ["INSERT", "UPDATE", "NONE"]


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
    states = sorted({s for s, _ in counts}, key=state_rank)
    rows = []
    for state in states:
        values = [counts.get((state, action), 0) for action in actions]
        rows.append((state, values, sum(values)))
    return StateMatrix(actions, rows, sum(counts.values()))


def pending_by_customer() -> list[dict]:
    """PENDING lines and POs per customer, customers and POs counted under the case rule (one row
    for `GREYSON` and `greyson`, which the orders list also shows as one)."""
    pending = FactOrderList.objects.filter(sync_state="PENDING")
    if connection.vendor == "microsoft":
        # The _CI_ collation already groups and counts the spellings as one.
        grouped = pending.values(customer_key=F("customer_name")).annotate(pos=Count("po_number", distinct=True))
        rows = grouped.annotate(customer_shown=Min("customer_name"), lines=Count("*")).order_by(
            "-lines", "customer_key"
        )
        return [{"customer_name": row["customer_shown"], "lines": row["lines"], "pos": row["pos"]} for row in rows]
    # Grouped by the spellings (the state index answers alone), folded here under the case rule:
    # grouping by UPPER() in SQL would read every pending line.
    customers: dict[str, dict] = {}
    for customer, po, lines in (
        pending.values_list("customer_name", "po_number").annotate(lines=Count("*")).order_by().iterator()
    ):
        entry = customers.setdefault(key(customer), {"customer_name": customer or "", "lines": 0, "pos": set()})
        entry["customer_name"] = min(entry["customer_name"], customer or "")
        entry["lines"] += lines
        entry["pos"].add(key(po))
    rows = [{**entry, "pos": len(entry["pos"])} for entry in customers.values()]
    return sorted(rows, key=lambda row: (-row["lines"], key(row["customer_name"])))


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
