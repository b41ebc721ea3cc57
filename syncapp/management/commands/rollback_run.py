from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from syncapp.management.run_output import refusals_exit_2
from syncapp.models import SyncRun
from syncapp.services.rollback import rollback_plan, rollback_run_create, rollback_run_execute, rollback_summary


class Command(BaseCommand):
    help = (
        "Roll back a finished sync run: archive (or --delete) what it created, restore the values it replaced, "
        "delete the groups it created once empty, and return its rows to their earlier state. Without --execute "
        "only the plan is printed and nothing changes. Production needs --confirm with the board's name or id. "
        "Exit codes: 0 done (or plan printed), 1 the rollback did not finish cleanly, 2 refused. With --execute "
        "the last line starts with the rollback run's id."
    )

    def add_arguments(self, parser):
        parser.add_argument("run_id", type=int, help="the sync or retry run to roll back")
        parser.add_argument("--execute", action="store_true", help="roll back now (default: print the plan only)")
        parser.add_argument("--delete", action="store_true", help="delete what the run created instead of archiving")
        parser.add_argument("--confirm", default="", metavar="TEXT", help="production: the board's name or id")

    def handle(self, *args, run_id, execute, delete, confirm, **options):
        with refusals_exit_2(self, run_id=run_id):
            plan = rollback_plan(run_id=run_id, delete=delete)
        for line in plan.lines():
            self.stdout.write(line)
        if plan.refusal:
            if plan.blocked_by:
                self.stdout.write(
                    f"To roll back run {plan.blocked_by[-1]} first: python manage.py rollback_run {plan.blocked_by[-1]}"
                )
            sys.exit(2)
        if not execute:
            if plan.nothing_to_do:
                return
            hint = f" --confirm {plan.board_id}" if plan.is_production else ""
            self.stdout.write(
                f"Dry run: nothing was changed. To roll back, run: python manage.py rollback_run {run_id} --execute"
                f"{' --delete' if delete else ''}{hint}"
            )
            return
        with refusals_exit_2(self, run_id=run_id):
            run = rollback_run_create(run_id=run_id, actor=None, via="cli", delete=delete, confirm_text=confirm)
        self.stdout.write(
            f"run {run.pk}: rolling back run {run_id} on the {run.environment} board {run.items_board_id}"
        )
        run = rollback_run_execute(rollback_run_id=run.pk)
        for result in run.results.filter(outcome="error")[:50]:
            self.stdout.write(f"  ERROR {result.aag_order_number or result.record_uuid}: {result.message}")
        self.stdout.write(rollback_summary(run))
        if run.status != SyncRun.Status.COMPLETED or run.failed_count:
            sys.exit(1)
