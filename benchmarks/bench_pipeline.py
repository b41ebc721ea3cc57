"""Benchmarks of the pipeline on this machine: seed, merge and sync against the emulator.

    .venv/bin/python benchmarks/bench_pipeline.py [--orders 100000] [--sync-orders 2000]

Uses its own SQLite file under benchmarks/tmp/ and an emulator process with an unlimited complexity
budget and no latency, so the numbers measure orderops, not monday. Writes the results
to benchmarks/results/pipeline.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
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
import requests  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from syncapp.domain.scope import Scope  # noqa: E402
from syncapp.models import FactOrderList, SyncRun  # noqa: E402
from syncapp.services.demo import staging_fill  # noqa: E402
from syncapp.services.merge import orders_merge  # noqa: E402
from syncapp.services.orders import orders_mark  # noqa: E402
from syncapp.services.sync import sync_run_create, sync_run_execute  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"the emulator did not start at {url}")


def budget_bound_sync(record_uuids, *, budget: int, window: float) -> dict:
    """Sync the same rows again to a fresh emulator whose budget is the bottleneck.

    The bound is the time the budget allows for the complexity the run used: complexity / budget
    windows of `window` seconds. A client that throttles well finishes close to it; one that
    hammers into 429s or waits too long does not.
    """
    from syncapp.models import ItemLink, SubitemLink

    ItemLink.objects.all().delete()
    SubitemLink.objects.all().delete()
    orders_mark(state="pending", scope=Scope.from_dict({"record_uuids": [str(u) for u in record_uuids]}), via="cli")
    port = free_port()
    emulator = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "monday_emulator",
            "--port",
            str(port),
            "--budget",
            str(budget),
            "--budget-window",
            str(window),
            # Only the complexity budget binds this run: the request-count limits would measure
            # monday's minute limit rather than orderops (a separate bound, see benchmarks/README.md).
            *NO_REQUEST_LIMITS,
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    wait_for(f"http://127.0.0.1:{port}/health")
    settings.MONDAY_API_URL = f"http://127.0.0.1:{port}/v2"
    try:
        run = sync_run_create(environment="development", scope=Scope(), dry_run=False, via="cli", enqueue=False)
        start = time.perf_counter()
        run = sync_run_execute(run_id=run.pk)
        elapsed = time.perf_counter() - start
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    bound = run.complexity_used / budget * window
    return {
        "rows": run.total_rows,
        "elapsed": elapsed,
        "complexity": run.complexity_used,
        "bound": bound,
        "ratio": elapsed / bound if bound else float("nan"),
        "waited": run.waited_seconds,
        "retries": run.retries_count,
    }


# The emulator's request-count limits (minute, concurrency, IP) off: these benchmarks measure orderops.
NO_REQUEST_LIMITS = ("--minute-limit", "0", "--concurrency-limit", "0", "--ip-limit", "0")


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, SQLite"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--sync-orders", type=int, default=2000)
    parser.add_argument("--budget", type=int, default=20_000_000, help="complexity per window, budget-bound run")
    parser.add_argument("--budget-window", type=float, default=30.0, help="seconds per budget window")
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

    # The emulator runs in its own process, as monday would: sharing this process's GIL would
    # measure the emulator's CPU as the engine's.
    port = free_port()
    emulator = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "monday_emulator",
            "--port",
            str(port),
            "--budget",
            "0",
            *NO_REQUEST_LIMITS,
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    wait_for(f"http://127.0.0.1:{port}/health")
    settings.MONDAY_API_URL = f"http://127.0.0.1:{port}/v2"
    try:
        first = list(
            FactOrderList.objects.order_by("aag_order_number").values_list("record_uuid", flat=True)[: args.sync_orders]
        )
        orders_mark(state="completed", scope=Scope(), via="cli")
        orders_mark(state="pending", scope=Scope.from_dict({"record_uuids": [str(u) for u in first]}), via="cli")
        run = sync_run_create(environment="development", scope=Scope(), dry_run=False, via="cli", enqueue=False)
        start = time.perf_counter()
        run = sync_run_execute(run_id=run.pk)
        sync_s = time.perf_counter() - start
        items = requests.get(f"http://127.0.0.1:{port}/health", timeout=5).json().get("active_items", "?")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    run = SyncRun.objects.get(pk=run.pk)
    bounded = budget_bound_sync(first, budget=args.budget, window=args.budget_window)
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
        f"{items} items and subitems on the board | zero duplicates |",
        f"| sync of the same {bounded['rows']:,} order lines, fresh board, budget {args.budget:,} per "
        f"{args.budget_window:g} s window | {bounded['elapsed']:.1f} s for {bounded['complexity']:,} complexity; "
        f"budget bound {bounded['bound']:.1f} s; ratio {bounded['ratio']:.2f}; {bounded['waited']:.1f} s waited, "
        f"{bounded['retries']} retries (429s) | ≤ 1.1 x the bound |",
        "",
        f"git: {subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True).stdout.strip()}",
    ]
    out = ROOT / "benchmarks" / "results" / "pipeline.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
