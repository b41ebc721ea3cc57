"""Removing the old CLI's delta tables, ORDER_LIST_DELTA and ORDER_LIST_LINES_DELTA, safely.

The sync no longer uses them (rows carry their own state). Before a table is dropped this module
reports, for each one: whether it exists, how many rows it holds, and every object that depends on
it. A table is dropped only when it exists, is empty and nothing depends on it; if any table fails
that test the whole execution is refused and nothing is dropped, so a half-finished cleanup never
has to be untangled. Each execution is written to the audit log.

Reading the tables and what depends on them (per database) is syncapp/selectors/delta_tables.py.
That file, this one, the drop_delta_tables command and runbook 08 are the only places that name the
tables (tests/test_no_delta_tables.py enforces it).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connections, transaction

from syncapp.selectors.delta_tables import DeltaTableReport, delta_tables_inspect
from syncapp.services.audit import audit_record


@dataclass
class DeltaCleanupReport:
    tables: list[DeltaTableReport]
    executed: bool = False
    refusal: str = ""

    @property
    def ok(self) -> bool:
        """Nothing refused: a report found nothing blocking, or an execution dropped what it had to."""
        return not self.refusal and not any(t.blocker for t in self.tables)

    @property
    def all_gone(self) -> bool:
        return not any(t.exists and not t.dropped for t in self.tables)

    def lines(self) -> list[str]:
        lines = [t.describe() for t in self.tables]
        if self.refusal:
            lines.append(f"Refused, nothing was dropped: {self.refusal}")
        elif self.executed:
            dropped = [t.table for t in self.tables if t.dropped]
            lines.append(f"Dropped {', '.join(dropped)}." if dropped else "Nothing to drop: every table is gone.")
        elif self.all_gone:
            lines.append("Nothing to do: every delta table is gone.")
        elif self.ok:
            lines.append("Report only: nothing was changed. Run again with --execute to drop the tables above.")
        else:
            lines.append("Report only: nothing was changed. Resolve what blocks the tables above first.")
        return lines


def delta_tables_cleanup(*, execute: bool, actor=None, via: str = "cli", using: str = "default") -> DeltaCleanupReport:
    """Report on the delta tables and, with `execute`, drop them: all or nothing.

    Each table must be absent, or present, empty and without dependants. The check is repeated inside
    the transaction that drops, with the tables locked where the database allows it, so rows written
    between the report and the drop refuse the drop instead of being lost. Every call is audited,
    the report-only ones included, so the audit log shows how the removal was verified.
    """
    connection = connections[using]
    report = DeltaCleanupReport(tables=delta_tables_inspect(using=using), executed=execute)
    if execute:
        blocked = [t for t in report.tables if t.blocker]
        if blocked:
            report.refusal = " ".join(f"{t.table}: {t.blocker}." for t in blocked)
        else:
            with transaction.atomic(using=using):
                _lock(connection, [t.table for t in report.tables if t.exists])
                report.tables = delta_tables_inspect(using=using)
                blocked = [t for t in report.tables if t.blocker]
                if blocked:
                    report.refusal = " ".join(f"{t.table}: {t.blocker}." for t in blocked)
                else:
                    with connection.cursor() as cursor:
                        for table in report.tables:
                            if table.exists:
                                cursor.execute(f"DROP TABLE {connection.ops.quote_name(table.table)}", [])
                                table.dropped = True
    dropped = [t.table for t in report.tables if t.dropped]
    if not execute:
        action = "delta_tables_report"
        summary = "delta tables report: " + " ".join(t.describe() for t in report.tables)
    elif report.refusal:
        action, summary = "delta_tables_drop_refused", f"refused to drop the delta tables: {report.refusal}"
    elif dropped:
        action, summary = "delta_tables_drop", f"dropped {', '.join(dropped)}"
    else:
        action, summary = "delta_tables_drop", "delta tables already gone; nothing dropped"
    audit_record(
        actor=actor,
        via=via,
        action=action,
        target_type="table",
        target_id=",".join(dropped or [t.table for t in report.tables if t.exists])[:100],
        summary=summary,
        details={
            "database": connection.vendor,
            "executed": execute,
            "refusal": report.refusal,
            "tables": [
                {
                    "table": t.table,
                    "existed": t.exists or t.dropped,
                    "rows": t.row_count,
                    "dependants": [str(d) for d in t.dependants],
                    "dropped": t.dropped,
                }
                for t in report.tables
            ],
        },
    )
    return report


# --- locking ---------------------------------------------------------------------------------------


def _lock(connection, tables: list[str]) -> None:
    """Keep writers out between the final check and the drop."""
    if not tables:
        return
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql":
                cursor.execute(f"LOCK TABLE {connection.ops.quote_name(table)} IN ACCESS EXCLUSIVE MODE", [])
            elif connection.vendor == "microsoft":
                cursor.execute(
                    f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)} WITH (TABLOCKX, HOLDLOCK)",  # noqa: S608
                    [],
                )
            # SQLite: orderops opens write transactions IMMEDIATE, which already excludes other writers.
