"""Repeated failed sign-ins are paused, on the console's login page and in the admin."""

from __future__ import annotations

import pytest
from django.test import Client

from syncapp.models import LoginFailure
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _fail(client: Client, username: str, times: int, path: str = "/login/") -> None:
    for _ in range(times):
        client.post(path, {"username": username, "password": "wrong password"})


def test_it_pauses_sign_in_after_repeated_failures_even_with_the_right_password(ops_user, settings):
    settings.ORDEROPS_LOGIN_FAILURE_LIMIT = 3
    client = Client()
    _fail(client, ops_user.username, 3)
    response = client.post("/login/", {"username": ops_user.username, "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_lets_a_user_in_below_the_limit_and_forgets_the_failures(ops_user, settings):
    settings.ORDEROPS_LOGIN_FAILURE_LIMIT = 3
    client = Client()
    _fail(client, ops_user.username, 2)
    response = client.post("/login/", {"username": ops_user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert not LoginFailure.objects.filter(username=ops_user.username).exists()


def test_it_pauses_the_admin_login_too(admin_user, settings):
    settings.ORDEROPS_LOGIN_FAILURE_LIMIT = 2
    client = Client()
    _fail(client, admin_user.username, 2, path="/admin/login/")
    client.post("/admin/login/", {"username": admin_user.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_the_pause_ends_after_the_lockout_time(ops_user, settings):
    settings.ORDEROPS_LOGIN_FAILURE_LIMIT = 2
    settings.ORDEROPS_LOGIN_LOCKOUT_SECONDS = 60
    client = Client()
    _fail(client, ops_user.username, 2)
    from datetime import timedelta

    from django.utils import timezone

    LoginFailure.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    response = client.post("/login/", {"username": ops_user.username, "password": PASSWORD})
    assert response.status_code == 302
