"""orderops on SQL Server: the real mssql-django backend over a recording stand-in for the server.

Every statement is checked as SQL Server would take it (tests/sqlserver_standin/rules.py): no `%%`,
UNIQUEIDENTIFIER columns only receive dashed UUIDs, at most 2,100 parameters, no statement while
another cursor has unread rows, and T-SQL that parses. A statement SQL Server would refuse fails
the operation here, as it would in production.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.management import call_command
from django.db import connection

from syncapp.domain.scope import Scope
from syncapp.engine.claims import claim_candidates, rows_claim, rows_release
from syncapp.models import FactOrderList, ItemLink, OrderLine
from syncapp.order_tables import FACT_TABLE, LINES_TABLE, ORDER_TABLES, STAGING_TABLE, discover_size_columns
from syncapp.selectors.orders import scope_counts, scope_for_keys
from syncapp.services.orders import orders_mark
from syncapp.services.rollback import rollback_run_create, rollback_run_execute
from syncapp.services.sync import sync_run_create, sync_run_execute, sync_run_retry_failed
from tests.board_checks import write_sync_config
from tests.sqlserver_helpers import on_sql_server
from tests.sqlserver_standin import rules
from tests.sync_helpers import only_po_pending, point_at, set_staged, sync

APOSTROPHE_COLUMN = "CUSTOMER'S COLOUR CODE (CUSTOM FIELD) CUSTOMER PROVIDES THIS"
# Round trips per staged row for a merge of 1,000 new rows (then 100 changed); see benchmarks/README.md.
MERGE_ROUND_TRIPS_PER_ROW = 0.5


@pytest.fixture(scope="module")
def migrated(django_db_blocker):
    """A stand-in SQL Server on which `migrate` ran once; each test works on a copy of it."""
    with django_db_blocker.unblock(), on_sql_server("ORDERS_MIGRATED") as server:
        call_command("migrate", verbosity=0)
    return server


@pytest.fixture
def sqlserver(migrated, django_db_blocker):
    with django_db_blocker.unblock(), on_sql_server("ORDERS", template=migrated) as server:
        yield server


@pytest.fixture
def orders(sqlserver, emulator, settings):
    """60 demo order lines merged on the stand-in, PO 4755 (GREYSON) pending for development."""
    point_at(emulator, settings)
    call_command("seed_demo", orders=60, no_users=True)
    call_command("merge_orders")
    only_po_pending("4755")
    return sqlserver


def accepted(server) -> None:
    problems = server.problems
    assert not problems, "SQL Server would refuse:\n" + "\n".join(f"- {p}\n    {sql[:300]}" for p, sql in problems[:10])


def test_it_migrates_without_touching_the_order_tables(migrated):
    accepted(migrated)
    for recorded in migrated.statements:
        named = {t.lower() for t in rules.analyse(recorded.sql).tables}
        assert not named & {t.lower() for t in ORDER_TABLES}, recorded.sql
        assert not any(f"[{t}]" in recorded.sql for t in ORDER_TABLES), recorded.sql
    created = {
        re.match(r"CREATE TABLE \[(\w+)\]", r.sql)[1]: r.sql
        for r in migrated.statements
        if r.sql.startswith("CREATE TABLE")
    }
    for table in ("syncapp_itemlink", "syncapp_subitemlink", "syncapp_rowresult", "syncapp_boardchange"):
        assert "[record_uuid] uniqueidentifier" in created[table], created[table]


def test_it_reads_a_tables_layout_in_one_parameterised_query(sqlserver):
    connection.ensure_connection()
    mark = sqlserver.mark()
    sizes = discover_size_columns(FACT_TABLE)
    assert len(sizes) == 245
    statements = sqlserver.since(mark)
    assert len(statements) == 1 and statements[0].params == (FACT_TABLE,)
    from syncapp.order_tables import table_columns

    assert APOSTROPHE_COLUMN in table_columns(STAGING_TABLE)
    accepted(sqlserver)


def test_it_merges_new_changed_and_unchanged_rows(sqlserver):
    call_command("seed_demo", orders=40, no_users=True)
    call_command("merge_orders")
    first = FactOrderList.objects.order_by("aag_order_number").first()
    assert FactOrderList.objects.count() == 40 and OrderLine.objects.filter(record_uuid=first.pk).exists()
    stored = sqlserver.db.execute(f'SELECT record_uuid FROM "{FACT_TABLE}" LIMIT 1').fetchone()[0]
    assert re.fullmatch(r"[0-9A-F]{8}(-[0-9A-F]{4}){3}-[0-9A-F]{12}", stored)

    rows = list(FactOrderList.objects.order_by("aag_order_number")[:2])
    sizes = list(OrderLine.objects.filter(record_uuid=rows[0].pk, qty__gt=0).values_list("size_code", flat=True))
    set_staged(rows[0].aag_order_number, sizes[0], 0)  # a size that went
    set_staged(rows[1].aag_order_number, "USA ONLY LSTP 75% EX WORKS", "12.50")  # a column with %
    from syncapp.services.merge import orders_merge

    report = orders_merge()
    assert (report.new, report.changed, report.unchanged) == (0, 2, 38), report.summary()
    assert report.lines_zeroed == 1
    assert set(FactOrderList.objects.filter(pk=rows[0].pk).values_list("sync_state", "action_type")) == {
        ("PENDING", "INSERT")
    }
    assert OrderLine.objects.get(record_uuid=rows[0].pk, size_code=sizes[0]).qty == 0
    accepted(sqlserver)


def test_it_merges_1000_staged_rows_in_pages_and_a_bounded_number_of_round_trips(sqlserver, settings, tmp_path):
    from syncapp.services.merge import orders_merge

    # Pages smaller than the table: each must be read whole before the merge writes (no MARS).
    settings.ORDEROPS_SYNC_CONFIG = write_sync_config(tmp_path / "sync.toml", batch_rows=300)
    call_command("seed_demo", orders=1000, no_users=True)
    mark = sqlserver.mark()
    report = orders_merge()
    assert report.new == 1000
    new_trips = sum(r.round_trips for r in sqlserver.since(mark))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE [{STAGING_TABLE}] SET [CUSTOMER ALT PO] = %s WHERE [AAG ORDER NUMBER] IN "
            f"(SELECT TOP 100 [AAG ORDER NUMBER] FROM [{STAGING_TABLE}] ORDER BY [AAG ORDER NUMBER])",
            ["ALT-CHANGED"],
        )
    mark = sqlserver.mark()
    report = orders_merge()
    assert (report.changed, report.unchanged) == (100, 900)
    changed_trips = sum(r.round_trips for r in sqlserver.since(mark))
    print(f"merge round trips: {new_trips} for 1,000 new rows, {changed_trips} for 100 changed of 1,000")
    assert new_trips <= 1000 * MERGE_ROUND_TRIPS_PER_ROW
    assert changed_trips <= 100 * 1.5 + 10
    accepted(sqlserver)


def test_it_claims_syncs_writes_back_and_releases(orders, emulator):
    run = sync("development")
    assert (run.status, run.created_count, run.failed_count) == ("completed", 7, 0), run.error_message
    assert set(FactOrderList.objects.filter(po_number="4755").values_list("sync_state", flat=True)) == {"SYNCED"}
    assert ItemLink.objects.filter(environment="development").count() == 7

    call_command("mark_orders", "pending", "--po", "4755", "--env", "development")
    held = sync_run_create(
        environment="development", scope=Scope.from_dict({"pos": ["4755"]}), dry_run=False, enqueue=False
    )
    claimed = rows_claim(run=held, record_uuids=claim_candidates(Scope.parse(pos=["4755"])))
    assert len(claimed) == 7 and set(claimed.values()) == {"UPDATE"}
    assert rows_release(run=held, reason="test.") == 7
    assert set(FactOrderList.objects.filter(po_number="4755").values_list("sync_state", "action_type")) == {
        ("PENDING", "UPDATE")
    }
    accepted(orders)


def test_it_marks_orders_by_customer_po_inversion_and_environment(orders):
    other = FactOrderList.objects.exclude(customer_name="GREYSON").values_list("customer_name", flat=True)[0]
    call_command("mark_orders", "completed", "--customer", "GREYSON", "--invert")
    call_command("mark_orders", "pending", "--customer", other.lower(), "--env", "production")
    assert (
        not FactOrderList.objects.exclude(customer_name__in=["GREYSON", other]).exclude(sync_state="COMPLETED").exists()
    )
    assert set(FactOrderList.objects.filter(customer_name=other).values_list("sync_state", "action_type")) == {
        ("PENDING", "INSERT")
    }
    accepted(orders)


def test_it_keeps_a_selection_over_several_customers_under_2100_parameters(orders):
    keys = sorted(set(FactOrderList.objects.values_list("customer_name", "po_number")))
    assert len(scope_for_keys(keys).pos) == len({po for _, po in keys})
    real = [str(u) for u in FactOrderList.objects.values_list("record_uuid", flat=True)]
    # A console selection over many customers carries both its POs and its order lines' uuids; each
    # list stays under mssql-django's 2,048 (past which it fills a temp table), together they do not.
    pos = sorted({po for _, po in keys}) + [f"9{n:05d}" for n in range(1000)]
    scope = Scope.parse(pos=pos[:1000], record_uuids=real + [str(uuid.uuid4()) for _ in range(1500)])
    assert len(scope.pos) + len(scope.record_uuids) > 2100
    assert scope_counts(scope).lines == 60
    assert len(claim_candidates(scope)) == FactOrderList.objects.filter(sync_state="PENDING").count()
    report = orders_mark(state="completed", scope=scope, via="cli")
    assert report.completed == 60
    assert max(len(r.params) for r in orders.statements) <= rules.MAX_PARAMETERS
    accepted(orders)


def test_it_retries_failed_rows(orders):
    row = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    FactOrderList.objects.filter(pk=row.pk).update(customer_name="NOT YET ON THE BOARD")
    first = sync("development")
    assert first.failed_count == 1
    FactOrderList.objects.filter(pk=row.pk).update(customer_name="GREYSON")
    retry = sync_run_execute(run_id=sync_run_retry_failed(run_id=first.pk, enqueue=False).pk)
    assert (retry.created_count, retry.failed_count) == (1, 0), retry.error_message
    accepted(orders)


def test_it_rolls_back_an_update_and_restores_the_rows(orders):
    first = sync("development")
    changed = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    set_staged(changed.aag_order_number, "CUSTOMER ALT PO", "ALT-999")
    call_command("merge_orders")
    update = sync("development")
    assert (update.updated_count, update.failed_count) == (1, 0), update.error_message
    rollback = rollback_run_execute(rollback_run_id=rollback_run_create(run_id=update.pk, via="cli").pk)
    assert rollback.status == "completed", rollback.error_message
    assert first.status == "completed"
    assert FactOrderList.objects.get(pk=changed.pk).sync_state in {"PENDING", "SYNCED"}
    accepted(orders)


def test_it_runs_preflight_and_the_delta_cleanup_report(orders, capsys):
    with pytest.raises(SystemExit):
        call_command("preflight", "--env", "development")
    call_command("drop_delta_tables")
    out = capsys.readouterr().out
    print(out)
    assert "ORDER_LIST_DELTA: does not exist" in out
    assert f"{LINES_TABLE}" in out or "size columns" in out
    accepted(orders)


def test_it_creates_a_run_from_a_dry_run_scope(orders):
    run = sync_run_create(
        environment="development", scope=Scope.from_dict({"customer": "greyson"}), dry_run=True, enqueue=False
    )
    run = sync_run_execute(run_id=run.pk)
    assert run.status == "completed" and run.total_rows == 7
    accepted(orders)


def test_it_adds_the_state_index_with_a_statement_sql_server_knows(sqlserver, settings):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("syncapp.migrations.0006_admin_role_and_state_index")
    settings.ORDEROPS_MANAGE_ORDER_TABLES = True
    with connection.schema_editor() as editor:
        migration.add_index(apps, editor)
    assert any(r.sql.startswith("CREATE INDEX [ix_fol_state_customer_po]") for r in sqlserver.statements)
    accepted(sqlserver)


def test_it_runs_the_documented_smoke_test_against_a_staging_copy(django_db_blocker, emulator, settings, capsys):
    import shlex
    from pathlib import Path

    from django.conf import settings as django_settings

    from syncapp.services.demo import staging_fill

    doc = (Path(django_settings.BASE_DIR) / "docs" / "deployment.md").read_text(encoding="utf-8")
    block = re.search(r'```sh title="smoke-test"\n(.*?)```', doc, re.DOTALL)[1]
    commands = [shlex.split(line)[2:] for line in block.splitlines() if line.startswith(".venv/bin/python manage.py")]
    assert [c[0] for c in commands] == ["check", "migrate", "migrate", "preflight", "merge_orders", "sync_orders"]
    point_at(emulator, settings)
    with django_db_blocker.unblock(), on_sql_server("ORDERS_STAGING") as server:
        staging_fill(orders=30)  # the copy holds production's staged rows before orderops ever ran
        for name, *arguments in commands:
            if name == "check":
                continue  # reads settings only; the test settings are not production's
            try:
                call_command(name, *arguments)
            except SystemExit as stop:
                assert (name, stop.code) == ("preflight", 1), "only preflight may exit non-zero on a first run"
        accepted(server)
    out = capsys.readouterr().out
    assert "would merge 30 staged rows: 30 new" in out
    assert "order tables have the expected columns: FACT_ORDER_LIST: 433 columns, 245 sizes" in out
    assert re.search(r"run \d+: dry run", out), out[-2000:]


def test_it_drops_empty_delta_tables_after_checking_their_dependants(sqlserver, capsys):
    with connection.cursor() as cursor:
        for table in ("ORDER_LIST_DELTA", "ORDER_LIST_LINES_DELTA"):
            cursor.execute(
                f"CREATE TABLE [{table}] ([id] int NOT NULL PRIMARY KEY, [record_uuid] uniqueidentifier NULL)"
            )
    call_command("drop_delta_tables")
    assert "ORDER_LIST_DELTA: exists, 0 row(s), dependants: none; can be dropped." in capsys.readouterr().out
    call_command("drop_delta_tables", "--execute")
    assert "Dropped ORDER_LIST_DELTA, ORDER_LIST_LINES_DELTA." in capsys.readouterr().out
    assert not {"order_list_delta", "order_list_lines_delta"} & set(sqlserver.catalogue.names)
    accepted(sqlserver)


def test_it_serves_the_console_and_marks_a_selection_over_several_customers(orders):
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django.urls import reverse

    from syncapp.roles import OPS
    from tests.console_helpers import key

    user = User.objects.create_user(username="olivia.ops", password="x" * 20)
    user.groups.add(Group.objects.get(name=OPS))
    client = Client()
    client.force_login(user)
    for page in ("/", "/orders/", "/orders/?customer=GREYSON&state=PENDING&sort=po", "/runs/", "/audit/"):
        assert client.get(page).status_code == 200, page
    keys = sorted(set(FactOrderList.objects.values_list("customer_name", "po_number")))[:6]
    assert len({customer for customer, _ in keys}) > 1
    selection = {"state": "completed", "key": [key(customer, po) for customer, po in keys]}
    confirm = client.post(reverse("orders_mark"), selection)
    lines = FactOrderList.objects.filter(po_number__in=[po for _, po in keys]).count()
    assert confirm.status_code == 200 and confirm.context["counts"].lines == lines
    client.post(
        reverse("orders_mark"), {"state": "completed", "scope": confirm.context["scope_json"], "confirmed": "yes"}
    )
    assert FactOrderList.objects.filter(po_number__in=[po for _, po in keys], sync_state="COMPLETED").count() == lines
    preview = client.post(reverse("orders_preview"), {"key": [key(customer, po) for customer, po in keys]})
    assert preview.status_code == 302 and preview.url.startswith("/runs/"), "a preview is a dry run's page"
    accepted(orders)


def test_it_matches_order_numbers_as_sql_server_compares_them(sqlserver):
    from syncapp.services.merge import orders_merge

    call_command("seed_demo", orders=10, no_users=True)
    orders_merge()
    first = FactOrderList.objects.order_by("aag_order_number").first()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE [{STAGING_TABLE}] SET [AAG ORDER NUMBER] = %s WHERE [AAG ORDER NUMBER] = %s",
            [first.aag_order_number.lower() + "  ", first.aag_order_number],
        )
    report = orders_merge()
    assert report.new == 0, "a case-insensitive collation makes it the same order line"
    assert FactOrderList.objects.count() == 10
    accepted(sqlserver)


def test_it_claims_exactly_its_rows_when_a_trigger_inflates_row_counts(orders, caplog):
    orders.trigger_rows["fact_order_list"] = 3  # a trigger without SET NOCOUNT ON
    run = sync("development")
    assert (run.status, run.created_count, run.failed_count) == ("completed", 7, 0), run.error_message
    assert "should SET NOCOUNT ON" in caplog.text
    accepted(orders)


def test_it_retries_thousands_of_failed_rows(orders):
    from syncapp.models import RowResult

    run = sync_run_create(environment="development", scope=Scope(), dry_run=False, enqueue=False)
    real = list(FactOrderList.objects.values_list("record_uuid", flat=True))
    FactOrderList.objects.update(sync_state="ERROR", action_type="INSERT")
    RowResult.objects.bulk_create(
        RowResult(run=run, record_uuid=u, action="create", outcome=RowResult.Outcome.ERROR)
        for u in real + [uuid.uuid4() for _ in range(2500)]
    )
    retry = sync_run_retry_failed(run_id=run.pk, enqueue=False)
    assert sorted(retry.scope["record_uuids"]) == sorted(str(u) for u in real)
    assert FactOrderList.objects.filter(sync_state="PENDING").count() == len(real)
    assert max(len(r.params) for r in orders.statements) <= rules.MAX_PARAMETERS
    accepted(orders)
