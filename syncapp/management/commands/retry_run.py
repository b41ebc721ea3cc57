from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from syncapp.management.run_output import run_report
from syncapp.models import SyncRun
from syncapp.services.confirmation import ProductionConfirmationError
from syncapp.services.sync import SyncBusyError, SyncRefusedError, sync_run_execute, sync_run_retry_failed
from syncapp.sync_config import ConfigError


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
        try:
            run = sync_run_retry_failed(run_id=run_id, via="cli", enqueue=False, confirm_text=confirm)
        except SyncRun.DoesNotExist:
            self.stderr.write(f"error: there is no run {run_id}. List runs in the console (Runs) and use its number.")
            sys.exit(2)
        except ProductionConfirmationError as error:
            self.stderr.write(f'error: {error} On the command line: --confirm "<board name or id>".')
            sys.exit(2)
        except (SyncRefusedError, SyncBusyError, ConfigError) as error:
            self.stderr.write(f"error: {error}")
            sys.exit(2)
        self.stdout.write(
            f"run {run.pk}: retry of the failed rows of run {run_id} to {run.environment} board {run.items_board_id}"
        )
        run = sync_run_execute(run_id=run.pk)
        if run_report(self, run):
            sys.exit(1)
