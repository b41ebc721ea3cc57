"""sync_orders and retry_run: exit codes, last line, the production confirmation; the django-q2 task path."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from syncapp.domain.scope import Scope
from syncapp.models import SyncRun
from tests.sync_helpers import only_po_pending, point_at, stage_and_merge

pytestmark = pytest.mark.django_db


@pytest.fixture
def greyson(emulator, settings):
    point_at(emulator, settings)
    stage_and_merge(60)
    only_po_pending("4755")
    return emulator


def _run(capsys, *args):
    with pytest.raises(SystemExit) as exit_:
        call_command("sync_orders", *args)
        raise SystemExit(0)
    return exit_.value.code, capsys.readouterr()


def test_it_exits_0_and_ends_with_the_run_id_when_everything_synced(greyson, capsys):
    code, out = _run(capsys, "--env", "development", "--po", "4755")
    run = SyncRun.objects.get()
    assert code == 0
    assert out.out.strip().splitlines()[-1].startswith(f"run {run.pk}: completed SUCCESS")


def test_it_exits_1_when_some_rows_failed(greyson, capsys):
    from syncapp.models import FactOrderList

    row = FactOrderList.objects.filter(po_number="4755").first()
    FactOrderList.objects.filter(pk=row.pk).update(customer_name="NOT ON THE BOARD")
    code, out = _run(capsys, "--env", "development")
    assert code == 1
    assert "ERROR" in out.out and "NOT ON THE BOARD" in out.out
    assert out.out.strip().splitlines()[-1].startswith("run ")


def test_it_exits_2_for_a_missing_token(greyson, capsys, settings):
    settings.MONDAY_API_TOKEN_PRODUCTION = ""
    code, out = _run(capsys, "--env", "production")
    assert code == 2 and "MONDAY_API_TOKEN_PRODUCTION is not set" in out.err
    assert not SyncRun.objects.exists()


def test_it_exits_2_for_an_unknown_environment():
    import subprocess
    import sys

    from django.conf import settings

    result = subprocess.run(
        [sys.executable, "manage.py", "sync_orders", "--env", "staging"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "invalid choice: 'staging'" in result.stderr


def test_a_dry_run_prints_the_plan_and_writes_nothing(greyson, capsys):
    code, out = _run(capsys, "--env", "development", "--dry-run")
    assert code == 0
    assert "create group 'GREYSON SP26'" in out.out and "would create 7" in out.out
    assert not greyson.state.item_count()


def test_the_queue_runs_a_run_enqueued_on_commit(greyson, django_capture_on_commit_callbacks):
    from django_q.models import OrmQ

    from syncapp.services.sync import sync_run_create
    from syncapp.tasks import run_task

    with django_capture_on_commit_callbacks(execute=True):
        run = sync_run_create(environment="development", scope=Scope.from_dict({"pos": ["4755"]}), dry_run=False)
    assert OrmQ.objects.count() == 1, "the task is enqueued once the run is committed"
    assert OrmQ.objects.get().task["func"] == "syncapp.tasks.run_task"
    assert run_task(run.pk) == f"run {run.pk}: completed"
    assert run_task(run.pk) == f"run {run.pk}: completed", "running the task again changes nothing"
    assert greyson.state.item_count() > 7


def test_it_refuses_a_production_sync_without_the_typed_board(greyson, capsys):
    call_command("mark_orders", "pending", "--po", "4755", "--env", "production")
    code, out = _run(capsys, "--env", "production", "--po", "4755")
    assert code == 2 and '--confirm "<board name or id>"' in out.err
    assert "9200517329" in out.err, "the message names the board to type"
    code, out = _run(capsys, "--env", "production", "--po", "4755", "--confirm", "9200517328")
    assert code == 2
    assert not SyncRun.objects.exists()


def test_it_syncs_to_production_with_the_board_name_typed_in_any_case(greyson, capsys):
    from syncapp.sync_config import get_sync_config

    call_command("mark_orders", "pending", "--po", "4755", "--env", "production")
    name = get_sync_config().environment("production").items_board.name
    code, out = _run(capsys, "--env", "production", "--po", "4755", "--confirm", f" {name.upper()} ")
    assert code == 0, out.err
    assert SyncRun.objects.get().environment == "production"


def test_a_production_dry_run_needs_no_confirmation(greyson, capsys):
    code, out = _run(capsys, "--env", "production", "--po", "4755", "--dry-run")
    assert code == 0, out.err


def test_the_services_refuse_an_unconfirmed_production_sync_and_retry(greyson):
    from syncapp.domain.errors import RunRefusedError
    from syncapp.services.confirmation import ProductionConfirmationError
    from syncapp.services.sync import sync_run_create, sync_run_retry_failed

    with pytest.raises(ProductionConfirmationError, match="type the production board's name"):
        sync_run_create(environment="production", scope=Scope(), dry_run=False, enqueue=False)
    run = sync_run_create(
        environment="production", scope=Scope(), dry_run=False, enqueue=False, confirm_text="9200517329"
    )
    SyncRun.objects.filter(pk=run.pk).update(status="failed", failed_count=1)
    with pytest.raises(ProductionConfirmationError, match="retry the failed rows on production"):
        sync_run_retry_failed(run_id=run.pk, enqueue=False)
    preview = sync_run_create(environment="development", scope=Scope(), dry_run=True, enqueue=False)
    with pytest.raises(RunRefusedError, match="A preview wrote nothing"):
        sync_run_retry_failed(run_id=preview.pk, enqueue=False)


def _retry(capsys, *args):
    with pytest.raises(SystemExit) as exit_:
        call_command("retry_run", *args)
        raise SystemExit(0)
    return exit_.value.code, capsys.readouterr()


def _failed_production_run(capsys):
    from syncapp.models import FactOrderList
    from syncapp.sync_config import get_sync_config

    call_command("mark_orders", "pending", "--po", "4755", "--env", "production")
    row = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    customer = row.customer_name
    FactOrderList.objects.filter(pk=row.pk).update(customer_name="NOT ON THE BOARD")
    board_id = get_sync_config().environment("production").items_board_id
    code, _ = _run(capsys, "--env", "production", "--po", "4755", "--confirm", str(board_id))
    assert code == 1
    FactOrderList.objects.filter(pk=row.pk).update(customer_name=customer)
    return SyncRun.objects.get(), row.pk, board_id


def test_retry_run_refuses_production_without_the_typed_board_and_changes_nothing(greyson, capsys):
    from syncapp.models import FactOrderList

    run, row_pk, board_id = _failed_production_run(capsys)
    code, out = _retry(capsys, str(run.pk))
    assert code == 2 and '--confirm "<board name or id>"' in out.err and str(board_id) in out.err
    assert FactOrderList.objects.get(pk=row_pk).sync_state == "ERROR", "a refused retry leaves the row as it was"
    assert SyncRun.objects.count() == 1
    code, out = _retry(capsys, str(run.pk), "--confirm", "not the board")
    assert code == 2 and SyncRun.objects.count() == 1


def test_retry_run_retries_the_failed_rows_on_production_when_confirmed(greyson, capsys):
    from syncapp.models import FactOrderList

    run, row_pk, board_id = _failed_production_run(capsys)
    code, out = _retry(capsys, str(run.pk), "--confirm", str(board_id))
    retry = SyncRun.objects.exclude(pk=run.pk).get()
    assert code == 0, out.err
    assert retry.kind == "retry" and retry.parent_id == run.pk and retry.requested_via == "cli"
    assert out.out.strip().splitlines()[-1].startswith(f"run {retry.pk}: completed SUCCESS")
    assert FactOrderList.objects.get(pk=row_pk).sync_state == "SYNCED"


def test_retry_run_refuses_a_preview_and_an_unknown_run(greyson, capsys):
    code, _ = _run(capsys, "--env", "development", "--po", "4755", "--dry-run")
    preview = SyncRun.objects.get()
    code, out = _retry(capsys, str(preview.pk))
    assert code == 2 and "A preview wrote nothing" in out.err
    code, out = _retry(capsys, "9999")
    assert code == 2 and "there is no run 9999" in out.err
