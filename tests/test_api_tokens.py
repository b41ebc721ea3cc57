"""API tokens: `manage.py api_token create|list|revoke`, only a hash kept, a token acts as its role,
a revoked or unknown token is refused with 401."""

from __future__ import annotations

import hashlib
import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from syncapp.models import ApiToken, AuditEntry
from tests.api_helpers import roles_ensure, token_create

pytestmark = pytest.mark.django_db


def _command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _get(path: str, token: str | None = None, *, scheme: str = "Bearer"):
    headers = {"HTTP_AUTHORIZATION": f"{scheme} {token}"} if token is not None else {}
    return Client().get(path, **headers)


def test_it_prints_a_new_token_once_and_keeps_only_its_hash():
    roles_ensure()
    out, err = _command("create", "--name", "kestra-hourly", "--role", "ops")
    secret = out.strip()
    assert secret.startswith("oo_") and len(secret) > 40 and "\n" not in secret
    assert "shown once" in err and secret not in err
    token = ApiToken.objects.get(name="kestra-hourly")
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:11] and token.created_by.startswith("cli:")
    stored = json.dumps(list(ApiToken.objects.values()), default=str) + json.dumps(
        list(AuditEntry.objects.values()), default=str
    )
    assert secret not in stored and secret[11:] not in stored, "the secret is stored nowhere"
    user = token.user
    assert user.get_username() == "api:kestra-hourly" and not user.has_usable_password()
    assert list(user.groups.values_list("name", flat=True)) == ["Ops"]
    entry = AuditEntry.objects.get(action="api_token_create")
    assert entry.target_id == "kestra-hourly" and entry.via == "cli"


def test_it_lists_tokens_with_their_prefix_and_state_but_no_secret():
    ops = token_create("nightly", "ops")
    admin = token_create("release-script", "admin")
    _command("revoke", "--name", "nightly")
    out, _ = _command("list")
    assert ops not in out and admin not in out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == {"nightly", "release-script"}
    assert ops[:11] in lines["nightly"] and "revoked" in lines["nightly"]
    assert admin[:11] in lines["release-script"] and lines["release-script"].endswith("active")
    assert " admin " in lines["release-script"] and "never" in lines["release-script"]


def test_it_gives_a_token_the_permissions_of_its_role_and_no_console_login():
    token_create("ops-bot", "ops")
    token_create("admin-bot", "admin")
    ops, admin = ApiToken.objects.get(name="ops-bot").user, ApiToken.objects.get(name="admin-bot").user
    assert ops.has_perm("syncapp.sync_development") and not ops.has_perm("syncapp.sync_production")
    assert admin.has_perm("syncapp.sync_production") and admin.has_perm("syncapp.view_syncrun")
    assert not Client().login(username="api:admin-bot", password="")
    assert not Client().login(username="api:admin-bot", password="!")


def test_it_refuses_a_revoked_token_with_401_and_deactivates_its_user():
    secret = token_create("to-revoke", "ops")
    assert _get("/api/v1/runs/1", secret).status_code == 404, "the token works before it is revoked"
    assert ApiToken.objects.get(name="to-revoke").last_used_at is not None
    out, _ = _command("revoke", "--name", "to-revoke")
    assert "revoked to-revoke" in out
    response = _get("/api/v1/runs/1", secret)
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert "revoked" in response.json()["detail"]
    token = ApiToken.objects.get(name="to-revoke")
    assert token.revoked_at is not None and not token.user.is_active
    assert not token.user.has_perm("syncapp.sync_development"), "an inactive user is granted nothing"
    assert AuditEntry.objects.filter(action="api_token_revoke", target_id="to-revoke").count() == 1
    with pytest.raises(CommandError, match="already revoked"):
        _command("revoke", "--name", "to-revoke")


@pytest.mark.parametrize(
    ("token", "scheme", "words"),
    [
        (None, "Bearer", "No API token was sent"),
        ("oo_" + "x" * 43, "Bearer", "not known"),
        ("not-ours", "Bearer", "start with oo_"),
        ("dXNlcjpwYXNz", "Basic", "not a bearer token"),
        ("", "Bearer", "must be 'Bearer' and the token"),
    ],
)
def test_it_answers_401_with_www_authenticate_without_a_valid_token(token, scheme, words):
    roles_ensure()
    response = _get("/api/v1/runs/1", token, scheme=scheme)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="orderops"'
    assert words in response.json()["detail"] and response.json()["code"]


def test_it_does_not_let_a_console_session_into_the_api(ops_client):
    response = ops_client.get("/api/v1/runs/1")
    assert response.status_code == 401, "the API takes bearer tokens only, so CSRF never applies"


def test_it_refuses_bad_and_taken_names():
    token_create("taken", "ops")
    with pytest.raises(CommandError, match="already exists"):
        _command("create", "--name", "taken", "--role", "admin")
    with pytest.raises(CommandError, match="cannot name a token"):
        _command("create", "--name", "has space", "--role", "ops")
    with pytest.raises(CommandError, match="invalid choice"):
        _command("create", "--name", "fine", "--role", "trainer")
    with pytest.raises(CommandError, match="no token named"):
        _command("revoke", "--name", "nobody")
    get_user_model().objects.create_user(username="api:squatter")
    with pytest.raises(CommandError, match="already exists"):
        _command("create", "--name", "squatter", "--role", "ops")
    assert ApiToken.objects.count() == 1


def test_it_checks_a_tokens_permissions_like_a_persons():
    secret = token_create("narrowed", "ops")
    user = ApiToken.objects.get(name="narrowed").user
    user.groups.clear()  # the token is valid, but its user may no longer see runs
    response = _get("/api/v1/runs/1", secret)
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert "api:narrowed may not see runs" in response.json()["detail"]
    posted = Client().post(
        "/api/v1/syncs",
        {"environment": "development", "dry_run": True},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert posted.status_code == 403 and "may not use orderops" in posted.json()["detail"]
    refused = AuditEntry.objects.get(action="sync_refused")
    assert (refused.actor_name, refused.via, refused.details["token"]) == ("api:narrowed", "api", "narrowed")
