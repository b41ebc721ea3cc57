"""The every-minute alerts check from outside the worker, for a host cron: when every worker is down
the django-q2 schedule does not run, so nobody would hear of `worker_silent` without this."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from syncapp.services.alert_delivery import alert_deliveries_send
from syncapp.services.alerts import alerts_evaluate_periodic


class Command(BaseCommand):
    help = (
        "Check the periodic alert conditions (PENDING rows waiting too long, no worker seen) and send the alert "
        "messages that are due, in this process: run it from the host's cron every few minutes so a silent worker "
        "is reported even when no worker runs. Prints what it opened, resolved and sent; nothing when nothing "
        "changed (-v 2 says so)."
    )

    def handle(self, *args, verbosity: int, **options):
        changes = alerts_evaluate_periodic()
        # An alert opened just now was queued for a worker, which may be the thing that is down; its
        # messages go out from here (a claim per delivery: a worker coming back does not send them again).
        changes += [f"delivery {d.pk} to {d.channel} {d.target}: {d.status}" for d in alert_deliveries_send()]
        for change in changes:
            self.stdout.write(change)
        if not changes and verbosity >= 2:
            self.stdout.write("alerts check: no change")
