"""API tokens: create, list, revoke, authenticate, and the audit entry of every API call.

A token is `oo_` followed by `secrets.token_urlsafe(32)` (256 random bits). It is shown once, when it
is created; orderops keeps only its SHA-256 and its first characters (the prefix, to tell tokens
apart in `api_token list` and to find the row without comparing secrets in SQL). Authentication
compares hashes with `hmac.compare_digest`.

Each token acts through its own service user, `api:<name>`, with no usable password (it cannot sign
in to the console) and the role's group (Ops or Admin), so every permission check is `has_perm` on
that user, exactly as for a person, and every audit entry names the token. Revoking a token marks it
revoked and deactivates its user; an inactive user has no permissions at all.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from syncapp.models import ApiToken
from syncapp.roles import ADMIN, OPS
from syncapp.services.audit import audit_record

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "oo_"
# The prefix kept in clear: "oo_" and 8 characters of the secret (48 of its 256 bits).
SHOWN_PREFIX_LENGTH = len(TOKEN_PREFIX) + 8
USERNAME_PREFIX = "api:"
ROLE_GROUPS = {ApiToken.Role.OPS: OPS, ApiToken.Role.ADMIN: ADMIN}
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class ApiTokenError(Exception):
    """A token could not be created, revoked or accepted; the message says why and what to do."""


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def api_token_create(*, name: str, role: str, created_by: str = "", via: str = "cli") -> NewToken:
    """A new token named `name` acting as `role` (ops or admin), with its service user."""
    name = (name or "").strip()
    if not NAME_PATTERN.fullmatch(name):
        raise ApiTokenError(
            f"{name!r} cannot name a token: use 1 to 100 letters, digits, dots, dashes or underscores, "
            "starting with a letter or digit (for example kestra-hourly)."
        )
    if role not in ROLE_GROUPS:
        raise ApiTokenError(f"{role!r} is not a token role: use ops or admin.")
    existing = ApiToken.objects.filter(name=name).first()
    if existing is not None:
        state = "revoked" if existing.revoked_at else "active"
        raise ApiTokenError(
            f"A token named {name} already exists ({state}); names stay with their token for the audit log. "
            "Choose another name."
        )
    User = get_user_model()
    username = f"{USERNAME_PREFIX}{name}"
    if User.objects.filter(username=username).exists():
        raise ApiTokenError(f"A user named {username} already exists; choose another token name.")
    group = Group.objects.filter(name=ROLE_GROUPS[role]).first()
    if group is None:
        raise ApiTokenError(f"The {ROLE_GROUPS[role]} role does not exist yet: run python manage.py migrate first.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        user = User(username=username, is_active=True, is_staff=False)
        user.set_unusable_password()
        user.save()
        user.groups.add(group)
        token = ApiToken.objects.create(
            name=name,
            role=role,
            user=user,
            prefix=secret[:SHOWN_PREFIX_LENGTH],
            secret_hash=secret_hash(secret),
            created_by=created_by[:150],
        )
        audit_record(
            actor=None,
            via=via,
            action="api_token_create",
            target_type="api_token",
            target_id=name,
            summary=f"created API token {name} ({role}, {token.prefix}…)",
            details={"token": name, "role": role, "prefix": token.prefix, "created_by": created_by},
        )
    return NewToken(token=token, secret=secret)


def api_tokens_list() -> list[ApiToken]:
    return list(ApiToken.objects.order_by("name"))


def api_token_revoke(*, name: str, via: str = "cli") -> ApiToken:
    """Revoke a token: it is refused from now on and its service user is deactivated."""
    token = ApiToken.objects.select_related("user").filter(name=(name or "").strip()).first()
    if token is None:
        raise ApiTokenError(f"There is no token named {name!r}; python manage.py api_token list shows them.")
    if token.revoked_at is not None:
        raise ApiTokenError(f"The token {token.name} was already revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC.")
    with transaction.atomic():
        now = timezone.now()
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=now)
        type(token.user).objects.filter(pk=token.user_id).update(is_active=False)
        audit_record(
            actor=None,
            via=via,
            action="api_token_revoke",
            target_type="api_token",
            target_id=token.name,
            summary=f"revoked API token {token.name} ({token.role}, {token.prefix}…)",
            details={"token": token.name, "role": token.role, "prefix": token.prefix},
        )
    token.refresh_from_db()
    return token


def api_token_authenticate(*, secret: str) -> ApiToken:
    """The active token whose secret this is, with its user; ApiTokenError (in words for the caller)
    when it is unknown or revoked. Records when it was last used."""
    secret = (secret or "").strip()
    if not secret.startswith(TOKEN_PREFIX) or len(secret) < SHOWN_PREFIX_LENGTH or len(secret) > 200:
        raise ApiTokenError("This is not an orderops API token (they start with oo_).")
    wanted = secret_hash(secret)
    match = None
    for candidate in ApiToken.objects.select_related("user").filter(prefix=secret[:SHOWN_PREFIX_LENGTH]):
        if hmac.compare_digest(candidate.secret_hash, wanted):
            match = candidate
    if match is None:
        raise ApiTokenError("This API token is not known to orderops. Ask an admin for a token.")
    if match.revoked_at is not None or not match.user.is_active:
        raise ApiTokenError(f"The API token {match.name} was revoked. Ask an admin for a new token.")
    now = timezone.now()
    ApiToken.objects.filter(pk=match.pk).update(last_used_at=now)
    match.last_used_at = now
    return match


def api_call_audit(
    *, token: ApiToken, action: str, summary: str, target_type: str = "", target_id: object = "", details: dict
) -> None:
    """The audit entry of an API call, in the token's name (its service user, via "api"). What the
    caller sent is kept printable: a NUL byte or a lone surrogate in a refused request would make the
    database refuse the audit entry itself."""
    audit_record(
        actor=token.user,
        via="api",
        action=action,
        target_type=target_type,
        target_id=printable(str(target_id))[:100],
        summary=printable(summary),
        details=printable({"token": token.name, **details}),
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def printable(value):
    """`value` (text, or lists and dicts of it) with control characters and lone surrogates replaced."""
    if isinstance(value, str):
        return _CONTROL.sub("?", value.encode("utf-8", "replace").decode("utf-8"))
    if isinstance(value, dict):
        return {printable(str(k)): printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [printable(v) for v in value]
    return value
