"""The production confirmation: one rule for every write to the production board.

A person confirms a write to production by typing the board's id or its name. The console, the
CLI, the queue and the tests all reach this rule through the services (sync, retry, rollback),
never through a view alone.
"""

from __future__ import annotations

from syncapp.domain.errors import ProductionConfirmationError

__all__ = ["ProductionConfirmationError", "production_confirmation_require", "production_confirmed"]


def production_confirmed(*, typed: str, board_id: int | str, board_name: str) -> bool:
    """The typed text is the board's id, or its name (case and outer spaces ignored)."""
    typed = (typed or "").strip()
    if not typed:
        return False
    return typed == str(board_id) or typed.casefold() == (board_name or "").strip().casefold()


def production_confirmation_require(*, typed: str, board_id: int | str, board_name: str, action: str) -> None:
    """Raise ProductionConfirmationError unless `typed` confirms the production board."""
    if not production_confirmed(typed=typed, board_id=board_id, board_name=board_name):
        raise ProductionConfirmationError(
            f"To {action} on production, type the production board's name ({board_name}) or id ({board_id}). "
            "Nothing was started."
        )
