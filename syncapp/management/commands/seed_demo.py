from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from syncapp.services.demo import demo_users_ensure, staging_fill


class Command(BaseCommand):
    help = "Fill swp_ORDER_LIST_SYNC with deterministic demo orders and create one user per role."

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=2000, help="order lines to stage (default 2000)")
        parser.add_argument("--seed", type=int, default=4755, help="random seed; the same seed gives the same data")
        parser.add_argument("--no-users", action="store_true", help="do not create the demo users")

    def handle(self, *args, orders: int, seed: int, no_users: bool, **options):
        if orders < 1:
            raise CommandError("--orders must be at least 1.")
        result = staging_fill(orders=orders, seed=seed)
        self.stdout.write(
            f"Staged {result.orders} order lines on {result.purchase_orders} POs "
            f"({result.cancelled} cancelled) in swp_ORDER_LIST_SYNC."
        )
        if no_users:
            return
        try:
            users = demo_users_ensure()
        except PermissionError as error:
            raise CommandError(str(error)) from error
        for username, password, role in users:
            self.stdout.write(f"  {role:8} login: {username} / {password}")
