"""The trigger API's own tables: its tokens and the idempotency keys of the syncs they started.

A token is never stored: only the SHA-256 of its secret, and a short prefix (the first characters of
the secret, not enough to guess the rest) so a person can tell tokens apart in the list. Each token
acts through its own service user (`api:<name>`, no usable password, a member of the role's group),
so every permission check and every audit entry is the same as for a person.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from syncapp.models.sync import SyncRun


class ApiToken(models.Model):
    class Role(models.TextChoices):
        OPS = "ops", "Ops"
        ADMIN = "admin", "Admin"

    name = models.CharField(max_length=100, unique=True, help_text="letters, digits, dot, dash, underscore")
    role = models.CharField(max_length=10, choices=Role.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="api_token",
        help_text="the service user the token acts as (api:<name>)",
    )
    prefix = models.CharField(max_length=16, db_index=True, help_text="the first characters of the token")
    secret_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, hex")
    # The command line has no Django user: this is who ran it ("cli:<login>") or who made it in the admin.
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"API token {self.name} ({self.role}{', revoked' if self.revoked_at else ''})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiIdempotencyKey(models.Model):
    """A sync the API started for an `Idempotency-Key`: a repeat of the request gets the same run.

    The key is unique per token (the unique constraint is the guard against two requests racing),
    `request_hash` tells a repeat from a different request sent with the same key, and `response`
    is the body the first request was answered with, returned again as it was."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="one_run_per_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.token_id}/{self.key} -> run {self.run_id}"
