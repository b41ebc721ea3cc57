"""Load test: 20 concurrent logged-in clients on the console's list pages while a sync runs.

    .venv/bin/python benchmarks/load_console.py [--clients 20] [--orders 3000] [--server runserver|gunicorn|both]

The embedded setup on its own SQLite file under benchmarks/tmp/ (WAL and a busy timeout come from
orderops/settings.py): demo orders are seeded and merged, an Ops user is created through the ORM,
and three processes start — the monday emulator (unlimited budget, a little latency so the sync
takes a while), a django-q2 cluster on the ORM broker, and the console: `runserver`, as
`run_console` starts it, and then, on a fresh database, gunicorn as in docs/deployment.md. A sync
of every pending order line is queued; once it runs, each client logs in (GET /login/ for the
CSRF cookie, POST the form) and requests `/`, `/orders/` and `/runs/` in turn until the sync ends.

An error is any exception, timeout or status other than 200. The script writes the median and p95
latency per page to benchmarks/results/load.md and exits 1 when there was any error or the sync
did not complete.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = ROOT / "benchmarks" / "tmp"
TMP.mkdir(parents=True, exist_ok=True)
DB = TMP / "load.sqlite3"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


EMULATOR_PORT, CONSOLE_PORT = free_port(), free_port()
CONSOLE = f"http://127.0.0.1:{CONSOLE_PORT}"
ENVIRONMENT = {
    **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)},
    "DJANGO_SETTINGS_MODULE": "orderops.settings",
    "DATABASE_URL": f"sqlite:///{DB}",
    "MONDAY_API_URL": f"http://127.0.0.1:{EMULATOR_PORT}/v2",
    "MONDAY_API_TOKEN_DEVELOPMENT": "dev-token",
    "MONDAY_API_TOKEN_PRODUCTION": "prod-token",
    "PYTHONUNBUFFERED": "1",
}
os.environ.update(ENVIRONMENT)

import django  # noqa: E402
import requests  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402

from syncapp.domain.scope import Scope  # noqa: E402
from syncapp.models import SyncRun  # noqa: E402
from syncapp.roles import OPS  # noqa: E402
from syncapp.services.demo import staging_fill  # noqa: E402
from syncapp.services.merge import orders_merge  # noqa: E402
from syncapp.services.sync import sync_run_create  # noqa: E402

PAGES = ["/", "/orders/", "/runs/"]
USERNAME, PASSWORD = "load.ops", "load-test-password-4755"
REQUEST_TIMEOUT = 30


def wait_for_http(url: str, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the {what} exited with code {process.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"the {what} did not answer at {url} within {timeout:.0f}s")


def start(command: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=ENVIRONMENT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process, then SIGKILL to whatever is left of its group (qcluster's workers)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


class Client(threading.Thread):
    def __init__(self, number: int, running: threading.Event, results: list, errors: list) -> None:
        super().__init__(name=f"client-{number}", daemon=True)
        self.number, self.running, self.results, self.errors = number, running, results, errors

    def run(self) -> None:
        session = requests.Session()
        try:
            self.login(session)
        except Exception as error:  # counted and reported, never raised
            self.errors.append(("/login/", f"{type(error).__name__}: {error}"))
            return
        turn = self.number
        while self.running.is_set():
            path = PAGES[turn % len(PAGES)]
            turn += 1
            started = time.perf_counter()
            try:
                response = session.get(CONSOLE + path, timeout=REQUEST_TIMEOUT, allow_redirects=False)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    self.errors.append((path, f"HTTP {response.status_code}: {response.text[:200]!r}"))
                else:
                    self.results.append((path, elapsed, time.time()))
            except requests.RequestException as error:
                self.errors.append((path, f"{type(error).__name__}: {error}"))

    @staticmethod
    def login(session: requests.Session) -> None:
        page = session.get(f"{CONSOLE}/login/", timeout=REQUEST_TIMEOUT)
        token = (
            session.cookies.get("csrftoken") or re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        )
        response = session.post(
            f"{CONSOLE}/login/",
            data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{CONSOLE}/login/"},
            timeout=REQUEST_TIMEOUT,
        )
        if (
            response.status_code != 200
            or response.url.rstrip("/").endswith("/login")
            or "sessionid" not in session.cookies
        ):
            raise RuntimeError(f"login failed: HTTP {response.status_code} at {response.url}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, SQLite (WAL, busy timeout 30 s)"


def fresh_database() -> None:
    connections.close_all()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB}{suffix}").unlink(missing_ok=True)
    call_command("migrate", verbosity=0)


def load_round(server: str, args: argparse.Namespace) -> tuple[list[str], bool]:
    """Seed, start the processes, sync while the clients load the pages; Markdown lines and success."""
    fresh_database()
    staging_fill(orders=args.orders)
    orders_merge()
    user = get_user_model().objects.create_user(username=USERNAME, password=PASSWORD)
    user.groups.add(Group.objects.get(name=OPS))

    manage = [sys.executable, str(ROOT / "manage.py")]
    if server == "gunicorn":
        server_command = [
            str(Path(sys.executable).with_name("gunicorn")),
            "orderops.wsgi:application",
            "--bind",
            f"127.0.0.1:{CONSOLE_PORT}",
            "--workers",
            "3",
            "--timeout",
            "120",
        ]
    else:
        server_command = [*manage, "runserver", f"127.0.0.1:{CONSOLE_PORT}", "--noreload"]
    processes = {
        "emulator": start(
            [
                *manage,
                "monday_emulator",
                "--port",
                str(EMULATOR_PORT),
                "--budget",
                "0",
                "--latency-ms",
                str(args.latency_ms),
                # The load test measures the console, not monday's request-count limits.
                "--minute-limit",
                "0",
                "--concurrency-limit",
                "0",
                "--ip-limit",
                "0",
                "--quiet",
            ],
            TMP / f"load-{server}-emulator.log",
        ),
        "worker": start([*manage, "qcluster"], TMP / f"load-{server}-qcluster.log"),
        "console": start(server_command, TMP / f"load-{server}-console.log"),
    }
    results: list[tuple[str, float, float]] = []
    errors: list[tuple[str, str]] = []
    try:
        wait_for_http(f"http://127.0.0.1:{EMULATOR_PORT}/health", processes["emulator"], "emulator")
        wait_for_http(f"{CONSOLE}/login/", processes["console"], "console")
        run = sync_run_create(environment="development", scope=Scope(), dry_run=False, via="cli")  # queued on commit
        deadline = time.monotonic() + 120
        while SyncRun.objects.get(pk=run.pk).status == "queued":
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not pick up the sync within 120 s")
            time.sleep(0.2)
        running = threading.Event()
        running.set()
        clients = [Client(n, running, results, errors) for n in range(args.clients)]
        load_started = time.time()
        for client in clients:
            client.start()
        stop_at = time.monotonic() + args.max_seconds
        while SyncRun.objects.get(pk=run.pk).status in SyncRun.ACTIVE_STATUSES and time.monotonic() < stop_at:
            time.sleep(0.5)
        running.clear()
        for client in clients:
            client.join(timeout=REQUEST_TIMEOUT + 5)
        load_ended = time.time()
    finally:
        for process in processes.values():
            stop(process)

    run = SyncRun.objects.get(pk=run.pk)
    latencies: dict[str, list[float]] = defaultdict(list)
    for path, elapsed, _ in results:
        latencies[path].append(elapsed * 1000)
    overall = [v for values in latencies.values() for v in values]
    sync_seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else float("nan")
    sync_end = (run.finished_at or run.started_at).timestamp()
    during = sum(1 for _, _, at in results if run.started_at.timestamp() <= at <= sync_end)
    lines = [
        f"## Console served by `{server}`",
        "",
        "| page | requests | median ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for path in PAGES:
        values = latencies.get(path) or [float("nan")]
        lines.append(
            f"| `{path}` | {len(latencies.get(path, []))} | {statistics.median(values):.0f} | "
            f"{percentile(values, 0.95):.0f} | {max(values):.0f} |"
        )
    if overall:
        lines.append(
            f"| all | {len(overall)} | {statistics.median(overall):.0f} | {percentile(overall, 0.95):.0f} | "
            f"{max(overall):.0f} |"
        )
    lines += [
        "",
        f"- errors: **{len(errors)}** (any exception, timeout or status other than 200)",
        f"- load window {load_ended - load_started:.1f} s; {during} of {len(overall)} requests answered while the "
        "sync was running",
        f"- sync: run {run.pk} {run.status} {run.outcome}, {run.created_count:,} created, {run.failed_count} failed, "
        f"{sync_seconds:.1f} s, {run.requests_count} API requests",
    ]
    lines += [f"- error on `{path}`: {message}" for path, message in errors[:20]]
    return lines, not errors and run.status == "completed" and during > 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--orders", type=int, default=3000, help="demo order lines staged, merged and synced")
    parser.add_argument("--latency-ms", type=int, default=20, help="emulator latency per request (a slower sync)")
    parser.add_argument(
        "--server",
        choices=["runserver", "gunicorn", "both"],
        default="both",
        help="runserver is the embedded setup (run_console); gunicorn is production's (docs/deployment.md)",
    )
    parser.add_argument("--max-seconds", type=float, default=300, help="stop the clients after this long")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "load.md")
    args = parser.parse_args()

    servers = ["runserver", "gunicorn"] if args.server == "both" else [args.server]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    lines = [
        f"# Console load test — {date.today().isoformat()}",
        "",
        f"Machine: {machine()}",
        "",
        f"{args.clients} concurrent logged-in clients (Ops role) request `/`, `/orders/` and `/runs/` in turn while "
        f"a sync of the {args.orders:,} demo order lines runs in a django-q2 worker (ORM broker); emulator latency "
        f"{args.latency_ms} ms per API request. Command: `.venv/bin/python benchmarks/load_console.py "
        f"--clients {args.clients} --orders {args.orders} --server {args.server}`. git: {commit.stdout.strip()}",
        "",
    ]
    ok = True
    for server in servers:
        section, passed = load_round(server, args)
        lines += [*section, ""]
        ok = ok and passed
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
