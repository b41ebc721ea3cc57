"""django-q2 tasks: they take ids and call the same services as the console and the CLI."""

from __future__ import annotations

from syncapp.services.runs import run_execute


def run_task(run_id: int) -> str:
    """Execute a run of any kind (sync, retry, rollback) by id; a run already started is left alone."""
    run = run_execute(run_id=run_id)
    return f"run {run.pk}: {run.status}"
