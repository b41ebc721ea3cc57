from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from syncapp.management.run_output import refusals_exit_2, run_report
from syncapp.services.sync import sync_run_execute, sync_run_retry_failed


class Command(BaseCommand):
    help = (
        "Retry the rows a run failed on (those still in ERROR) as a new run linked to it. A retry on production "
        "needs --confirm with the production board's name or id. Exit codes: 0 all retried rows synced, 1 some "
        "failed again, 2 refused. The last line starts with the new run's id."
    )

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int, help="the run whose failed rows to retry")
        parser.add_argument(
            "--confirm", default="", metavar="BOARD", help="the production board's name or id; required on production"
        )

    def handle(self, *args, run_id, confirm, **options):
        with refusals_exit_2(self, run_id=run_id):
            run = sync_run_retry_failed(run_id=run_id, via="cli", enqueue=False, confirm_text=confirm)
        self.stdout.write(
            f"run {run.pk}: retry of the failed rows of run {run_id} to {run.environment} board {run.items_board_id}"
        )
        run = sync_run_execute(run_id=run.pk)
        if run_report(self, run):
            sys.exit(1)
