"""Signing in and out, and what users without the right role see."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PAGES = ["dashboard", "orders", "runs", "environments", "audit_log"]


def test_it_shows_a_labelled_login_form(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_username">' in html and '<label for="id_password">' in html
    assert "banner" not in response.context or not response.context["banner"]


@pytest.mark.parametrize("name", PAGES)
def test_it_sends_anonymous_visitors_to_the_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_signs_in_and_lands_on_the_dashboard(client, ops_user):
    response = client.post(reverse("login"), {"username": ops_user.username, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert "olivia.ops" in response.content.decode()
    assert "(Ops)" in response.content.decode()


def test_it_rejects_a_wrong_password_with_a_message(client, ops_user):
    response = client.post(reverse("login"), {"username": ops_user.username, "password": "nope"})
    assert response.status_code == 200
    assert 'class="message message-error" role="alert"' in response.content.decode()
    assert "correct username and password" in response.content.decode()


def test_it_signs_out_with_a_post(ops_client):
    response = ops_client.post(reverse("logout"))
    assert response.status_code == 302
    assert ops_client.get(reverse("dashboard")).status_code == 302


@pytest.mark.parametrize("name", PAGES)
def test_it_gives_users_without_a_role_a_friendly_403_not_a_redirect_loop(client, no_role_user, name):
    client.force_login(no_role_user)
    response = client.get(reverse(name))
    assert response.status_code == 403
    html = response.content.decode()
    assert "You cannot use the operations console" in html
    assert "view_console" in html


@pytest.mark.parametrize("fixture", ["ops_client", "admin_client_", "trainer_client"])
@pytest.mark.parametrize("name", PAGES)
def test_it_opens_every_page_for_every_role(request, fixture, name):
    response = request.getfixturevalue(fixture).get(reverse(name))
    assert response.status_code == 200
