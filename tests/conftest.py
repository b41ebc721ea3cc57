"""Shared fixtures: one user per role, logged-in clients, clean order tables, the monday emulator."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client

from syncapp.order_tables import ORDER_TABLES
from syncapp.roles import ADMIN, OPS, TRAINER

pytest_plugins = ["tests.emulator_fixtures", "tests.sqlserver_shadow"]

PASSWORD = "correct-horse-battery-staple"


def _clear_order_tables() -> None:
    # The order tables are unmanaged, so Django's flush between transactional tests skips them.
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in ORDER_TABLES:
            cursor.execute(f"DELETE FROM {quote(table)}")


@pytest.fixture(autouse=True)
def _clean_order_tables(request):
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        yield
        return
    request.getfixturevalue("django_db_blocker")
    _clear_order_tables()
    yield


def _user(django_user_model, username: str, role: str | None, *extra_permissions: str):
    # Transactional tests flush the database, data migrations included: put the roles back.
    if not Group.objects.filter(name__in=[OPS, ADMIN, TRAINER]).count() == 3:
        from django.apps import apps

        from syncapp.roles import sync_roles

        sync_roles(apps)
    user = django_user_model.objects.create_user(username=username, password=PASSWORD, is_staff=role == ADMIN)
    if role:
        user.groups.add(Group.objects.get(name=role))
    for codename in extra_permissions:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="syncapp", codename=codename))
    return user


@pytest.fixture
def ops_user(db, django_user_model):
    return _user(django_user_model, "olivia.ops", OPS)


@pytest.fixture
def ops_prod_user(db, django_user_model):
    return _user(django_user_model, "paul.ops-prod", OPS, "sync_production")


@pytest.fixture
def admin_user(db, django_user_model):
    return _user(django_user_model, "ada.admin", ADMIN)


@pytest.fixture
def trainer_user(db, django_user_model):
    return _user(django_user_model, "tara.trainer", TRAINER)


@pytest.fixture
def no_role_user(db, django_user_model):
    return _user(django_user_model, "nora.norole", None)


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ops_client(ops_user):
    return _client_for(ops_user)


@pytest.fixture
def ops_prod_client(ops_prod_user):
    return _client_for(ops_prod_user)


@pytest.fixture
def admin_client_(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def trainer_client(trainer_user):
    return _client_for(trainer_user)
