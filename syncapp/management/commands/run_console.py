from __future__ import annotations

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
        state_dir.mkdir(exist_ok=True)
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        processes = {
            "monday emulator": subprocess.Popen(
                [
                    *manage,
                    "monday_emulator",
                    "--host",
                    host,
                    "--port",
                    str(emulator_port),
                    "--state",
                    str(state_dir / "emulator-state.json"),
                ]
            ),
            "task worker (qcluster)": subprocess.Popen([*manage, "qcluster"]),
            "web console": subprocess.Popen([*manage, "runserver", f"{host}:{port}", "--noreload"]),
        }
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        time.sleep(1.5)
        self.stdout.write(self.style.SUCCESS(f"\norderops console: http://{host}:{port}/"))
        self.stdout.write(f"monday emulator: http://{host}:{emulator_port}/boards/ (both environments point here)")
        for username, role, password in DEMO_USERS:
            self.stdout.write(f"  {role:8} login: {username} / {password}")
        self.stdout.write("Press Ctrl+C to stop.\n")
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(
                        f"The {name} stopped (exit code {process.returncode}); stopping the others. "
                        "Its error is printed above."
                    )
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
