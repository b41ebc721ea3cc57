"""Django admin: read-mostly views of the order tables and the sync records, the two marking
actions (through a confirmation page, one bulk UPDATE via `orders_mark`), a view-only audit log,
and the task queue, user, API token, schedule and alert pages for the Admin role."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.text import capfirst
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success

from syncapp.models import (
    Alert,
    AlertDelivery,
    ApiCall,
    ApiToken,
    AuditEntry,
    BoardChange,
    BoardGroup,
    ConsoleSettings,
    FactOrderList,
    ItemLink,
    LoginFailure,
    OrderLine,
    RowResult,
    ScheduleSlot,
    StagedOrder,
    StepTick,
    SubitemLink,
    SyncRun,
    SyncSchedule,
    Walkthrough,
)
from syncapp.selectors.environments import active_environment_name
from syncapp.selectors.orders import scope_counts, scope_for_keys
from syncapp.services.orders import COMPLETED, PENDING, orders_mark

admin.site.site_header = "orderops administration"
admin.site.site_title = "orderops admin"
admin.site.index_title = "Order tables, sync records, users and the task queue"


def is_admin_role(request: HttpRequest) -> bool:
    """The Admin role is the one that may switch environments."""
    return request.user.is_active and request.user.has_perm("syncapp.switch_environment")


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the sync, the merge or the services: looked at here, never edited."""

    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


# --- the order tables ----------------------------------------------------------------------


ORDER_LIST_DISPLAY = (
    "aag_order_number",
    "customer_name",
    "po_number",
    "customer_season",
    "order_type",
    "total_qty",
    "sync_state",
    "action_type",
    "last_synced_at",
)


@admin.register(FactOrderList)
class FactOrderListAdmin(ReadOnlyAdmin):
    list_display = ORDER_LIST_DISPLAY
    list_filter = ("sync_state", "action_type", "customer_name")
    search_fields = ("=po_number", "aag_order_number", "customer_style")
    ordering = ("customer_name", "po_number", "aag_order_number")
    actions = ("mark_pending", "mark_completed")

    def has_mark_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("syncapp.mark_orders")

    @admin.action(description="Mark selected POs PENDING", permissions=["mark"])
    def mark_pending(self, request: HttpRequest, queryset):
        return self._mark(request, queryset, PENDING)

    @admin.action(description="Mark selected POs COMPLETED", permissions=["mark"])
    def mark_completed(self, request: HttpRequest, queryset):
        return self._mark(request, queryset, COMPLETED)

    def _mark(self, request: HttpRequest, queryset, state: str):
        """Every order line of the POs the selected lines belong to, after a page with the counts."""
        keys = list(queryset.order_by().values_list("customer_name", "po_number").distinct())
        keys = [(customer or "", po or "") for customer, po in keys]
        scope = scope_for_keys(keys)
        environment = active_environment_name()
        if request.POST.get("confirmed") == "yes":
            report = orders_mark(state=state, scope=scope, actor=request.user, via="admin", environment=environment)
            self.message_user(request, capfirst(report.summary()) + ".", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Mark {len(keys)} PO{'s' if len(keys) != 1 else ''} {state.upper()}?",
            "opts": self.model._meta,
            "state": state,
            "environment": environment,
            "keys": keys[:50],
            "more_keys": max(0, len(keys) - 50),
            "counts": scope_counts(scope),
            "action": request.POST.get("action", ""),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "index": request.POST.get("index", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/syncapp/mark_confirmation.html", context)


@admin.register(StagedOrder)
class StagedOrderAdmin(ReadOnlyAdmin):
    list_display = ORDER_LIST_DISPLAY[:7]
    search_fields = ("=po_number", "aag_order_number")
    ordering = ("customer_name", "po_number", "aag_order_number")


@admin.register(OrderLine)
class OrderLineAdmin(ReadOnlyAdmin):
    list_display = ("record_uuid", "size_code", "qty", "sync_state", "action_type", "monday_subitem_id")
    list_filter = ("sync_state",)
    search_fields = ("=record_uuid", "=size_code")


# --- sync records --------------------------------------------------------------------------


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "environment",
        "run_type",
        "status",
        "outcome",
        "success_percent",
        "total_rows",
        "created_at",
    )
    list_filter = ("environment", "status", "kind", "dry_run")
    raw_id_fields = ("parent", "requested_by")

    # Words, not the boolean icons: a red ✗ beside every real sync read as an error.
    @admin.display(description="Dry run", ordering="dry_run")
    def run_type(self, run: SyncRun) -> str:
        return "preview (dry run)" if run.dry_run else "real run"

    @admin.display(description="Success rate", ordering="success_rate")
    def success_percent(self, run: SyncRun) -> str:
        return "—" if run.success_rate is None else f"{run.success_rate:g}%"


@admin.register(RowResult)
class RowResultAdmin(ReadOnlyAdmin):
    list_display = ("run", "aag_order_number", "customer_name", "po_number", "action", "outcome", "error_code")
    list_filter = ("outcome", "action")
    search_fields = ("=po_number", "aag_order_number", "=record_uuid")
    raw_id_fields = ("run",)


@admin.register(ApiCall)
class ApiCallAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "run",
        "environment",
        "operation",
        "http_status",
        "ok",
        "attempt",
        "duration_ms",
        "created_at",
    )
    list_filter = ("environment", "ok", "operation")
    raw_id_fields = ("run",)


@admin.register(ItemLink)
class ItemLinkAdmin(ReadOnlyAdmin):
    list_display = ("environment", "aag_order_number", "record_uuid", "board_id", "monday_item_id", "group_id")
    list_filter = ("environment",)
    search_fields = ("aag_order_number", "=monday_item_id", "=record_uuid")


@admin.register(SubitemLink)
class SubitemLinkAdmin(ReadOnlyAdmin):
    list_display = ("environment", "record_uuid", "size_code", "monday_subitem_id", "parent_item_id", "qty")
    list_filter = ("environment",)
    search_fields = ("=record_uuid", "=monday_subitem_id", "=parent_item_id")


@admin.register(BoardGroup)
class BoardGroupAdmin(ReadOnlyAdmin):
    list_display = ("board_id", "group_name", "group_id", "seen_at")
    list_filter = ("board_id",)
    search_fields = ("group_name",)


@admin.register(BoardChange)
class BoardChangeAdmin(ReadOnlyAdmin):
    list_display = ("run", "environment", "kind", "monday_id", "size_code", "created_at", "reverted_at")
    list_filter = ("environment", "kind")
    raw_id_fields = ("run", "reverted_by_run")


# --- console state -------------------------------------------------------------------------


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """View-only for everyone, superusers included: the audit log is append-only."""

    list_display = ("created_at", "actor_name", "action", "environment", "summary", "via")
    list_filter = ("action", "environment", "via")
    search_fields = ("actor_name", "summary", "target_id")
    date_hierarchy = "created_at"

    def get_actions(self, request: HttpRequest):
        return {}


@admin.register(ConsoleSettings)
class ConsoleSettingsAdmin(ReadOnlyAdmin):
    """Switching happens on the console's Environments page, where it is confirmed and audited."""

    list_display = ("active_environment", "changed_by", "changed_at")


@admin.register(Walkthrough)
class WalkthroughAdmin(ReadOnlyAdmin):
    list_display = ("user", "runbook", "environment", "started_at", "completed_at")


@admin.register(StepTick)
class StepTickAdmin(ReadOnlyAdmin):
    list_display = ("walkthrough", "step", "user", "environment", "ticked_at")


@admin.register(LoginFailure)
class LoginFailureAdmin(ReadOnlyAdmin):
    list_display = ("username", "address", "created_at")
    search_fields = ("username",)


# --- tokens, schedules and alerts, read-only for the Admin role ---------------------------------


class AdminRoleReadOnly(ReadOnlyAdmin):
    """Records the services write (tokens by `manage.py api_token`, schedules and alerts by their
    console pages), shown to the Admin role, which has no model permissions for them."""

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_view_permission(request, obj) or is_admin_role(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or is_admin_role(request)


@admin.register(ApiToken)
class ApiTokenAdmin(AdminRoleReadOnly):
    """Names and dates only: the secret is never stored, and its hash is not shown either."""

    list_display = ("name", "role", "shown_prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    list_filter = ("role",)
    search_fields = ("name", "=prefix")
    fields = ("name", "role", "shown_prefix", "user", "created_by", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields

    @admin.display(description="Prefix", ordering="prefix")
    def shown_prefix(self, token: ApiToken) -> str:
        return f"{token.prefix}…"


@admin.register(SyncSchedule)
class SyncScheduleAdmin(AdminRoleReadOnly):
    list_display = ("environment", "job", "mode", "cron", "enabled", "confirmed_board_id", "changed_by", "changed_at")
    list_filter = ("environment", "job", "enabled")


@admin.register(ScheduleSlot)
class ScheduleSlotAdmin(AdminRoleReadOnly):
    list_display = ("slot", "schedule", "outcome", "run", "finished_at")
    list_filter = ("outcome", "schedule__job", "schedule__environment")
    list_select_related = ("schedule",)
    raw_id_fields = ("schedule", "run")
    date_hierarchy = "slot"


@admin.register(Alert)
class AlertAdmin(AdminRoleReadOnly):
    list_display = ("opened_at", "condition", "severity", "status", "environment", "title", "run", "resolved_at")
    list_select_related = ("run",)
    list_filter = ("status", "condition", "severity", "environment")
    search_fields = ("key", "title")
    raw_id_fields = ("run", "last_run", "resolved_by_run")
    date_hierarchy = "opened_at"


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(AdminRoleReadOnly):
    """Webhook targets are kept redacted (their secret is only in the settings)."""

    list_display = ("created_at", "alert", "event", "channel", "target", "status", "attempts", "sent_at")
    list_filter = ("status", "channel", "event")
    list_select_related = ("alert",)
    raw_id_fields = ("alert",)
    exclude = ("target_hash",)


# --- the task queue, for the Admin role ------------------------------------------------------


class _QueueAccess:
    """django-q2's pages, opened to the Admin role (which has no django_q model permissions)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or is_admin_role(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_view_permission(request, obj) or is_admin_role(request)


class QueuedTaskAdmin(_QueueAccess, q_admin.QueueAdmin):
    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Removing a stuck queued task is part of running the queue.
        return super().has_delete_permission(request, obj) or is_admin_role(request)


class SuccessfulTaskAdmin(_QueueAccess, q_admin.TaskAdmin):
    pass


class FailedTaskAdmin(_QueueAccess, q_admin.FailAdmin):
    pass


class ScheduledTaskAdmin(_QueueAccess, q_admin.ScheduleAdmin):
    pass


for model, model_admin in (
    (Success, SuccessfulTaskAdmin),
    (Failure, FailedTaskAdmin),
    (Schedule, ScheduledTaskAdmin),
    (OrmQ, QueuedTaskAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)


# --- users, for the Admin role ---------------------------------------------------------------

User = get_user_model()


class ConsoleUserAdmin(UserAdmin):
    """Admins manage accounts and their roles (groups); only superusers grant superuser status or
    single permissions, and only superusers edit superusers."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or is_admin_role(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_view_permission(request, obj) or is_admin_role(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) or is_admin_role(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        if is_admin_role(request):
            return obj is None or not obj.is_superuser
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions", "last_login", "date_joined"]
        return readonly


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, ConsoleUserAdmin)
