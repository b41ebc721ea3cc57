"""Benchmarks of the pipeline on this machine: seed, merge and sync against the emulator.

    .venv/bin/python benchmarks/bench_pipeline.py [--orders 100000] [--sync-orders 2000]

Uses its own SQLite file under benchmarks/tmp/ and an in-process emulator with an unlimited
complexity budget and no latency, so the numbers measure orderops, not monday. Writes the results
to benchmarks/results/pipeline.md.
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
TMP = ROOT / "benchmarks" / "tmp"
TMP.mkdir(parents=True, exist_ok=True)
DB = TMP / "bench.sqlite3"
for suffix in ("", "-wal", "-shm"):
    Path(f"{DB}{suffix}").unlink(missing_ok=True)
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "orderops.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from syncapp.emulator.server import EmulatorServer  # noqa: E402
from syncapp.emulator.state import EmulatorState  # noqa: E402
from syncapp.models import FactOrderList, SyncRun  # noqa: E402
from syncapp.services.demo import staging_fill  # noqa: E402
from syncapp.services.merge import orders_merge  # noqa: E402
from syncapp.services.orders import orders_mark  # noqa: E402
from syncapp.services.sync import sync_run_create, sync_run_execute  # noqa: E402


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, SQLite"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--sync-orders", type=int, default=2000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    lines = [f"# Pipeline benchmark — {date.today().isoformat()}", "", f"Machine: {machine()}", ""]

    start = time.perf_counter()
    staging_fill(orders=args.orders)
    seed_s = time.perf_counter() - start
    start = time.perf_counter()
    report = orders_merge()
    merge_s = time.perf_counter() - start
    start = time.perf_counter()
    again = orders_merge()
    remerge_s = time.perf_counter() - start

    server = EmulatorServer(EmulatorState.from_config(), port=0, budget_per_minute=None,
                            tokens={"development": settings.MONDAY_API_TOKEN_DEVELOPMENT,
                                    "production": settings.MONDAY_API_TOKEN_PRODUCTION})
    server.start()
    settings.MONDAY_API_URL = server.url
    try:
        first = list(FactOrderList.objects.order_by("aag_order_number").values_list("record_uuid", flat=True)
                     [: args.sync_orders])
        orders_mark(state="completed", scope={}, via="cli")
        orders_mark(state="pending", scope={"record_uuids": [str(u) for u in first]}, via="cli")
        run = sync_run_create(environment="development", scope={}, dry_run=False, via="cli", enqueue=False)
        start = time.perf_counter()
        run = sync_run_execute(run_id=run.pk)
        sync_s = time.perf_counter() - start
    finally:
        server.stop()
    run = SyncRun.objects.get(pk=run.pk)
    items = server.api.state.item_count()
    lines += [
        "| what | result | target |",
        "|---|---|---|",
        f"| `seed_demo --orders {args.orders}` | {seed_s:.1f} s | < 60 s |",
        f"| merge of {args.orders:,} staged rows (245 size columns), all new | {merge_s:.1f} s = "
        f"{args.orders / merge_s:,.0f} rows/s ({report.lines_inserted:,} size lines) | ≥ 2,000 rows/s |",
        f"| merge again, nothing changed | {remerge_s:.1f} s = {args.orders / remerge_s:,.0f} rows/s "
        f"({again.unchanged:,} unchanged) | |",
        f"| sync of {run.total_rows:,} order lines to a zero-latency, unlimited emulator | {sync_s:.1f} s; "
        f"{run.mutations_count:,} mutations = {run.mutations_count / sync_s:,.0f} mutations/s, "
        f"{run.total_rows / sync_s:,.1f} order lines/s | ≥ 1,000 mutations/s |",
        f"| requests per mutation | {run.requests_count:,} requests / {run.mutations_count:,} mutations = "
        f"{run.requests_count / max(run.mutations_count, 1):.3f} | ≤ 1/20 = 0.05 for creates |",
        f"| outcome | {run.status} {run.outcome}, created {run.created_count}, failed {run.failed_count}, "
        f"{items:,} items and subitems on the board | zero duplicates |",
        "",
        f"git: {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()}",
    ]
    out = ROOT / "benchmarks" / "results" / "pipeline.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
