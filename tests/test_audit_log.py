"""The audit log is append-only: no code path can change or delete an entry."""

from __future__ import annotations

import pytest

from syncapp.models import AuditEntry
from syncapp.services.audit import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(ops_user):
    return audit_record(
        actor=ops_user,
        action="mark_pending",
        summary="marked 7 order lines PENDING",
        environment="development",
        target_type="orders",
        target_id="4755",
    )


def test_it_records_who_what_when_and_where(entry, ops_user):
    assert (entry.actor, entry.actor_name, entry.environment, entry.via) == (
        ops_user,
        ops_user.username,
        "development",
        "console",
    )
    assert entry.created_at is not None


def test_it_refuses_to_change_an_entry(entry):
    entry.summary = "nothing happened"
    with pytest.raises(PermissionError, match="append-only"):
        entry.save()
    with pytest.raises(PermissionError, match="append-only"):
        AuditEntry.objects.filter(pk=entry.pk).update(summary="nothing happened")
    assert AuditEntry.objects.get(pk=entry.pk).summary == "marked 7 order lines PENDING"


def test_it_refuses_to_delete_an_entry(entry):
    with pytest.raises(PermissionError, match="append-only"):
        entry.delete()
    with pytest.raises(PermissionError, match="append-only"):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_it_keeps_the_name_when_the_user_is_deleted(entry, ops_user):
    ops_user.delete()
    entry.refresh_from_db()
    assert entry.actor is None and entry.actor_name == "olivia.ops"
