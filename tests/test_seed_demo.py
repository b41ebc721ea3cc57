from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import connection

from syncapp.models import StagedOrder
from syncapp.services.demo import DEMO_SIZES, demo_rows


def test_it_generates_the_same_orders_for_the_same_seed():
    assert list(demo_rows(50)) == list(demo_rows(50))
    assert list(demo_rows(50, seed=1)) != list(demo_rows(50))


def test_it_uses_only_real_size_columns():
    from syncapp.order_tables import declared_size_columns

    assert set(DEMO_SIZES) <= set(declared_size_columns())


@pytest.mark.django_db
def test_it_stages_realistic_orders_and_creates_one_user_per_role(capsys):
    call_command("seed_demo", orders=400)
    out = capsys.readouterr().out
    assert "Staged 400 order lines" in out
    assert StagedOrder.objects.count() == 400
    greyson = StagedOrder.objects.filter(customer_name="GREYSON", po_number="4755")
    assert greyson.count() == 7
    assert StagedOrder.objects.filter(order_type__iexact="cancelled").exists()
    assert StagedOrder.objects.filter(style_description__contains="'").exists()
    assert (
        StagedOrder.objects.filter(customer_colour_description="Rosé").exists()
        or StagedOrder.objects.filter(style_description__contains="é").exists()
    )
    customers = set(StagedOrder.objects.values_list("customer_name", flat=True))
    assert {"GREYSON", "PELOTON", "TITLE NINE", "AESCAPE"} <= customers
    for username, password in [("ops", "orderops-ops"), ("admin", "orderops-admin"), ("trainer", "orderops-trainer")]:
        assert f"login: {username} / {password}" in out
        assert authenticate(username=username, password=password) is not None


@pytest.mark.django_db
def test_it_replaces_the_staging_content_when_run_again():
    call_command("seed_demo", orders=30, no_users=True)
    call_command("seed_demo", orders=20, no_users=True)
    assert StagedOrder.objects.count() == 20


@pytest.mark.django_db
def test_it_spreads_quantities_over_size_families():
    call_command("seed_demo", orders=300, no_users=True)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for size in ["M", "32x32", "34DD", "3-6M", "O/S", "ONE SIZE"]:
            cursor.execute(f"SELECT COUNT(*) FROM {quote('swp_ORDER_LIST_SYNC')} WHERE {quote(size)} > 0")
            assert cursor.fetchone()[0] > 0, size
