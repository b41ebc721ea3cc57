"""mark_orders: set order lines PENDING or COMPLETED by customer and PO, the safe replacement for
hand-written UPDATEs of sync_state."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from syncapp.domain.scope import Scope, ScopeError
from syncapp.services.orders import orders_mark
from syncapp.sync_config import ENVIRONMENTS

# The command-line option each scope field comes from, to name it in an error.
OPTION_OF = {"customer": "--customer", "pos": "--po"}


class Command(BaseCommand):
    help = (
        "Mark order lines PENDING (INSERT without an item on the board, UPDATE with one) or COMPLETED "
        "(the sync ignores them). --invert applies it to every line that does NOT match the filter."
    )

    def add_arguments(self, parser):
        parser.add_argument("state", choices=["pending", "completed"])
        parser.add_argument("--customer", help="customer name, e.g. GREYSON")
        parser.add_argument("--po", nargs="+", default=[], metavar="PO", help="one or more PO numbers")
        parser.add_argument("--invert", action="store_true", help="apply to the lines that do not match")
        parser.add_argument(
            "--env",
            choices=ENVIRONMENTS,
            help="board whose items decide INSERT or UPDATE (default: the console's active environment)",
        )

    def handle(self, *args, state, customer, po, invert, env, **options):
        try:
            scope = Scope.parse(customer=customer, pos=po)
        except ScopeError as error:
            option = OPTION_OF.get(error.field, error.field)
            raise CommandError(f"{option}: {error}", returncode=2) from error
        if invert and scope.is_everything:
            raise CommandError("--invert needs a filter (--customer or --po); without one it would mark nothing.")
        report = orders_mark(state=state, scope=scope, invert=invert, via="cli", environment=env)
        self.stdout.write(report.summary())
