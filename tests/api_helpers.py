"""Helpers for the API tests: the roles, a token made by the real command, a requests session."""

from __future__ import annotations

from io import StringIO

import requests
from django.contrib.auth.models import Group
from django.core.management import call_command

from syncapp.roles import ADMIN, OPS, TRAINER


def roles_ensure() -> None:
    # Transactional tests flush the database, data migrations included: put the roles back.
    if Group.objects.filter(name__in=[OPS, ADMIN, TRAINER]).count() != 3:
        from django.apps import apps

        from syncapp.roles import sync_roles

        sync_roles(apps)


def token_create(name: str, role: str) -> str:
    """A token made by `manage.py api_token create`; the command prints it (and only it) on stdout."""
    roles_ensure()
    out, err = StringIO(), StringIO()
    call_command("api_token", "create", "--name", name, "--role", role, stdout=out, stderr=err)
    return out.getvalue().strip()


class Api:
    """The API over real HTTP, as a token."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def post_sync(self, body: dict, **headers: str) -> requests.Response:
        return self.session.post(f"{self.base_url}/api/v1/syncs", json=body, headers=headers, timeout=60)

    def get(self, path: str, **params) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        return self.session.get(url, params=params, timeout=30)

    def run(self, run_id: int) -> dict:
        response = self.get(f"/api/v1/runs/{run_id}")
        assert response.status_code == 200, response.text
        return response.json()
