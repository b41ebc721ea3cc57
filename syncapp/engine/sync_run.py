"""A sync or retry run from claim to counts: what the run lifecycle (services/runs.py) executes.

The lifecycle starts the run and finishes it; this executor claims the run's rows, records a
planned result per claimed row (holding the state it had, for release and rollback), drives the
SyncEngine and says which fields the finished run gets. A dry run claims nothing and stores its plan.
"""

from __future__ import annotations

from django.db.models import Count

from syncapp.domain.scope import Scope
from syncapp.domain.states import Action, State
from syncapp.engine.claims import claim_candidates, claim_marker, rows_claim, rows_release
from syncapp.engine.progress import RunStopped, stop_reason
from syncapp.engine.sync import SyncEngine
from syncapp.models import FactOrderList, RowResult, SyncRun
from syncapp.monday.errors import MondayError
from syncapp.order_tables import canonical_uuid
from syncapp.sync_config import SyncConfig


def _claimed_labels(run: SyncRun) -> dict[str, tuple[str, str, str]]:
    """The run's claimed rows (its marker, no IN list): record uuid -> (order number, customer, PO)."""
    rows = FactOrderList.objects.filter(sync_state=State.CLAIMED, api_status=claim_marker(run.pk))
    return {
        canonical_uuid(u): ((aag or "")[:100], (customer or "")[:100], (po or "")[:255])
        for u, aag, customer, po in rows.values_list("record_uuid", "aag_order_number", "customer_name", "po_number")
    }


class SyncRunExecutor:
    def __init__(self, run: SyncRun, *, config: SyncConfig):
        self.run = run
        self.config = config
        self.engine: SyncEngine | None = None

    def execute(self) -> None:
        run = self.run
        candidates = claim_candidates(Scope.from_dict(run.scope))
        if run.dry_run:
            record_uuids = candidates
        else:
            claimed = rows_claim(run=run, record_uuids=candidates)
            record_uuids = list(claimed)
            labels = _claimed_labels(run)
            RowResult.objects.bulk_create(
                [
                    RowResult(
                        run=run,
                        record_uuid=u,
                        # Named from the start: a row in progress, or released by a stop, shows its
                        # order line, customer and PO on the run page, never a bare record uuid.
                        aag_order_number=labels.get(u, ("", "", ""))[0],
                        customer_name=labels.get(u, ("", "", ""))[1],
                        po_number=labels.get(u, ("", "", ""))[2],
                        action=RowResult.Action.CREATE if action == Action.INSERT else RowResult.Action.UPDATE,
                        outcome=RowResult.Outcome.PLANNED,
                        previous_sync_state="PENDING",
                        previous_action_type=action,
                    )
                    for u, action in claimed.items()
                ],
                batch_size=500,
            )
        SyncRun.objects.filter(pk=run.pk).update(total_rows=len(record_uuids))
        self.engine = SyncEngine(run, config=self.config)
        self.engine.execute(record_uuids)
        if run.dry_run:
            SyncRun.objects.filter(pk=run.pk).update(
                plan={"groups_to_create": sorted(self.engine.groups_to_create), "rows": self.engine.preview}
            )

    def release(self, *, reason: str) -> None:
        """Rows still claimed go back to PENDING; their planned results say why they were not sent."""
        if not self.run.dry_run:
            rows_release(run=self.run, reason=reason)

    def finish_fields(self, *, status: str, counts: dict[str, int]) -> dict:
        """The counts, rate and outcome of the finished run (counts: RowResult outcomes, and
        "interrupted_created": rows the lifecycle found interrupted after monday created their item).

        Created counts the rows whose item this run created: synced creates, and rows the run
        stopped after monday created their item (their results are failures, "interrupted", and
        the items are on the board, as the rollback plan lists them). Skipped counts the planner's
        skips only; rows a stop sent back unsent are neither skipped nor failed. A run that did not
        complete has no success rate (it would rate only the rows it reached), and a cancelled run
        no outcome: the page shows CANCELLED.
        """
        run = self.run
        by_action = dict(
            RowResult.objects.filter(run=run, outcome=RowResult.Outcome.SYNCED)
            .values_list("action")
            .annotate(n=Count("id"))
            .order_by()
        )
        planner_skips = RowResult.objects.filter(
            run=run, outcome=RowResult.Outcome.SKIPPED, action=RowResult.Action.SKIP
        ).count()
        synced, failed = counts.get(RowResult.Outcome.SYNCED, 0), counts.get(RowResult.Outcome.ERROR, 0)
        completed = status == SyncRun.Status.COMPLETED
        rate = round(100.0 * synced / (synced + failed), 1) if synced + failed and completed else None
        if run.dry_run or status == SyncRun.Status.CANCELLED:
            outcome = ""
        elif completed:
            outcome = self.config.outcome_for(rate)
        else:
            outcome = SyncRun.Outcome.FAILED
        fields = {
            "created_count": by_action.get(RowResult.Action.CREATE, 0) + counts.get("interrupted_created", 0),
            "updated_count": by_action.get(RowResult.Action.UPDATE, 0),
            "cancelled_count": by_action.get(RowResult.Action.CANCEL, 0),
            "skipped_count": planner_skips,
            "failed_count": failed,
            "success_rate": rate,
            "outcome": outcome,
        }
        if self.engine is not None:
            fields.update(self.engine.stats())
            if run.dry_run:
                fields["processed_rows"] = len(self.engine.preview)
        return fields

    def stop_message(self, error: Exception) -> str:
        """Why the run stopped, in the words of the person reading its page."""
        if isinstance(error, RunStopped):
            return "cancelled on request; the run stopped before its next batch of rows"
        if isinstance(error, MondayError):
            return stop_reason(error)  # the client words monday's stops for people already
        return f"orderops stopped the run on an unexpected error ({stop_reason(error)})"

    def finish_audit(self, *, status: str, error: str) -> None:
        """Sync runs record their start in the audit log; the finish is the run's own record."""
        return None
