from __future__ import annotations

import sys

from django.core.management.base import BaseCommand
from django.utils import timezone

from syncapp.domain.errors import PermissionRefusedError
from syncapp.management.run_output import refusals_exit_2
from syncapp.models import SyncSchedule
from syncapp.selectors.schedules import schedule_summary
from syncapp.services.schedules import ScheduleError, schedule_pause, schedule_resume, schedule_set
from syncapp.sync_config import ENVIRONMENTS


class Command(BaseCommand):
    help = (
        "Show or change an environment's sync schedule: set (a cron expression in the console's TIME_ZONE, or "
        "--after-refresh), pause, resume. --job reconcile does the same for the reconcile schedule (cron only). "
        "A production schedule needs --confirm with the production board's name or id. Exit 2 for bad arguments "
        "or a refusal."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=("show", "set", "pause", "resume"))
        parser.add_argument("--env", required=True, choices=ENVIRONMENTS)
        parser.add_argument(
            "--job",
            default=SyncSchedule.Job.SYNC,
            choices=SyncSchedule.Job.values,
            help="sync (merge and sync what is pending; the default) or reconcile (compare the whole board)",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--cron", metavar="EXPRESSION", help='five fields, e.g. "5 * * * *" (five past every hour)')
        mode.add_argument(
            "--after-refresh",
            action="store_true",
            help="run after each refresh of swp_ORDER_LIST_SYNC (checked every minute)",
        )
        parser.add_argument(
            "--confirm",
            default="",
            metavar="TEXT",
            help="the production board's name or id; required to set or resume a production schedule",
        )

    def handle(self, *args, action, env, job, cron, after_refresh, confirm, **options):
        if action != "set" and (cron or after_refresh):
            self._refuse(f"--cron and --after-refresh go with set, not with {action}.")
        if action == "set" and not (cron or after_refresh):
            if job == SyncSchedule.Job.RECONCILE:
                self._refuse('set --job reconcile needs --cron "<expression>" (e.g. "30 2 * * *", nightly at 02:30).')
            self._refuse('set needs --cron "<expression>" (e.g. "5 * * * *") or --after-refresh.')
        with refusals_exit_2(self):
            try:
                if action == "set":
                    schedule_set(
                        environment=env,
                        job=job,
                        cron=cron,
                        after_refresh=after_refresh,
                        via="cli",
                        confirm_text=confirm,
                    )
                elif action == "pause":
                    schedule_pause(environment=env, job=job, via="cli")
                elif action == "resume":
                    schedule_resume(environment=env, job=job, via="cli", confirm_text=confirm)
            except ScheduleError as error:
                self._refuse(f"--{error.field}: {error}" if error.field == "cron" else str(error))
            except PermissionRefusedError as error:
                self._refuse(str(error))
        self._show(env, job)

    def _refuse(self, message: str) -> None:
        self.stderr.write(f"error: {message}")
        sys.exit(2)

    def _show(self, env: str, job: str) -> None:
        summary = schedule_summary(env, job)
        schedule = summary.schedule
        if schedule is None:
            how = "--cron" if job == SyncSchedule.Job.RECONCILE else "--cron or --after-refresh"
            self.stdout.write(f"{env}: no {job} schedule (set one with {how})")
            return
        self.stdout.write(f"{env}: {job} {schedule.describe()}")
        if summary.next_run:
            what = "next firing" if schedule.mode == schedule.Mode.CRON else "next staging check"
            self.stdout.write(f"  {what}: {timezone.localtime(summary.next_run):%Y-%m-%d %H:%M %Z}")
        if schedule.changed_at:
            who = schedule.changed_by.get_username() if schedule.changed_by else "the command line"
            self.stdout.write(f"  changed by {who} at {timezone.localtime(schedule.changed_at):%Y-%m-%d %H:%M %Z}")
        for slot in summary.slots:
            run = f" run {slot.run_id}" if slot.run_id else ""
            self.stdout.write(
                f"  {timezone.localtime(slot.slot):%Y-%m-%d %H:%M %Z}  {slot.get_outcome_display()}{run}"
                + (f": {slot.message}" if slot.message else "")
            )
