"""Times, numbers and polish (#13 items 8 and 11): what a reader sees is exact and unambiguous.

Every time carries its year and zone, in the configured TIME_ZONE; the admin's numbers carry their
unit and its dry-run column is words; the Environments page and the board check count the mapped
columns alike; the favicon is served; 404 and 500 are designed pages when DEBUG is off.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid

import pytest
from django.contrib.auth.models import Group
from django.contrib.staticfiles import finders
from django.http import HttpRequest
from django.test import Client
from django.urls import path, reverse
from django.utils import timezone
from django_q.models import Task

from orderops import urls as project_urls
from syncapp.models import AuditEntry
from syncapp.roles import ADMIN
from syncapp.templatetags.console import ago, when
from tests import test_console_browser as console_browser
from tests.console_helpers import make_run
from tests.sync_helpers import point_at

pytestmark = pytest.mark.django_db

# 21:05 UTC on July 3 is 14:05 in Los Angeles (PDT); January 5 is PST.
SUMMER = dt.datetime(2026, 7, 3, 21, 5, 9, tzinfo=dt.UTC)
WINTER = dt.datetime(2026, 1, 5, 21, 5, 9, tzinfo=dt.UTC)


def boom(request: HttpRequest):
    raise RuntimeError("the database went away")


# The project's URLs plus one view that fails, for the 500 page.
urlpatterns = [path("boom/", boom), *project_urls.urlpatterns]


# --- times ------------------------------------------------------------------------------------------


def test_the_default_zone_is_the_companys_and_every_page_says_which_it_is(ops_client, settings):
    assert settings.TIME_ZONE == "America/Los_Angeles"
    html = ops_client.get(reverse("dashboard")).content.decode()
    assert re.search(r'data-testid="time-zone">Times are shown in America/Los_Angeles \(P[DS]T\)\.', html)


def test_the_when_filter_shows_year_and_zone_in_the_configured_zone(settings):
    assert when(SUMMER) == "Jul 3, 2026 14:05 PDT"
    assert when(WINTER) == "Jan 5, 2026 13:05 PST"
    assert when(SUMMER, "seconds") == "Jul 3, 2026 14:05:09 PDT"
    assert when(SUMMER, "time") == "14:05:09 PDT"
    assert when(None) == "—"
    settings.TIME_ZONE = "UTC"
    assert when(SUMMER) == "Jul 3, 2026 21:05 UTC"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (lambda run: reverse("runs"), "Jul 3, 2026 14:05 PDT"),
        (lambda run: reverse("run_detail", args=[run.pk]), "Jul 3, 2026 14:05:09 PDT"),
        (lambda run: reverse("audit_log"), "Jul 3, 2026 14:05:09 PDT"),
    ],
    ids=["runs list (had no year)", "run page", "audit log"],
)
def test_the_pages_show_times_with_year_and_zone(ops_client, ops_user, monkeypatch, url, expected):
    monkeypatch.setattr(timezone, "now", lambda: SUMMER)  # created_at is set on creation (auto_now_add)
    run = make_run()
    AuditEntry.objects.create(actor=ops_user, actor_name="ops", action="sync_start", summary="x")
    monkeypatch.undo()
    html = ops_client.get(url(run)).content.decode()
    assert expected in html
    assert "Jul 3, 14:05" not in html, "a time without its year"


def test_the_configured_zone_is_used(ops_client, settings):
    settings.TIME_ZONE = "UTC"
    run = make_run()
    type(run).objects.filter(pk=run.pk).update(created_at=SUMMER)
    html = ops_client.get(reverse("runs")).content.decode()
    assert "Jul 3, 2026 21:05 UTC" in html and "Times are shown in UTC (UTC)." in html


def test_a_moment_ago_reads_just_now_not_zero_minutes(ops_client):
    now = timezone.now()
    assert ago(now - dt.timedelta(seconds=20)) == "just now"
    assert ago(now - dt.timedelta(minutes=5, seconds=3)).replace("\xa0", " ") == "5 minutes ago"
    Task.objects.create(
        id=uuid.uuid4().hex, name="done", func="syncapp.tasks.run_task", started=now, stopped=now, success=True
    )
    html = ops_client.get(reverse("dashboard")).content.decode()
    assert "just now</time>" in html and "0 minutes ago" not in html


# --- numbers ----------------------------------------------------------------------------------------


def test_the_admin_shows_the_success_rate_with_percent_and_dry_runs_in_words(admin_user):
    admin_user.is_staff = True
    admin_user.save()
    assert admin_user.groups.filter(name=ADMIN).exists() or admin_user.groups.add(Group.objects.get(name=ADMIN))
    make_run(success_rate=100.0)
    make_run(dry_run=True, success_rate=87.5)
    client = Client()
    client.force_login(admin_user)
    html = client.get(reverse("admin:syncapp_syncrun_changelist")).content.decode()
    cells = re.findall(r'<td class="field-success_percent">([^<]*)</td>', html)
    assert sorted(cells) == ["100%", "87.5%"]
    assert sorted(re.findall(r'<td class="field-run_type">([^<]*)</td>', html)) == ["preview (dry run)", "real run"]
    assert "icon-no.svg" not in html and "icon-yes.svg" not in html


@pytest.mark.parametrize(("environment", "items"), [("development", 43), ("production", 41)])
def test_the_environments_page_and_the_board_check_count_the_mapped_columns_alike(
    admin_client_, emulator, settings, environment, items
):
    # Production maps 41 item columns; with size and qty on the subitems board the check counts 43.
    # Both places now say the total and what it is made of.
    point_at(emulator, settings)
    html = admin_client_.get(reverse("environments")).content.decode()
    card = html[html.index(f'data-testid="env-{environment}"') :]
    expected = f"{items + 2} columns: {items} on the items board, size and qty on the subitems board"
    assert expected in card[: card.index("</dl>")]
    check = admin_client_.post(reverse("environment_check", args=[environment]), HTTP_HX_REQUEST="true")
    assert (
        f"all {items + 2} mapped columns checked ({items} on the items board, size and qty on the subitems board)"
        in check.content.decode()
    )


# --- polish -----------------------------------------------------------------------------------------


def test_every_page_names_its_icon_and_the_icon_is_served(client, ops_client):
    login = client.get(reverse("login")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in login
    assert '<link rel="icon"' in ops_client.get(reverse("dashboard")).content.decode()
    response = client.get("/favicon.ico")  # asked by pages without a link, e.g. the admin's
    assert response.status_code == 301 and response["Location"] == "/static/favicon.svg"
    assert "<svg" in open(finders.find("favicon.svg"), encoding="utf-8").read()


def test_variable_names_do_not_wrap_mid_word_and_the_po_table_cell_wraps_instead(settings):
    css = (settings.BASE_DIR / "static" / "css" / "console.css").read_text()
    rule = re.search(r"\.facts dd code, \.token-setting[^{]*\{([^}]*)\}", css)
    assert rule and "white-space: nowrap" in rule.group(1) and "overflow-wrap: normal" in rule.group(1)


def test_the_not_found_page_is_designed_when_debug_is_off(ops_client, settings):
    settings.DEBUG = False
    response = ops_client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "There is no page at this address" in html and "<code>/no/such/page/</code>" in html
    assert 'href="/orders/"' in html and 'data-testid="environment-banner"' in html


@pytest.mark.urls("tests.test_console_polish")
def test_the_server_error_page_is_designed_when_debug_is_off(ops_user, settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(ops_user)
    response = client.get("/boom/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in html and 'href="/runs/"' in html
    assert "the database went away" not in html, "the error's detail belongs in the log, not the page"


# --- in a browser at a laptop's width ---------------------------------------------------------------

browser = console_browser.browser
console = console_browser.console


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_po_page_fits_a_1366_pixel_screen(console, browser):
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="en-US")
    try:
        page = context.new_page()
        console_browser._sign_in(page, console.url, "olivia")
        page.goto(f"{console.url}/orders/po/?customer=GREYSON&po=4755")
        overflow = page.evaluate(
            "() => [...document.querySelectorAll('.table-wrap')].map(w => w.scrollWidth - w.clientWidth)"
        )
        assert overflow and max(overflow) <= 0, overflow
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 1366
        console_browser._shot(page, "po-detail-1366")
    finally:
        context.close()


def test_the_test_command_leaves_the_tracked_screenshots_alone(settings):
    # `make test` runs pytest without ORDEROPS_SCREENSHOTS_DIR: the pictures go to a temporary folder;
    # only `make screenshots` points them at docs/screenshots/.
    makefile = (settings.BASE_DIR / "Makefile").read_text()
    pytest_recipe = makefile.split("\npytest:", 1)[1].split("\n\n", 1)[0]
    assert "ORDEROPS_SCREENSHOTS_DIR" not in pytest_recipe
    assert "ORDEROPS_SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots" in makefile.split("\nscreenshots:", 1)[1]
    if "ORDEROPS_SCREENSHOTS_DIR" not in os.environ:
        assert not console_browser.SCREENSHOTS.resolve().is_relative_to(settings.BASE_DIR)
