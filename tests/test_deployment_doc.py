"""docs/deployment.md, executed: its command sequences, environment file and unit files on SQLite.

The blocks titled install, backup, upgrade and rollback-release run as written, in order, from the project
directory, in production mode (DJANGO_DEBUG=false) with the documented environment file. Only what
cannot exist here is replaced: SQL Server becomes a temporary SQLite file (with the order tables
unmanaged, as on SQL Server), and the paths under /srv/orderops become this checkout. pip runs with
PIP_NO_INDEX so it can only confirm the installed requirements, never download. Commands that start
servers are smoke-tested instead: gunicorn with --check-config, qcluster until it reports running.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands

pytestmark = pytest.mark.slow

ROOT = Path(settings.BASE_DIR)
DOC = ROOT / "docs" / "deployment.md"
INSTALL_DIR = "/srv/orderops"
SERVERS = re.compile(r"\bqcluster\b|\brunserver\b|\brun_console\b|\bgunicorn\b(?!.*--check-config)")
ORDER_TABLES = {"FACT_ORDER_LIST", "swp_ORDER_LIST_SYNC", "ORDER_LIST_LINES"}


def _block(title: str) -> str:
    match = re.search(rf'```\w+ title="{re.escape(title)}"\n(.*?)```', DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert match, f'docs/deployment.md has no block titled "{title}"'
    return match.group(1)


def _commands(title: str) -> list[str]:
    commands, pending = [], ""
    for line in _block(title).splitlines():
        line = pending + line.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line and not line.startswith("#"):
            commands.append(line)
    return commands


def _env_file() -> dict[str, str]:
    values = {}
    for line in _block("orderops.env").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _unit(title: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in _block(title).splitlines() if "=" in line and not line.startswith("#"))


def _local(text: str) -> str:
    return text.replace(INSTALL_DIR, str(ROOT))


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> dict:
    """The environment of a production server, with SQLite standing in for SQL Server."""
    tmp = tmp_path_factory.mktemp("deploy")
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "ORDEROPS_", "MONDAY_", "SECURE_", "PIP_"))
        and k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "STATIC_ROOT", "CSRF_TRUSTED_ORIGINS")
    }
    env = {**inherited, **{k: _local(v) for k, v in _env_file().items()}}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp / 'orders.sqlite3'}",
            # On SQL Server this is off by default: migrate must leave the order tables alone.
            "ORDEROPS_MANAGE_ORDER_TABLES": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "STATIC_ROOT": str(tmp / "staticfiles"),
            "BACKUP_DIR": str(tmp / "backups"),
            "PIP_NO_INDEX": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    (tmp / "backups").mkdir()
    return {"env": env, "tmp": tmp, "db": tmp / "orders.sqlite3"}


def _run(command: str, env: dict, *, timeout: float = 300) -> str:
    assert not SERVERS.search(command), f"a server command must be smoke-tested, not run: {command}"
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"`{command}` exited {result.returncode}:\n{output[-4000:]}"
    return output


def _run_block(title: str, env: dict) -> dict[str, str]:
    return {command: _run(command, env) for command in _commands(title)}


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _applied(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM django_migrations WHERE app = 'syncapp'")}


def test_it_installs_upgrades_and_rolls_back_a_release_as_documented(server):
    env, db = server["env"], server["db"]
    migrations = sorted(p.stem for p in (ROOT / "syncapp" / "migrations").glob("[0-9][0-9][0-9][0-9]_*.py"))

    outputs = _run_block("install", env)
    assert "System check identified no issues" in next(o for c, o in outputs.items() if "check --deploy" in c)
    tables = _tables(db)
    assert {"syncapp_syncrun", "MON_Boards_Groups", "ORDER_LIST_API_LOG", "django_q_ormq", "orderops_cache"} <= tables
    assert not ORDER_TABLES & tables, "migrate must never create the order tables on a production database"
    assert _applied(db) == set(migrations)
    assert (Path(env["STATIC_ROOT"]) / "admin" / "css" / "base.css").exists()

    _run_block("backup", env)
    _run_block("upgrade", env)
    backups = list(Path(env["BACKUP_DIR"]).glob("orderops-*.json.gz"))
    assert len(backups) == 1
    exported = json.loads(gzip.decompress(backups[0].read_bytes()))
    assert {"auth.group"} <= {entry["model"] for entry in exported}
    assert not {e["model"] for e in exported} & {"syncapp.factorderlist", "syncapp.stagedorder", "syncapp.orderline"}

    # Undo the newest migration, as when going back to the release before it, then upgrade again.
    _run_block("rollback-release", {**env, "PREVIOUS_MIGRATION": migrations[-2]})
    assert _applied(db) == set(migrations[:-1])
    # Back on the previous release the export would run with that release's code, which this checkout
    # cannot be; the upgrade steps that follow the checkout are the same.
    _run_block("upgrade", env)
    assert _applied(db) == set(migrations)
    assert not ORDER_TABLES & _tables(db)


def test_the_documented_environment_file_names_only_settings_that_exist():
    source = (ROOT / "orderops" / "settings.py").read_text(encoding="utf-8")
    unknown = [key for key in _env_file() if f'"{key}"' not in source]
    assert unknown == []


def test_the_web_service_starts_gunicorn_with_a_valid_configuration(server):
    unit = _unit("orderops-web.service")
    assert unit["EnvironmentFile"] == "/etc/orderops/orderops.env" and unit["WorkingDirectory"] == INSTALL_DIR
    _run_block("install", server["env"])  # idempotent: the service starts on an installed server
    output = _run(_local(unit["ExecStart"]) + " --check-config", server["env"])
    assert "Error" not in output


def test_the_worker_service_starts_a_cluster_that_stops_on_sigterm(server, tmp_path):
    unit = _unit("orderops-worker.service")
    assert unit["KillSignal"] == "SIGTERM" and unit["WorkingDirectory"] == INSTALL_DIR
    _run_block("install", server["env"])
    log = tmp_path / "qcluster.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {_local(unit['ExecStart'])}"],
            cwd=ROOT,
            env=server["env"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while "running." not in log.read_text(errors="replace") and process.poll() is None:
                assert time.monotonic() < deadline, f"qcluster did not start:\n{log.read_text(errors='replace')}"
                time.sleep(0.2)
            assert process.poll() is None, f"qcluster exited:\n{log.read_text(errors='replace')}"
            os.kill(process.pid, signal.SIGTERM)
            # systemd waits TimeoutStopSec before killing; the cluster must be gone well within it.
            assert process.wait(timeout=int(unit["TimeoutStopSec"])) == 0, log.read_text(errors="replace")
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            else:
                try:
                    os.killpg(process.pid, signal.SIGKILL)  # workers must not outlive their cluster
                except ProcessLookupError:
                    pass


def test_every_command_the_document_names_exists():
    text = DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"manage\.py (\w+)", text))
    assert {"migrate", "collectstatic", "qcluster", "preflight", "drop_delta_tables", "rollback_run"} <= named
    assert named - set(get_commands()) == set()
