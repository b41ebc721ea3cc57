"""A sync started by a program (the trigger API): the same permissions, scope rule, production
confirmation and one-run-per-board rule as the console, plus an optional merge first and
idempotency keys.

`sync_trigger` checks the actor's permissions (services/access.py, `has_perm` as for a person),
reads the selection with `Scope.parse` (the console's rule, ScopeError naming the field), optionally
merges the staging table (synchronously, before the run is recorded, so the run sees the merged
rows), and records the run through `services/sync.sync_run_create(..., via="api")`: the token must
be set, production needs the board's name or id (`confirm`), another run writing to the board is
refused. Every refusal is audited in the caller's name, so every API call leaves a trace.

Idempotency: with a key, a repeat of the same request by the same token returns the run the first
one started (`replayed`), and a different request with that key is refused
(IdempotencyConflictError). The key's row is inserted in the same transaction as the run, before
it, so of two requests racing with one key the unique constraint lets one through and the other
waits for it and then replays it; a refused request stores no key, so it can be retried.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from syncapp.domain.errors import PermissionRefusedError, RunBusyError, RunRefusedError
from syncapp.domain.scope import Scope, ScopeError
from syncapp.models import ApiIdempotencyKey, ApiToken, SyncRun
from syncapp.services.access import sync_permissions_require
from syncapp.services.api_tokens import printable
from syncapp.services.audit import audit_record
from syncapp.services.merge import MergeError, MergeReport, orders_merge
from syncapp.services.sync import sync_run_create
from syncapp.sync_config import ENVIRONMENTS, ConfigError, get_sync_config

IDEMPOTENCY_KEY_MAX = 128
REJECTIONS_SHOWN = 20


class IdempotencyConflictError(Exception):
    """The Idempotency-Key was already used by this token for a different request."""

    def __init__(self, message: str, *, run_id: int | None):
        super().__init__(message)
        self.run_id = run_id


class TriggerInputError(ValueError):
    """A value of the request other than the selection is wrong; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Trigger:
    run: SyncRun
    scope: Scope
    merge: dict | None  # the merge report, when the request asked for a merge
    replayed: bool = False


REFUSALS = (
    PermissionRefusedError,
    ScopeError,
    ConfigError,
    RunRefusedError,
    RunBusyError,
    MergeError,
    IdempotencyConflictError,
    TriggerInputError,
)


def sync_trigger(
    *,
    actor,
    environment: str,
    customer: object = None,
    pos: object = None,
    dry_run: bool = False,
    merge: bool = False,
    confirm: str = "",
    idempotency_key: str = "",
    token: ApiToken | None = None,
    via: str = "api",
) -> Trigger:
    """Start a sync (or a dry run) of the selection on `environment`'s board; see the module docstring.
    Raises one of REFUSALS with a message in plain words; each refusal is audited."""
    try:
        return _trigger(
            actor=actor,
            environment=environment,
            customer=customer,
            pos=pos,
            dry_run=dry_run,
            merge=merge,
            confirm=confirm,
            idempotency_key=idempotency_key,
            token=token,
            via=via,
        )
    except REFUSALS as refusal:
        audit_record(
            actor=actor,
            via=via,
            action="sync_refused",
            environment=environment if environment in ENVIRONMENTS else "",
            summary=printable(f"{'dry run' if dry_run else 'sync'} refused: {refusal}"),
            details={"refusal": type(refusal).__name__, **({"token": token.name} if token else {})},
        )
        raise


def _trigger(*, actor, environment, customer, pos, dry_run, merge, confirm, idempotency_key, token, via) -> Trigger:
    sync_permissions_require(actor=actor, environment=environment, dry_run=dry_run, merge=merge)
    if environment not in get_sync_config().environments:
        known = ", ".join(get_sync_config().environments)
        raise TriggerInputError("environment", f"{environment!r} is not an environment orderops knows: use {known}.")
    scope = Scope.parse(customer=customer, pos=pos)
    key = _checked_key(idempotency_key, token)
    fingerprint = request_hash(
        environment=environment, scope=scope, dry_run=dry_run, merge=merge, confirm=(confirm or "").strip()
    )
    if key and (replay := _replay(token, key, fingerprint, scope)):
        return replay
    report = _merge(actor=actor, via=via) if merge else None
    try:
        with transaction.atomic():
            record = None
            if key:
                record = ApiIdempotencyKey.objects.create(
                    token=token, key=key, request_hash=fingerprint, response={"merge": report}
                )
            run = sync_run_create(
                environment=environment,
                scope=scope,
                dry_run=dry_run,
                actor=actor,
                via=via,
                confirm_text=confirm or "",
            )
            if record is not None:
                record.run = run
                record.save(update_fields=["run"])
    except IntegrityError:
        # Another request with the same key committed first (the unique constraint): answer as it did.
        if key and (replay := _replay(token, key, fingerprint, scope)):
            return replay
        raise
    return Trigger(run=run, scope=scope, merge=report)


def request_hash(*, environment: str, scope: Scope, dry_run: bool, merge: bool, confirm: str) -> str:
    """What makes two requests the same request: the environment, the selection under the case rule,
    dry run, merge and the confirmation."""
    canonical = {
        "environment": environment,
        "customer": scope.customer.upper(),
        "pos": sorted(p.upper() for p in scope.pos),
        "dry_run": bool(dry_run),
        "merge": bool(merge),
        "confirm": confirm.casefold(),
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode("utf-8")).hexdigest()


def _checked_key(idempotency_key: str, token: ApiToken | None) -> str:
    key = idempotency_key or ""
    if not key:
        return ""
    if token is None:
        raise TriggerInputError("Idempotency-Key", "An Idempotency-Key is kept per API token; this caller has none.")
    if len(key) > IDEMPOTENCY_KEY_MAX or not all(" " < c <= "~" for c in key):
        raise TriggerInputError(
            "Idempotency-Key",
            f"The Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters without spaces "
            "(a UUID, or the orchestrator's execution id).",
        )
    return key


def _replay(token: ApiToken, key: str, fingerprint: str, scope: Scope) -> Trigger | None:
    record = ApiIdempotencyKey.objects.select_related("run").filter(token=token, key=key).first()
    if record is None or record.run is None:
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyConflictError(
            f"The Idempotency-Key {key!r} was already used for run {record.run_id} with a different request. "
            "Nothing was started: send a new key for a new sync, or the same request to get run "
            f"{record.run_id} again.",
            run_id=record.run_id,
        )
    return Trigger(run=record.run, scope=scope, merge=(record.response or {}).get("merge"), replayed=True)


def _merge(*, actor, via: str) -> dict:
    report = orders_merge()
    audit_record(
        actor=actor,
        action="merge_orders",
        summary=report.summary(),
        via=via,
        details={"new": report.new, "changed": report.changed, "rejected": len(report.rejected)},
    )
    return merge_report_dict(report)


def merge_report_dict(report: MergeReport) -> dict:
    return {
        "summary": report.summary(),
        "staged": report.staged,
        "new": report.new,
        "changed": report.changed,
        "cancelled": report.cancelled,
        "unchanged": report.unchanged,
        "rejected": len(report.rejected),
        "rejections": [str(r) for r in report.rejected[:REJECTIONS_SHOWN]],
        "lines_inserted": report.lines_inserted,
        "lines_updated": report.lines_updated,
        "lines_zeroed": report.lines_zeroed,
    }
