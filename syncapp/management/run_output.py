"""What the sync commands print about a run: its failed rows and one summary line starting with its id."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from syncapp.models import SyncRun


def run_report(command: BaseCommand, run: SyncRun) -> int:
    """Print the run's failed rows (at most 50) and its summary; returns the exit code: 0 when every
    selected row synced, 1 when some failed or the run stopped."""
    for result in run.results.filter(outcome="error")[:50]:
        command.stdout.write(f"  ERROR {result.aag_order_number} (PO {result.po_number}): {result.message}")
    command.stdout.write(run_summary(run))
    return 1 if run.status != SyncRun.Status.COMPLETED or run.failed_count else 0


def run_summary(run: SyncRun) -> str:
    if run.dry_run:
        rows = (run.plan or {}).get("rows", [])
        counts = {a: sum(1 for r in rows if r["action"] == a) for a in ("create", "update", "cancel", "skip", "fail")}
        return (
            f"run {run.pk}: dry run {run.status}: would create {counts['create']}, update {counts['update']}, "
            f"cancel {counts['cancel']}, skip {counts['skip']}; {counts['fail']} would fail; "
            f"{len((run.plan or {}).get('groups_to_create', []))} groups to create"
        )
    rate = f"{run.success_rate:.1f}%" if run.success_rate is not None else "n/a"
    text = (
        f"run {run.pk}: {run.status} {run.outcome or ''} — created {run.created_count}, updated "
        f"{run.updated_count}, cancelled {run.cancelled_count}, skipped {run.skipped_count}, failed "
        f"{run.failed_count}; success {rate}; {run.requests_count} requests"
    )
    if run.error_message:
        text += f"; stopped: {run.error_message}"
    return text
