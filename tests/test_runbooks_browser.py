"""Acceptance: a trainer walks a new ops user through runbook 2, "Test a PO on the development
board", entirely in the console on the embedded setup (the monday emulator, demo orders). Each step
is done with the console's own pages and buttons, its live checks turn green, the new user ticks it,
and the trainer then finds the completion in the training record.

The browser, the live console and the worker thread that executes queued runs (standing in for the
django-q2 cluster, see tests/test_console_browser.py for why) are the fixtures of the console's
browser tests. Screenshots go where tests/test_console_browser.py puts them.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group

from syncapp.models import FactOrderList, ItemLink, StepTick, SyncRun, Walkthrough
from syncapp.roles import OPS
from tests import test_console_browser as console_browser
from tests.test_console_browser import PASSWORD, _shot, _sign_in

# The console browser tests' fixtures: Chromium, the live console on the emulator with demo orders and
# one user per role (olivia: Ops, ada: Admin, tara: Trainer), a page, and the worker thread.
browser = console_browser.browser
console = console_browser.console
page = console_browser.page
worker = console_browser.worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RUNBOOK = "02-test-a-po-on-development"
STEPS = 8


def _open_runbook(page, base: str, step: int) -> None:
    page.goto(f"{base}/runbooks/{RUNBOOK}/#step-{step}")
    page.get_by_test_id(f"step-{step}").wait_for()


def _checks(page, step: int):
    return page.get_by_test_id(f"step-{step}").get_by_test_id("live-check")


def _assert_all_green(page, step: int) -> None:
    checks = _checks(page, step)
    states = [checks.nth(i).get_attribute("data-state") for i in range(checks.count())]
    texts = [checks.nth(i).inner_text() for i in range(checks.count())]
    assert states and all(state == "ok" for state in states), (step, texts)


def _tick(page, step: int) -> None:
    page.get_by_test_id(f"tick-button-{step}").click()
    page.get_by_test_id(f"tick-{step}").wait_for()


def _select_all_and_mark(page, state: str) -> None:
    page.get_by_label(re.compile(r"Select all \d+ POs? matching the filter")).check()
    page.get_by_role("button", name=f"Mark {state}…").click()
    page.get_by_role("button", name=re.compile(rf"Mark \d+ order lines? {state}")).click()
    page.locator(".message-success").wait_for()


def test_it_walks_a_new_user_through_testing_a_po_on_development(console, page, worker, django_user_model):
    base = console.url
    nina = django_user_model.objects.create_user(username="nina", password=PASSWORD, first_name="Nina")
    nina.groups.add(Group.objects.get(name=OPS))

    # The new ops user opens the runbook from the menu and starts a walkthrough.
    _sign_in(page, base, "nina")
    page.get_by_role("link", name="Runbooks", exact=True).click()
    page.get_by_role("link", name="Test a PO on the development board").click()
    page.get_by_role("button", name="Start the walkthrough").click()
    assert "0 of 8 steps done" in page.get_by_test_id("walkthrough-panel").inner_text()

    # 1. The console acts on development.
    _assert_all_green(page, 1)
    assert "active environment: development" in _checks(page, 1).first.inner_text()
    _tick(page, 1)

    # 2. What is COMPLETED today (nothing, in the demo data).
    _assert_all_green(page, 2)
    _tick(page, 2)

    # 3. Exclude everything else: red until the orders page marks every order line COMPLETED.
    step3 = _checks(page, 3).first
    assert (
        step3.get_attribute("data-state") == "red"
        and "pending order lines outside GREYSON PO 4755" in step3.inner_text()
    )
    page.get_by_test_id("step-3").get_by_role("link", name=re.compile("Open the orders list")).click()
    _select_all_and_mark(page, "COMPLETED")
    _open_runbook(page, base, 3)
    _assert_all_green(page, 3)
    _tick(page, 3)

    # 4. Include PO 4755: filter the orders page to the PO, tick it, mark it PENDING.
    assert _checks(page, 4).first.get_attribute("data-state") == "red"
    page.get_by_test_id("step-4").get_by_role("link", name="Open the orders list filtered to GREYSON PO 4755").click()
    page.get_by_label("Select GREYSON PO 4755").check()
    page.get_by_role("button", name="Mark PENDING…").click()
    page.get_by_role("button", name="Mark 7 order lines PENDING").click()
    page.locator(".message-success").wait_for()
    _open_runbook(page, base, 4)
    _assert_all_green(page, 4)
    assert "pending order lines for GREYSON PO 4755: 7" in _checks(page, 4).first.inner_text()
    _tick(page, 4)

    # 5. Preview, from the runbook's button: a dry run, nothing on the board yet.
    page.get_by_test_id("step-5").get_by_role("button", name="Preview GREYSON PO 4755 on development").click()
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    assert "Items to create\n7" in page.locator("dl.counts").inner_text()
    assert not ItemLink.objects.exists()
    preview_url = page.url
    _open_runbook(page, base, 5)
    _tick(page, 5)

    # 6. Sync to development from the preview; the worker executes the queued run.
    assert _checks(page, 6).first.get_attribute("data-state") == "red"
    page.goto(preview_url)
    page.get_by_role("button", name="Sync this selection…").click()
    assert "9609317401" in page.content()
    page.get_by_role("button", name="Start the sync to Development").click()
    page.locator('[data-testid="run-progress"][data-status="queued"]').wait_for()
    worker.set()
    page.locator('[data-testid="run-progress"][data-status="completed"]').wait_for(timeout=60_000)
    _open_runbook(page, base, 6)
    _assert_all_green(page, 6)
    _tick(page, 6)

    # 7. Verify: every order line synced and linked on development, none in ERROR.
    _assert_all_green(page, 7)
    assert "synced to development: 7 of 7" in page.get_by_test_id("step-7").inner_text()
    _tick(page, 7)
    _shot(page, "runbook-walkthrough")

    # 8. Give the other orders back: mark the COMPLETED ones PENDING again.
    assert _checks(page, 8).first.get_attribute("data-state") == "red"
    page.get_by_test_id("step-8").get_by_role("link", name=re.compile("Open the COMPLETED order lines")).click()
    _select_all_and_mark(page, "PENDING")
    _open_runbook(page, base, 8)
    _assert_all_green(page, 8)
    _tick(page, 8)
    assert page.get_by_test_id("walkthrough-completed").is_visible()

    walkthrough = Walkthrough.objects.get(user=nina)
    assert walkthrough.completed_at is not None and walkthrough.runbook == RUNBOOK
    assert sorted(StepTick.objects.filter(walkthrough=walkthrough, user=nina).values_list("step", flat=True)) == list(
        range(1, STEPS + 1)
    )
    assert set(StepTick.objects.values_list("environment", flat=True)) == {"development"}
    assert SyncRun.objects.get(dry_run=False).created_count == 7
    assert FactOrderList.objects.exclude(po_number="4755").filter(sync_state="PENDING").exists()

    # The trainer sees the completion in the training record.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/login/.*"))
    _sign_in(page, base, "tara")
    page.get_by_role("link", name="Runbooks", exact=True).click()
    page.get_by_role("link", name="Training record").click()
    row = page.get_by_test_id("training-record").locator("tbody tr", has_text="nina")
    assert row.count() == 1
    text = row.inner_text()
    assert "Test a PO on the development board" in text and "completed" in text and "8 of 8" in text
    _shot(page, "training-record")
