"""Django admin: read-mostly order tables, the marking actions, a view-only audit log, the queue."""

from __future__ import annotations

import pytest
from django.contrib.admin import helpers
from django.urls import reverse
from django.utils import timezone

from syncapp.models import Alert, AlertDelivery, AuditEntry, FactOrderList, ScheduleSlot
from syncapp.services.api_tokens import api_token_create
from syncapp.services.schedules import schedule_set
from tests.console_helpers import orders

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:syncapp_factorderlist_changelist"


@pytest.fixture
def data():
    orders(30)


def _selected():
    return [str(pk) for pk in FactOrderList.objects.filter(po_number="4755").values_list("pk", flat=True)[:2]]


def test_it_lists_order_lines_read_only(admin_client_, data):
    response = admin_client_.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Mark selected POs PENDING" in html and "Mark selected POs COMPLETED" in html
    assert "Delete selected" not in html
    line = FactOrderList.objects.first()
    change = admin_client_.get(reverse("admin:syncapp_factorderlist_change", args=[line.pk]))
    assert change.status_code == 200 and 'type="submit" value="Save"' not in change.content.decode()
    assert admin_client_.get(reverse("admin:syncapp_factorderlist_add")).status_code == 403


def test_it_confirms_marking_with_counts_before_one_bulk_update(admin_client_, data):
    data = {"action": "mark_completed", helpers.ACTION_CHECKBOX_NAME: _selected(), "index": "0"}
    response = admin_client_.post(reverse(CHANGELIST), data)
    assert response.status_code == 200
    assert response.context["counts"].lines == 7 and response.context["counts"].pos == 1
    assert "Yes, mark 7 order lines COMPLETED" in response.content.decode()
    assert not FactOrderList.objects.filter(sync_state="COMPLETED").exists()


def test_it_marks_the_selected_pos_and_audits_it_as_admin(admin_client_, data, django_assert_max_num_queries):
    data = {"action": "mark_completed", helpers.ACTION_CHECKBOX_NAME: _selected(), "index": "0", "confirmed": "yes"}
    response = admin_client_.post(reverse(CHANGELIST), data, follow=True)
    assert FactOrderList.objects.filter(po_number="4755", sync_state="COMPLETED").count() == 7
    assert FactOrderList.objects.filter(sync_state="COMPLETED").count() == 7
    entry = AuditEntry.objects.get(action="mark_completed")
    assert entry.via == "admin" and entry.actor_name == "ada.admin"
    assert "Marked 7 order lines COMPLETED" in response.content.decode()


def test_it_marks_pending_for_the_active_environment(admin_client_, data):
    FactOrderList.objects.update(sync_state="COMPLETED", action_type="NONE")
    data = {"action": "mark_pending", helpers.ACTION_CHECKBOX_NAME: _selected(), "index": "0", "confirmed": "yes"}
    admin_client_.post(reverse(CHANGELIST), data)
    assert set(FactOrderList.objects.filter(po_number="4755").values_list("sync_state", "action_type")) == {
        ("PENDING", "INSERT")
    }


def test_it_keeps_the_audit_log_view_only_even_for_superusers(client, django_user_model, ops_user):
    from syncapp.services.audit import audit_record

    entry = audit_record(actor=ops_user, action="mark_pending", summary="x")
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456789")
    client.force_login(root)
    assert client.get(reverse("admin:syncapp_auditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:syncapp_auditentry_add")).status_code == 403
    assert client.get(reverse("admin:syncapp_auditentry_delete", args=[entry.pk])).status_code == 403
    change = client.get(reverse("admin:syncapp_auditentry_change", args=[entry.pk]))
    assert 'value="Save"' not in change.content.decode()
    response = client.post(reverse("admin:syncapp_auditentry_change", args=[entry.pk]), {"summary": "changed"})
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.summary == "x"


def test_it_opens_the_task_queue_pages_to_admins(admin_client_):
    for name in ("django_q_success", "django_q_failure", "django_q_ormq", "django_q_schedule"):
        assert admin_client_.get(reverse(f"admin:{name}_changelist")).status_code == 200, name


def test_it_lets_admins_manage_users_but_not_superusers(admin_client_, ops_user, django_user_model):
    assert admin_client_.get(reverse("admin:auth_user_change", args=[ops_user.pk])).status_code == 200
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456789")
    response = admin_client_.post(reverse("admin:auth_user_change", args=[root.pk]), {"username": "owned"})
    assert response.status_code == 403


@pytest.mark.parametrize("fixture", ["ops_client", "trainer_client"])
def test_it_keeps_non_staff_roles_out_of_the_admin(request, data, fixture):
    client = request.getfixturevalue(fixture)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302 and "/admin/login/" in response.url
    data = {"action": "mark_completed", helpers.ACTION_CHECKBOX_NAME: _selected(), "index": "0", "confirmed": "yes"}
    client.post(reverse(CHANGELIST), data)
    assert not FactOrderList.objects.filter(sync_state="COMPLETED").exists()


def test_it_shows_tokens_schedules_and_alerts_to_admins_read_only(admin_client_, admin_user):
    new = api_token_create(name="kestra-hourly", role="ops")
    schedule = schedule_set(environment="development", cron="5 * * * *", actor=admin_user)
    ScheduleSlot.objects.create(schedule=schedule, slot=timezone.now(), outcome="nothing")
    alert = Alert.objects.create(key="worker_silent", condition="worker_silent", title="No worker seen", message="m")
    AlertDelivery.objects.create(
        alert=alert, event="firing", channel="webhook", target="https://hooks.example.com/…", target_hash="f00d"
    )
    pages = {
        "apitoken": new.token,
        "syncschedule": schedule,
        "scheduleslot": None,
        "alert": alert,
        "alertdelivery": None,
    }
    for model, obj in pages.items():
        response = admin_client_.get(reverse(f"admin:syncapp_{model}_changelist"))
        assert response.status_code == 200, model
        assert admin_client_.get(reverse(f"admin:syncapp_{model}_add")).status_code == 403, model
        if obj is not None:
            change = admin_client_.get(reverse(f"admin:syncapp_{model}_change", args=[obj.pk]))
            assert change.status_code == 200 and 'value="Save"' not in change.content.decode(), model
    tokens = admin_client_.get(reverse("admin:syncapp_apitoken_changelist")).content.decode()
    assert "kestra-hourly" in tokens and f"{new.token.prefix}…" in tokens
    token_page = admin_client_.get(reverse("admin:syncapp_apitoken_change", args=[new.token.pk])).content.decode()
    for secret in (new.secret, new.token.secret_hash):
        assert secret not in tokens and secret not in token_page
    assert "No worker seen" in admin_client_.get(reverse("admin:syncapp_alert_changelist")).content.decode()
