"""Round trips the merge costs on SQL Server, counted on the stand-in (the real mssql-django backend
over a recording driver; no server exists on these machines).

    .venv/bin/python benchmarks/bench_sqlserver_merge.py [--orders 1000] [--batch-rows 2000]

Counts what the driver would send: one round trip per execute, one per row of an executemany
(mssql-python and pyodbc without fast_executemany bind row by row). Merges the staged rows once
(all new), changes 10 % of them, merges again, and merges a third time with nothing changed.
Writes benchmarks/results/sqlserver_merge.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderops.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from syncapp.order_tables import STAGING_TABLE  # noqa: E402
from syncapp.services.demo import staging_fill  # noqa: E402
from syncapp.services.merge import orders_merge  # noqa: E402
from tests.board_checks import write_sync_config  # noqa: E402
from tests.sqlserver_helpers import on_sql_server  # noqa: E402


def measure(server, label: str, rows: int, work) -> dict:
    mark = server.mark()
    started = time.perf_counter()
    report = work()
    seconds = time.perf_counter() - started
    sent = server.since(mark)
    trips = sum(r.round_trips for r in sent)
    return {
        "step": label,
        "rows": rows,
        "statements": len(sent),
        "round_trips": trips,
        "per_row": trips / rows,
        "max_params": max((len(r.params) for r in sent), default=0),
        "summary": report.summary() if report else "",
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--batch-rows", type=int, default=2000)
    args = parser.parse_args()
    config = write_sync_config(ROOT / "benchmarks" / "tmp-sqlserver-sync.toml", batch_rows=args.batch_rows)
    results = []
    try:
        with override_settings(ORDEROPS_SYNC_CONFIG=config), on_sql_server("BENCH") as server:
            call_command("migrate", verbosity=0)
            staging_fill(orders=args.orders)
            results.append(measure(server, "all new", args.orders, orders_merge))
            changed = args.orders // 10
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE [{STAGING_TABLE}] SET [CUSTOMER ALT PO] = %s WHERE [AAG ORDER NUMBER] IN "  # noqa: S608
                    f"(SELECT TOP {changed} [AAG ORDER NUMBER] FROM [{STAGING_TABLE}] ORDER BY [AAG ORDER NUMBER])",
                    ["ALT-BENCH"],
                )
            results.append(measure(server, f"{changed} changed", args.orders, orders_merge))
            results.append(measure(server, "nothing changed", args.orders, orders_merge))
            problems = server.problems
    finally:
        config.unlink(missing_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    lines = [
        "# Merge round trips on SQL Server (stand-in)",
        "",
        f"{date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, commit {commit.strip()};"
        f" {args.orders} staged rows, merge.batch_rows = {args.batch_rows}. Statements SQL Server would refuse: "
        f"{len(problems)}.",
        "",
        "| merge | staged rows | statements | round trips | per staged row | most parameters | stand-in time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['step']} | {r['rows']:,} | {r['statements']:,} | {r['round_trips']:,} | {r['per_row']:.3f} | "
            f"{r['max_params']:,} | {r['seconds']:.1f} s |"
        )
    lines += ["", "The stand-in translates every statement to SQLite, so its time says nothing about SQL Server's."]
    out = ROOT / "benchmarks" / "results" / "sqlserver_merge.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
