"""Benchmark of the monday client: requests per mutation and the client's own cost per mutation.

    .venv/bin/python benchmarks/bench_monday_client.py            # prints and writes results/monday_client.md

Two measurements:

1. Bulk create against the emulator over loopback HTTP: 1,000 items, then 5 subitems each (6,000
   mutations), default batch size. The emulator runs in a separate process with no latency, no
   faults and an unlimited complexity budget, so the client process's CPU time is the client's
   own overhead (documents, JSON, HTTP, result mapping) and wall time is the end-to-end rate on
   this machine (client and emulator share its cores).
2. Client overhead alone: the same batches answered by a canned response without a network, which
   isolates what run_batch costs per mutation.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from syncapp.monday.client import MondayClient  # noqa: E402
from syncapp.monday.column_values import format_column_value  # noqa: E402
from syncapp.monday.types import Mutation  # noqa: E402

ITEMS_BOARD = 9609317401
ITEMS = 1_000
SUBITEMS_PER_ITEM = 5
RESULTS = ROOT / "benchmarks" / "results" / "monday_client.md"
TARGET_PER_SECOND = 1_000


def serve() -> None:
    """Child process: an unlimited, zero-latency emulator; prints its URL and serves until killed."""
    from syncapp.emulator.server import EmulatorServer
    from syncapp.emulator.state import EmulatorState

    server = EmulatorServer(
        # The client's own speed: none of monday's limits (complexity, minute, concurrency, IP) binds.
        EmulatorState.from_config(),
        port=0,
        budget_per_minute=None,
        minute_limit=None,
        concurrency_limit=None,
        ip_limit=None,
    )
    print(server.url, flush=True)
    server.serve_forever()


def item_mutations() -> list[Mutation]:
    return [
        Mutation(
            f"item-{i}",
            "create_item",
            {
                "board_id": ITEMS_BOARD,
                "item_name": f'GREYSON SS26 PO-{i:05d} "Crew" 🧵',
                "column_values": {
                    "text_mkr5wya6": f"AAG-{i:06d}",
                    "dropdown_mkr542p2": format_column_value("dropdown", "GREYSON"),
                    "color_mkr5yf27": format_column_value("status", "EACH"),
                    "numeric_mkr5cact": format_column_value("numbers", "12.50"),
                    "date_mkr5zp5": format_column_value("date", "2025-01-31"),
                    "long_text_mkr5hass": format_column_value("long_text", "Notes line 1\nline 2"),
                },
            },
        )
        for i in range(ITEMS)
    ]


def subitem_mutations(parent_ids: list[str]) -> list[Mutation]:
    sizes = ["XS", "S", "M", "L", "XL"]
    return [
        Mutation(
            f"sub-{p}-{size}",
            "create_subitem",
            {
                "parent_item_id": parent,
                "item_name": size,
                "column_values": {
                    "numeric_mkra7j8e": format_column_value("numbers", 12 + n),
                    "dropdown_mkrak7qp": {"labels": [size]},
                },
                "create_labels_if_missing": True,
            },
        )
        for p, parent in enumerate(parent_ids)
        for n, size in enumerate(sizes[:SUBITEMS_PER_ITEM])
    ]


def bench_emulator() -> dict[str, float]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        url = child.stdout.readline().strip()
        _wait_until_up(url)
        client = MondayClient(api_url=url, token="dev-token", environment="development")
        cpu0, wall0 = time.process_time(), time.perf_counter()
        items = client.run_batch(item_mutations(), operation="bench_items", idempotency_scope="bench")
        parents = [items[f"item-{i}"].data["id"] for i in range(ITEMS)]
        subs = client.run_batch(subitem_mutations(parents), operation="bench_subitems", idempotency_scope="bench")
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        failures = [r for r in [*items.values(), *subs.values()] if not r.ok]
        if failures:
            raise SystemExit(f"{len(failures)} mutations failed, first: {failures[0]}")
        mutations = client.stats.mutations
        return {
            "mutations": mutations,
            "requests": client.stats.requests,
            "requests_per_mutation": client.stats.requests / mutations,
            "wall_seconds": wall,
            "end_to_end_per_second": mutations / wall,
            "client_cpu_seconds": cpu,
            "client_cpu_us_per_mutation": cpu / mutations * 1e6,
            "client_cpu_bound_per_second": mutations / cpu,
        }
    finally:
        child.terminate()
        child.wait(timeout=10)


class _CannedResponse:
    status_code = 200
    headers: dict[str, str] = {}

    def __init__(self, text: str) -> None:
        self.text = text


class _CannedSession:
    """Answers every POST with ids for up to 25 aliases, without a network."""

    def __init__(self) -> None:
        data = {f"m{i}": {"id": str(10_000_000_000 + i), "board": {"id": "9609317948"}} for i in range(25)}
        data["complexity"] = {"before": 10_000_000, "after": 9_750_000, "query": 250_000, "reset_in_x_seconds": 60}
        self._response = _CannedResponse(json.dumps({"data": data, "account_id": 1}))

    def post(self, *args: object, **kwargs: object) -> _CannedResponse:
        return self._response

    def close(self) -> None:
        pass


def bench_overhead(rounds: int = 3) -> dict[str, float]:
    mutations = item_mutations() + subitem_mutations([str(10_000_000_000 + i) for i in range(ITEMS)])
    best = float("inf")
    for _ in range(rounds):
        client = MondayClient(api_url="http://canned.invalid/v2", token="t", environment="development")
        client._session = _CannedSession()
        started = time.perf_counter()
        client.run_batch(mutations, operation="bench", idempotency_scope="bench")
        best = min(best, time.perf_counter() - started)
    return {
        "mutations": len(mutations),
        "seconds": best,
        "us_per_mutation": best / len(mutations) * 1e6,
        "per_second": len(mutations) / best,
    }


def _wait_until_up(url: str) -> None:
    health = url.removesuffix("/v2") + "/health"
    for _ in range(100):
        try:
            requests.get(health, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("emulator did not start")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write_report(emulator: dict[str, float], overhead: dict[str, float]) -> str:
    verdict = (
        "meets"
        if overhead["per_second"] >= TARGET_PER_SECOND and emulator["client_cpu_bound_per_second"] >= TARGET_PER_SECOND
        else "MISSES"
    )
    report = f"""# monday client benchmark

- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC
- Machine: {os.cpu_count()} CPUs (`nproc`), {_cpu_model()}; Python {platform.python_version()}, {platform.system()}
- Command: `.venv/bin/python benchmarks/bench_monday_client.py`
- Workload: bulk create of {ITEMS:,} items (6 column values each) then {SUBITEMS_PER_ITEM} subitems per item
  (2 column values each): {emulator["mutations"]:,.0f} mutations, batch size 25, every document with the
  `complexity` field and an Idempotency-Key.

## Requests per mutation (emulator over loopback HTTP)

| measure | value |
| --- | --- |
| mutations | {emulator["mutations"]:,.0f} |
| HTTP requests | {emulator["requests"]:,.0f} |
| requests per mutation | {emulator["requests_per_mutation"]:.3f} |
| wall time | {emulator["wall_seconds"]:.2f} s |
| end-to-end rate (client + emulator on the same {os.cpu_count()} cores) | {emulator["end_to_end_per_second"]:,.0f} mutations/s |
| client process CPU | {emulator["client_cpu_seconds"]:.2f} s = {emulator["client_cpu_us_per_mutation"]:.0f} µs per mutation |
| client-bound rate (mutations per client CPU second) | {emulator["client_cpu_bound_per_second"]:,.0f} mutations/s |

The emulator runs in its own process (zero latency, no faults, unlimited budget), so the client
process's CPU time is the client's own cost including HTTP. The end-to-end rate is bounded by the
emulator (graphql-core parsing and execution), not by the client.

## Client overhead alone (canned responses, no network)

| measure | value |
| --- | --- |
| mutations | {overhead["mutations"]:,.0f} |
| time (best of 3) | {overhead["seconds"]:.3f} s |
| per mutation | {overhead["us_per_mutation"]:.1f} µs |
| rate | {overhead["per_second"]:,.0f} mutations/s |

Target: ≥ {TARGET_PER_SECOND:,} mutations/s of client throughput on this machine: **{verdict}**.

At monday itself the limit is the complexity budget, not the client: with 10,000,000 points per
minute the request rate a token can sustain is set by monday's per-mutation cost.
"""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")
    return report


def main() -> None:
    if "--serve" in sys.argv:
        serve()
        return
    emulator = bench_emulator()
    overhead = bench_overhead()
    print(write_report(emulator, overhead))


if __name__ == "__main__":
    main()
