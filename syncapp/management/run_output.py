"""What the run commands print: a refusal (exit 2), a run's failed rows and one summary line starting with its id."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import BaseCommand

from syncapp.domain.errors import ProductionConfirmationError, RunBusyError, RunRefusedError
from syncapp.domain.scope import ScopeError
from syncapp.models import SyncRun
from syncapp.sync_config import ConfigError


@contextmanager
def refusals_exit_2(command: BaseCommand, *, run_id: int | None = None) -> Iterator[None]:
    """A refused run ends the command with its message on stderr and exit code 2."""
    try:
        yield
    except SyncRun.DoesNotExist:
        command.stderr.write(f"error: there is no run {run_id}. List runs in the console (Runs) and use its number.")
        sys.exit(2)
    except ProductionConfirmationError as error:
        command.stderr.write(f'error: {error} On the command line: --confirm "<board name or id>".')
        sys.exit(2)
    except ScopeError as error:
        command.stderr.write(f"error: --{error.field.replace('pos', 'po')}: {error}")
        sys.exit(2)
    except (RunRefusedError, RunBusyError, ConfigError) as error:
        command.stderr.write(f"error: {error}")
        sys.exit(2)


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
