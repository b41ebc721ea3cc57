from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from syncapp.domain.scope import Scope
from syncapp.management.run_output import refusals_exit_2, run_report
from syncapp.models import SyncRun
from syncapp.services.sync import sync_run_create, sync_run_execute
from syncapp.sync_config import ENVIRONMENTS


class Command(BaseCommand):
    help = (
        "Sync PENDING INSERT/UPDATE order lines to an environment's board. Exit codes: 0 all synced, "
        "1 some rows failed, 2 bad arguments or configuration. The last line starts with the run id."
    )

    def add_arguments(self, parser):
        parser.add_argument("--env", required=True, choices=ENVIRONMENTS)
        parser.add_argument("--customer")
        parser.add_argument("--po", nargs="+", default=[], metavar="PO")
        parser.add_argument("--limit", type=int)
        parser.add_argument("--dry-run", action="store_true", help="plan only: no writes, no mutation sent")
        parser.add_argument(
            "--confirm",
            default="",
            metavar="BOARD",
            help="the production board's name or id; required to write to production",
        )

    def handle(self, *args, env, customer, po, limit, dry_run, confirm, **options):
        with refusals_exit_2(self):
            scope = Scope.parse(customer=customer, pos=po, limit=limit)
            run = sync_run_create(
                environment=env, scope=scope, dry_run=dry_run, via="cli", enqueue=False, confirm_text=confirm
            )
        self.stdout.write(
            f"run {run.pk}: {'dry run' if dry_run else 'sync'} of {scope.describe()} "
            f"to {run.environment} board {run.items_board_id}"
        )
        run = sync_run_execute(run_id=run.pk)
        if dry_run:
            self._print_plan(run)
        if run_report(self, run):
            sys.exit(1)

    def _print_plan(self, run: SyncRun) -> None:
        plan = run.plan or {}
        for group in plan.get("groups_to_create", []):
            self.stdout.write(f"  create group {group!r}")
        for row in plan.get("rows", []):
            sizes = ", ".join(f"{s['size']}={s['qty']}" for s in row["sizes"] if s["write"])
            self.stdout.write(
                f"  {row['action']:6} {row['aag_order_number']} {row['item_name'] or ''} "
                f"{row['message'] or ''} {('sizes: ' + sizes) if sizes else ''}".rstrip()
            )
