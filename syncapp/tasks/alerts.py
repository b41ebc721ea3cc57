"""django-q2 tasks for the alerts: they take ids and call services/alerts.py."""

from __future__ import annotations

from syncapp.services.alert_delivery import alert_deliveries_send
from syncapp.services.alerts import alerts_evaluate_periodic, alerts_evaluate_run


def alerts_evaluate_run_task(run_id: int) -> str:
    """Open or resolve the alerts a finished run bears on (queued as the run ends). Idempotent."""
    changes = alerts_evaluate_run(run_id=run_id)
    return f"run {run_id}: " + ("; ".join(changes) or "no change")


def alerts_deliver_task(delivery_ids: list[int]) -> str:
    """Send the deliveries of one alert event (queued once the event is committed)."""
    sent = alert_deliveries_send(ids=list(delivery_ids))
    return "; ".join(f"delivery {d.pk} {d.status}" for d in sent) or "nothing due"


def alerts_check_task() -> str:
    """Every minute (the schedule of migration 0010): PENDING age, worker silence, due retries."""
    return "; ".join(alerts_evaluate_periodic()) or "no change"
