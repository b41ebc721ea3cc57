"""The refusals every entry point shows a person: the console as a message, the CLI with exit 2."""

from __future__ import annotations


class RunRefusedError(Exception):
    """A run (sync, retry, rollback) cannot start; the message says why and what to do."""


class RunBusyError(Exception):
    """Another run is already writing to this environment's board."""


class ProductionConfirmationError(RunRefusedError):
    """A write to the production board was asked for without the board's name or id typed."""


class PermissionRefusedError(Exception):
    """The actor (a person, an API token, the scheduler) lacks the permission the action needs."""
