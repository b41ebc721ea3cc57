"""Bad input: each case ends with a clear error naming the problem, and nothing lost.

Covered elsewhere, not repeated here:
* tests/test_sync_config.py: malformed TOML reported with its line; unknown environment tables and
  names; a mapping to a column that is not on the board; a date mapped to a text column; two order
  columns on one board column; a missing configuration file; problems as startup check errors.
* tests/test_sync_commands.py: `sync_orders --env staging` (exit 2); a missing production token
  (exit 2, no run created).
* tests/test_merge.py: duplicate and blank AAG ORDER NUMBERs, negative, non-numeric and huge
  quantities rejected row by row; an empty staging table; a staging table missing CUSTOMER NAME or
  TOTAL QTY (nothing merged into an empty FACT_ORDER_LIST).
* tests/test_mark_orders.py: 10,000 POs with SQL-looking characters when marking lines.
* tests/test_sync_engine.py: no season for the group; a customer label missing on the board.
* tests/test_monday_client.py: names trimmed to 255 characters; names and values travel only as
  GraphQL variables.

Also here: the console's list pages (orders, runs, audit log) name a filter value or page number
they cannot use instead of silently showing something else; the preflight page's unknown customers
and POs are in tests/test_console_preflight.py.

Here: the same inputs where they meet the rest of the system — a broken configuration or a missing
token at sync time, 10,000 odd PO filters through `sync_orders --po`, hostile names synced to the
emulator, bad staging data arriving for order lines that were already merged and synced (their
earlier values must survive), and a column deleted from the live board.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from syncapp.domain.errors import RunRefusedError
from syncapp.domain.scope import Scope
from syncapp.models import AuditEntry, FactOrderList, ItemLink, OrderLine, RowResult, SyncRun
from syncapp.services.merge import MergeError, orders_merge
from syncapp.services.sync import sync_run_create, sync_run_execute, sync_run_retry_failed
from syncapp.sync_config import ConfigError, get_sync_config
from tests.board_checks import REAL_CONFIG, assert_consistent, read_board
from tests.console_helpers import orders
from tests.sync_helpers import DEV_ITEMS, group_titles, only_po_pending, point_at, set_staged, stage_and_merge, sync

pytestmark = pytest.mark.django_db
Q = connection.ops.quote_name


@pytest.fixture
def greyson(emulator, settings):
    point_at(emulator, settings)
    stage_and_merge(120)
    only_po_pending("4755")
    return emulator


def _sync_command(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        call_command("sync_orders", *args)
        raise SystemExit(0)
    out = capsys.readouterr()
    return exit_.value.code, out.out, out.err


def _states() -> dict[str, tuple]:
    return {str(r.pk): (r.sync_state, r.action_type, r.row_hash) for r in FactOrderList.objects.all()}


def _broken_config(tmp_path, settings, old: str, new: str):
    text = REAL_CONFIG.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in the configuration"
    path = tmp_path / "sync_order_list.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    settings.ORDEROPS_SYNC_CONFIG = path
    return path


# --- configuration ---------------------------------------------------------------------------------

BROKEN = [
    ("malformed TOML", "[naming]", "[naming", ["is not valid TOML", "line"]),
    (
        "column not on the board",
        '"NOTES"                                      = "long_text_mkr5hass"',
        '"NOTES" = "long_text_gone"',
        ['item_columns."NOTES"', "'long_text_gone' is not on board 9609317401"],
    ),
    (
        "read-only column",
        '"TOTAL QTY"                                  = "numeric_mktb1d19"',
        '"TOTAL QTY" = "lookup_mkrbrdr1"',
        ['item_columns."TOTAL QTY"', "'lookup_mkrbrdr1' (QTY ORDERED) is a read-only mirror column"],
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_configuration_stops_the_sync_before_anything_is_sent(
    greyson, tmp_path, settings, capsys, name, old, new, expected
):
    before = _states()
    path = _broken_config(tmp_path, settings, old, new)
    code, _, err = _sync_command(capsys, "--env", "development")
    assert code == 2
    for text in expected:
        assert text in err
    if name == "malformed TOML":
        assert str(path) in err, "the message names the file"
    assert not SyncRun.objects.exists() and not greyson.request_log
    assert _states() == before, "every order line is as it was"


def test_an_unknown_environment_is_refused_by_the_service_naming_the_known_ones(greyson):
    before = _states()
    with pytest.raises(ConfigError, match=r"unknown environment 'staging'.*use one of: development, production"):
        sync_run_create(environment="staging", scope=Scope(), dry_run=False, via="console", enqueue=False)
    assert not SyncRun.objects.exists() and not AuditEntry.objects.filter(action__endswith="_start").exists()
    assert _states() == before


# --- tokens ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["development", "production"])
def test_a_missing_token_refuses_the_sync_naming_its_variable(greyson, settings, environment):
    variable = f"MONDAY_API_TOKEN_{environment.upper()}"
    setattr(settings, variable, "")
    before = _states()
    with pytest.raises(RunRefusedError, match=f"{variable} is not set"):
        sync_run_create(environment=environment, scope=Scope(), dry_run=False, via="console", enqueue=False)
    assert not SyncRun.objects.exists() and not greyson.request_log
    assert _states() == before


def test_a_worker_without_the_token_fails_the_run_naming_the_variable_and_releases_the_rows(greyson, settings):
    """The console had the token when the run was queued; the worker's environment lacks it."""
    run = sync_run_create(environment="development", scope=Scope(), dry_run=False, via="console", enqueue=False)
    settings.MONDAY_API_TOKEN_DEVELOPMENT = ""
    run = sync_run_execute(run_id=run.pk)
    assert run.status == "failed"
    assert "No monday API token is configured for the development environment" in run.error_message
    assert "Set MONDAY_API_TOKEN_DEVELOPMENT" in run.error_message
    assert not greyson.request_log, "nothing was sent without a token"
    assert FactOrderList.objects.filter(sync_state="PENDING").count() == 7
    assert not FactOrderList.objects.filter(sync_state="CLAIMED").exists()


# --- scope -----------------------------------------------------------------------------------------

ODD_POS = [
    '4755\'; DROP TABLE "FACT_ORDER_LIST";--',
    "47%",
    "4_55",
    "4755%",
    '"4755"',
    "4755\\",
    "PO\tTAB",
    "PO\nNEWLINE",
    "Übergröße-4755",
    "PO-🧵-4755",
    "NULL",
    "' OR '1'='1",
]


def test_ten_thousand_po_filters_with_odd_characters_sync_exactly_the_matching_lines(emulator, settings, capsys):
    point_at(emulator, settings)
    stage_and_merge(120)  # every line PENDING
    pending_before = FactOrderList.objects.filter(sync_state="PENDING").count()
    pos = [f"PO-{n}{ODD_POS[n % len(ODD_POS)]}" for n in range(10_000 - len(ODD_POS) - 1)] + ODD_POS + [" 4755 "]
    assert len(pos) == 10_000
    code, out, err = _sync_command(capsys, "--env", "development", "--po", *pos)
    assert code == 0, err
    run = SyncRun.objects.get()
    assert run.total_rows == 7 and run.created_count == 7
    assert len(run.scope["pos"]) == 10_000 and "4755" in run.scope["pos"], "' 4755 ' was trimmed; all kept"
    assert "and 9995 more" in out
    assert set(FactOrderList.objects.filter(sync_state="SYNCED").values_list("po_number", flat=True)) == {"4755"}
    assert FactOrderList.objects.filter(sync_state="PENDING").count() == pending_before - 7, "the rest wait"
    assert len(read_board(emulator, "development").items) == 7

    code, out, _ = _sync_command(capsys, "--env", "development", "--po", "47%", "4_55", "' OR '1'='1")
    assert code == 0 and SyncRun.objects.latest("pk").total_rows == 0, "no wildcard, no injection: nothing matches"


# --- names and text ---------------------------------------------------------------------------------


def test_names_with_quotes_newlines_emoji_and_300_characters_are_truncated_in_the_name_and_intact_in_columns(
    greyson, settings
):
    env = get_sync_config().environment("development")
    row = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    style = ('Tour "Polo" O\'Neil\nline two 🧵👍🏽 ' * 4)[:100]  # each column holds at most 100
    colour = ("Crème <b>Brûlée</b> \"quoted\" 'single' \\ 🎨 " * 4)[:100]
    po = ('4755 "PO" \u00abn\u00ba\u00bb \U0001f9fe ' * 8)[:90].strip()
    notes = ("Notes: \u2018curly\u2019 \u201cquotes\u201d, newline\r\nand tab\t, emoji 🧵👍🏽; " * 8)[:300]
    set_staged(row.aag_order_number, "CUSTOMER STYLE", style)
    set_staged(row.aag_order_number, "CUSTOMER COLOUR DESCRIPTION", colour)
    set_staged(row.aag_order_number, "NOTES", notes)
    set_staged(row.aag_order_number, "PO NUMBER", po)
    call_command("merge_orders")
    run = sync("development")
    assert run.status == "completed" and run.failed_count == 0, run.error_message
    full_name = " - ".join([style.strip(), colour.strip(), row.aag_order_number, po])
    assert len(full_name) > 300 and len(notes) == 300
    item = next(i for i in read_board(greyson, "development").items.values() if row.aag_order_number in i.name)
    assert item.name == full_name[:255] and len(item.name) == 255
    assert item.values[env.item_columns["CUSTOMER STYLE"]] == style
    assert item.values[env.item_columns["CUSTOMER COLOUR DESCRIPTION"]] == colour
    assert item.values[env.item_columns["NOTES"]] == notes
    assert FactOrderList.objects.get(pk=row.pk).item_name == full_name[:255]
    assert_consistent(greyson)


# --- staging data ----------------------------------------------------------------------------------


@pytest.fixture
def synced(greyson):
    run = sync("development")
    assert run.status == "completed" and run.created_count == 7
    return greyson


def _po_rows() -> list[FactOrderList]:
    return list(FactOrderList.objects.filter(po_number="4755", order_type="ACTIVE").order_by("aag_order_number"))


def _bad_quantities() -> list:
    values = [-4, 50_000_000]
    if connection.vendor == "sqlite":  # only SQLite lets text or a fraction into an INT column
        values += ["twelve", 2.5]
    return values


@pytest.mark.parametrize("bad", _bad_quantities())
def test_a_bad_quantity_for_a_synced_order_line_keeps_its_synced_values_until_corrected(synced, bad):
    row, neighbour = _po_rows()[:2]
    size = OrderLine.objects.filter(record_uuid=row.pk, qty__gt=0).order_by("size_code").first()
    lines_before = dict(OrderLine.objects.filter(record_uuid=row.pk).values_list("size_code", "qty"))
    set_staged(row.aag_order_number, size.size_code, bad)
    set_staged(row.aag_order_number, "NOTES", "this change arrives with the bad quantity")
    set_staged(neighbour.aag_order_number, "NOTES", "a good change in the same batch")
    report = orders_merge()
    reasons = [str(r) for r in report.rejected]
    assert len(reasons) == 1 and row.aag_order_number in reasons[0] and f"size {size.size_code!r}" in reasons[0]
    kept = FactOrderList.objects.get(pk=row.pk)
    assert (kept.sync_state, kept.row_hash, kept.notes) == ("SYNCED", row.row_hash, row.notes), "nothing half-merged"
    assert dict(OrderLine.objects.filter(record_uuid=row.pk).values_list("size_code", "qty")) == lines_before
    assert FactOrderList.objects.get(pk=neighbour.pk).sync_state == "PENDING", "its batch-mates were merged"

    set_staged(row.aag_order_number, size.size_code, 12)
    report = orders_merge()
    assert not report.rejected and report.changed == 1
    fixed = FactOrderList.objects.get(pk=row.pk)
    assert (fixed.sync_state, fixed.action_type, fixed.notes) == (
        "PENDING",
        "UPDATE",
        "this change arrives with the bad quantity",
    )
    assert OrderLine.objects.get(record_uuid=row.pk, size_code=size.size_code).qty == 12


def test_a_null_customer_fails_its_row_with_a_message_and_makes_no_group(greyson):
    row = _po_rows()[0]
    set_staged(row.aag_order_number, "CUSTOMER NAME", None)
    call_command("merge_orders")
    run = sync("development")
    assert run.status == "completed" and run.failed_count == 1 and run.created_count == 6
    failed = FactOrderList.objects.get(pk=row.pk)
    assert failed.sync_state == "ERROR" and "no group: the row has no CUSTOMER NAME" in failed.api_error_message
    assert RowResult.objects.get(run=run, record_uuid=row.pk).outcome == "error"
    assert set(group_titles(greyson, DEV_ITEMS)) == {"Group Title", "GREYSON SP26"}, "no group named after a blank"
    assert_consistent(greyson)


def test_a_duplicated_aag_order_number_leaves_the_synced_line_and_its_item_alone(synced):
    first, second = _po_rows()[:2]
    item = ItemLink.objects.get(record_uuid=first.pk).monday_item_id
    board_before = read_board(synced, "development").items[item]
    set_staged(second.aag_order_number, "NOTES", "a copy with other values")
    set_staged(second.aag_order_number, "AAG ORDER NUMBER", first.aag_order_number)
    report = orders_merge()
    duplicated = [str(r) for r in report.rejected]
    assert len(duplicated) == 2
    assert all(f"AAG ORDER NUMBER {first.aag_order_number!r} appears more than once" in r for r in duplicated)
    for original in (first, second):
        now = FactOrderList.objects.get(pk=original.pk)
        assert (now.aag_order_number, now.sync_state, now.row_hash) == (
            original.aag_order_number,
            "SYNCED",
            original.row_hash,
        )
    assert not FactOrderList.objects.filter(sync_state="PENDING").exists()
    assert sync("development").total_rows == 0
    assert read_board(synced, "development").items[item] == board_before


def test_an_empty_staging_table_changes_no_order_line(synced):
    before = _states()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Q('swp_ORDER_LIST_SYNC')}")
    report = orders_merge()
    assert report.staged == 0 and "merged 0 staged rows" in report.summary()
    assert _states() == before, "an empty staging table cancels or deletes nothing"


MISSING = [
    ("AAG ORDER NUMBER", ["missing the column(s) 'AAG ORDER NUMBER'", "nothing was merged"]),
    ("UNIT OF MEASURE", ["no 'UNIT OF MEASURE' or 'TOTAL QTY' column", "size columns cannot be found"]),
]


@pytest.mark.parametrize(("column", "expected"), MISSING, ids=[m[0] for m in MISSING])
def test_a_staging_table_missing_a_column_is_refused_and_synced_lines_keep_their_values(synced, column, expected):
    row = _po_rows()[0]
    set_staged(row.aag_order_number, "NOTES", "must not arrive")
    before = _states()
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {Q('swp_ORDER_LIST_SYNC')} RENAME COLUMN {Q(column)} TO {Q('renamed')}")
    try:
        with pytest.raises(MergeError) as error:
            orders_merge()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {Q('swp_ORDER_LIST_SYNC')} RENAME COLUMN {Q('renamed')} TO {Q(column)}")
    for text in expected:
        assert text in str(error.value)
    assert _states() == before and FactOrderList.objects.get(pk=row.pk).notes == row.notes


# --- the live board differs from the configuration ----------------------------------------------------


def test_a_column_deleted_on_the_live_board_fails_each_row_naming_it_and_a_retry_recovers(greyson):
    env = get_sync_config().environment("development")
    notes = env.item_columns["NOTES"]
    state = greyson.state
    with state.lock:
        board = state.board(str(env.items_board_id))
        removed = next(c for c in board["columns"] if c["id"] == notes)
        board["columns"].remove(removed)
    run = sync("development")
    assert run.status == "completed" and run.failed_count == 7 and run.created_count == 0
    for row in FactOrderList.objects.filter(po_number="4755"):
        assert row.sync_state == "ERROR" and f"doesn't exist for the board: {notes}" in row.api_error_message
    assert not read_board(greyson, "development").items, "no half-made item"
    assert_consistent(greyson)

    with state.lock:
        board["columns"].append(removed)  # someone restores the column on the board
    retry = sync_run_execute(run_id=sync_run_retry_failed(run_id=run.pk, enqueue=False).pk)
    assert retry.status == "completed" and (retry.created_count, retry.failed_count) == (7, 0)
    assert_consistent(greyson)


# --- list pages: a filter or page number that cannot be used is said, not silently replaced (#13) ---

LIST_PAGES = ["orders", "runs", "audit_log"]


@pytest.mark.parametrize(
    ("page_name", "params", "said"),
    [
        ("orders", {"state": "BOGUS"}, "“BOGUS” is not one of the state choices, so the list shows “Any state”."),
        ("orders", {"sort": "price"}, "“price” is not one of the sort choices, so the default is used."),
        (
            "orders",
            {"customer": "X" * 101},
            "The customer filter is longer than 100 characters, so it was not applied.",
        ),
        (
            "runs",
            {"status": "exploded"},
            "“exploded” is not one of the status choices, so the list shows “Any status”.",
        ),
        ("runs", {"environment": "staging"}, "so the list shows “Both environments”."),
        ("audit_log", {"via": "fax"}, "“fax” is not one of the via choices, so the list shows “Anywhere”."),
    ],
)
def test_a_filter_value_a_list_cannot_use_is_named_on_the_page(ops_client, page_name, params, said):
    orders(30)
    response = ops_client.get(reverse(page_name), params)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="filter-problems"' in html and said in html


@pytest.mark.parametrize("page_name", LIST_PAGES)
@pytest.mark.parametrize("raw", ["-1", "0", "abc", "1.5"])
def test_a_page_number_that_is_not_one_shows_page_one_and_says_so(ops_client, page_name, raw):
    response = ops_client.get(reverse(page_name), {"page": raw})
    assert response.status_code == 200
    assert response.context["page"].number == 1, "page=-1 used to jump to the last page"
    assert f"“{raw}” is not a page number (pages start at 1), so this is page 1." in response.content.decode()


def test_a_page_past_the_end_shows_the_last_and_says_there_is_no_such_page(ops_client, ops_user):
    for n in range(3):
        AuditEntry.objects.create(actor=ops_user, actor_name="ops", action=f"test_{n}", summary="x")
    response = ops_client.get(reverse("audit_log"), {"page": "9"})
    assert response.context["page"].number == 1
    assert "There is no page 9: the list has 1 page, so this is the last one (page 1)." in response.content.decode()


@pytest.mark.parametrize("page_name", LIST_PAGES)
def test_good_filters_and_pages_say_nothing(ops_client, page_name):
    html = ops_client.get(reverse(page_name), {"page": "1"}).content.decode()
    assert 'data-testid="filter-problems"' not in html
