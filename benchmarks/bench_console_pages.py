"""Console page timings at 200,000 order lines, through a real HTTP server (gunicorn, 1 worker).

    .venv/bin/python benchmarks/bench_console_pages.py [--database-url URL] [--orders 200000] [--repeat 15]

Default database: benchmarks/tmp/console.sqlite3. For PostgreSQL pass e.g.
--database-url postgres://postgres@127.0.0.1:5432/orderops_bench (the database must exist). Order
lines are seeded and merged only when the table holds fewer than --orders. Results are appended to
benchmarks/results/console_pages.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ("dashboard", "/"),
    ("orders", "/orders/"),
    ("orders, page 50", "/orders/?page=50"),
    ("orders, PENDING", "/orders/?state=PENDING"),
    ("orders, customer GREYSON", "/orders/?customer=GREYSON"),
    ("orders, search 475", "/orders/?q=475"),
    ("runs", "/runs/"),
]
USERNAME, PASSWORD = "bench.ops", "bench-password-4755"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def prepare(env: dict[str, str], orders: int) -> None:
    manage(env, "migrate", "--noinput", "-v0")
    code = (
        "from syncapp.models import FactOrderList; from django.contrib.auth import get_user_model; "
        "from django.contrib.auth.models import Group; print(FactOrderList.objects.count()); "
        f"u, _ = get_user_model().objects.get_or_create(username={USERNAME!r}); u.set_password({PASSWORD!r}); "
        "u.save(); u.groups.add(Group.objects.get(name='Ops'))"
    )
    count = int(manage(env, "shell", "-c", code).split()[-1])
    if count < orders:
        manage(env, "seed_demo", "--orders", str(orders), "--no-users")
        manage(env, "merge_orders")


def login(session: requests.Session, base: str) -> None:
    page = session.get(f"{base}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    response = session.post(
        f"{base}/login/",
        data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        timeout=30,
    )
    if "sessionid" not in session.cookies:
        raise SystemExit(f"login failed: HTTP {response.status_code}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=f"sqlite:///{ROOT / 'benchmarks' / 'tmp' / 'console.sqlite3'}")
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    (ROOT / "benchmarks" / "tmp").mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": "benchmark-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "ORDEROPS_HTTPS": "false",
    }
    prepare(env, args.orders)
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "orderops.wsgi",
            "--workers",
            "1",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/login/", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        session = requests.Session()
        login(session, base)
        rows = []
        for label, path in PAGES:
            session.get(base + path, timeout=60)  # warm the worker and the database cache
            timings = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = session.get(base + path, timeout=60)
                timings.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {response.status_code}")
            rows.append((label, path, statistics.median(timings), max(timings)))
    finally:
        server.terminate()
        server.wait(timeout=10)
    vendor = args.database_url.split(":", 1)[0]
    lines = [
        f"## {date.today().isoformat()} — {vendor}, {args.orders:,} order lines, gunicorn 1 worker",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "| page | path | median | max |",
        "|---|---|---|---|",
    ]
    lines += [f"| {label} | `{path}` | {median:.0f} ms | {worst:.0f} ms |" for label, path, median, worst in rows]
    out = ROOT / "benchmarks" / "results" / "console_pages.md"
    with out.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
