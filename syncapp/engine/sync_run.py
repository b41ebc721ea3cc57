"""A sync or retry run from claim to counts: what the run lifecycle (services/runs.py) executes.

The lifecycle starts the run and finishes it; this executor claims the run's rows, records a
planned result per claimed row (holding the state it had, for release and rollback), drives the
SyncEngine and says which fields the finished run gets. A dry run claims nothing and stores its plan.
"""

from __future__ import annotations

from django.db.models import Count

from syncapp.domain.scope import Scope
from syncapp.domain.states import Action
from syncapp.engine.claims import claim_candidates, rows_claim, rows_release
from syncapp.engine.progress import stop_reason
from syncapp.engine.sync import SyncEngine
from syncapp.models import RowResult, SyncRun
from syncapp.sync_config import SyncConfig


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
            RowResult.objects.bulk_create(
                [
                    RowResult(
                        run=run,
                        record_uuid=u,
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
        """The counts, rate and outcome of the finished run (counts: RowResult outcomes)."""
        run = self.run
        by_action = dict(
            RowResult.objects.filter(run=run, outcome=RowResult.Outcome.SYNCED)
            .values_list("action")
            .annotate(n=Count("id"))
            .order_by()
        )
        synced, failed = counts.get(RowResult.Outcome.SYNCED, 0), counts.get(RowResult.Outcome.ERROR, 0)
        rate = round(100.0 * synced / (synced + failed), 1) if synced + failed else None
        if run.dry_run:
            outcome = ""
        elif status == SyncRun.Status.COMPLETED:
            outcome = self.config.outcome_for(rate)
        else:
            outcome = SyncRun.Outcome.FAILED
        fields = {
            "created_count": by_action.get(RowResult.Action.CREATE, 0),
            "updated_count": by_action.get(RowResult.Action.UPDATE, 0),
            "cancelled_count": by_action.get(RowResult.Action.CANCEL, 0),
            "skipped_count": counts.get(RowResult.Outcome.SKIPPED, 0),
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
        return stop_reason(error)

    def finish_audit(self, *, status: str, error: str) -> None:
        """Sync runs record their start in the audit log; the finish is the run's own record."""
        return None
