"""Walkthroughs: a user working through a runbook, one recorded tick per step.

Every start, tick and completion is in the audit log; each tick records who, when, which step and
the environment the console acted on at that moment.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from syncapp.models import StepTick, Walkthrough
from syncapp.runbooks.loader import Runbook
from syncapp.services.audit import audit_record


class WalkthroughError(Exception):
    """The tick or start cannot be recorded; the message says why."""


def walkthrough_start(*, user, runbook: Runbook, environment: str, via: str = "console") -> tuple[Walkthrough, bool]:
    """Resume the user's walkthrough of `runbook` in progress, or start a new one. Returns (walkthrough, new)."""
    current = (
        Walkthrough.objects.filter(user=user, runbook=runbook.slug, completed_at__isnull=True)
        .order_by("-started_at", "-id")
        .first()
    )
    if current is not None:
        return current, False
    with transaction.atomic():
        walkthrough = Walkthrough.objects.create(user=user, runbook=runbook.slug, environment=environment)
        audit_record(
            actor=user,
            via=via,
            action="walkthrough_start",
            environment=environment,
            target_type="runbook",
            target_id=runbook.slug,
            summary=f"started walkthrough {walkthrough.pk} of runbook {runbook.number}: {runbook.title}",
            details={"walkthrough": walkthrough.pk, "runbook": runbook.slug, "steps": len(runbook.steps)},
        )
    return walkthrough, True


def step_tick(
    *, walkthrough: Walkthrough, runbook: Runbook, step: int, user, environment: str, via: str = "console"
) -> StepTick:
    """Record that `user` did step `step`. Ticking a step twice keeps the first tick. When every step of
    the runbook is ticked, the walkthrough is completed."""
    if walkthrough.user_id != user.pk:
        raise WalkthroughError("This walkthrough belongs to someone else; start your own from the runbook page.")
    if walkthrough.runbook != runbook.slug:
        raise WalkthroughError("This walkthrough is for another runbook.")
    if runbook.step(step) is None:
        raise WalkthroughError(f"Runbook {runbook.number} has no step {step}.")
    if walkthrough.completed_at is not None:
        raise WalkthroughError("This walkthrough is already completed; start a new one to go through it again.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                tick = StepTick.objects.create(walkthrough=walkthrough, step=step, user=user, environment=environment)
        except IntegrityError:
            return StepTick.objects.get(walkthrough=walkthrough, step=step)
        audit_record(
            actor=user,
            via=via,
            action="runbook_step_tick",
            environment=environment,
            target_type="runbook",
            target_id=runbook.slug,
            summary=f"ticked step {step} of runbook {runbook.number} ({runbook.step(step).title})",
            details={"walkthrough": walkthrough.pk, "runbook": runbook.slug, "step": step},
        )
        ticked = set(walkthrough.ticks.values_list("step", flat=True))
        if ticked >= set(range(1, len(runbook.steps) + 1)):
            now = timezone.now()
            if Walkthrough.objects.filter(pk=walkthrough.pk, completed_at__isnull=True).update(completed_at=now):
                walkthrough.completed_at = now
                audit_record(
                    actor=user,
                    via=via,
                    action="walkthrough_complete",
                    environment=environment,
                    target_type="runbook",
                    target_id=runbook.slug,
                    summary=f"completed runbook {runbook.number}: {runbook.title} (walkthrough {walkthrough.pk})",
                    details={"walkthrough": walkthrough.pk, "runbook": runbook.slug, "steps": len(runbook.steps)},
                )
    return tick
