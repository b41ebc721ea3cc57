"""Reads about reconcile runs and their findings, for the console, the CSV and the CLI.

A reconcile run is a SyncRun of kind "reconcile"; its findings are ReconcileFinding rows. The
counts per kind are stored on the run when it finishes (`run.summary["reconcile"]`); the filters
here read the findings themselves (kind, status, customer, PO, a search over the order number,
column and message).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Q, QuerySet

from syncapp.domain.scope import customer_equals, values_in
from syncapp.models import ReconcileFinding, SyncRun

Kind = ReconcileFinding.Kind
# The order the kinds are listed in everywhere (summary line, console filters, CSV).
KIND_ORDER: tuple[str, ...] = (
    Kind.MISSING,
    Kind.ORPHAN,
    Kind.DUPLICATE,
    Kind.VALUE_DRIFT,
    Kind.WRONG_GROUP,
    Kind.SIZE_DRIFT,
)
CSV_HEADER = (
    "finding",
    "kind",
    "status",
    "aag_order_number",
    "customer",
    "po",
    "size",
    "item_id",
    "subitem_id",
    "group_id",
    "expected_group_id",
    "column_id",
    "column",
    "board_value",
    "order_value",
    "written_value",
    "changed_by",
    "changed_at",
    "created_by_orderops",
    "policy",
    "message",
    "record_uuid",
)


def reconcile_runs(*, environment: str | None = None) -> QuerySet[SyncRun]:
    """Reconcile runs, newest first."""
    runs = SyncRun.objects.filter(kind=SyncRun.Kind.RECONCILE)
    return runs.filter(environment=environment) if environment else runs


def latest_reconcile_run(*, environment: str) -> SyncRun | None:
    return reconcile_runs(environment=environment).filter(status=SyncRun.Status.COMPLETED).first()


def findings_filtered(
    run: SyncRun,
    *,
    kind: str = "",
    status: str = "",
    customer: str = "",
    po: str = "",
    search: str = "",
) -> QuerySet[ReconcileFinding]:
    """The run's findings narrowed by the console's filters (empty means any); customer and PO under
    the one case rule, `search` in the order number, column title and message."""
    findings = ReconcileFinding.objects.filter(run=run)
    if kind:
        findings = findings.filter(kind=kind)
    if status:
        findings = findings.filter(status=status)
    if customer:
        findings = findings.filter(customer_equals("customer_name", customer))
    if po:
        findings = findings.filter(values_in("po_number", [po]))
    if search.strip():
        text = search.strip()
        findings = findings.filter(
            Q(aag_order_number__icontains=text) | Q(column_title__icontains=text) | Q(message__icontains=text)
        )
    return findings.order_by("id")


def finding_counts(run: SyncRun, *, by: str = "kind") -> dict[str, int]:
    """Findings per kind (every kind listed, zeros included) or per status, read from the findings."""
    found = dict(ReconcileFinding.objects.filter(run=run).values_list(by).annotate(n=Count("id")).order_by())
    keys = KIND_ORDER if by == "kind" else tuple(ReconcileFinding.Status.values)
    return {k: found.get(k, 0) for k in keys}


def stored_counts(run: SyncRun) -> dict[str, int]:
    """The counts per kind the run stored when it finished (no query)."""
    stored = ((run.summary or {}).get("reconcile") or {}).get("findings") or {}
    return {k: int(stored.get(k, 0)) for k in KIND_ORDER}


def reconcile_summary_line(run: SyncRun, counts: dict[str, int] | None = None) -> str:
    """One line: `reconcile run 12: 6 differences (missing 2, orphan 0, ...)`, or that the board and
    the database are in step, or why the run did not finish."""
    if run.status != SyncRun.Status.COMPLETED:
        why = f": {run.error_message}" if run.error_message else ""
        return f"reconcile run {run.pk}: {run.status}{why}"
    counts = counts if counts is not None else stored_counts(run)
    total = sum(counts.values())
    cost = f"; {run.requests_count} requests, complexity {run.complexity_used:,}"
    if not total:
        return f"reconcile run {run.pk}: board and database are in step{cost}"
    kinds = ", ".join(f"{k.replace('_', ' ')} {counts.get(k, 0)}" for k in KIND_ORDER)
    return f"reconcile run {run.pk}: {total} difference{'s' if total != 1 else ''} ({kinds}){cost}"


def finding_line(finding: ReconcileFinding) -> str:
    """A finding in one line for the CLI."""
    where = finding.aag_order_number or f"item {finding.monday_item_id}"
    size = f" size {finding.size_code}" if finding.size_code else ""
    po = f" (PO {finding.po_number})" if finding.po_number else ""
    who = f" [changed by {finding.changed_by}]" if finding.changed_by else ""
    return f"  {finding.get_kind_display().upper()}: {where}{size}{po}: {finding.message}{who}"


def findings_csv_rows(findings: QuerySet[ReconcileFinding]) -> Iterator[list[object]]:
    """The CSV download: the header, then one row per finding (in CSV_HEADER's order)."""
    yield list(CSV_HEADER)
    for f in findings.iterator(chunk_size=1000):
        yield [
            f.pk,
            f.kind,
            f.status,
            f.aag_order_number,
            f.customer_name,
            f.po_number,
            f.size_code,
            f.monday_item_id or "",
            f.monday_subitem_id or "",
            f.group_id,
            f.expected_group_id,
            f.column_id,
            f.column_title,
            f.board_value,
            f.order_value,
            f.written_value,
            f.changed_by,
            f.changed_at.isoformat() if f.changed_at else "",
            "yes" if f.created_by_orderops else "no",
            f.policy,
            f.message,
            str(f.record_uuid or ""),
        ]
