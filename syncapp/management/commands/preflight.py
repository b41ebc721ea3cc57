from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from syncapp.domain.scope import Scope, ScopeError
from syncapp.services.preflight import preflight_run
from syncapp.sync_config import ENVIRONMENTS


class Command(BaseCommand):
    help = (
        "Check live that an environment is ready to sync: configuration, board files, token, the board itself, "
        "database and order tables, delta tables gone, task worker, check --deploy and the last development run "
        "(of --customer/--po when given) at the success threshold. Exit 0 when every check is green, 1 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("--env", required=True, choices=ENVIRONMENTS)
        parser.add_argument("--customer", help="the scope whose last development run is checked")
        parser.add_argument("--po", nargs="+", default=[], metavar="PO")

    def handle(self, *args, env, customer, po, **options):
        try:
            scope = Scope.parse(customer=customer, pos=po)
        except ScopeError as error:
            raise CommandError(str(error)) from error
        results = preflight_run(environment=env, scope=scope, via="cli")
        for result in results:
            if result.ok:
                self.stdout.write(self.style.SUCCESS(f"  OK    {result.name}: {result.detail}"))
            else:
                self.stdout.write(self.style.ERROR(f"  FAIL  {result.name}: {result.detail}"))
                self.stdout.write(self.style.ERROR(f"        fix: {result.fix}"))
        red = [r for r in results if not r.ok]
        summary = f"preflight {env}: {len(results) - len(red)} of {len(results)} checks green"
        if red:
            self.stdout.write(self.style.ERROR(f"{summary}; not ready: {', '.join(r.name for r in red)}"))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS(f"{summary}; ready"))
