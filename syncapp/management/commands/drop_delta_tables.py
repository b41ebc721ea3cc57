from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from syncapp.services.delta_cleanup import delta_tables_cleanup


class Command(BaseCommand):
    help = (
        "Report on the old delta tables ORDER_LIST_DELTA and ORDER_LIST_LINES_DELTA: whether each exists, its "
        "row count and what depends on it (views, procedures, foreign keys, triggers). With --execute, drop them "
        "when each is empty and nothing depends on it; otherwise refuse, change nothing and exit 1. "
        "Every run is audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("--execute", action="store_true", help="drop the tables (default: report only)")
        parser.add_argument("--database", default="default", help="the database alias (default: default)")

    def handle(self, *args, execute, database, **options):
        report = delta_tables_cleanup(execute=execute, via="cli", using=database)
        for line in report.lines():
            self.stdout.write(line)
        if report.refusal:
            self.stderr.write(f"error: refused to drop: {report.refusal}")
            sys.exit(1)
