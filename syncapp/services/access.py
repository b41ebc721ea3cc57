"""Permission checks for actors that are not behind a console view: API tokens, and any service that
must refuse on its own. The checks are Django's own (`user.has_perm`), with the codenames the console
uses (syncapp/permissions.py), so a token of a role may do exactly what a person of that role may.

An API token acts as its service user (`api:<name>`, a member of its role's group); a revoked token's
user is inactive, and Django grants an inactive user nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from syncapp.domain.errors import PermissionRefusedError
from syncapp.permissions import PERMISSION_TEXT, sync_permission_for

# The console's words for its permissions, and for the model permissions the API checks too.
_TEXT = {**PERMISSION_TEXT, "view_syncrun": "see runs and their results"}

__all__ = [
    "PermissionRefusedError",
    "actor_any_permission_require",
    "actor_has",
    "actor_permission_require",
    "sync_permissions_require",
]


def actor_has(actor, codename: str) -> bool:
    return bool(actor is not None and actor.is_authenticated and actor.has_perm(f"syncapp.{codename}"))


def actor_permission_require(*, actor, codename: str, action: str) -> None:
    """Raise PermissionRefusedError unless `actor` holds `syncapp.<codename>`; `action` says in plain
    words what was refused ("sync to the production board")."""
    actor_any_permission_require(actor=actor, codenames=[codename], action=action)


def actor_any_permission_require(*, actor, codenames: Iterable[str], action: str) -> None:
    """Raise PermissionRefusedError unless `actor` holds at least one of the permissions."""
    codenames = list(codenames)
    if any(actor_has(actor, codename) for codename in codenames):
        return
    who = actor.get_username() if actor is not None and actor.is_authenticated else "An anonymous caller"
    needed = " or ".join(f"{c} ({_TEXT.get(c, c)})" for c in codenames)
    raise PermissionRefusedError(
        f"{who} may not {action}: that needs the permission {needed}. Nothing was started. "
        "Use a token or an account whose role has it, or ask an admin."
    )


def sync_permissions_require(*, actor, environment: str, dry_run: bool, merge: bool = False) -> None:
    """What a sync needs, as in the console: a real sync needs the environment's sync permission; a
    dry run writes nothing to monday, so it needs only to be allowed to sync somewhere (the console's
    Preview); merging the staging table changes order rows' states, as marking does."""
    actor_permission_require(actor=actor, codename="view_console", action="use orderops")
    if dry_run:
        actor_any_permission_require(
            actor=actor, codenames=["sync_development", "sync_production"], action="preview a sync"
        )
    else:
        actor_permission_require(
            actor=actor,
            codename=sync_permission_for(environment),
            action=f"sync to the {environment} board",
        )
    if merge:
        actor_permission_require(actor=actor, codename="mark_orders", action="merge the staging table")
