from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from syncapp.services.audit import audit_record
from syncapp.services.merge import MergeError, orders_merge
from syncapp.sync_config import ConfigError


class Command(BaseCommand):
    help = "Merge swp_ORDER_LIST_SYNC into FACT_ORDER_LIST and ORDER_LIST_LINES (new -> PENDING/INSERT, changed -> PENDING/UPDATE)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="show the counts and write nothing")

    def handle(self, *args, dry_run: bool, **options):
        try:
            report = orders_merge(dry_run=dry_run)
        except (MergeError, ConfigError) as error:
            raise CommandError(str(error)) from error
        for rejection in report.rejected:
            self.stderr.write(f"rejected {rejection}")
        if not dry_run:
            audit_record(
                actor=None,
                action="merge_orders",
                summary=report.summary(),
                via="cli",
                details={"new": report.new, "changed": report.changed, "rejected": len(report.rejected)},
            )
        self.stdout.write(report.summary())
