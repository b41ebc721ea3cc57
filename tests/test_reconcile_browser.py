"""Reconcile in a real browser: after a sync and six hand edits on the development board, an ops
user opens Environments → Reconcile, starts a reconcile and watches its progress update without a
reload, reads the six findings in ops words, filters them by kind, repairs the ones ticked, and a
second reconcile shows the board in step.

The browser, the page and the sign-in are the console browser tests' (tests/test_console_browser.py).
Queued reconciles and repairs are executed by a background thread calling `run_execute` (the
function the django-q2 task calls), for the reasons given there. The emulator answers every request
late while the first reconcile reads, so the page is watched through several refreshes.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import connection

from syncapp.models import ReconcileFinding, SyncRun
from syncapp.roles import OPS, sync_roles
from syncapp.services.runs import run_execute
from tests import test_console_browser as console_browser
from tests.reconcile_helpers import six_hand_edits
from tests.sync_helpers import point_at, stage_and_merge, sync
from tests.test_console_browser import PASSWORD, _shot, _sign_in

# The console browser tests' fixtures: Chromium and a page in it.
browser = console_browser.browser
page = console_browser.page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Added to every emulator request while the first reconcile reads the board: its few requests then
# span several of the progress block's one-second refreshes.
READ_LATENCY_MS = 2000
KINDS_SHOWN = ["Duplicate", "Missing", "Missing", "Size changed", "Value changed", "Wrong group"]


@pytest.fixture
def edited_console(live_server, emulator, settings, django_user_model):
    """The live console on the emulator: 20 demo orders synced to development, then the six hand
    edits made on the board (tests/reconcile_helpers.py); olivia is an ops user."""
    point_at(emulator, settings)
    sync_roles(apps)  # a previous transactional test's flush removed the migration-created groups
    olivia = django_user_model.objects.create_user(username="olivia", password=PASSWORD)
    olivia.groups.add(Group.objects.get(name=OPS))
    stage_and_merge(20)
    run = sync()
    assert run.status == SyncRun.Status.COMPLETED and run.failed_count == 0, run.error_message
    six_hand_edits(emulator)
    return live_server


@pytest.fixture
def reconcile_worker():
    """Executes queued reconciles and repairs once released, like a django-q2 worker would; the test
    releases it after the reconcile's page has loaded, so the page watches it from queued to the end."""
    release, stop = threading.Event(), threading.Event()
    kinds = (SyncRun.Kind.RECONCILE, SyncRun.Kind.REPAIR)

    def work() -> None:
        try:
            while not stop.is_set():
                if release.is_set():
                    queued = SyncRun.objects.filter(status=SyncRun.Status.QUEUED, kind__in=kinds)
                    for run_id in queued.order_by("pk").values_list("pk", flat=True):
                        run_execute(run_id=run_id)
                stop.wait(0.2)
        finally:
            connection.close()

    thread = threading.Thread(target=work, name="test-reconcile-worker", daemon=True)
    thread.start()
    yield release
    stop.set()
    thread.join(timeout=30)


def _start_reconcile(page, base: str) -> int:
    """Environments → Reconcile (development) → Reconcile now; the reconcile's id."""
    page.goto(f"{base}/")
    page.get_by_role("link", name="Environments").first.click()
    page.get_by_test_id("reconcile-link-development").click()
    page.get_by_role("button", name="Reconcile now").click()
    page.wait_for_url(re.compile(r".*/reconcile/\d+/$"))
    return int(re.search(r"/(\d+)/$", page.url).group(1))


def _progress(page) -> tuple[str, str, str]:
    """What a person watching reads: the status, the step and the API calls count."""
    block = page.get_by_test_id("reconcile-progress")
    if not block.count():
        return "(no progress block)", "", ""
    text = block.locator(".progress-text").inner_text().strip()
    return block.get_attribute("data-status") or "", text, block.get_by_test_id("api-calls-link").inner_text()


def _kinds_shown(page) -> list[str]:
    rows = page.get_by_test_id("findings-table").locator("tbody tr")
    return sorted(rows.nth(i).locator("td").nth(1).inner_text().strip() for i in range(rows.count()))


def test_it_lets_ops_watch_a_reconcile_repair_the_findings_and_see_the_board_in_step(
    edited_console, page, emulator, reconcile_worker
):
    base = edited_console.url
    _sign_in(page, base, "olivia")
    run_id = _start_reconcile(page, base)
    page.locator('[data-testid="reconcile-progress"][data-status="queued"]').wait_for()
    page.evaluate("window.__notReloaded = true")
    emulator.faults.latency_ms = READ_LATENCY_MS
    reconcile_worker.set()

    # Watched without a reload: the progress block is refreshed in place while the board is read.
    seen: list[tuple[str, str, str]] = []
    started = time.monotonic()
    while time.monotonic() - started < 60:
        figures = _progress(page)
        if not seen or figures != seen[-1]:
            seen.append(figures)
        if figures[0] not in ("queued", "running"):
            break
        page.wait_for_timeout(250)
    running = [f for f in seen if f[0] == "running"]
    assert "(no progress block)" not in {f[0] for f in seen}, seen
    assert len(running) >= 3, f"the progress changed only {len(running) - 1} times while the board was read: {seen}"
    calls = [int(re.search(r"\d+", f[2]).group()) for f in running]
    assert calls == sorted(calls) and calls[-1] > calls[0], calls
    emulator.faults.latency_ms = 0

    # The outcome is swapped in when the reconcile ends, still without a reload.
    page.locator("h1 .outcome-needs-attention").wait_for(timeout=30_000)
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
    assert page.locator("h1 .outcome").inner_text() == "6 differences"
    assert page.get_by_test_id("reconcile-progress").get_attribute("data-status") == "completed"
    assert _kinds_shown(page) == KINDS_SHOWN
    counts = page.get_by_test_id("finding-counts").locator("dl.counts").inner_text()
    for label, n in (("Missing", 2), ("Duplicate", 1), ("Value changed", 1), ("Wrong group", 1), ("Size changed", 1)):
        assert f"{label}\n{n}" in counts, counts
    _shot(page, "reconcile-findings")

    # Filtered by kind: only the two missing items.
    page.get_by_label("Kind", exact=True).select_option(label="Missing")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r".*kind=missing.*"))
    assert _kinds_shown(page) == ["Missing", "Missing"]
    page.get_by_role("link", name="Clear", exact=True).click()
    page.wait_for_url(re.compile(r".*/reconcile/\d+/#findings$"))
    assert _kinds_shown(page) == KINDS_SHOWN

    # Every finding ticked and repaired: development asks for no confirmation.
    findings = list(ReconcileFinding.objects.filter(run_id=run_id).order_by("pk"))
    for finding in findings:
        page.get_by_label(f"Select finding {finding.pk}").check()
    page.get_by_test_id("repair-selected").click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    repair_id = int(re.search(r"/runs/(\d+)/$", page.url).group(1))
    page.locator('[data-testid="run-progress"][data-status="completed"]').wait_for(timeout=60_000)
    repair = SyncRun.objects.get(pk=repair_id)
    assert (repair.kind, repair.parent_id, repair.failed_count) == ("repair", run_id, 0), repair.error_message
    statuses = set(ReconcileFinding.objects.filter(run_id=run_id).values_list("status", flat=True))
    assert statuses == {"repaired"}, statuses

    # A second reconcile finds the board in step with the order tables.
    again = _start_reconcile(page, base)
    assert again != run_id
    page.get_by_test_id("in-step").wait_for(timeout=60_000)
    assert page.locator("h1 .outcome-success").inner_text() == "IN STEP"
    assert not ReconcileFinding.objects.filter(run_id=again).exists()
    _shot(page, "reconcile-in-step")
