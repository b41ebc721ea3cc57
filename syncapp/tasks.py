"""django-q2 tasks: they take ids and call the same services as the console and the CLI."""

from __future__ import annotations

from syncapp.services.rollback import rollback_run_execute
from syncapp.services.sync import sync_run_execute


def sync_run_task(run_id: int) -> str:
    run = sync_run_execute(run_id=run_id)
    return f"run {run.pk}: {run.status}"


def rollback_run_task(run_id: int) -> str:
    run = rollback_run_execute(rollback_run_id=run_id)
    return f"run {run.pk}: {run.status}"
