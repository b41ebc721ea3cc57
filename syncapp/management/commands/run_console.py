from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from syncapp.services.demo import DEMO_USERS


class Command(BaseCommand):
    help = "Run the embedded setup: the monday emulator, a django-q2 cluster and the web console, together."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="web console port (default 8000)")
        parser.add_argument("--emulator-port", type=int, default=8765, help="monday emulator port (default 8765)")
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, port: int, emulator_port: int, host: str, **options):
        if not settings.DEBUG:
            raise CommandError(
                "run_console is the embedded setup; production runs gunicorn and qcluster as services "
                "(docs/deployment.md)."
            )
        state_dir = Path(settings.BASE_DIR) / "var"
        log_dir = state_dir / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        commands = {
            "monday emulator": (
                [
                    *manage,
                    "monday_emulator",
                    "--host",
                    host,
                    "--port",
                    str(emulator_port),
                    "--state",
                    str(state_dir / "emulator-state.json"),
                ],
                log_dir / "emulator.log",
            ),
            "task worker (qcluster)": ([*manage, "qcluster"], log_dir / "worker.log"),
            "web console": ([*manage, "runserver", f"{host}:{port}", "--noreload"], log_dir / "console.log"),
        }
        # Each process writes to its own log file: the emulator logs a line per monday request and
        # runserver one per page, which buried the URL and the logins this command prints.
        processes, logs = {}, {}
        for name, (command, log_path) in commands.items():
            with log_path.open("a", encoding="utf-8") as log:
                log.write(f"\n--- {name} started {time.strftime('%Y-%m-%d %H:%M:%S %Z')} ---\n")
                log.flush()
                # Unbuffered, so a log file shows each line as it happens (tail -f).
                environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
                processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
            logs[name] = log_path
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        time.sleep(1.5)
        self._banner(host, port, emulator_port, logs)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(
                        f"The {name} stopped (exit code {process.returncode}); stopping the others. "
                        f"The end of its log ({_shown(logs[name])}):"
                    )
                    self.stderr.write(_tail(logs[name]))
                    stopping, exit_code = True, 1
                    break
            time.sleep(0.5)
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        if exit_code:
            raise CommandError("The console stopped because one of its processes failed.")

    def _banner(self, host: str, port: int, emulator_port: int, logs: dict[str, Path]) -> None:
        write = self.stdout.write
        write(self.style.SUCCESS(f"\norderops console: http://{host}:{port}/"))
        for username, role, password in DEMO_USERS:
            write(f"  {role:8} login: {username} / {password}")
        write(f"monday emulator: http://{host}:{emulator_port}/boards/ (both environments point here;")
        write("  its boards page sets faults and labels for practising failures, runbook 05)")
        write("Logs (one line per request, so they stay off this screen):")
        for name, path in logs.items():
            write(f"  {name + ':':24} {_shown(path)}")
        write("Press Ctrl+C to stop.\n")


def _shown(path: Path) -> str:
    """A log's path as typed from the project directory."""
    try:
        return str(path.relative_to(settings.BASE_DIR))
    except ValueError:
        return str(path)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(the log could not be read: {error})"
