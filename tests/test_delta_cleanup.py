"""drop_delta_tables on the local database (SQLite, or PostgreSQL with DATABASE_URL): report, drop, refuse."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from syncapp.models import AuditEntry
from syncapp.selectors.delta_tables import delta_tables_inspect
from syncapp.services.delta_cleanup import delta_tables_cleanup

pytestmark = pytest.mark.django_db

# Built here, not imported: the scan in test_no_delta_tables.py must keep finding the real names in
# the delta-table selector and the cleanup service only.
LINES_DELTA = "ORDER_LIST_" + "LINES_DELTA"
ORDERS_DELTA = "ORDER_LIST_" + "DELTA"
q = connection.ops.quote_name


def _sql(*statements: str) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _create_delta_tables() -> None:
    _sql(
        f"CREATE TABLE {q(ORDERS_DELTA)} (id INTEGER PRIMARY KEY, record_uuid VARCHAR(36), sync_state VARCHAR(10))",
        f"CREATE TABLE {q(LINES_DELTA)} (id INTEGER PRIMARY KEY, record_uuid VARCHAR(36), size_code VARCHAR(20))",
    )


def _tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        call_command("drop_delta_tables", *args)
        raise SystemExit(0)
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def test_it_reports_tables_that_are_already_gone_and_executes_as_a_no_op(capsys):
    code, out, _ = _run(capsys)
    assert code == 0
    assert f"{ORDERS_DELTA}: does not exist" in out and f"{LINES_DELTA}: does not exist" in out
    assert "Nothing to do" in out
    code, out, _ = _run(capsys, "--execute")
    assert code == 0 and "Nothing to drop" in out
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["delta_tables_drop", "delta_tables_report"]


def test_it_drops_empty_tables_nothing_depends_on(capsys):
    _create_delta_tables()
    code, out, _ = _run(capsys)
    assert code == 0
    assert f"{ORDERS_DELTA}: exists, 0 row(s), dependants: none; can be dropped." in out
    assert "Report only: nothing was changed" in out
    assert {ORDERS_DELTA, LINES_DELTA} <= _tables(), "a report never drops"

    code, out, _ = _run(capsys, "--execute")
    assert code == 0, out
    assert f"Dropped {ORDERS_DELTA}, {LINES_DELTA}." in out
    assert not {ORDERS_DELTA, LINES_DELTA} & _tables()
    entry = AuditEntry.objects.filter(action="delta_tables_drop").get()
    assert entry.via == "cli" and [t["dropped"] for t in entry.details["tables"]] == [True, True]


def test_it_refuses_a_table_that_still_holds_rows_and_drops_nothing(capsys):
    _create_delta_tables()
    _sql(f"INSERT INTO {q(LINES_DELTA)} (id, record_uuid, size_code) VALUES (1, 'x', 'M')")
    code, _out, err = _run(capsys, "--execute")
    assert code == 1
    assert f"{LINES_DELTA}: it still holds 1 row(s)" in err
    assert {ORDERS_DELTA, LINES_DELTA} <= _tables(), "the empty table is not dropped either: all or nothing"
    assert AuditEntry.objects.filter(action="delta_tables_drop_refused").count() == 1


def test_it_refuses_a_table_a_view_reads(capsys):
    _create_delta_tables()
    _sql(f"CREATE VIEW {q('v_delta_sizes')} AS SELECT record_uuid, size_code FROM {q(LINES_DELTA)}")
    reports = {r.table: r for r in delta_tables_inspect()}
    assert [d.kind for d in reports[LINES_DELTA].dependants] == ["view"]
    assert reports[ORDERS_DELTA].dependants == [], "a whole-word match: the lines table is not the orders table"
    code, _out, err = _run(capsys, "--execute")
    assert code == 1 and "v_delta_sizes" in err and "drop or change them first" in err
    assert {ORDERS_DELTA, LINES_DELTA} <= _tables()


def test_it_refuses_a_table_another_table_references(capsys):
    _create_delta_tables()
    _sql(f"CREATE TABLE {q('delta_notes')} (id INTEGER PRIMARY KEY, delta_id INTEGER REFERENCES {q(ORDERS_DELTA)}(id))")
    report = delta_tables_cleanup(execute=True)
    assert report.refusal and "foreign key" in report.refusal and "delta_notes" in report.refusal
    assert ORDERS_DELTA in _tables()


def test_it_refuses_a_table_a_trigger_writes_to(capsys):
    _create_delta_tables()
    if connection.vendor == "postgresql":
        _sql(
            f"CREATE FUNCTION log_delta() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"INSERT INTO {q(ORDERS_DELTA)} (id, record_uuid) VALUES (1, NEW.record_uuid::text); RETURN NEW; END $$",
            f"CREATE TRIGGER fact_to_delta AFTER UPDATE ON {q('FACT_ORDER_LIST')} "
            "FOR EACH ROW EXECUTE FUNCTION log_delta()",
        )
        expected = "function log_delta()"
    else:
        _sql(
            f"CREATE TRIGGER fact_to_delta AFTER UPDATE ON {q('FACT_ORDER_LIST')} BEGIN "
            f"INSERT INTO {q(ORDERS_DELTA)} (record_uuid) VALUES (NEW.record_uuid); END"
        )
        expected = "trigger fact_to_delta"
    report = delta_tables_cleanup(execute=True)
    assert expected in report.refusal
    assert ORDERS_DELTA in _tables()


def test_it_reports_a_trigger_on_the_table_itself():
    _create_delta_tables()
    if connection.vendor == "postgresql":
        _sql(
            "CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
            f"CREATE TRIGGER delta_touch BEFORE INSERT ON {q(ORDERS_DELTA)} FOR EACH ROW EXECUTE FUNCTION noop()",
        )
    else:
        _sql(f"CREATE TRIGGER delta_touch AFTER INSERT ON {q(ORDERS_DELTA)} BEGIN SELECT 1; END")
    report = {r.table: r for r in delta_tables_inspect()}[ORDERS_DELTA]
    assert [(d.kind, d.name) for d in report.dependants] == [("trigger", "delta_touch")]
    assert "depend on it" in report.blocker
