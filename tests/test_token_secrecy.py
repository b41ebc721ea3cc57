"""monday tokens never appear in HTML, logs, the API log or error messages."""

from __future__ import annotations

import logging

import pytest
from django.urls import get_resolver

from syncapp.models import ApiCall, AuditEntry, RowResult, SyncRun
from tests.sync_helpers import only_po_pending, stage_and_merge, sync

pytestmark = pytest.mark.django_db

DEV_TOKEN = "eyJhbGciOiJIUzI1NiJ9.known-fake-DEV-token-4755"
PROD_TOKEN = "eyJhbGciOiJIUzI1NiJ9.known-fake-PROD-token-9200"


@pytest.fixture
def secret_monday(emulator, settings):
    emulator.api.tokens.update({"development": DEV_TOKEN, "production": PROD_TOKEN})
    settings.MONDAY_API_URL = emulator.url
    settings.MONDAY_API_TOKEN_DEVELOPMENT = DEV_TOKEN
    settings.MONDAY_API_TOKEN_PRODUCTION = PROD_TOKEN
    return emulator


def _leaks(text: str) -> bool:
    return DEV_TOKEN in text or PROD_TOKEN in text or "known-fake" in text


def _pages(client) -> dict[str, str]:
    """Every console page without arguments, and every run page, as HTML."""
    pages = {}
    run_ids = list(SyncRun.objects.values_list("pk", flat=True))
    for pattern in get_resolver().url_patterns:
        pages.update(_walk(client, pattern, "", run_ids))
    return pages


def _walk(client, pattern, prefix, run_ids):
    from django.urls import URLPattern, URLResolver

    found = {}
    if isinstance(pattern, URLResolver):
        route = str(pattern.pattern)
        if route.startswith("admin/"):
            return found
        for inner in pattern.url_patterns:
            found.update(_walk(client, inner, prefix + route, run_ids))
        return found
    if not isinstance(pattern, URLPattern):
        return found
    route = prefix + str(pattern.pattern)
    paths = (
        [route]
        if "<" not in route
        else [route.replace("<int:pk>", str(i)).replace("<int:run_id>", str(i)) for i in run_ids]
    )
    for path in paths:
        if "<" in path:
            continue
        response = client.get("/" + path)
        if response.status_code == 200 and response.get("Content-Type", "").startswith(("text/html", "text/csv")):
            body = b"".join(response.streaming_content) if response.streaming else response.content
            found[path] = body.decode("utf-8", errors="replace")
    return found


def test_it_keeps_tokens_out_of_the_api_log_logs_and_pages(secret_monday, admin_client_, caplog):
    stage_and_merge(40)
    only_po_pending("4755")
    with caplog.at_level(logging.DEBUG):
        run = sync("development")
    assert run.status == "completed"
    assert ApiCall.objects.filter(run=run).exists()
    for call in ApiCall.objects.all():
        assert not _leaks(" ".join([call.request_body, call.response_body, call.error, call.idempotency_key]))
    assert not _leaks(caplog.text)
    for entry in AuditEntry.objects.all():
        assert not _leaks(entry.summary + str(entry.details))
    pages = _pages(admin_client_)
    assert len(pages) >= 2
    for path, html in pages.items():
        assert not _leaks(html), f"token on page /{path}"


def test_it_names_the_token_setting_not_the_token_when_monday_refuses_it(secret_monday, caplog):
    stage_and_merge(20)
    only_po_pending("4755")
    secret_monday.api.tokens["development"] = "some-other-token"
    with caplog.at_level(logging.DEBUG):
        run = sync("development")
    assert run.status == "failed"
    assert "MONDAY_API_TOKEN_DEVELOPMENT" in run.error_message
    assert not _leaks(run.error_message) and not _leaks(caplog.text)
    for result in RowResult.objects.filter(run=run):
        assert not _leaks(result.message)
    for call in ApiCall.objects.filter(run=run):
        assert not _leaks(call.request_body + call.response_body + call.error)
