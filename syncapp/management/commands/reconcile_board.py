from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from syncapp.domain.scope import Scope
from syncapp.management.run_output import refusals_exit_2
from syncapp.models import SyncRun
from syncapp.selectors.reconcile import finding_counts, finding_line, findings_filtered, reconcile_summary_line
from syncapp.services.reconcile import reconcile_run_create, reconcile_run_execute, reconcile_scope_describe
from syncapp.sync_config import ENVIRONMENTS

SHOWN = 50


class Command(BaseCommand):
    help = (
        "Compare an environment's board with the order tables and report what differs (missing, orphan, "
        "duplicate, value drift, wrong group, size drift). Exit codes: 0 in step, 1 differences found (or the "
        "reconcile stopped), 2 bad arguments or a refusal. The last line is the summary with counts per kind."
    )

    def add_arguments(self, parser):
        parser.add_argument("--env", required=True, choices=ENVIRONMENTS)
        parser.add_argument("--customer")
        parser.add_argument("--po", nargs="+", action="extend", default=[], metavar="PO")
        parser.add_argument("--repair", action="store_true", help="settle the differences found (a repair run)")
        parser.add_argument(
            "--confirm",
            default="",
            metavar="TEXT",
            help="with --repair on production: the board's name or id",
        )

    def handle(self, *args, env, customer, po, repair, confirm, **options):
        if confirm and not repair:
            self.stderr.write("error: --confirm is only used with --repair.")
            sys.exit(2)
        repair_create = _repair_service() if repair else None
        if repair and repair_create is None:
            self.stderr.write(
                "error: --repair is not available in this version of orderops; run the reconcile without it."
            )
            sys.exit(2)
        with refusals_exit_2(self):
            scope = Scope.parse(customer=customer, pos=po)
            run = reconcile_run_create(environment=env, scope=scope, via="cli", enqueue=False)
        self.stdout.write(
            f"run {run.pk}: reconcile of {reconcile_scope_describe(scope)} with {run.environment} board "
            f"{run.items_board_id}"
        )
        run = reconcile_run_execute(run_id=run.pk)
        counts = finding_counts(run) if run.status == SyncRun.Status.COMPLETED else {}
        total = sum(counts.values())
        for finding in findings_filtered(run)[:SHOWN]:
            self.stdout.write(finding_line(finding))
        if total > SHOWN:
            self.stdout.write(
                f"  ... and {total - SHOWN} more: the console lists them all (Environments → Reconcile, run {run.pk}) "
                "and downloads them as CSV."
            )
        if repair_create is not None and total:
            self._repair(repair_create, run, confirm)
        self.stdout.write(reconcile_summary_line(run, counts or None))
        if run.status != SyncRun.Status.COMPLETED or total:
            sys.exit(1)

    def _repair(self, repair_create, run: SyncRun, confirm: str) -> None:
        # --- call point of the repair service (syncapp/services/reconcile_repair.py) ---
        with refusals_exit_2(self):
            repair_run = repair_create(
                run_id=run.pk, finding_ids=None, actor=None, via="cli", confirm_text=confirm, enqueue=False
            )
        repair_run = reconcile_run_execute(run_id=repair_run.pk)
        statuses = finding_counts(run, by="status")
        settled = ", ".join(f"{status.replace('_', ' ')} {n}" for status, n in statuses.items() if n)
        self.stdout.write(f"repair run {repair_run.pk}: {repair_run.status}; findings now {settled}")


def _repair_service():
    """The repair service's create function, or None where this version has no repair."""
    try:
        # Imported when --repair is asked for: the repair service is optional in this version.
        from syncapp.services.reconcile_repair import reconcile_repair_create
    except ImportError:
        return None
    return reconcile_repair_create
