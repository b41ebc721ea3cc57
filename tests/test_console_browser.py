"""The console in a real browser: Playwright (sync API) driving Debian's Chromium against a live server.

Screenshots of the main pages are written to a temporary folder, or to ORDEROPS_SCREENSHOTS_DIR
(ORDEROPS_SCREENSHOTS_DIR=docs/screenshots refreshes the README's pictures).

Queued runs are executed by a background thread calling `sync_run_execute` (the function the
django-q2 task calls) rather than by a `manage.py qcluster` subprocess: a subprocess would not see
this test's settings (the emulator's URL and tokens), would need its own copy of the test database
settings, and its multiprocessing start-up costs seconds on a two-core machine.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import connection

from syncapp.models import BoardChange, FactOrderList, ItemLink, OrderLine, SyncRun
from syncapp.roles import ADMIN, OPS, TRAINER, sync_roles
from syncapp.services.sync import sync_run_execute
from tests.console_helpers import orders
from tests.sync_helpers import DEV_ITEMS, point_at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The test command leaves the working tree clean: screenshots go to a temporary folder unless
# ORDEROPS_SCREENSHOTS_DIR names one (ORDEROPS_SCREENSHOTS_DIR=docs/screenshots refreshes the docs').
SCREENSHOTS = Path(os.environ.get("ORDEROPS_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "orderops-screenshots")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "browser-test-password-4755"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed: run `make browser` (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API keeps an event loop running in this thread; the ORM calls the test makes
    # meanwhile are ordinary synchronous calls, so Django's async-safety guard is switched off here.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def console(live_server, emulator, settings, django_user_model):
    """The live console pointed at the emulator, with demo orders and one user per role."""
    point_at(emulator, settings)
    sync_roles(apps)  # a previous transactional test's flush removed the migration-created groups
    for username, role in (("olivia", OPS), ("ada", ADMIN), ("tara", TRAINER)):
        user = django_user_model.objects.create_user(username=username, password=PASSWORD, is_staff=role == ADMIN)
        user.groups.add(Group.objects.get(name=role))
    orders(120)
    return live_server


@pytest.fixture
def worker():
    """Executes queued runs once released, like a django-q2 worker would. The test releases it
    after the run page has loaded, so the page really watches the run go from queued to the end."""
    release, stop = threading.Event(), threading.Event()

    def work() -> None:
        try:
            while not stop.is_set():
                if release.is_set():
                    for run_id in SyncRun.objects.filter(status="queued", dry_run=False).values_list("pk", flat=True):
                        sync_run_execute(run_id=run_id)
                stop.wait(0.2)
        finally:
            connection.close()

    thread = threading.Thread(target=work, name="test-worker", daemon=True)
    thread.start()
    yield release
    stop.set()
    thread.join(timeout=30)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_it_lets_ops_filter_preview_sync_and_watch_a_po_reach_the_board(console, page, emulator, worker):
    base = console.url
    _sign_in(page, base, "olivia")
    _shot(page, "dashboard-before-sync")

    page.get_by_role("link", name="Orders", exact=True).click()
    page.get_by_label("Customer").select_option("GREYSON")
    page.get_by_label("PO number").fill("4755")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r".*po=4755.*"))
    rows = page.locator("table.orders-table tbody tr")
    assert rows.count() == 1
    assert "GREYSON" in rows.first.inner_text()
    _shot(page, "orders")

    # Keyboard: focus the row's checkbox and tick it with the space bar.
    checkbox = page.get_by_label("Select GREYSON PO 4755")
    checkbox.focus()
    page.keyboard.press("Space")
    assert checkbox.is_checked()

    page.get_by_role("button", name="Preview").click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    assert page.get_by_text("What a sync would do").is_visible()
    assert "Items to create\n7" in page.locator("dl.counts").inner_text()
    assert not emulator.state.items
    _shot(page, "preview")

    page.get_by_role("button", name="Sync this selection…").click()
    page.wait_for_url(f"{base}/orders/sync/")
    assert "9609317401" in page.content()
    _shot(page, "sync-confirmation")
    page.get_by_role("button", name="Start the sync to Development").click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))

    # The page shows the queued run; once the worker takes it, the progress block polls (htmx)
    # until the run ends, then the page swaps in the outcome and the per-row results.
    page.locator('[data-testid="run-progress"][data-status="queued"]').wait_for()
    assert page.get_by_text("Results appear as rows finish").is_visible()
    _shot(page, "run-queued")
    worker.set()
    page.locator('[data-testid="run-progress"][data-status="completed"]').wait_for(timeout=60_000)
    page.locator("#results tbody tr").nth(6).wait_for()
    assert page.locator("#results tbody tr").count() == 7
    page.locator("h1 .outcome-success").wait_for()
    run = SyncRun.objects.get(dry_run=False)
    assert (run.status, run.created_count, run.failed_count) == ("completed", 7, 0)
    assert page.locator("progress").get_attribute("value") == "100"
    _shot(page, "run-detail")

    page.goto(f"{emulator.base_url}/boards/{DEV_ITEMS}")
    board_text = page.content()
    for aag in FactOrderList.objects.filter(po_number="4755").values_list("aag_order_number", flat=True):
        assert aag in board_text
    assert ItemLink.objects.filter(environment="development").count() == 7
    _shot(page, "emulator-board")

    page.goto(f"{base}/")
    assert page.locator("svg.chart-svg").is_visible()
    _shot(page, "dashboard")
    page.goto(f"{base}/orders/po/?customer=GREYSON&po=4755")
    assert page.get_by_role("link", name=re.compile(r"item \d+")).count() == 7
    _shot(page, "po-detail")


def test_it_lets_an_admin_switch_to_production_and_the_banner_changes(console, page):
    base = console.url
    _sign_in(page, base, "ada")
    banner = page.get_by_test_id("environment-banner")
    assert "DEVELOPMENT" in banner.inner_text()
    assert "banner-development" in banner.get_attribute("class")

    page.get_by_role("link", name="Environments").first.click()
    _shot(page, "environments")
    page.get_by_role("link", name="Switch to Production…").click()
    _shot(page, "environment-switch-confirmation")
    page.get_by_role("button", name="Switch to Production").click()
    page.wait_for_url(f"{base}/environments/")

    banner = page.get_by_test_id("environment-banner")
    assert "PRODUCTION" in banner.inner_text() and "9200517329" in banner.inner_text()
    assert "banner-production" in banner.get_attribute("class")
    _shot(page, "environments-production")

    page.goto(f"{base}/orders/?customer=GREYSON&po=4755")
    page.get_by_label("Select GREYSON PO 4755").check()
    page.get_by_role("button", name="Sync now…").click()
    typed = page.get_by_label(re.compile("type the production board's name"))
    assert typed.is_visible()
    _shot(page, "sync-confirmation-production")
    typed.fill("not the board")
    page.get_by_role("button", name="Start the sync to Production").click()
    assert "Nothing was started" in page.content()
    assert not SyncRun.objects.filter(dry_run=False).exists()

    page.goto(f"{base}/audit/")
    assert "environment_switch" in page.content()
    _shot(page, "audit-log")


def test_it_hides_the_sync_button_from_a_trainer(console, page):
    base = console.url
    _sign_in(page, base, "tara")
    page.goto(f"{base}/orders/?customer=GREYSON&po=4755")
    assert page.locator("table.orders-table tbody tr").count() == 1
    assert page.get_by_role("button", name=re.compile("Sync now")).count() == 0
    assert page.get_by_role("button", name=re.compile("Mark")).count() == 0
    assert page.get_by_text("Read-only").is_visible()


# --- the run page while a run is live, and after it stopped (issue 13, items 1 and 2) -------------


def _start_sync_of_everything(page, base: str) -> int:
    """Orders → select all matching → Sync now → Start: the console's own path, flash included."""
    page.goto(f"{base}/orders/")
    page.get_by_label(re.compile(r"Select all \d+ POs matching")).check()
    page.get_by_role("button", name="Sync now…").click()
    page.get_by_role("button", name="Start the sync to Development").click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    return int(re.search(r"/runs/(\d+)/$", page.url).group(1))


def _live_figures(page) -> tuple[str, str, str]:
    """What a person watching reads: the status, the counts block and the API calls link."""
    block = page.locator('[data-testid="run-progress"]')
    status = block.get_attribute("data-status") if block.count() else "(no progress block)"
    counts = block.locator("dl.counts").inner_text() if block.count() else ""
    calls = page.get_by_role("link", name=re.compile(r"API calls \(\d+\)"))
    return status or "", counts, calls.first.inner_text() if calls.count() else ""


def test_it_shows_a_long_run_live_until_its_outcome_without_a_reload(console, page, emulator, worker):
    """A run of at least 15 s (emulator latency), watched without reloading: the progress block
    stays, its counts and the API calls count rise several times, and the outcome appears."""
    emulator.faults.latency_ms = 600
    base = console.url
    _sign_in(page, base, "olivia")
    run_id = _start_sync_of_everything(page, base)
    assert page.get_by_text(f"Run {run_id} is queued").is_visible()
    page.evaluate("window.__notReloaded = true")
    worker.set()

    seen: list[tuple[str, str, str]] = []
    started = time.monotonic()
    while time.monotonic() - started < 120:
        figures = _live_figures(page)
        if not seen or figures != seen[-1]:
            seen.append(figures)
        if figures[0] not in ("queued", "running"):
            break
        page.wait_for_timeout(300)
    watched = time.monotonic() - started
    running = [f for f in seen if f[0] == "running"]
    assert "(no progress block)" not in {f[0] for f in seen}, seen
    assert watched >= 15, f"the run took {watched:.1f} s; the test needs a run of at least 15 s"
    assert len(running) >= 4, f"the counts changed only {len(running) - 1} times while running: {seen}"
    calls = [int(re.search(r"\d+", f[2]).group()) for f in running]
    assert calls == sorted(calls) and calls[-1] > calls[0], calls

    page.locator("h1 .outcome").wait_for(timeout=30_000)
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    run = SyncRun.objects.get(pk=run_id)
    assert run.status == "completed"
    assert page.locator('[data-testid="run-progress"]').get_attribute("data-status") == "completed"
    assert f"Created\n{run.created_count}" in page.locator("dl.counts").inner_text()
    assert page.get_by_text(f"Run {run_id} is queued").count() == 0, "the queued flash stays above a finished run"
    _shot(page, "run-live-finished")


def test_it_reports_a_run_stopped_by_the_daily_limit_from_what_reached_the_board(console, page, emulator, worker):
    """The daily limit stops the run after monday created items: the page shows those items as
    created and the rows left unfinished as failed, with customer and PO, not 'Created 0'."""
    token = emulator.tokens["development"]
    base = console.url
    _sign_in(page, base, "olivia")
    emulator.daily.limit = emulator.daily.calls_today(token) + 12
    run_id = _start_sync_of_everything(page, base)
    worker.set()
    page.locator('[data-testid="run-progress"][data-status="failed"]').wait_for(timeout=60_000)
    page.locator("h1 .outcome").wait_for()
    run = SyncRun.objects.get(pk=run_id)
    created = BoardChange.objects.filter(run=run, kind="item_created").count()
    assert created > 0, "the scenario needs items created before the limit"
    counts = page.locator('[data-testid="run-progress"] dl.counts').inner_text()
    assert f"Created\n{created}" in counts, counts
    assert re.search(r"Failed\n[1-9]", counts), counts
    failures = page.get_by_role("link", name=re.compile(r"Failures \((\d+)\)"))
    assert int(re.search(r"\((\d+)\)", failures.inner_text()).group(1)) >= created
    failures.click()
    first = page.locator("#results tbody tr").first
    first.wait_for()
    cells = first.locator("td").all_inner_texts()
    assert cells[1] and cells[2], f"a failed row without customer or PO: {cells}"
    assert "daily" in page.locator("#results").inner_text().lower()
    _shot(page, "run-stopped-daily-limit")


# --- the preview and the PO page tell the truth (issue #13 items 3 and 10) ------------------------


def test_a_preview_of_a_po_whose_customer_label_is_missing_says_those_rows_will_fail_and_why(console, page, emulator):
    board = emulator.state.board(DEV_ITEMS)
    column = "dropdown_mkr542p2"  # CUSTOMER on the development board
    board["labels"][column] = [e for e in board["labels"].get(column, []) if e["label"] != "GREYSON"]
    base = console.url
    _sign_in(page, base, "olivia")
    page.goto(f"{base}/orders/po/?customer=GREYSON&po=4755")
    page.get_by_role("button", name="Preview", exact=True).click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    assert "Cannot be sent\n7" in page.locator("dl.counts").inner_text()
    will_fail = page.get_by_test_id("will-fail")
    assert will_fail.is_visible()
    text = will_fail.inner_text()
    assert "7 order lines in 1 PO: GREYSON is not a label of the CUSTOMER column on board 9609317401." in text
    assert "add it in monday" in text and "then preview again and sync these 7 rows" in text
    # monday's own words are one click away, not on the page's face.
    raw = will_fail.locator("details p.mono").first
    assert not raw.is_visible()
    will_fail.locator("details summary").first.click()
    assert raw.is_visible() and "does not exist in column 'CUSTOMER'" in raw.inner_text()
    assert not emulator.state.items
    _shot(page, "preview-missing-label")


def test_the_po_page_lists_sizes_in_apparel_order(console, page):
    line = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    OrderLine.objects.filter(record_uuid=line.record_uuid).delete()
    for code in ("XXL", "L", "XS", "M", "XL", "S"):  # stored in an order that is neither
        OrderLine.objects.create(line_uuid=uuid.uuid4(), record_uuid=line.record_uuid, size_code=code, qty=2)
    base = console.url
    _sign_in(page, base, "olivia")
    page.goto(f"{base}/orders/po/?customer=GREYSON&po=4755")
    sizes = page.get_by_label(f"Sizes of {line.aag_order_number}").locator("li .mono")
    assert sizes.all_inner_texts() == ["XS", "S", "M", "L", "XL", "XXL"]
    _shot(page, "po-detail-sizes")
