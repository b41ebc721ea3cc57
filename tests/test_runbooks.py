"""Runbooks: the files describe the system that exists, they parse, their checks and actions work, and
walkthroughs record who did which step, when and where; trainers see (and export) the training record."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.test import Client
from django.urls import NoReverseMatch, Resolver404, resolve, reverse

from syncapp.domain.scope import Scope
from syncapp.models import AuditEntry, FactOrderList, ItemLink, StepTick, Walkthrough
from syncapp.monday.errors import AUTH_CODES, DAILY_LIMIT_CODES, RATE_LIMIT_CODES, REQUEST_REJECTED_CODES
from syncapp.order_tables import ORDER_TABLES
from syncapp.runbooks.actions import ACTIONS, action_build
from syncapp.runbooks.checks import CHECKS, check_evaluate
from syncapp.runbooks.loader import RunbookError, parse_runbook, render_markdown
from syncapp.runbooks.params import expectation_met
from syncapp.runbooks.validate import runbook_get, runbook_list, runbook_validate
from syncapp.selectors.delta_tables import DELTA_TABLES
from syncapp.selectors.preflight import CheckResult
from syncapp.selectors.runs import WorkerHealth
from tests.console_helpers import DEV_BOARD, activate, make_run, orders

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
RUNBOOKS = ROOT / "docs" / "runbooks"
EXPECTED = [
    "01-daily-sync",
    "02-test-a-po-on-development",
    "03-production-cutover",
    "04-rollback",
    "05-troubleshooting",
    "06-switch-environment",
    "07-cancelled-orders",
    "08-delta-table-cleanup",
    "09-onboarding",
]
DELTA_RUNBOOK = "08-delta-table-cleanup"
RUNBOOK_02 = "02-test-a-po-on-development"

# --- what a runbook may name -------------------------------------------------------------------------------

# Page names are written "the **Orders** page"; each must be a console page that resolves.
PAGES = {
    "Dashboard": ("dashboard", {}),
    "Orders": ("orders", {}),
    "PO": ("po_detail", {}),
    "Runs": ("runs", {}),
    "Run": ("run_detail", {"run_id": 1}),
    "Rollback plan": ("run_rollback", {"run_id": 1}),
    "Environments": ("environments", {}),
    "Audit log": ("audit_log", {}),
    "Preflight": ("preflight", {}),
    "Runbooks": ("runbooks", {}),
    "Training record": ("training_record", {}),
}
NAV = ("Dashboard", "Orders", "Runs", "Environments", "Audit log", "Runbooks", "Preflight")
FILESYSTEM_ROOTS = ("/etc/", "/srv/", "/var/", "/usr/", "/tmp/", "/home/")
PLACEHOLDERS = {"RUN_ID"}
UPPER_SNAKE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
MIXED_TABLE = re.compile(r"\b(?:swp|MON)_[A-Za-z_]+\b")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
FENCED = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1", re.MULTILINE | re.DOTALL)
COMMAND = re.compile(r"manage\.py\s+([a-z_]+)((?:\s+[^\s#|;&]+)*)")
PAGE_NAME = re.compile(r"\*\*([^*]+)\*\* page")
LINK = re.compile(r"\]\((/[^)\s]*)\)")
EXCEPTION_NAME = re.compile(r"^[A-Z][A-Za-z]+(?:Exception|Error)$")


def _env_example_names() -> set[str]:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def _known_tables() -> set[str]:
    return set(ORDER_TABLES) | {model._meta.db_table for model in apps.get_models()}


def _code(text: str) -> list[str]:
    """Inline code spans and the lines of fenced code blocks."""
    blocks = [line for match in FENCED.finditer(text) for line in match.group(2).splitlines()]
    return blocks + CODE_SPAN.findall(FENCED.sub("", text))


def unknown_pages(text: str) -> list[str]:
    problems = []
    for name in PAGE_NAME.findall(text):
        if name not in PAGES:
            problems.append(f"page {name!r} is not a console page")
            continue
        url_name, kwargs = PAGES[name]
        try:
            reverse(url_name, kwargs=kwargs or None)
        except NoReverseMatch:
            problems.append(f"page {name!r}: URL name {url_name!r} does not exist")
    paths = LINK.findall(text) + [c.split()[0] for c in _code(text) if c.startswith("/") and c.split()]
    for path in paths:
        if path.startswith(FILESYSTEM_ROOTS):
            continue
        try:
            resolve(path.split("?")[0].split("#")[0])
        except Resolver404:
            problems.append(f"console path {path!r} does not resolve")
    return problems


def unknown_commands(text: str) -> list[str]:
    problems = []
    commands = get_commands()
    for line in _code(text):
        for name, args in COMMAND.findall(line):
            if name not in commands:
                problems.append(f"manage.py {name}: no such command")
                continue
            parser = load_command_class(commands[name], name).create_parser("manage.py", name)
            options = {option for action in parser._actions for option in action.option_strings}
            for flag in re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", args):
                if flag not in options:
                    problems.append(f"manage.py {name}: no option {flag}")
    return problems


def unknown_names(text: str, *, delta_allowed: bool = False) -> list[str]:
    """UPPER_SNAKE names must be settings (or .env.example variables), tables, monday error codes or
    documented placeholders; swp_/MON_ names must be tables; exception names must exist in the code."""
    known = (
        _env_example_names()
        | _known_tables()
        | RATE_LIMIT_CODES
        | DAILY_LIMIT_CODES
        | AUTH_CODES
        | REQUEST_REJECTED_CODES
        | PLACEHOLDERS
    )
    if delta_allowed:
        known |= set(DELTA_TABLES)
    problems = [
        f"{name} is not a setting, a table or a monday error code"
        for name in sorted(set(UPPER_SNAKE.findall(text)))
        if name not in known and not hasattr(settings, name)
    ]
    problems += [f"table {name} does not exist" for name in set(MIXED_TABLE.findall(text)) - _known_tables()]
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "syncapp").rglob("*.py"))
    problems += [
        f"{name} is not raised or explained anywhere in the code"
        for name in {c.strip() for c in _code(text) if EXCEPTION_NAME.match(c.strip())}
        if name not in source
    ]
    return problems


def _documents() -> list[Path]:
    return sorted(RUNBOOKS.glob("*.md"))


# --- the files ------------------------------------------------------------------------------------------


def test_it_has_the_nine_runbooks_and_each_parses():
    runbooks = runbook_list()
    assert [r.slug for r in runbooks] == EXPECTED
    for runbook in runbooks:
        assert runbook.title and runbook.intro, runbook.slug
        assert [s.number for s in runbook.steps] == list(range(1, len(runbook.steps) + 1))
        assert len(runbook.steps) >= 4, runbook.slug
        assert all(s.title and s.body for s in runbook.steps), runbook.slug


@pytest.mark.parametrize("path", _documents(), ids=lambda p: p.name)
def test_it_names_only_console_pages_that_exist(path):
    assert unknown_pages(path.read_text(encoding="utf-8")) == []


def test_it_names_pages_the_way_the_menu_does():
    nav = (ROOT / "templates" / "base.html").read_text(encoding="utf-8")
    for name in NAV:
        assert re.search(rf">{name}</a>", nav), name


@pytest.mark.parametrize("path", _documents(), ids=lambda p: p.name)
def test_it_names_only_commands_and_options_that_exist(path):
    assert unknown_commands(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", _documents(), ids=lambda p: p.name)
def test_it_names_only_settings_tables_and_errors_that_exist(path):
    text = path.read_text(encoding="utf-8")
    assert unknown_names(text, delta_allowed=path.stem == DELTA_RUNBOOK) == []


def test_it_uses_only_registered_checks_and_actions():
    used = {(d.kind, d.name) for r in runbook_list() for d in r.directives}
    assert {name for kind, name in used if kind == "check"} <= set(CHECKS)
    assert {name for kind, name in used if kind == "action"} <= set(ACTIONS)
    for runbook in runbook_list():
        for d in runbook.directives:
            if d.name == "runbook":
                assert runbook_get(d.params["slug"]) is not None, (runbook.slug, d.params)


def test_it_documents_every_check_and_action_in_the_runbook_readme():
    readme = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    for name in (*CHECKS, *ACTIONS):
        assert f"| `{name}` |" in readme, name


def test_the_scans_would_catch_a_system_that_is_not_there():
    invented = """# Invented
See the **Shipments** page ([/shipments/](/shipments/)) and `/orders/nowhere/`.
Run `python manage.py export_orders` and `python manage.py sync_orders --env production --force`.
Set `MONDAY_API_SECRET`, read `ORDER_LIST_ARCHIVE` and `swp_ORDER_LIST_OLD`; expect `BoardMeltdownException`.
Drop ORDER_LIST_DELTA.
"""
    pages = unknown_pages(invented)
    assert any("Shipments" in p for p in pages) and any("/shipments/" in p for p in pages)
    assert any("/orders/nowhere/" in p for p in pages)
    commands = unknown_commands(invented)
    assert "manage.py export_orders: no such command" in commands
    assert "manage.py sync_orders: no option --force" in commands
    names = " ".join(unknown_names(invented))
    for name in ("MONDAY_API_SECRET", "ORDER_LIST_ARCHIVE", "swp_ORDER_LIST_OLD", "BoardMeltdownException"):
        assert name in names
    assert "ORDER_LIST_DELTA" in names, "only runbook 8 may name the delta tables"
    assert "ORDER_LIST_DELTA" not in " ".join(unknown_names(invented, delta_allowed=True))


# --- the convention ----------------------------------------------------------------------------------------


GOOD = """# A runbook

Why and when.

## 1. First

Do this.

check: pending_rows customer="TITLE NINE" po=4755,4756
action: mark_pending customer=GREYSON po=4755

```text
check: this is code, not a check
```

## 2. Second

And this.

## Notes

Closing words.
"""


def test_it_parses_steps_checks_actions_and_notes():
    runbook = runbook_validate(parse_runbook(GOOD, "10-a-runbook"))
    assert (runbook.number, runbook.title, runbook.intro) == (10, "A runbook", "Why and when.")
    first, second = runbook.steps
    assert (first.number, first.title, second.title) == (1, "First", "Second")
    assert [(d.name, d.params) for d in first.checks] == [
        ("pending_rows", {"customer": "TITLE NINE", "po": "4755,4756"})
    ]
    assert [(d.name, d.params) for d in first.actions] == [("mark_pending", {"customer": "GREYSON", "po": "4755"})]
    assert "check: this is code" in first.body and "pending_rows" not in first.body
    assert runbook.notes == "## Notes\n\nClosing words." and "Closing" not in second.body


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no title\n\n## 1. x\n", "first line must be the title"),
        ("# T\n\nno steps\n", "no numbered steps"),
        ("# T\n\n## 1. a\n\n## 3. c\n", "step 3 should be step 2"),
        ("# T\n\n## 1. a\n\ncheck: invented_check\n", "there is no check called 'invented_check'"),
        ("# T\n\n## 1. a\n\naction: launch_rockets\n", "there is no action called 'launch_rockets'"),
        ("# T\n\n## 1. a\n\ncheck: pending_rows colour=red\n", "takes no colour="),
        ("# T\n\n## 1. a\n\ncheck: pending_rows expect=lots\n", "expect='lots' is not valid"),
        ("# T\n\n## 1. a\n\ncheck: synced_rows env=staging\n", "env='staging' is not valid"),
        ("# T\n\n## 1. a\n\ncheck: other_pending_rows\n", "needs po="),
        ("# T\n\n## 1. a\n\ncheck: pending_rows po\n", "'po' is not key=value"),
        ("# T\n\ncheck: pending_rows\n\n## 1. a\n", "belong inside a numbered step"),
        ("# T\n\n## 1. a\n\n## Notes\n\n## 2. b\n", "comes after the closing notes"),
        ("# T\n\n## 1. a\n\n```\nnever closed\n", "code block is not closed"),
    ],
)
def test_it_refuses_a_runbook_that_breaks_the_convention_and_says_where(text, message):
    with pytest.raises(RunbookError, match=re.escape(message)):
        runbook_validate(parse_runbook(text, "99-broken"))


def test_it_renders_markdown_without_raw_html_or_script_links():
    html = render_markdown(
        '<script>alert("x")</script>\n\n<img src=x onerror=alert(1)> [a](javascript:alert(1)) '
        "[b](JaVa\tScRiPt:alert(1)) [c](/orders/) [d](https://monday.com/boards/1) ![e](data:image/png;base64,AA)"
    )
    assert "<script" not in html and "<img src=x" not in html and "onerror=alert(1)>" not in html
    assert "&lt;script&gt;" in html
    assert "javascript" not in html.lower().replace("&lt;script&gt;", "") and "data:" not in html
    assert '<a href="/orders/">c</a>' in html
    assert 'href="https://monday.com/boards/1"' in html and 'rel="noopener"' in html


@pytest.mark.parametrize(
    ("expect", "value", "total", "met"),
    [
        ("0", 0, None, True),
        ("0", 1, None, False),
        (">0", 1, None, True),
        (">0", 0, None, False),
        (">=7", 7, None, True),
        ("<3", 3, None, False),
        ("7", 7, None, True),
        ("all", 7, 7, True),
        ("all", 6, 7, False),
        ("all", 0, 0, False),
        ("any", 0, None, True),
    ],
)
def test_it_reads_expectations(expect, value, total, met):
    assert expectation_met(expect, value, total) is met


# --- live checks ------------------------------------------------------------------------------------------


@pytest.fixture
def data(db):
    orders(30)  # every order line PENDING/INSERT; GREYSON PO 4755 has 7 lines
    return list(FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number"))


SCOPE = {"customer": "GREYSON", "po": "4755"}


def _link_all(lines, environment: str = "development") -> None:
    for line in lines:
        ItemLink.objects.create(
            environment=environment,
            board_id=DEV_BOARD,
            record_uuid=line.record_uuid,
            monday_item_id=1000 + int(line.aag_order_number.split("-")[-1]),
        )


def test_it_counts_pending_rows_for_a_po(data):
    outcome = check_evaluate("pending_rows", SCOPE)
    assert outcome.ok and outcome.text == "pending order lines for GREYSON PO 4755: 7"
    FactOrderList.objects.filter(po_number="4755").update(sync_state="COMPLETED", action_type="NONE")
    outcome = check_evaluate("pending_rows", SCOPE)
    assert not outcome.ok and outcome.text.endswith(": 0") and outcome.detail == "expected more than 0"
    assert check_evaluate("pending_rows", {**SCOPE, "expect": "0"}).ok


def test_it_counts_pending_rows_outside_a_po(data):
    others = FactOrderList.objects.exclude(po_number="4755").count()
    outcome = check_evaluate("other_pending_rows", SCOPE)
    assert not outcome.ok and outcome.text == f"pending order lines outside GREYSON PO 4755: {others}"
    FactOrderList.objects.exclude(po_number="4755").update(sync_state="COMPLETED", action_type="NONE")
    assert check_evaluate("other_pending_rows", SCOPE).ok


def test_it_counts_synced_rows_and_items_on_one_environment(data):
    assert not check_evaluate("synced_rows", {**SCOPE, "env": "development"}).ok
    assert not check_evaluate("items_linked", {**SCOPE, "env": "development"}).ok
    _link_all(data[:6])
    FactOrderList.objects.filter(po_number="4755").update(sync_state="SYNCED")
    outcome = check_evaluate("synced_rows", {**SCOPE, "env": "development"})
    assert not outcome.ok and outcome.text == "order lines of GREYSON PO 4755 synced to development: 6 of 7"
    _link_all(data[6:])
    assert check_evaluate("synced_rows", {**SCOPE, "env": "development"}).ok
    assert check_evaluate("items_linked", {**SCOPE, "env": "development"}).text.endswith(": 7")
    assert not check_evaluate("items_linked", {**SCOPE, "env": "production"}).ok, "links are per environment"
    assert not check_evaluate("items_linked", {**SCOPE, "env": "development", "expect": "0"}).ok


def test_it_counts_error_rows(data):
    assert check_evaluate("error_rows", SCOPE).ok
    FactOrderList.objects.filter(pk=data[0].pk).update(sync_state="ERROR")
    outcome = check_evaluate("error_rows", SCOPE)
    assert not outcome.ok and outcome.text == "order lines in ERROR for GREYSON PO 4755: 1"


def test_it_checks_the_environment_the_token_and_active_runs(db, settings):
    assert check_evaluate("active_environment", {"env": "development"}).ok
    activate("production")
    outcome = check_evaluate("active_environment", {"env": "development"})
    assert not outcome.ok and outcome.text == "active environment: production"
    settings.MONDAY_API_TOKEN_PRODUCTION = ""
    outcome = check_evaluate("token_configured", {})
    assert not outcome.ok and outcome.text == "MONDAY_API_TOKEN_PRODUCTION: not set"
    assert check_evaluate("token_configured", {"env": "development"}).ok
    assert check_evaluate("no_active_run", {"env": "development"}).ok
    run = make_run(status="running")
    outcome = check_evaluate("no_active_run", {"env": "development"})
    assert not outcome.ok and f"run {run.pk} (running)" in outcome.text


def test_it_checks_the_latest_run_of_a_scope(db):
    assert not check_evaluate("latest_run", {**SCOPE, "env": "development"}).ok
    good = make_run(outcome="SUCCESS", success_rate=100.0)
    make_run(scope={"customer": "PELOTON"}, outcome="FAILED", success_rate=10.0)
    outcome = check_evaluate("latest_run", {**SCOPE, "env": "development"})
    assert outcome.ok and f"run {good.pk}, completed, 100% synced" in outcome.text
    assert not check_evaluate("latest_run", {"env": "development"}).ok, "the newest run of any scope failed"
    make_run(dry_run=True)
    assert check_evaluate("latest_run", {**SCOPE, "env": "development"}).ok, "previews do not count"
    same = check_evaluate("latest_run", {"customer": " greyson", "po": "4755", "env": "development"})
    assert same.ok and f"run {good.pk}," in same.text, "customer and PO compared without case or outer spaces"
    assert not check_evaluate("latest_run", {"po": "4755", "env": "development"}).ok, "another selection"


def test_it_checks_the_latest_rollback(db):
    parent = make_run()
    make_run(kind="rollback", parent=parent, failed_count=2, error_message="2 change(s) could not be undone")
    outcome = check_evaluate("latest_rollback", {"env": "development"})
    assert not outcome.ok and outcome.detail == "2 change(s) could not be undone"
    make_run(kind="rollback", parent=parent)
    assert check_evaluate("latest_rollback", {"env": "development"}).ok


def test_it_checks_the_worker(db, monkeypatch):
    outcome = check_evaluate("worker_alive", {})
    assert not outcome.ok and "no django-q2 cluster running" in outcome.text
    alive = WorkerHealth(
        clusters=1, queued_tasks=0, last_success=None, last_failure=None, last_failure_name="", stuck_runs=0
    )
    monkeypatch.setattr("syncapp.runbooks.checks.worker_health", lambda: alive)
    assert check_evaluate("worker_alive", {}).text == "task worker: 1 django-q2 cluster(s) running"


def test_it_summarises_the_preflight(db, monkeypatch):
    calls = []

    def fake(*, environment, scope=None):
        calls.append((environment, scope))
        return [
            CheckResult("configuration valid", True, "fine"),
            CheckResult("task worker (django-q2 cluster) alive", False, "none", "Start the worker."),
        ]

    monkeypatch.setattr("syncapp.runbooks.checks.preflight_checks", fake)
    outcome = check_evaluate("preflight", {"env": "production", **SCOPE})
    assert calls == [("production", Scope(customer="GREYSON", pos=("4755",)))]
    assert not outcome.ok and outcome.text == "preflight for production: 1 of 2 checks green"
    assert outcome.detail == "task worker (django-q2 cluster) alive: Start the worker."


def test_it_checks_the_delta_tables_and_the_configuration(db):
    from django.db import connection

    assert check_evaluate("delta_tables_gone", {}).ok
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {connection.ops.quote_name(DELTA_TABLES[0])} (id INTEGER)")
    outcome = check_evaluate("delta_tables_gone", {})
    assert not outcome.ok and DELTA_TABLES[0] in outcome.text
    assert check_evaluate("config_valid", {}).ok


def test_it_shows_a_broken_check_red_instead_of_failing_the_page(db, monkeypatch):
    monkeypatch.setattr("syncapp.runbooks.checks.worker_health", lambda: 1 / 0)
    outcome = check_evaluate("worker_alive", {})
    assert not outcome.ok and "ZeroDivisionError" in outcome.detail


# --- actions -----------------------------------------------------------------------------------------------


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = user
    return request


def test_it_builds_a_mark_button_that_opens_the_confirmation_filled_in(data, ops_client, ops_user):
    action = action_build("mark_pending", SCOPE, _request(ops_user), "/runbooks/x/#step-4")
    fields = dict(action.fields)
    assert (action.method, action.url, action.allowed) == ("post", reverse("orders_mark"), True)
    assert fields["state"] == "pending" and fields["next"] == "/runbooks/x/#step-4"
    page = ops_client.post(action.url, fields)
    assert page.status_code == 200 and page.templates[0].name == "syncapp/orders_mark_confirm.html"
    assert page.context["counts"].lines == 7 and "customer GREYSON, PO 4755" in page.content.decode()
    confirmed = ops_client.post(action.url, {**fields, "scope": page.context["scope_json"], "confirmed": "yes"})
    assert confirmed.status_code == 302 and confirmed["Location"] == "/runbooks/x/#step-4"


def test_it_builds_preview_and_sync_buttons_for_the_scope(data, ops_client, ops_user):
    sync = action_build("sync_confirm", {**SCOPE, "env": "development"}, _request(ops_user), "/r/")
    page = ops_client.post(sync.url, dict(sync.fields))
    assert page.templates[0].name == "syncapp/sync_confirm.html" and page.context["counts"].pending == 7
    activate("production")
    refused = action_build("sync_confirm", {**SCOPE, "env": "development"}, _request(ops_user), "/r/")
    assert not refused.allowed and refused.reason == "The console acts on production, not development."


def test_it_greys_out_actions_the_role_cannot_do(data, trainer_user):
    request = _request(trainer_user)
    for name, params in (("mark_pending", SCOPE), ("preview", SCOPE), ("switch_environment", {"env": "production"})):
        action = action_build(name, params, request, "/r/")
        assert not action.allowed and action.reason, name
    assert action_build("orders", SCOPE, request, "/r/").allowed
    assert action_build("training_record", {}, request, "/r/").allowed


def test_it_links_to_the_latest_run_or_says_there_is_none(data, ops_user):
    request = _request(ops_user)
    missing = action_build("latest_run", {**SCOPE, "env": "development"}, request, "/r/")
    assert not missing.allowed and missing.reason == "No development run yet."
    run = make_run()
    found = action_build("latest_run", {**SCOPE, "env": "development"}, request, "/r/")
    assert found.url == reverse("run_detail", kwargs={"run_id": run.pk})
    rollback = action_build("rollback", {**SCOPE, "env": "development"}, request, "/r/")
    assert rollback.url == reverse("run_rollback", kwargs={"run_id": run.pk}) and rollback.allowed
    orders_link = action_build("orders", {**SCOPE, "state": "PENDING"}, request, "/r/")
    assert orders_link.url == reverse("orders") + "?customer=GREYSON&po=4755&state=PENDING"


# --- pages -------------------------------------------------------------------------------------------------


def _page(slug: str) -> str:
    return reverse("runbook_detail", kwargs={"slug": slug})


def test_it_lists_the_runbooks_with_your_progress(ops_client, ops_user):
    html = ops_client.get(reverse("runbooks")).content.decode()
    for runbook in runbook_list():
        assert runbook.title in html
    Walkthrough.objects.create(user=ops_user, runbook=RUNBOOK_02, environment="development")
    html = ops_client.get(reverse("runbooks")).content.decode()
    assert "in progress</span> 0 of 8 steps" in html


def test_it_renders_a_runbook_with_numbered_steps_live_checks_and_actions(data, ops_client):
    html = ops_client.get(_page(RUNBOOK_02)).content.decode()
    assert '<li class="runbook-step ' in html and 'id="step-8"' in html
    assert "pending order lines for GREYSON PO 4755: 7" in html
    assert 'data-check="other_pending_rows" data-state="red"' in html
    assert 'data-check="active_environment" data-state="ok"' in html
    assert "Mark GREYSON PO 4755 PENDING…" in html and "Preview GREYSON PO 4755 on development" in html
    assert "check: pending_rows" not in html, "directive lines are not shown as text"
    assert "Start the walkthrough" in html


@pytest.mark.parametrize("fixture", ["ops_client", "trainer_client", "admin_client_"])
def test_it_renders_every_runbook_and_every_check_for_every_role(data, request, fixture, monkeypatch):
    monkeypatch.setattr("syncapp.runbooks.checks.preflight_checks", lambda **kw: [])
    client = request.getfixturevalue(fixture)
    for runbook in runbook_list():
        html = client.get(_page(runbook.slug)).content.decode()
        assert html.count('<li class="runbook-step') == len(runbook.steps), runbook.slug
        assert html.count('data-testid="live-check"') == sum(len(s.checks) for s in runbook.steps), runbook.slug
        for step in runbook.steps:
            for index in range(len(step.checks)):
                url = reverse("runbook_check", kwargs={"slug": runbook.slug, "step": step.number, "index": index})
                assert 'data-testid="live-check"' in client.get(url).content.decode(), url


def test_it_loads_slow_checks_after_the_page(data, admin_client_, monkeypatch):
    monkeypatch.setattr(
        "syncapp.runbooks.checks.preflight_checks", lambda **kw: [CheckResult("configuration valid", True, "ok")]
    )
    html = admin_client_.get(_page("03-production-cutover")).content.decode()
    url = reverse("runbook_check", kwargs={"slug": "03-production-cutover", "step": 1, "index": 0})
    assert f'hx-get="{url}" hx-trigger="load"' in html and "preflight for production:" not in html
    partial = admin_client_.get(url).content.decode()
    assert "preflight for production: 1 of 1 checks green" in partial and "<html" not in partial
    assert admin_client_.get(url.replace("/0/", "/9/")).status_code == 404


def test_it_starts_and_resumes_a_walkthrough(data, ops_client, ops_user):
    response = ops_client.post(reverse("walkthrough_start", kwargs={"slug": RUNBOOK_02}))
    assert response.status_code == 302 and response["Location"] == _page(RUNBOOK_02)
    walkthrough = Walkthrough.objects.get()
    assert (walkthrough.user, walkthrough.runbook, walkthrough.environment) == (ops_user, RUNBOOK_02, "development")
    assert AuditEntry.objects.filter(action="walkthrough_start", target_id=RUNBOOK_02, actor=ops_user).exists()
    ops_client.post(reverse("walkthrough_tick", kwargs={"walkthrough_id": walkthrough.pk, "step": 1}))
    ops_client.post(reverse("walkthrough_start", kwargs={"slug": RUNBOOK_02}))
    assert Walkthrough.objects.count() == 1, "starting again resumes the walkthrough in progress"
    html = ops_client.get(_page(RUNBOOK_02)).content.decode()
    assert "1 of 8 steps done" in html and 'data-testid="tick-1"' in html and "Done by olivia.ops" in html
    assert 'data-testid="tick-button-2"' in html and 'data-testid="tick-button-1"' not in html


def test_it_records_each_tick_with_who_when_step_and_environment(data, ops_client, ops_user):
    ops_client.post(reverse("walkthrough_start", kwargs={"slug": RUNBOOK_02}))
    walkthrough = Walkthrough.objects.get()
    tick_url = reverse("walkthrough_tick", kwargs={"walkthrough_id": walkthrough.pk, "step": 3})
    response = ops_client.post(tick_url)
    assert response.status_code == 302 and response["Location"] == _page(RUNBOOK_02) + "#step-4"
    activate("production")
    ops_client.post(reverse("walkthrough_tick", kwargs={"walkthrough_id": walkthrough.pk, "step": 4}))
    ops_client.post(tick_url)  # a second tick of the same step keeps the first
    ticks = list(StepTick.objects.order_by("step").values_list("step", "user", "environment"))
    assert ticks == [(3, ops_user.pk, "development"), (4, ops_user.pk, "production")]
    assert StepTick.objects.get(step=3).ticked_at is not None
    entries = AuditEntry.objects.filter(action="runbook_step_tick").order_by("id")
    assert [(e.details["step"], e.environment) for e in entries] == [(3, "development"), (4, "production")]


def test_it_completes_a_walkthrough_when_every_step_is_ticked(data, ops_client):
    ops_client.post(reverse("walkthrough_start", kwargs={"slug": RUNBOOK_02}))
    walkthrough = Walkthrough.objects.get()
    steps = len(runbook_get(RUNBOOK_02).steps)
    for step in range(1, steps):
        ops_client.post(reverse("walkthrough_tick", kwargs={"walkthrough_id": walkthrough.pk, "step": step}))
        walkthrough.refresh_from_db()
        assert walkthrough.completed_at is None
    response = ops_client.post(reverse("walkthrough_tick", kwargs={"walkthrough_id": walkthrough.pk, "step": steps}))
    walkthrough.refresh_from_db()
    assert walkthrough.completed_at is not None
    assert AuditEntry.objects.filter(action="walkthrough_complete").count() == 1
    page = ops_client.get(response["Location"])
    assert "completed: every step is ticked" in page.content.decode()
    assert 'data-testid="walkthrough-completed"' in page.content.decode()
    late = ops_client.post(reverse("walkthrough_tick", kwargs={"walkthrough_id": walkthrough.pk, "step": 1}))
    assert "already completed" in ops_client.get(late["Location"]).content.decode()
    ops_client.post(reverse("walkthrough_start", kwargs={"slug": RUNBOOK_02}))
    assert Walkthrough.objects.count() == 2, "after completion, walking through again starts a new one"


def test_it_refuses_ticks_on_someone_elses_walkthrough_or_a_missing_step(
    data, ops_client, trainer_client, trainer_user
):
    theirs = Walkthrough.objects.create(user=trainer_user, runbook=RUNBOOK_02, environment="development")
    response = ops_client.post(reverse("walkthrough_tick", kwargs={"walkthrough_id": theirs.pk, "step": 1}))
    assert response.status_code == 404
    response = trainer_client.post(reverse("walkthrough_tick", kwargs={"walkthrough_id": theirs.pk, "step": 99}))
    assert "has no step 99" in trainer_client.get(response["Location"]).content.decode()
    assert not StepTick.objects.exists()


def test_it_needs_a_post_with_a_csrf_token_to_tick(data, ops_user):
    walkthrough = Walkthrough.objects.create(user=ops_user, runbook=RUNBOOK_02, environment="development")
    url = reverse("walkthrough_tick", kwargs={"walkthrough_id": walkthrough.pk, "step": 1})
    client = Client(enforce_csrf_checks=True)
    client.force_login(ops_user)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    assert not StepTick.objects.exists()


# --- the training record -----------------------------------------------------------------------------------


@pytest.fixture
def record(data, ops_user, trainer_user):
    from django.utils import timezone

    done = Walkthrough.objects.create(user=ops_user, runbook=RUNBOOK_02, environment="development")
    for step in range(1, 9):
        StepTick.objects.create(walkthrough=done, step=step, user=ops_user, environment="development")
    Walkthrough.objects.filter(pk=done.pk).update(completed_at=timezone.now())
    open_one = Walkthrough.objects.create(user=trainer_user, runbook="05-troubleshooting", environment="production")
    StepTick.objects.create(walkthrough=open_one, step=1, user=trainer_user, environment="production")
    return done, open_one


def test_it_shows_trainers_who_completed_which_runbook_and_when(record, trainer_client):
    html = trainer_client.get(reverse("training_record")).content.decode()
    assert "olivia.ops" in html and "Test a PO on the development board" in html and "8 of 8" in html
    assert "tara.trainer" in html and "Troubleshooting" in html and "1 of 5" in html
    completed = trainer_client.get(reverse("training_record"), {"status": "completed"}).context["rows"]
    assert [(w.user.username, title) for w, title, _ in completed] == [
        ("olivia.ops", "Test a PO on the development board")
    ]
    detail = trainer_client.get(reverse("walkthrough_detail", kwargs={"walkthrough_id": record[0].pk}))
    assert detail.content.decode().count("olivia.ops") >= 8


def test_it_exports_the_training_record_as_csv(record, admin_client_, django_user_model, ops_user):
    sneaky = django_user_model.objects.create_user(username="=HYPERLINK(1)", password="x")
    Walkthrough.objects.create(user=sneaky, runbook=RUNBOOK_02, environment="development")
    response = admin_client_.get(reverse("training_record_csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))
    done = next(r for r in rows if r["user"] == "olivia.ops")
    assert (done["runbook"], done["title"], done["status"]) == (
        RUNBOOK_02,
        "Test a PO on the development board",
        "completed",
    )
    assert (done["steps_ticked"], done["steps"], done["environment"]) == ("8", "8", "development")
    assert done["completed_at"] and done["started_at"]
    assert any(r["user"] == "'=HYPERLINK(1)" for r in rows), "cells that start a formula are escaped"
    filtered = admin_client_.get(reverse("training_record_csv"), {"status": "in_progress", "runbook": RUNBOOK_02})
    assert [r["user"] for r in csv.DictReader(io.StringIO(filtered.getvalue().decode()))] == ["'=HYPERLINK(1)"]


# --- permissions -------------------------------------------------------------------------------------------


def _urls(walkthrough_id: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("runbooks")),
        ("get", _page(RUNBOOK_02)),
        ("get", reverse("runbook_check", kwargs={"slug": RUNBOOK_02, "step": 1, "index": 0})),
        ("post", reverse("walkthrough_start", kwargs={"slug": RUNBOOK_02})),
        ("post", reverse("walkthrough_tick", kwargs={"walkthrough_id": walkthrough_id, "step": 1})),
        ("get", reverse("training_record")),
        ("get", reverse("training_record_csv")),
        ("get", reverse("walkthrough_detail", kwargs={"walkthrough_id": walkthrough_id})),
    ]


def test_it_forbids_every_runbook_action_to_users_without_a_role(data, client, no_role_user, ops_user):
    walkthrough = Walkthrough.objects.create(user=no_role_user, runbook=RUNBOOK_02, environment="development")
    client.force_login(no_role_user)
    for method, url in _urls(walkthrough.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 403, url
    assert Walkthrough.objects.count() == 1 and not StepTick.objects.exists()


def test_it_keeps_the_training_record_from_ops(record, ops_client):
    for method, url in _urls(record[0].pk)[-3:]:
        assert getattr(ops_client, method)(url).status_code == 403, url
    assert "Training record" not in ops_client.get(reverse("runbooks")).content.decode()


def test_it_lets_trainers_ops_and_admins_walk_runbooks(data, request):
    for fixture in ("trainer_client", "ops_client", "admin_client_"):
        client = request.getfixturevalue(fixture)
        assert client.post(reverse("walkthrough_start", kwargs={"slug": RUNBOOK_02})).status_code == 302, fixture
    assert Walkthrough.objects.count() == 3


def test_it_shows_runbooks_and_preflight_in_the_menu_by_role(db, ops_client, trainer_client):
    ops_html = ops_client.get(reverse("dashboard")).content.decode()
    trainer_html = trainer_client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("runbooks")}"' in ops_html and f'href="{reverse("runbooks")}"' in trainer_html
    assert f'href="{reverse("preflight")}"' in ops_html
    assert f'href="{reverse("preflight")}"' not in trainer_html
