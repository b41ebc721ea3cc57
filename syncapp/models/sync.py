"""orderops' own tables: runs, their per-row results, the board links and the API call log."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from syncapp.fields import UniqueIdentifierField


class Environment(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    PRODUCTION = "production", "Production"


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        SYNC = "sync"
        RETRY = "retry"
        ROLLBACK = "rollback"
        RECONCILE = "reconcile"
        REPAIR = "repair"

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    class Outcome(models.TextChoices):
        SUCCESS = "SUCCESS"
        NEEDS_ATTENTION = "NEEDS ATTENTION"
        FAILED = "FAILED"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SYNC)
    environment = models.CharField(max_length=20, choices=Environment.choices)
    items_board_id = models.BigIntegerField()
    subitems_board_id = models.BigIntegerField()
    dry_run = models.BooleanField(default=False)
    scope = models.JSONField(default=dict, blank=True, help_text="customer, pos, limit, record_uuids")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    requested_via = models.CharField(max_length=10, default="console")  # console | cli | task
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The run this one retries or rolls back.",
    )

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    current_step = models.CharField(max_length=200, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    cancelled_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    groups_created = models.PositiveIntegerField(default=0)
    subitems_written = models.PositiveIntegerField(default=0)
    requests_count = models.PositiveIntegerField(default=0)
    mutations_count = models.PositiveIntegerField(default=0)
    retries_count = models.PositiveIntegerField(default=0)
    complexity_used = models.BigIntegerField(default=0)
    waited_seconds = models.FloatField(default=0, help_text="time spent waiting for monday's rate limits")

    success_rate = models.FloatField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="per-customer outcome")
    plan = models.JSONField(default=dict, blank=True, help_text="the dry-run plan")

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Two runs writing to one board at once would race each other's groups and items.
            models.UniqueConstraint(
                fields=["environment"],
                condition=Q(status__in=["queued", "running"], dry_run=False),
                name="one_active_run_per_environment",
            )
        ]
        indexes = [models.Index(fields=["environment", "status"])]
        permissions = [
            ("sync_development", "Can sync to the development board"),
            ("sync_production", "Can sync to the production board"),
            ("mark_orders", "Can mark orders PENDING or COMPLETED"),
            ("switch_environment", "Can switch the active environment"),
            ("view_console", "Can use the operations console"),
            ("walk_runbooks", "Can walk through runbooks"),
        ]

    def __str__(self) -> str:
        label = "dry run" if self.dry_run else self.kind
        return f"run {self.pk} ({label}, {self.environment})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or self.heartbeat_at or self.started_at
        return (end - self.started_at).total_seconds()

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if not self.is_active else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class RowResult(models.Model):
    """What a run did with one order line."""

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        CANCEL = "cancel"
        SKIP = "skip"
        ROLLBACK = "rollback"

    class Outcome(models.TextChoices):
        SYNCED = "synced"
        ERROR = "error"
        SKIPPED = "skipped"
        PLANNED = "planned"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="results")
    record_uuid = UniqueIdentifierField(db_index=True)
    aag_order_number = models.CharField(max_length=100, blank=True)
    customer_name = models.CharField(max_length=100, blank=True)
    po_number = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    monday_item_id = models.BigIntegerField(null=True, blank=True)
    group_id = models.CharField(max_length=128, blank=True)
    sizes_written = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    # The row's state before the run claimed it, so a rollback can put it back.
    previous_sync_state = models.CharField(max_length=10, blank=True)
    previous_action_type = models.CharField(max_length=10, blank=True)
    finished_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "record_uuid"], name="one_result_per_row_per_run")]
        indexes = [models.Index(fields=["run", "outcome"]), models.Index(fields=["po_number"])]

    def __str__(self) -> str:
        return f"{self.aag_order_number}: {self.action} {self.outcome}"


class ItemLink(models.Model):
    """An order line's item on one environment's board. Development and production never share one."""

    environment = models.CharField(max_length=20, choices=Environment.choices)
    board_id = models.BigIntegerField()
    record_uuid = UniqueIdentifierField()
    aag_order_number = models.CharField(max_length=100, blank=True)
    monday_item_id = models.BigIntegerField()
    group_id = models.CharField(max_length=128, blank=True)
    synced_row_hash = models.CharField(max_length=64, blank=True)
    created_by_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["environment", "record_uuid"], name="one_item_per_row_per_environment"),
            models.UniqueConstraint(fields=["board_id", "monday_item_id"], name="item_linked_once_per_board"),
        ]

    def __str__(self) -> str:
        return f"{self.environment}: {self.record_uuid} -> item {self.monday_item_id}"


class SubitemLink(models.Model):
    """A size line's subitem on one environment's subitems board."""

    environment = models.CharField(max_length=20, choices=Environment.choices)
    board_id = models.BigIntegerField(help_text="the subitems board")
    record_uuid = UniqueIdentifierField()
    size_code = models.CharField(max_length=20)
    monday_subitem_id = models.BigIntegerField()
    parent_item_id = models.BigIntegerField()
    qty = models.IntegerField(null=True, blank=True)
    created_by_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "record_uuid", "size_code"], name="one_subitem_per_size_per_environment"
            )
        ]
        indexes = [models.Index(fields=["environment", "parent_item_id"])]

    def __str__(self) -> str:
        return f"{self.environment}: {self.record_uuid}/{self.size_code} -> subitem {self.monday_subitem_id}"


class BoardGroup(models.Model):
    """The group registry per board. The old CLI's MON_Boards_Groups mixed both boards' ids: this
    one is keyed by board, so a development group id can never be used on production."""

    board_id = models.BigIntegerField()
    group_id = models.CharField(max_length=128)
    group_name = models.CharField(max_length=255)
    created_by_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "MON_Boards_Groups"
        constraints = [
            models.UniqueConstraint(fields=["board_id", "group_name"], name="one_group_per_name_per_board"),
            models.UniqueConstraint(fields=["board_id", "group_id"], name="group_id_once_per_board"),
        ]

    def __str__(self) -> str:
        return f"{self.board_id}: {self.group_name} ({self.group_id})"


class BoardChange(models.Model):
    """A journal of every change a run made on a board, with the values it replaced: what a
    rollback reads to undo the run."""

    class Kind(models.TextChoices):
        GROUP_CREATED = "group_created"
        ITEM_CREATED = "item_created"
        SUBITEM_CREATED = "subitem_created"
        ITEM_UPDATED = "item_updated"
        SUBITEM_UPDATED = "subitem_updated"
        ITEM_MOVED = "item_moved"
        # A repair archived a duplicate orderops had created; monday's API cannot bring it back.
        ITEM_ARCHIVED = "item_archived"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="changes")
    environment = models.CharField(max_length=20, choices=Environment.choices)
    board_id = models.BigIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    monday_id = models.CharField(max_length=128, help_text="item, subitem or group id")
    record_uuid = UniqueIdentifierField(null=True, blank=True)
    size_code = models.CharField(max_length=20, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    reverted_at = models.DateTimeField(null=True, blank=True)
    reverted_by_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "kind"])]

    def __str__(self) -> str:
        return f"run {self.run_id}: {self.kind} {self.monday_id}"


class ApiCall(models.Model):
    """ORDER_LIST_API_LOG: one row per request sent to monday, with the token redacted."""

    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.CASCADE, related_name="api_calls")
    environment = models.CharField(max_length=20, choices=Environment.choices)
    operation = models.CharField(max_length=60)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    attempt = models.PositiveSmallIntegerField(default=1)
    mutations = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    complexity = models.BigIntegerField(null=True, blank=True)
    budget_remaining = models.BigIntegerField(
        null=True, blank=True, help_text="monday's complexity budget left after this call, when it said"
    )
    idempotency_key = models.CharField(max_length=128, blank=True)
    error = models.TextField(blank=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "ORDER_LIST_API_LOG"
        ordering = ["id"]
        # /metrics counts requests per environment and reads the latest budget per environment from
        # this index alone, so a scrape does not read the (large) bodies of the log.
        indexes = [models.Index(fields=["environment", "ok", "id"], name="api_log_env_ok_id")]

    def __str__(self) -> str:
        return f"{self.operation} -> {self.http_status}"
