"""Settings: embedded defaults, production refusals, check and check --deploy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "SECRET_KEY": "x" * 60 + "-production-test-key-with-enough-entropy",
    "ALLOWED_HOSTS": "orderops.example.internal",
    "DATABASE_URL": f"sqlite:///{ROOT / 'var' / 'deploy-check.sqlite3'}",
    "MONDAY_API_URL": "https://api.monday.com/v2",
    "MONDAY_API_TOKEN_DEVELOPMENT": "dev-token-for-check",
    "MONDAY_API_TOKEN_PRODUCTION": "prod-token-for-check",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "SECRET_KEY", "ALLOWED_HOSTS", "MONDAY_", "REDIS_URL"))
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_defaults_to_the_embedded_setup():
    assert settings.Q_CLUSTER.get("orm") == "default" or settings.REDIS_URL
    assert settings.Q_CLUSTER["timeout"] < settings.Q_CLUSTER["retry"]
    assert settings.Q_CLUSTER["max_attempts"] == 1 and settings.Q_CLUSTER["ack_failures"] is True
    assert settings.Q_CLUSTER["catch_up"] is False


def test_it_switches_the_queue_to_redis_when_redis_url_is_set():
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.Q_CLUSTER)",
        env={"REDIS_URL": "redis://127.0.0.1:6379/3"},
    )
    assert result.returncode == 0, result.stderr
    assert "'redis': 'redis://127.0.0.1:6379/3'" in result.stdout and "'orm'" not in result.stdout


def test_it_passes_check_in_the_embedded_setup():
    result = _manage("check", env={})
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_it_passes_check_deploy_with_production_settings():
    (ROOT / "var").mkdir(exist_ok=True)
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_it_refuses_production_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_it_refuses_production_without_allowed_hosts_or_database():
    for missing in ("ALLOWED_HOSTS", "DATABASE_URL"):
        env = {k: v for k, v in PRODUCTION.items() if k != missing}
        result = _manage("check", env=env)
        assert result.returncode != 0
        assert f"{missing} is not set" in result.stderr


def _settings_probe(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Reads settings without starting Django: the SQL Server backend needs unixODBC to load."""
    return subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; " + code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "orderops.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_parses_a_sql_server_url_for_both_drivers():
    code = "d = settings.DATABASES['default']; print(d['ENGINE'], d['NAME'], d['OPTIONS'])"
    odbc = _settings_probe(
        code, env={"DATABASE_URL": "mssql://u:p@db.internal:1433/ORDERS?driver=ODBC Driver 18 for SQL Server"}
    )
    assert odbc.returncode == 0, odbc.stderr
    assert "mssql ORDERS" in odbc.stdout and "ODBC Driver 18" in odbc.stdout
    native = _settings_probe(
        code + "; print(settings.ORDEROPS_MANAGE_ORDER_TABLES)",
        env={"DATABASE_URL": "mssql://u:p@db.internal:1433/ORDERS?python_driver=mssql_python"},
    )
    assert native.returncode == 0, native.stderr
    assert "'python_driver': 'mssql_python'" in native.stdout
    assert native.stdout.strip().endswith("False"), "SQL Server must never get locally created order tables"
