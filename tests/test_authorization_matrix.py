"""Every console URL x every role x GET/POST: allowed or forbidden, decided on the server.

A URL without a row here fails the test, so a new page cannot ship without its permissions being
stated. "ok" means the view ran (2xx, a redirect that is not to the login page, or 400 for a form
that was incomplete); "403" the friendly forbidden page; "405" a method the view does not accept;
"login" a redirect to the login page.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern

import syncapp.urls
from syncapp.models import ConsoleSettings, SyncRun, Walkthrough
from tests.sync_helpers import stage_and_merge

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "no_role", "trainer", "ops", "ops_prod", "admin")
EVERYONE_SIGNED_IN = {"trainer", "ops", "ops_prod", "admin"}
OPS_AND_UP = {"ops", "ops_prod", "admin"}
ADMIN = {"admin"}
PRODUCTION_SYNC = {"ops_prod", "admin"}
TRAINERS = {"trainer", "admin"}
RUNBOOK = "02-test-a-po-on-development"


def page(readers: set[str] = EVERYONE_SIGNED_IN) -> dict[str, set[str]]:
    return {"get": readers, "post": set()}


def action(doers: set[str]) -> dict[str, set[str]]:
    return {"get": set(), "post": doers}


# url name -> method -> roles allowed (development is the active environment)
EXPECTED = {
    "dashboard": page(),
    "orders": page(),
    "po_detail": page(),
    # Marks a PO PENDING for production and syncs it there: production's permission on any active board.
    "po_production_step": action(PRODUCTION_SYNC),
    "orders_mark": action(OPS_AND_UP),
    "orders_preview": action(OPS_AND_UP),
    "sync_confirm": action(OPS_AND_UP),
    "sync_start": action(OPS_AND_UP),
    "runs": page(),
    "run_detail": page(),
    "run_progress": page(),
    "run_results": page(),
    "run_results_csv": page(),
    "run_api_calls": page(),
    "run_cancel": action(OPS_AND_UP),
    "run_retry": action(OPS_AND_UP),
    "environments": page(),
    "environment_check": action(ADMIN),
    "environment_switch": {"get": ADMIN, "post": ADMIN},
    # Everyone reads a schedule; admins set, pause and resume it.
    "schedule_detail": {"get": EVERYONE_SIGNED_IN, "post": ADMIN},
    "schedule_pause": action(ADMIN),
    "schedule_resume": action(ADMIN),
    # Reconcile reads a board with its token: the permission to sync there starts one or repairs it.
    "environment_reconcile": page(),
    "environment_reconcile_start": action(OPS_AND_UP),
    "reconcile_detail": page(),
    "reconcile_progress": page(),
    "reconcile_findings_csv": page(),
    "reconcile_repair": action(OPS_AND_UP),
    "audit_log": page(),
    # Everyone with the console reads the alert history; admins send a test alert.
    "alerts": page(),
    "alerts_test": action(ADMIN),
    "preflight": {"get": OPS_AND_UP, "post": OPS_AND_UP},
    "run_rollback": page(OPS_AND_UP),
    "run_rollback_start": action(OPS_AND_UP),
    "runbooks": page(),
    "runbook_detail": page(),
    "runbook_check": page(),
    "walkthrough_start": action(EVERYONE_SIGNED_IN),
    # Only the walkthrough's owner (admin here) ticks it; for others it does not exist (404, the view ran).
    "walkthrough_tick": action(EVERYONE_SIGNED_IN),
    "training_record": page(TRAINERS),
    "training_record_csv": page(TRAINERS),
    "walkthrough_detail": page(TRAINERS),
}
# With production active, syncing needs the sync_production permission.
EXPECTED_ON_PRODUCTION = {"sync_confirm": action(PRODUCTION_SYNC), "sync_start": action(PRODUCTION_SYNC)}
PUBLIC = {"login", "logout"}
FORM = {"po": "4755", "customer": "GREYSON", "environment": "development", "state": "pending", "pos": "4755"}


@pytest.fixture
def clients(ops_user, ops_prod_user, admin_user, trainer_user, no_role_user):
    users = {
        "no_role": no_role_user,
        "trainer": trainer_user,
        "ops": ops_user,
        "ops_prod": ops_prod_user,
        "admin": admin_user,
    }
    result = {"anonymous": Client()}
    for role, user in users.items():
        result[role] = Client()
        result[role].force_login(user)
    return result


@pytest.fixture
def finished_run(admin_user):
    stage_and_merge(20)
    Walkthrough.objects.create(user=admin_user, runbook=RUNBOOK, environment="development")
    return SyncRun.objects.create(
        environment="development", items_board_id=9609317401, subitems_board_id=9609317948, status="completed"
    )


def _patterns() -> list[URLPattern]:
    return [p for p in syncapp.urls.urlpatterns if isinstance(p, URLPattern)]


def _path(pattern: URLPattern, run: SyncRun) -> str:
    route = str(pattern.pattern).replace("<int:run_id>", str(run.pk)).replace("<str:name>", "development")
    walkthrough = Walkthrough.objects.order_by("id").first()
    route = route.replace("<slug:slug>", RUNBOOK).replace("<int:step>", "1").replace("<int:index>", "0")
    route = route.replace("<int:walkthrough_id>", str(walkthrough.pk if walkthrough else 0))
    return "/" + route


def _verdict(response) -> str:
    location = response.get("Location", "")
    if response.status_code == 302 and "/login/" in location:
        return "login"
    if response.status_code in (403, 405):
        return str(response.status_code)
    assert response.status_code < 500, f"server error {response.status_code}"
    return "ok"


def _expected(name: str, method: str, role: str, table: dict) -> str:
    if role == "anonymous":
        return "login"
    allowed = table[name][method]
    if not allowed:
        return "405"  # the view does not take this method from anyone
    return "ok" if role in allowed else "403"


def test_every_console_url_has_stated_permissions():
    names = {p.name for p in _patterns()}
    assert names - PUBLIC == set(EXPECTED), "add the new URL to EXPECTED with who may use it"


@pytest.mark.parametrize("role", ROLES)
def test_the_matrix_holds_on_development(clients, finished_run, role):
    mismatches = []
    for pattern in _patterns():
        if pattern.name in PUBLIC:
            continue
        for method in ("get", "post"):
            response = getattr(clients[role], method)(_path(pattern, finished_run), FORM)
            got, want = _verdict(response), _expected(pattern.name, method, role, EXPECTED)
            if got != want:
                mismatches.append(f"{method.upper()} {pattern.name} as {role}: {got}, expected {want}")
    assert mismatches == []


@pytest.mark.parametrize("role", ["ops", "ops_prod", "admin"])
def test_production_sync_needs_the_production_permission(clients, finished_run, role):
    ConsoleSettings.objects.update_or_create(pk=1, defaults={"active_environment": "production"})
    table = {**EXPECTED, **EXPECTED_ON_PRODUCTION}
    for name in EXPECTED_ON_PRODUCTION:
        pattern = next(p for p in _patterns() if p.name == name)
        response = clients[role].post(_path(pattern, finished_run), {**FORM, "environment": "production"})
        assert _verdict(response) == _expected(name, "post", role, table), (name, role, response.status_code)


@pytest.mark.parametrize("role", ["ops", "admin"])
def test_every_post_needs_a_csrf_token(ops_user, admin_user, finished_run, role):
    client = Client(enforce_csrf_checks=True)
    client.force_login(ops_user if role == "ops" else admin_user)
    for pattern in _patterns():
        if pattern.name in PUBLIC or role not in EXPECTED[pattern.name]["post"]:
            continue
        response = client.post(_path(pattern, finished_run), FORM)
        assert response.status_code == 403 and b"CSRF" in response.content, pattern.name
