"""What the API reads and writes. The same serializers render the responses and describe them in the
OpenAPI document (drf-spectacular), so the description is the code.

The selection (`customer`, `pos`) is passed through as sent and read by `Scope.parse` in the
service, so the API refuses exactly what the console and the CLI refuse, naming the field.
Every time is ISO 8601 in UTC (`...Z`).
"""

from __future__ import annotations

from datetime import UTC

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from syncapp.sync_config import ENVIRONMENTS

RESULT_OUTCOMES = ("synced", "error", "failed", "skipped", "not_sent", "planned")
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 100, 500


class StrictBooleanField(serializers.BooleanField):
    """true or false, as JSON booleans: "yes", 1 or "false" are refused rather than guessed at."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean)."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


def _plain_text(value: object, what: str) -> None:
    """Control characters and lone surrogates are no part of a name or a PO number, and the databases
    refuse some of them (PostgreSQL a NUL byte): refused here, before they reach a run or the audit log."""
    if isinstance(value, str) and any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise serializers.ValidationError(f"{what} has a control or invalid character; send plain text.")


@extend_schema_field(
    {"type": "string", "description": "One customer's name (case and outer spaces ignored); omit for every customer."}
)
class CustomerField(serializers.Field):
    """Passed to Scope.parse as sent (it names what is wrong), once it is known to be plain text."""

    def to_internal_value(self, data):
        _plain_text(data, "The customer name")
        return data


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string"},
        "description": "PO numbers (case and outer spaces ignored); omit or [] for every PO of the selection.",
    }
)
class PosField(serializers.Field):
    """Passed to Scope.parse as sent (it names what is wrong), once its PO numbers are plain text."""

    def to_internal_value(self, data):
        for po in data if isinstance(data, list) else []:
            _plain_text(po, "A PO number")
        return data


class SyncRequestSerializer(serializers.Serializer):
    environment = serializers.ChoiceField(
        choices=ENVIRONMENTS,
        help_text="The board to sync to.",
        error_messages={
            "invalid_choice": '"{input}" is not an environment orderops knows: use development or production.'
        },
    )
    customer = CustomerField(required=False, allow_null=True, default=None)
    pos = PosField(required=False, allow_null=True, default=None)
    dry_run = StrictBooleanField(
        required=False, default=False, help_text="Plan only: nothing is written to monday (the console's Preview)."
    )
    merge = StrictBooleanField(
        required=False,
        default=False,
        help_text="Merge swp_ORDER_LIST_SYNC into the order tables first, inside this request (as merge_orders), "
        "so the sync sees the refreshed rows. The merge's counts come back in `merge`.",
    )
    confirm = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=255,
        help_text="Production only: the production board's name or id, the console's typed confirmation. "
        "A real sync to production without it (or mistyped) is refused with 400 naming `confirm`.",
    )

    def validate(self, attrs):
        # A misspelt key ("po" for "pos") would otherwise widen the selection to everything pending.
        unknown = sorted(set(self.initial_data) - set(self.fields)) if isinstance(self.initial_data, dict) else []
        if unknown:
            raise serializers.ValidationError(
                {key: [f'"{key}" is not part of a sync request; use {", ".join(self.fields)}.'] for key in unknown}
            )
        return attrs


class ScopeSerializer(serializers.Serializer):
    customer = serializers.CharField(help_text='"" when the run is for every customer.')
    pos = serializers.ListField(child=serializers.CharField())
    record_uuids = serializers.ListField(
        child=serializers.CharField(), help_text="The exact order lines (a retry names the lines it retries)."
    )
    limit = serializers.IntegerField(allow_null=True)
    description = serializers.CharField(help_text="The selection in words, as the console shows it.")


class MergeReportSerializer(serializers.Serializer):
    summary = serializers.CharField()
    staged = serializers.IntegerField()
    new = serializers.IntegerField()
    changed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rejections = serializers.ListField(child=serializers.CharField(), help_text="The first 20 rejected rows, why.")
    lines_inserted = serializers.IntegerField()
    lines_updated = serializers.IntegerField()
    lines_zeroed = serializers.IntegerField()


class SyncAcceptedSerializer(serializers.Serializer):
    run_id = serializers.IntegerField()
    url = serializers.URLField(help_text="The run's page in the console.")
    status_url = serializers.CharField(help_text="Poll this for the run's status: GET /api/v1/runs/<id>.")
    results_url = serializers.CharField(help_text="The run's per-row results: GET /api/v1/runs/<id>/results.")
    environment = serializers.CharField()
    dry_run = serializers.BooleanField()
    scope = ScopeSerializer()
    merge = MergeReportSerializer(allow_null=True, help_text="The merge's counts when `merge` was true, else null.")


class CountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    interrupted = serializers.IntegerField(help_text="Failed rows the run's stop interrupted (part of failed).")
    not_sent = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    groups_created = serializers.IntegerField()
    subitems_written = serializers.IntegerField()
    api_calls = serializers.IntegerField()
    retries = serializers.IntegerField()


class CustomerOutcomeSerializer(serializers.Serializer):
    customer = serializers.CharField()
    synced = serializers.IntegerField()
    failed = serializers.IntegerField()
    not_sent = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    outcome = serializers.CharField(help_text="SUCCESS, NEEDS ATTENTION, FAILED or NOT FINISHED.")


class PlanSerializer(serializers.Serializer):
    groups_to_create = serializers.ListField(child=serializers.CharField())
    by_action = serializers.DictField(child=serializers.IntegerField(), help_text="Rows per planned action.")


def _utc(**kwargs) -> serializers.DateTimeField:
    return serializers.DateTimeField(default_timezone=UTC, **kwargs)


class RunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="sync, retry, rollback, ...")
    environment = serializers.CharField()
    dry_run = serializers.BooleanField()
    status = serializers.CharField(help_text="queued, running, completed, failed or cancelled.")
    finished = serializers.BooleanField(help_text="True once the status is completed, failed or cancelled.")
    outcome = serializers.CharField(
        allow_null=True, help_text="SUCCESS, NEEDS ATTENTION or FAILED once a real run ended; null before."
    )
    success_rate = serializers.FloatField(allow_null=True)
    error_message = serializers.CharField(help_text="Why the run stopped, when it did.")
    current_step = serializers.CharField()
    total_rows = serializers.IntegerField()
    processed_rows = serializers.IntegerField()
    scope = ScopeSerializer()
    counts = CountsSerializer()
    customers = CustomerOutcomeSerializer(many=True)
    plan = PlanSerializer(allow_null=True, help_text="A dry run's plan; null for other runs.")
    requested_by = serializers.CharField(help_text="The person or token (api:<name>) who started it.")
    requested_via = serializers.CharField()
    parent_id = serializers.IntegerField(allow_null=True)
    created_at = _utc()
    started_at = _utc(allow_null=True)
    finished_at = _utc(allow_null=True)
    url = serializers.URLField()
    results_url = serializers.CharField()


class ResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    record_uuid = serializers.CharField()
    aag_order_number = serializers.CharField()
    customer = serializers.CharField()
    po = serializers.CharField()
    action = serializers.CharField(help_text="create, update, cancel, skip or rollback.")
    outcome = serializers.CharField(help_text="synced, error, skipped or planned.")
    status = serializers.CharField(help_text="The outcome in the console's words (interrupted, not sent, ...).")
    message = serializers.CharField()
    error_code = serializers.CharField()
    monday_item_id = serializers.IntegerField(allow_null=True)
    finished_at = _utc()


class ResultsQuerySerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=RESULT_OUTCOMES,
        required=False,
        help_text="Only these rows: synced, error (or failed, the console's word), skipped (nothing to send), "
        "not_sent (released unsent when the run stopped) or planned.",
        error_messages={"invalid_choice": f'"{{input}}" is not an outcome: use {", ".join(RESULT_OUTCOMES)}.'},
    )
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=10**9)
    page_size = serializers.IntegerField(
        required=False, default=PAGE_SIZE_DEFAULT, min_value=1, max_value=PAGE_SIZE_MAX
    )


class ResultPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Rows matching, on every page.")
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    page_size = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ResultSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What happened and what to do, in plain words.")
    code = serializers.CharField(help_text="A stable word for programs: invalid, busy, permission_denied, ...")
    errors = serializers.DictField(
        required=False, help_text="Per field (customer, pos, environment, confirm, ...): what is wrong with it."
    )
    running_run_id = serializers.IntegerField(
        required=False, allow_null=True, help_text="409 busy: the run already writing to the board."
    )
    run_id = serializers.IntegerField(required=False, help_text="422: the run this Idempotency-Key started.")
