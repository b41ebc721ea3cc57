"""Sync schedules: the staging fingerprint, firings (one run per staging change, overlaps skipped,
replays and downtime ignored), the safety rules (admins, production permission and confirmation),
the CLI, the console and the audit log."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ, Schedule
from django_q.scheduler import scheduler

from syncapp.domain.errors import PermissionRefusedError, ProductionConfirmationError
from syncapp.domain.scope import Scope
from syncapp.models import AuditEntry, FactOrderList, ScheduleSlot, SyncRun, SyncSchedule
from syncapp.order_tables import STAGING_TABLE, db_uuid, sql_name
from syncapp.selectors.staging import fingerprint_sql, staging_fingerprint
from syncapp.services.reconcile import reconcile_run_execute
from syncapp.services.schedules import (
    SCHEDULER_USERNAME,
    ScheduleError,
    schedule_pause,
    schedule_resume,
    schedule_set,
    schedule_tick,
    scheduler_user,
)
from syncapp.services.sync import sync_run_create, sync_run_execute
from tests.sqlserver_helpers import on_sql_server
from tests.sync_helpers import PROD_ITEMS, point_at, set_staged, stage_and_merge, sync

pytestmark = pytest.mark.django_db
TICK = "syncapp.tasks.schedules.schedule_tick_task"


def _q_schedules():
    """The django-q2 schedules that fire schedule ticks (other features keep schedules of their own)."""
    return Schedule.objects.filter(func=TICK)


@pytest.fixture
def staged(emulator, settings):
    """20 demo order lines staged and merged (all PENDING), the emulator standing in for monday."""
    point_at(emulator, settings)
    stage_and_merge(20)
    return emulator


def _first_staged() -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql_name('AAG ORDER NUMBER')}, {sql_name('CUSTOMER ALT PO')} FROM {sql_name(STAGING_TABLE)} "
            f"ORDER BY {sql_name('AAG ORDER NUMBER')}",
            [],
        )
        return cursor.fetchone()


def _slot(minutes_ago: float = 0):
    return (timezone.now() - timedelta(minutes=minutes_ago)).replace(microsecond=0)


def _tick(schedule: SyncSchedule, minutes_ago: float = 0) -> ScheduleSlot | None:
    return schedule_tick(schedule_id=schedule.pk, slot=_slot(minutes_ago).isoformat())


# --- the fingerprint ---------------------------------------------------------------------------


def test_it_changes_the_fingerprint_exactly_when_the_staging_table_changes(staged):
    first = staging_fingerprint()
    assert first.rows == 20 and first.checksum
    assert staging_fingerprint() == first, "reading it twice is the same answer"
    call_command("merge_orders")
    assert staging_fingerprint() == first, "a merge writes the order tables, not the staging table"

    aag, alt_po = _first_staged()
    set_staged(aag, "CUSTOMER ALT PO", "ALT-CHANGED")
    updated = staging_fingerprint()
    assert updated.rows == 20 and updated != first
    set_staged(aag, "CUSTOMER ALT PO", alt_po)
    assert staging_fingerprint() == first, "the checksum is of the content: the old value gives the old answer"

    set_staged(aag, "USA ONLY LSTP 75% EX WORKS", "12.50")  # a column whose name has %
    assert staging_fingerprint() != first
    set_staged(aag, "USA ONLY LSTP 75% EX WORKS", None)
    assert staging_fingerprint() == first

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {sql_name(STAGING_TABLE)} ({sql_name('record_uuid')}, {sql_name('AAG ORDER NUMBER')}, "
            f"{sql_name('sync_state')}) VALUES (%s, %s, %s)",
            [db_uuid(uuid.uuid4()), "NEW-ORDER-1", "NEW"],
        )
    inserted = staging_fingerprint()
    assert inserted.rows == 21 and inserted != first
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {sql_name(STAGING_TABLE)} WHERE {sql_name('AAG ORDER NUMBER')} IN (%s, %s)",
            ["NEW-ORDER-1", aag],
        )
    deleted = staging_fingerprint()
    assert deleted.rows == 19 and deleted not in (first, inserted)


def test_it_reads_the_fingerprint_in_one_statement_of_two_numbers(db):
    with CaptureQueriesContext(connection) as queries:
        staging_fingerprint()
    statements = [q["sql"] for q in queries.captured_queries]
    counted = [sql for sql in statements if sql.upper().startswith("SELECT COUNT(*), COALESCE(SUM(")]
    # SQLite reads the table's column list first (one PRAGMA); the others need nothing else.
    assert len(counted) == 1 and len(statements) <= 2, statements


def test_it_takes_the_fingerprint_on_sql_server_in_one_valid_statement(django_db_blocker):
    class ChecksumAgg:  # SQL Server's aggregate, modelled for the stand-in: XOR of the row checksums
        def __init__(self):
            self.value = 0

        def step(self, value):
            self.value ^= value or 0

        def finalize(self):
            return self.value

    with django_db_blocker.unblock(), on_sql_server("SCHEDULES_FINGERPRINT") as server:
        server.db.create_aggregate("CHECKSUM_AGG", 1, ChecksumAgg)
        # The stand-in is SQLite, which gives f(*) no arguments; the row's content is SQL Server's to read.
        server.db.create_function("BINARY_CHECKSUM", -1, lambda *values: hash(values) & 0x7FFFFFFF)
        call_command("seed_demo", orders=5, no_users=True)
        connection.ensure_connection()
        mark = server.mark()
        fingerprint = staging_fingerprint()
        statements = server.since(mark)
        assert fingerprint.rows == 5
        assert [s.sql for s in statements] == [
            f"SELECT COUNT_BIG(*), CHECKSUM_AGG(BINARY_CHECKSUM(*)) FROM [{STAGING_TABLE}]"
        ]
        assert fingerprint_sql() == statements[0].sql
        assert not server.problems, server.problems


# --- setting a schedule ------------------------------------------------------------------------


def test_it_sets_a_cron_schedule_that_drives_a_django_q_cron_schedule(admin_user, settings):
    assert settings.Q_CLUSTER["catch_up"] is False
    schedule = schedule_set(environment="development", cron=" 5  * * * * ", actor=admin_user)
    q = Schedule.objects.get(pk=schedule.q_schedule_id)
    assert (schedule.mode, schedule.cron, schedule.enabled) == ("cron", "5 * * * *", True)
    assert (q.schedule_type, q.cron, q.func, q.args) == (
        Schedule.CRON,
        "5 * * * *",
        "syncapp.tasks.schedules.schedule_tick_task",
        str(schedule.pk),
    )
    assert q.intended_date_kwarg == "slot" and q.repeats == -1
    assert timezone.localtime(q.next_run).minute == 5 and q.next_run > timezone.now()

    schedule = schedule_set(environment="development", after_refresh=True, actor=admin_user)
    q = Schedule.objects.get(pk=schedule.q_schedule_id)
    assert (q.schedule_type, q.minutes, q.cron) == (Schedule.MINUTES, 1, None)
    assert _q_schedules().count() == 1 and SyncSchedule.objects.count() == 1
    entry = AuditEntry.objects.filter(action="schedule_set").latest("id")
    assert entry.actor == admin_user and entry.via == "console" and "after each staging refresh" in entry.summary
    assert "cron 5 * * * *" in entry.summary, "the audit says what it was before"


def test_it_refuses_a_bad_cron_expression_naming_it_and_changes_nothing(admin_user):
    for bad, words in (("61 * * * *", "not a valid cron expression"), ("5 * * *", "five fields")):
        with pytest.raises(ScheduleError) as refused:
            schedule_set(environment="development", cron=bad, actor=admin_user)
        assert refused.value.field == "cron" and bad in str(refused.value) and words in str(refused.value)
    with pytest.raises(ScheduleError):
        schedule_set(environment="development", cron="5 * * * *", after_refresh=True, actor=admin_user)
    assert not SyncSchedule.objects.exists() and not _q_schedules().exists()
    assert not AuditEntry.objects.filter(action__startswith="schedule").exists()


def test_it_lets_only_admins_change_schedules(ops_user, admin_user):
    with pytest.raises(PermissionRefusedError, match="Only admins"):
        schedule_set(environment="development", cron="5 * * * *", actor=ops_user)
    schedule_set(environment="development", cron="5 * * * *", actor=admin_user)
    with pytest.raises(PermissionRefusedError):
        schedule_pause(environment="development", actor=ops_user)
    assert SyncSchedule.objects.get().enabled


def test_it_needs_the_production_permission_and_the_typed_board_for_production(admin_user, django_user_model):
    switcher = django_user_model.objects.create_user("sam.switch", password="x-x-x-x-x-1")
    switcher.user_permissions.add(*Permission.objects.filter(codename__in=["switch_environment", "view_console"]))
    with pytest.raises(PermissionRefusedError, match="sync to the production board"):
        schedule_set(environment="production", cron="5 * * * *", actor=switcher, confirm_text=PROD_ITEMS)
    with pytest.raises(ProductionConfirmationError, match="type the production board"):
        schedule_set(environment="production", cron="5 * * * *", actor=admin_user)
    with pytest.raises(ProductionConfirmationError):
        schedule_set(environment="production", cron="5 * * * *", actor=admin_user, confirm_text="9609317401")
    assert not SyncSchedule.objects.exists()

    schedule = schedule_set(environment="production", cron="5 * * * *", actor=admin_user, confirm_text=PROD_ITEMS)
    assert schedule.enabled and schedule.confirmed_board_id == int(PROD_ITEMS)
    schedule_pause(environment="production", actor=switcher)  # pausing is always safe
    with pytest.raises(ProductionConfirmationError):
        schedule_resume(environment="production", actor=admin_user)
    assert not SyncSchedule.objects.get().enabled and not _q_schedules().exists()
    schedule = schedule_resume(environment="production", actor=admin_user, confirm_text="customer master schedule")
    assert schedule.enabled and Schedule.objects.filter(pk=schedule.q_schedule_id).exists()
    assert list(
        AuditEntry.objects.filter(action__startswith="schedule").order_by("id").values_list("action", flat=True)
    ) == [
        "schedule_set",
        "schedule_pause",
        "schedule_resume",
    ]


def test_it_pauses_by_removing_the_django_q_schedule_and_a_late_tick_does_nothing(staged, admin_user):
    schedule = schedule_set(environment="development", cron="* * * * *", actor=admin_user)
    schedule_pause(environment="development", actor=admin_user)
    assert not _q_schedules().exists()
    assert _tick(schedule) is None, "a tick queued before the pause starts nothing"
    assert not ScheduleSlot.objects.exists() and not SyncRun.objects.exists()
    with pytest.raises(ScheduleError, match="already paused"):
        schedule_pause(environment="development", actor=admin_user)


# --- firings -----------------------------------------------------------------------------------


def test_it_merges_and_syncs_everything_pending_as_the_scheduler(staged, admin_user):
    schedule = schedule_set(environment="development", cron="5 * * * *", actor=admin_user)
    set_staged(_first_staged()[0], "CUSTOMER ALT PO", "ALT-NEW")
    slot = _tick(schedule)
    assert slot.outcome == "started" and "1 changed" in slot.merge_summary
    run = slot.run
    assert (run.requested_via, run.requested_by.username, run.scope, run.dry_run) == (
        "schedule",
        "scheduler",
        {},
        False,
    )
    run = sync_run_execute(run_id=run.pk)
    assert run.status == "completed" and run.created_count == 20
    assert AuditEntry.objects.filter(action="sync_start", via="schedule", actor_name="scheduler").count() == 1
    assert AuditEntry.objects.filter(action="merge_orders", via="schedule").count() == 1

    slot = _tick(schedule, minutes_ago=-60)
    assert slot.outcome == "nothing" and slot.run is None
    assert SyncRun.objects.count() == 1
    assert AuditEntry.objects.filter(action="schedule_slot", via="schedule").count() == 1


def test_it_runs_exactly_once_for_a_staging_change_over_two_ticks(staged, admin_user):
    schedule = schedule_set(environment="development", after_refresh=True, actor=admin_user)
    first = _tick(schedule, minutes_ago=3)
    assert first.outcome == "started", "the first look merges what was staged before the schedule existed"
    sync_run_execute(run_id=first.run_id)
    assert _tick(schedule, minutes_ago=2) is None, "staging unchanged: nothing done, nothing recorded"

    set_staged(_first_staged()[0], "CUSTOMER ALT PO", "ALT-REFRESHED")
    changed = _tick(schedule, minutes_ago=1)
    again = _tick(schedule)
    assert changed.outcome == "started" and "1 changed" in changed.merge_summary
    assert again is None
    assert SyncRun.objects.count() == 2 and ScheduleSlot.objects.count() == 2
    run = sync_run_execute(run_id=changed.run_id)
    assert run.status == "completed" and run.updated_count == 1


def test_it_skips_an_overlapping_slot_and_records_it_once(staged, admin_user):
    busy = sync_run_create(environment="development", scope=Scope.parse(pos=["4755"]), dry_run=False, enqueue=False)
    schedule = schedule_set(environment="development", cron="5 * * * *", actor=admin_user)
    slot = _tick(schedule)
    assert slot.outcome == "overlap" and slot.run == busy
    assert f"Run {busy.pk} was writing to the Development board" in slot.message
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [busy.pk], "no second run queued"
    assert schedule_tick(schedule_id=schedule.pk, slot=slot.slot) is None, "a replayed slot starts nothing"
    assert ScheduleSlot.objects.count() == 1
    entry = AuditEntry.objects.get(action="schedule_slot")
    assert entry.via == "schedule" and "skipped: another run was writing to the board" in entry.summary


def test_it_starts_a_put_off_after_refresh_sync_once_the_board_is_free(staged, admin_user):
    busy = sync_run_create(environment="development", scope=Scope.parse(pos=["4755"]), dry_run=False, enqueue=False)
    schedule = schedule_set(environment="development", after_refresh=True, actor=admin_user)
    assert _tick(schedule, minutes_ago=3).outcome == "overlap"
    assert _tick(schedule, minutes_ago=2) is None, "still busy: not recorded every minute"
    sync_run_execute(run_id=busy.pk)
    assert FactOrderList.objects.filter(sync_state="PENDING").exists()
    owed = _tick(schedule, minutes_ago=1)
    assert owed.outcome == "started" and owed.merge_summary == "", "no new merge: the staging table is unchanged"
    assert _tick(schedule) is None
    assert SyncRun.objects.count() == 2


def test_it_skips_a_cron_slot_that_comes_late_after_downtime(staged, admin_user):
    schedule = schedule_set(environment="development", cron="5 * * * *", actor=admin_user)
    slot = _tick(schedule, minutes_ago=45)
    assert slot.outcome == "missed" and "45 minutes late" in slot.message
    assert not SyncRun.objects.exists()


def test_django_q_fires_a_schedule_missed_during_downtime_once_not_per_slot(staged, admin_user, monkeypatch):
    # catch_up is off: django-q2 fires the overdue schedule once and moves it to the next slot from now.
    # Its scheduler closes "old" connections first, which would close this test's transaction.
    monkeypatch.setattr("django_q.scheduler.close_old_django_connections", lambda: None)
    Schedule.objects.all().delete()
    schedule = schedule_set(environment="development", cron="5 * * * *", actor=admin_user)
    Schedule.objects.filter(pk=schedule.q_schedule_id).update(next_run=timezone.now() - timedelta(hours=3))
    scheduler(broker=get_broker())
    assert OrmQ.objects.count() == 1
    assert Schedule.objects.get(pk=schedule.q_schedule_id).next_run > timezone.now()
    scheduler(broker=get_broker())
    assert OrmQ.objects.count() == 1


def test_it_refuses_and_records_a_production_run_once_the_configured_board_changed(staged, admin_user):
    schedule = schedule_set(environment="production", cron="5 * * * *", actor=admin_user, confirm_text=PROD_ITEMS)
    SyncSchedule.objects.filter(pk=schedule.pk).update(confirmed_board_id=1234567)  # confirmed for another board
    slot = _tick(schedule)
    assert slot.outcome == "refused" and "confirmed for production board 1234567" in slot.message
    assert PROD_ITEMS in slot.message and not SyncRun.objects.exists()

    SyncSchedule.objects.filter(pk=schedule.pk).update(confirmed_board_id=int(PROD_ITEMS))
    slot = _tick(schedule, minutes_ago=-60)
    assert slot.outcome == "started" and slot.run.environment == "production"


def test_it_records_a_failed_firing_in_words_and_keeps_the_schedule(staged, admin_user, settings):
    schedule = schedule_set(environment="development", cron="5 * * * *", actor=admin_user)
    settings.MONDAY_API_TOKEN_DEVELOPMENT = ""
    slot = _tick(schedule)
    assert slot.outcome == "refused" and "MONDAY_API_TOKEN_DEVELOPMENT is not set" in slot.message
    assert SyncSchedule.objects.get().enabled


def test_the_scheduler_user_cannot_log_in_and_holds_only_what_a_sync_needs(db):
    user = scheduler_user()
    assert user.username == SCHEDULER_USERNAME and not user.has_usable_password()
    assert sorted(user.user_permissions.values_list("codename", flat=True)) == [
        "mark_orders",
        "sync_development",
        "sync_production",
    ]
    assert not user.groups.exists() and not user.is_staff and not user.is_superuser
    assert scheduler_user() == user
    assert not Client().login(username=SCHEDULER_USERNAME, password="")


# --- the CLI -----------------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("sync_schedule", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def test_the_cli_sets_shows_pauses_and_resumes(db):
    code, out, _ = _cli("show", "--env", "development")
    assert code == 0 and "no sync schedule" in out
    code, out, _ = _cli("set", "--env", "development", "--cron", "5 * * * *")
    assert code == 0 and "cron 5 * * * * (enabled)" in out and "next firing" in out
    code, out, _ = _cli("pause", "--env", "development")
    assert code == 0 and "(paused)" in out and not _q_schedules().exists()
    code, out, _ = _cli("resume", "--env", "development")
    assert code == 0 and "(enabled)" in out and _q_schedules().count() == 1
    code, out, _ = _cli("set", "--env", "development", "--after-refresh")
    assert code == 0 and "after each staging refresh (enabled)" in out
    assert set(AuditEntry.objects.values_list("via", flat=True)) == {"cli"}


def test_the_cli_exits_2_for_bad_arguments_and_refusals(db):
    code, _, err = _cli("set", "--env", "development", "--cron", "every hour")
    assert code == 2 and "--cron" in err and "'every hour'" in err
    code, _, err = _cli("set", "--env", "development")
    assert code == 2 and "--after-refresh" in err
    code, _, err = _cli("pause", "--env", "development")
    assert code == 2 and "no sync schedule yet" in err
    code, _, err = _cli("set", "--env", "production", "--after-refresh")
    assert code == 2 and "--confirm" in err and "type the production board" in err
    assert not SyncSchedule.objects.exists()
    code, out, _ = _cli("set", "--env", "production", "--after-refresh", "--confirm", PROD_ITEMS)
    assert code == 0 and "(enabled)" in out


# --- the console -------------------------------------------------------------------------------


def test_the_environments_page_shows_each_schedule_with_its_last_slots(staged, admin_user, admin_client_, ops_client):
    schedule = schedule_set(environment="development", cron="5 * * * *", actor=admin_user)
    slot = _tick(schedule)
    html = ops_client.get(reverse("environments")).content.decode()
    assert 'data-testid="schedule-development"' in html and 'data-testid="schedule-production"' in html
    assert "<code>5 * * * *</code>" in html and "enabled" in html
    assert reverse("run_detail", args=[slot.run_id]) in html and "started a run" in html
    assert "schedule-set" not in html and "schedule-pause" not in html, "ops see the schedule, not the forms"
    admin_html = admin_client_.get(reverse("environments")).content.decode()
    assert 'data-testid="schedule-pause"' in admin_html and 'data-testid="schedule-set"' in admin_html
    assert "Next firing" in admin_html and ":05" in admin_html


def test_an_admin_sets_a_schedule_in_the_console_and_a_bad_cron_is_a_form_error(admin_client_):
    url = reverse("schedule_detail", args=["development"])
    response = admin_client_.post(url, {"mode": "cron", "cron": "5 25 * * *"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "&#x27;5 25 * * *&#x27; is not a valid cron expression" in html and "Nothing was changed." in html
    assert 'value="5 25 * * *"' in html, "what was typed is kept"
    assert not SyncSchedule.objects.exists()

    response = admin_client_.post(url, {"mode": "after_refresh"}, follow=True)
    assert "The Development schedule is set and running" in response.content.decode()
    assert SyncSchedule.objects.get().mode == "after_refresh"
    response = admin_client_.post(reverse("schedule_pause", args=["development"]), follow=True)
    assert "paused" in response.content.decode() and not SyncSchedule.objects.get().enabled
    assert AuditEntry.objects.filter(action="schedule_pause", via="console").exists()


def test_the_console_asks_for_the_board_to_schedule_production(admin_client_, ops_client):
    url = reverse("schedule_detail", args=["production"])
    response = admin_client_.post(url, {"mode": "cron", "cron": "5 * * * *", "confirm_board": "wrong"})
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="schedule-confirm-error"' in html
    assert not SyncSchedule.objects.exists()
    admin_client_.post(url, {"mode": "cron", "cron": "5 * * * *", "confirm_board": PROD_ITEMS})
    assert SyncSchedule.objects.get(environment="production").confirmed_board_id == int(PROD_ITEMS)
    assert ops_client.post(reverse("schedule_pause", args=["production"])).status_code == 403
    assert SyncSchedule.objects.get().enabled

    admin_client_.post(reverse("schedule_pause", args=["production"]))
    resume = reverse("schedule_resume", args=["production"])
    html = admin_client_.post(resume, {"confirm_board": "Development board"}).content.decode()
    assert 'data-testid="schedule-confirm-error"' in html and "Resume the production schedule" in html
    assert not SyncSchedule.objects.get().enabled
    admin_client_.post(resume, {"confirm_board": "Customer Master Schedule"})
    assert SyncSchedule.objects.get().enabled
    page = ops_client.get(reverse("schedule_detail", args=["production"])).content.decode()
    assert "after each refresh" not in page and "<code>5 * * * *</code>" in page and "schedule-set" not in page


# --- the reconcile job ---------------------------------------------------------------------------


def test_a_reconcile_schedule_fires_a_reconcile_of_the_whole_board_as_the_scheduler(staged, admin_user):
    sync("development", pos=["4755"])
    schedule = schedule_set(environment="development", job="reconcile", cron="30 2 * * *", actor=admin_user)
    q = Schedule.objects.get(pk=schedule.q_schedule_id)
    assert (q.name, q.schedule_type, q.cron, q.args) == (
        "orderops reconcile development",
        Schedule.CRON,
        "30 2 * * *",
        str(schedule.pk),
    )
    set_staged(_first_staged()[0], "CUSTOMER ALT PO", "ALT-NOT-MERGED")

    slot = _tick(schedule)
    run = slot.run
    assert slot.outcome == "started" and slot.merge_summary == ""
    assert (run.kind, run.requested_via, run.requested_by.username, run.scope, run.dry_run) == (
        "reconcile",
        "schedule",
        "scheduler",
        {},
        True,
    )
    assert not AuditEntry.objects.filter(action="merge_orders", via="schedule").exists(), "a reconcile merges nothing"
    assert AuditEntry.objects.filter(action="reconcile_start", via="schedule", actor_name="scheduler").count() == 1
    run = reconcile_run_execute(run_id=run.pk)
    assert run.status == "completed" and run.summary["reconcile"]["lines_compared"] == 7
    assert _tick(schedule) is None, "a replayed slot starts nothing"
    assert SyncRun.objects.filter(kind="reconcile").count() == 1


def test_a_reconcile_slot_is_skipped_while_the_board_is_busy(staged, admin_user):
    busy = sync_run_create(environment="development", scope=Scope.parse(pos=["4755"]), dry_run=False, enqueue=False)
    schedule = schedule_set(environment="development", job="reconcile", cron="30 2 * * *", actor=admin_user)
    slot = _tick(schedule)
    assert slot.outcome == "overlap" and slot.run == busy
    assert f"Run {busy.pk} was using the Development board, so no reconcile was queued" in slot.message
    assert not SyncRun.objects.filter(kind="reconcile").exists()
    assert "skipped: another run was writing" in AuditEntry.objects.get(action="schedule_slot").summary

    sync_run_execute(run_id=busy.pk)
    started = _tick(schedule, minutes_ago=-60)
    assert started.outcome == "started"
    still_reading = _tick(schedule, minutes_ago=-120)
    assert still_reading.outcome == "overlap" and still_reading.run == started.run, "one reconcile at a time"
    assert SyncRun.objects.filter(kind="reconcile").count() == 1


def test_a_reconcile_schedule_is_cron_only_and_production_needs_the_typed_board(admin_user):
    with pytest.raises(ScheduleError) as refused:
        schedule_set(environment="development", job="reconcile", after_refresh=True, actor=admin_user)
    assert refused.value.field == "mode" and "runs on a cron expression only" in str(refused.value)
    assert not SyncSchedule.objects.exists() and not _q_schedules().exists()

    with pytest.raises(ProductionConfirmationError, match="To schedule reconciles by themselves on production"):
        schedule_set(environment="production", job="reconcile", cron="30 2 * * *", actor=admin_user)
    schedule = schedule_set(
        environment="production", job="reconcile", cron="30 2 * * *", actor=admin_user, confirm_text=PROD_ITEMS
    )
    assert schedule.confirmed_board_id == int(PROD_ITEMS)
    schedule_set(environment="production", cron="5 * * * *", actor=admin_user, confirm_text=PROD_ITEMS)
    assert sorted(SyncSchedule.objects.values_list("job", flat=True)) == ["reconcile", "sync"]
    entry = AuditEntry.objects.filter(action="schedule_set").order_by("id").first()
    assert "set the reconcile schedule of" in entry.summary


def test_the_cli_manages_the_reconcile_schedule_with_job_reconcile(db):
    code, out, _ = _cli("show", "--env", "development", "--job", "reconcile")
    assert code == 0 and "no reconcile schedule (set one with --cron)" in out
    code, _, err = _cli("set", "--env", "development", "--job", "reconcile", "--after-refresh")
    assert code == 2 and "runs on a cron expression only" in err
    code, _, err = _cli("set", "--env", "development", "--job", "reconcile")
    assert code == 2 and "--cron" in err and "--after-refresh" not in err
    assert not SyncSchedule.objects.exists()

    code, out, _ = _cli("set", "--env", "development", "--job", "reconcile", "--cron", "30 2 * * *")
    assert code == 0 and "development: reconcile cron 30 2 * * * (enabled)" in out and "next firing" in out
    code, out, _ = _cli("show", "--env", "development")
    assert code == 0 and "no sync schedule" in out, "without --job the command is about the sync schedule"
    code, out, _ = _cli("pause", "--env", "development", "--job", "reconcile")
    assert code == 0 and "(paused)" in out and not SyncSchedule.objects.get(job="reconcile").enabled
    with pytest.raises(CommandError, match="argument --job: invalid choice: 'repair'"):
        _cli("show", "--env", "development", "--job", "repair")


def test_the_environments_page_shows_and_manages_the_reconcile_schedule(admin_client_, ops_client):
    html = admin_client_.get(reverse("environments")).content.decode()
    assert 'data-testid="schedule-reconcile-development"' in html and 'data-testid="reconcile-schedule-set"' in html
    assert 'id="cron-reconcile-development"' in html and 'id="cron-development"' in html, "ids stay unique"

    url = reverse("schedule_detail", args=["development"])
    response = admin_client_.post(url, {"job": "reconcile", "mode": "after_refresh"})
    assert response.status_code == 400 and "runs on a cron expression only" in response.content.decode()
    response = admin_client_.post(url, {"job": "reconcile", "mode": "cron", "cron": "30 2 * * *"}, follow=True)
    assert "The Development reconcile schedule is set and running" in response.content.decode()
    assert SyncSchedule.objects.get().job == "reconcile"

    page = ops_client.get(url, {"job": "reconcile"}).content.decode()
    assert "<h1>Reconcile schedule: Development</h1>" in page and "<code>30 2 * * *</code>" in page
    assert "reconcile the whole board" in page and "reconcile-schedule-set" not in page
    ops_html = ops_client.get(reverse("environments")).content.decode()
    assert "No schedule: syncs to this board start only when someone starts them." in ops_html

    prod = reverse("schedule_detail", args=["production"])
    form = {"job": "reconcile", "mode": "cron", "cron": "30 2 * * *", "confirm_board": "wrong"}
    assert 'data-testid="reconcile-schedule-confirm-error"' in admin_client_.post(prod, form).content.decode()
    admin_client_.post(prod, {**form, "confirm_board": PROD_ITEMS})
    assert SyncSchedule.objects.get(environment="production").confirmed_board_id == int(PROD_ITEMS)

    admin_client_.post(reverse("schedule_pause", args=["development"]), {"job": "reconcile"})
    assert not SyncSchedule.objects.get(environment="development").enabled
    assert AuditEntry.objects.filter(action="schedule_pause", via="console").count() == 1
