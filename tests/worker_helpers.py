"""Real `python manage.py qcluster` processes for the worker and scale tests.

A cluster runs in its own session (process group), so stopping it — politely with SIGTERM, or as a
crash with SIGKILL — reaches its sentinel, pusher, monitor and workers too, and nothing is left
behind. It works on the test database (committed data only: use `transactional_db`) and talks to
the test's emulator over loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

MANAGE = Path(settings.BASE_DIR) / "manage.py"


def database_url() -> str:
    """DATABASE_URL of the test database this process uses (pytest-django's, not the real one)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        path = Path(db["NAME"])
        if not path.is_absolute() or str(db["NAME"]).startswith("file:"):
            pytest.skip("the SQLite test database is in memory; a worker process cannot share it")
        return f"sqlite:///{path}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        user = quote(db.get("USER") or "", safe="")
        password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
        host = db.get("HOST") or "127.0.0.1"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"
    pytest.skip(f"worker tests run on SQLite or PostgreSQL, not {db['ENGINE']}")


def worker_environment(emulator, sync_config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "orderops.settings",
            "DATABASE_URL": database_url(),
            "MONDAY_API_URL": emulator.url,
            "MONDAY_API_TOKEN_DEVELOPMENT": emulator.tokens["development"],
            "MONDAY_API_TOKEN_PRODUCTION": emulator.tokens["production"],
            "ORDEROPS_SYNC_CONFIG": str(sync_config),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def wait_for(condition: Callable[[], object], *, timeout: float, interval: float = 0.1, what: str = "") -> object:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what or condition}")
        time.sleep(interval)


class QCluster:
    """One `manage.py qcluster` process group with its log in `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path, *, workers: int = 1) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(MANAGE), "qcluster"],
            cwd=settings.BASE_DIR,
            env={**env, "ORDEROPS_Q_WORKERS": str(workers)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.process.pid

    @property
    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 30) -> QCluster:
        wait_for(
            lambda: "running." in self.log or self.process.poll() is not None, timeout=timeout, what="qcluster start"
        )
        assert self.process.poll() is None, f"qcluster exited:\n{self.log[-3000:]}"
        return self

    def processed(self) -> list[str]:
        """Task names this cluster's workers started, from its log ("... processing run-7 '...'")."""
        return [
            line.split(" processing ", 1)[1].split(" ", 1)[0]
            for line in self.log.splitlines()
            if " processing " in line
        ]

    def kill(self) -> None:
        """SIGKILL to the whole group, as when the machine or container dies."""
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def stop(self) -> None:
        """SIGTERM to the cluster (it stops its own processes); SIGKILL to the group after 20 s."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Workers of a cluster stopped mid-task may outlive the guard for a moment; none may stay.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()
