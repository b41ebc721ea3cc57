"""Order data and monday's messages containing markup render as text on every page that shows them."""

from __future__ import annotations

import pytest
from django.urls import URLPattern

import syncapp.urls
from syncapp.models import FactOrderList, SyncRun
from tests.sync_helpers import only_po_pending, point_at, stage_and_merge, sync

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('orderops')</script>"
IMAGE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def hostile_data(emulator, settings):
    point_at(emulator, settings)
    stage_and_merge(30)
    only_po_pending("4755")
    rows = list(FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number"))
    FactOrderList.objects.filter(pk=rows[0].pk).update(customer_name=f"GREYSON {SCRIPT}")
    FactOrderList.objects.filter(pk=rows[1].pk).update(customer_style=IMAGE, customer_colour_description=SCRIPT)
    FactOrderList.objects.filter(pk=rows[2].pk).update(notes=f'"quoted" {SCRIPT}')
    run = sync("development")
    assert run.failed_count >= 1, "the customer label with markup is not on the board"
    return run


def _get_pages(run: SyncRun) -> list[str]:
    paths = []
    for pattern in syncapp.urls.urlpatterns:
        if not isinstance(pattern, URLPattern) or pattern.name in ("login", "logout"):
            continue
        route = "/" + str(pattern.pattern).replace("<int:run_id>", str(run.pk)).replace("<str:name>", "development")
        paths.append(route)
    paths += [
        "/orders/?customer=GREYSON&po=4755",
        f"/orders/?q={SCRIPT}",
        "/orders/po/?customer=GREYSON&po=4755",
        f"/orders/po/?customer=GREYSON%20{SCRIPT}&po=4755",
        f"/runs/{run.pk}/results/?outcome=error",
    ]
    return paths


def test_markup_in_order_data_and_messages_is_escaped_everywhere(hostile_data, admin_client_):
    shown = 0
    for path in _get_pages(hostile_data):
        response = admin_client_.get(path)
        if response.status_code != 200 or response.streaming:
            continue
        html = response.content.decode()
        assert SCRIPT not in html, f"raw script on {path}"
        assert IMAGE not in html, f"raw img on {path}"
        shown += "&lt;script&gt;" in html or "&lt;img" in html
    assert shown >= 3, "the hostile values must actually appear (escaped) on several pages"
