"""The production step for one PO, as runbook 3 describes it, as one confirmed action.

After a test on the development board the PO's order lines are SYNCED, and that one state hides
which board it refers to: a production sync of "every pending line" skips them. Runbook 3 marks the
PO PENDING for the production board and syncs it to production; here both happen in one action,
confirmed by typing the production board's name or id, audited, and all or nothing: if the sync is
refused (another run is writing to the board, no token), the marking is undone too, so no line is
left PENDING for a sync nobody started.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from syncapp.domain.scope import Scope
from syncapp.models import SyncRun
from syncapp.selectors.environments import environment_config
from syncapp.services.audit import audit_record
from syncapp.services.confirmation import production_confirmation_require
from syncapp.services.orders import PENDING, MarkReport, orders_mark
from syncapp.services.sync import sync_run_create

PRODUCTION = "production"
ACTION_WORDS = "mark this PO PENDING for production and sync it"


@dataclass
class ProductionStep:
    mark: MarkReport
    run: SyncRun


def po_production_sync(
    *, scope: Scope, actor=None, confirm_text: str, via: str = "console", enqueue: bool = True
) -> ProductionStep:
    """Mark the PO's order lines PENDING for the production board and start a production sync of it.

    Raises ProductionConfirmationError (nothing changed) unless `confirm_text` is the production
    board's name or id; RunBusyError/RunRefusedError from the run (the marking rolled back)."""
    if not scope.customer or len(scope.pos) != 1:
        raise ValueError("the production step takes one customer and one PO number")
    env = environment_config(PRODUCTION)
    # Checked before anything changes (sync_run_create checks it again: one rule, services/confirmation).
    production_confirmation_require(
        typed=confirm_text, board_id=env.items_board_id, board_name=env.items_board.name, action=ACTION_WORDS
    )
    with transaction.atomic():
        report = orders_mark(state=PENDING, scope=scope, actor=actor, via=via, environment=PRODUCTION)
        run = sync_run_create(
            environment=PRODUCTION,
            scope=scope,
            dry_run=False,
            actor=actor,
            via=via,
            confirm_text=confirm_text,
            enqueue=enqueue,
        )
        audit_record(
            actor=actor,
            via=via,
            action="po_production_step",
            environment=PRODUCTION,
            target_type="po",
            target_id=f"{scope.customer} {scope.pos[0]}"[:100],
            summary=f"{report.summary()}, then started run {run.pk} to {env.describe()}",
            details={"scope": scope.to_dict(), "run": run.pk, "inserts": report.inserts, "updates": report.updates},
        )
    return ProductionStep(report, run)
