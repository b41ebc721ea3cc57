"""preflight: each check green and red, and the command's exit code."""

from __future__ import annotations

import json
import os
import shutil
import uuid

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection

from syncapp import sync_config
from syncapp.domain.scope import Scope
from syncapp.models import ApiCall, AuditEntry, FactOrderList
from syncapp.selectors import preflight as preflight_module
from syncapp.selectors.preflight import preflight_checks
from tests.sync_helpers import DEV_ITEMS, DEV_SUBITEMS, only_po_pending, point_at, stage_and_merge, sync

pytestmark = pytest.mark.django_db
q = connection.ops.quote_name

# Settings a production deployment has (see docs/deployment.md); with them `check --deploy` is clean.
DEPLOY_SETTINGS = {
    "DEBUG": False,
    "SECRET_KEY": "k3J9-vQz_8Lw2Rb7YtXn4Pd6Hs1Fm5Gc0Ue9Ai3Ko7Nj2Vr6Bx8Tq4Wy1Zl5Mh0",
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "SECURE_SSL_REDIRECT": True,
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    # Alerts link to the console: production names its address.
    "ORDEROPS_CONSOLE_URL": "https://orderops.example.com",
}


def _check(key: str, environment: str = "development", scope: Scope | None = None):
    return next(r for r in preflight_checks(environment=environment, scope=scope) if r.key == key)


def _assert_green(result) -> None:
    assert result.ok, f"{result.name}: {result.detail}"
    assert result.fix == ""


def _assert_red(result, detail: str, fix: str) -> None:
    assert not result.ok, f"{result.name} should be red: {result.detail}"
    assert detail in result.detail
    assert fix in result.fix and result.fix.endswith(".") and result.fix.count(". ") == 0, "a fix is one sentence"


def _publish_cluster_stat() -> None:
    """What a running `qcluster` does every few seconds: put its status in the broker's cache."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf
    from django_q.signing import SignedPackage
    from django_q.status import Stat, Status

    status = Status(pid=os.getpid(), cluster_id=uuid.uuid4())
    status.status = Conf.IDLE
    status.workers = [os.getpid()]
    get_broker().set_stat(Stat.get_key(status.cluster_id), SignedPackage.dumps(status, True), 60)


@pytest.fixture
def monday(emulator, settings):
    point_at(emulator, settings)
    return emulator


# --- configuration, board files, token -----------------------------------------------------------


def test_the_configuration_check(settings, tmp_path):
    _assert_green(_check("config"))
    broken = tmp_path / "sync.toml"
    text = sync_config.config_path().read_text(encoding="utf-8")
    broken.write_text(
        text.replace('"PO NUMBER"                                  = "text_mkr5ej2x"', '"PO NUMBER" = "text_gone"', 1)
    )
    settings.ORDEROPS_SYNC_CONFIG = broken
    _assert_red(_check("config"), "text_gone", "Fix environments.development.item_columns")
    _assert_red(_check("board_files"), "cannot be read from the configuration", "Fix the configuration problems first")


def test_the_board_files_check(monkeypatch, tmp_path):
    _assert_green(_check("board_files", "production"))
    boards = tmp_path / "boards"
    shutil.copytree(sync_config.boards_dir(), boards)
    monkeypatch.setattr(sync_config, "boards_dir", lambda: boards)
    (boards / f"board_{DEV_SUBITEMS}.json").unlink()
    _assert_red(_check("board_files"), f"board_{DEV_SUBITEMS}.json is missing", "Export the board's columns again")


def test_a_mapped_column_whose_type_changed_in_the_board_file_is_red(monkeypatch, tmp_path):
    boards = tmp_path / "boards"
    shutil.copytree(sync_config.boards_dir(), boards)
    path = boards / f"board_{DEV_ITEMS}.json"
    definition = json.loads(path.read_text(encoding="utf-8"))
    for column in definition["columns"]:
        if column["id"] == "date_mkr57811":  # EX FACTORY DATE
            column["type"] = "numbers"
    path.write_text(json.dumps(definition), encoding="utf-8")
    monkeypatch.setattr(sync_config, "boards_dir", lambda: boards)
    _assert_red(_check("board_files"), "'EX FACTORY DATE' maps to date_mkr57811, a numbers column", "Export")


def test_the_token_check(settings):
    settings.MONDAY_API_TOKEN_PRODUCTION = "a-token"
    _assert_green(_check("token", "production"))
    settings.MONDAY_API_TOKEN_PRODUCTION = ""
    _assert_red(
        _check("token", "production"), "MONDAY_API_TOKEN_PRODUCTION is not set", "Set MONDAY_API_TOKEN_PRODUCTION"
    )


# --- the live board ----------------------------------------------------------------------------------


def test_the_board_check_reads_the_live_board(monday):
    result = _check("board", "production")
    _assert_green(result)
    assert "'Customer Master Schedule' (9200517329)" in result.detail
    assert ApiCall.objects.filter(environment="production", operation="get_board").count() == 2, "logged"


def test_the_board_check_is_red_when_a_column_is_gone_or_changed(monday):
    with monday.state.lock:
        columns = monday.state.boards[DEV_ITEMS]["columns"]
        columns[:] = [c for c in columns if c["id"] != "text_mkr5ej2x"]  # PO NUMBER
        next(c for c in columns if c["id"] == "numeric_mkr5cact")["type"] = "text"  # CUSTOMER PRICE
    result = _check("board")
    _assert_red(result, "PO NUMBER (text_mkr5ej2x, for 'PO NUMBER') is not on the board", "Restore the column")
    assert "numeric_mkr5cact) is a text column on the board, not numbers" in result.detail


def test_the_board_check_is_red_when_monday_refuses_the_token(monday, settings):
    settings.MONDAY_API_TOKEN_DEVELOPMENT = "not-a-valid-token"
    _assert_red(_check("board"), "monday refused the development token", "Check MONDAY_API_TOKEN_DEVELOPMENT")


def test_the_board_check_is_red_quickly_when_monday_is_unreachable(settings):
    settings.MONDAY_API_URL = "http://127.0.0.1:9/v2"  # the discard port: nothing listens
    settings.MONDAY_API_TOKEN_DEVELOPMENT = "a-token"
    _assert_red(_check("board"), "did not complete get_board after 2 attempts", "that monday is reachable")


# --- database ----------------------------------------------------------------------------------------


def test_the_database_check(monkeypatch):
    _assert_green(_check("database"))

    class Unreachable:
        vendor = connection.vendor
        settings_dict = connection.settings_dict

        def cursor(self):
            raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(preflight_module, "connection", Unreachable())
    _assert_red(_check("database"), "Connection refused", "Check DATABASE_URL")


def test_the_order_tables_check():
    result = _check("order_tables")
    _assert_green(result)
    assert "FACT_ORDER_LIST: 433 columns, 245 sizes" in result.detail
    assert "swp_ORDER_LIST_SYNC: 433 columns, 245 sizes" in result.detail
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {q('FACT_ORDER_LIST')} DROP COLUMN {q('NOTES')}")
        cursor.execute(f"ALTER TABLE {q('ORDER_LIST_LINES')} RENAME TO {q('ORDER_LIST_LINES_OLD')}")
    result = _check("order_tables")
    _assert_red(result, "FACT_ORDER_LIST lacks 1 column(s): NOTES", "Point DATABASE_URL at the ORDERS database")
    assert "ORDER_LIST_LINES does not exist" in result.detail


def test_the_delta_tables_check():
    _assert_green(_check("delta_tables"))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {q('ORDER_LIST_' + 'DELTA')} (id INTEGER PRIMARY KEY)")
    _assert_red(_check("delta_tables"), "exists, 0 row(s)", "Run python manage.py drop_delta_tables")


# --- runtime -----------------------------------------------------------------------------------------


def test_the_worker_check():
    _assert_red(_check("worker"), "no django-q2 cluster has reported", "Start the worker")
    _publish_cluster_stat()
    result = _check("worker")
    _assert_green(result)
    assert "1 cluster(s)" in result.detail and "Idle" in result.detail


def test_the_deploy_check(settings):
    settings.DEBUG = True
    settings.ORDEROPS_CONSOLE_URL = DEPLOY_SETTINGS["ORDEROPS_CONSOLE_URL"]
    _assert_red(_check("deploy_checks"), "message(s): security.W004", "Run python manage.py check --deploy")
    for name, value in DEPLOY_SETTINGS.items():
        setattr(settings, name, value)
    _assert_green(_check("deploy_checks"))


def test_the_last_development_run_check(monday):
    _assert_red(_check("last_development_run"), "no completed development run", "Sync the orders")
    stage_and_merge(60)
    only_po_pending("4755")
    row = FactOrderList.objects.filter(po_number="4755").first()
    FactOrderList.objects.filter(pk=row.pk).update(customer_name="NOT ON THE BOARD")
    failing = sync("development", pos=["4755"])
    assert failing.success_rate < 95
    _assert_red(
        _check("last_development_run", scope=Scope(pos=("4755",))),
        f"run {failing.pk} for PO 4755: 85.7 % (1 failed)",
        f"Fix the rows run {failing.pk} failed on",
    )
    FactOrderList.objects.filter(pk=row.pk).update(customer_name="GREYSON")
    from syncapp.services.sync import sync_run_execute, sync_run_retry_failed

    sync_run_execute(run_id=sync_run_retry_failed(run_id=failing.pk, enqueue=False).pk)
    call_command("mark_orders", "pending", "--po", "4755", "--env", "development")
    passing = sync("development", pos=["4755"])
    result = _check("last_development_run", scope=Scope(pos=("4755",)))
    _assert_green(result)
    assert f"run {passing.pk} for PO 4755: 100.0 %" in result.detail
    _assert_red(
        _check("last_development_run", scope=Scope(pos=("9999",))), "no completed development run for PO 9999", ""
    )


# --- the command -------------------------------------------------------------------------------------


def _command(capsys, *args) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        call_command("preflight", *args, no_color=True)
        raise SystemExit(0)
    return exit_.value.code, capsys.readouterr().out


def test_the_command_exits_1_and_prints_each_red_check_with_its_fix(capsys, settings):
    settings.MONDAY_API_TOKEN_PRODUCTION = ""
    code, out = _command(capsys, "--env", "production")
    assert code == 1
    assert "  FAIL  monday token configured: MONDAY_API_TOKEN_PRODUCTION is not set." in out
    assert "        fix: Set MONDAY_API_TOKEN_PRODUCTION" in out
    assert "  OK    configuration valid" in out
    assert out.strip().splitlines()[-1].startswith("preflight production: ")
    entry = AuditEntry.objects.get(action="preflight")
    assert entry.environment == "production" and entry.via == "cli"


def test_the_command_exits_0_when_every_check_is_green(capsys, monday, settings):
    for name, value in DEPLOY_SETTINGS.items():
        setattr(settings, name, value)
    stage_and_merge(60)
    only_po_pending("4755")
    assert sync("development", pos=["4755"]).success_rate == 100.0
    _publish_cluster_stat()
    code, out = _command(capsys, "--env", "production", "--po", "4755")
    assert code == 0, out
    assert "FAIL" not in out and out.count("  OK  ") == 10
    assert out.strip().splitlines()[-1] == "preflight production: 10 of 10 checks green; ready"
