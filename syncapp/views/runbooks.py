"""Runbooks in the console: the list, one runbook with live checks and actions, walkthroughs and their
ticks, and the training record (trainers and admins) with its CSV export."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_POST

from syncapp.permissions import can, permission_required_403
from syncapp.runbooks.actions import action_build
from syncapp.runbooks.checks import CHECKS, check_evaluate
from syncapp.runbooks.loader import Runbook, render_markdown
from syncapp.runbooks.validate import runbook_get, runbook_list, runbook_titles
from syncapp.selectors.environments import active_environment_name
from syncapp.selectors.runbooks import (
    TrainingFilters,
    training_record,
    walkthrough_get,
    walkthrough_latest,
    walkthrough_ticks,
    walkthroughs_by_runbook,
)
from syncapp.services.runbooks import WalkthroughError, step_tick, walkthrough_start
from syncapp.views.csv_export import csv_response

TRAINING_PER_PAGE = 50


def _runbook_or_404(slug: str) -> Runbook:
    runbook = runbook_get(slug)
    if runbook is None:
        raise Http404("There is no runbook with this name.")
    return runbook


@require_GET
@permission_required_403("view_console")
def runbooks(request: HttpRequest) -> HttpResponse:
    mine = walkthroughs_by_runbook(request.user)
    rows = [(runbook, mine.get(runbook.slug)) for runbook in runbook_list()]
    return render(
        request,
        "syncapp/runbooks_list.html",
        {"rows": rows, "can_walk": can(request, "walk_runbooks"), "can_train": can(request, "view_walkthrough")},
    )


@require_GET
@permission_required_403("view_console")
def runbook_detail(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = _runbook_or_404(slug)
    walkthrough = walkthrough_latest(request.user, slug)
    ticks = walkthrough_ticks(walkthrough)
    page = reverse("runbook_detail", kwargs={"slug": slug})
    steps = []
    for step in runbook.steps:
        checks = [
            {
                "step": step.number,
                "index": index,
                "directive": d,
                "outcome": None if CHECKS[d.name].slow else check_evaluate(d.name, d.params),
                "url": reverse("runbook_check", kwargs={"slug": slug, "step": step.number, "index": index}),
            }
            for index, d in enumerate(step.checks)
        ]
        actions = [action_build(d.name, d.params, request, f"{page}#step-{step.number}") for d in step.actions]
        tick = ticks.get(step.number)
        red = any(c["outcome"] is not None and not c["outcome"].ok for c in checks)
        steps.append(
            {
                "step": step,
                "body_html": render_markdown(step.body),
                "checks": checks,
                "actions": actions,
                "tick": tick,
                "red_since_tick": tick is not None and red,
            }
        )
    in_progress = walkthrough is not None and walkthrough.completed_at is None
    return render(
        request,
        "syncapp/runbook_detail.html",
        {
            "runbook": runbook,
            "intro_html": render_markdown(runbook.intro),
            "notes_html": render_markdown(runbook.notes),
            "steps": steps,
            "walkthrough": walkthrough,
            "in_progress": in_progress,
            "ticked": len([n for n in ticks if runbook.step(n)]),
            "can_walk": can(request, "walk_runbooks"),
            "can_train": can(request, "view_walkthrough"),
            "environment": active_environment_name(),
        },
    )


@require_GET
@permission_required_403("view_console")
def runbook_check(request: HttpRequest, slug: str, step: int, index: int) -> HttpResponse:
    """One live check, evaluated now: what the runbook page loads for slow checks and "Check again"."""
    runbook = _runbook_or_404(slug)
    found = runbook.step(step)
    if found is None or not 0 <= index < len(found.checks):
        raise Http404("This step has no such check.")
    directive = found.checks[index]
    check = {
        "step": step,
        "index": index,
        "directive": directive,
        "outcome": check_evaluate(directive.name, directive.params),
        "url": request.path,
    }
    return render(request, "syncapp/partials/runbook_check.html", {"check": check})


@require_POST
@permission_required_403("walk_runbooks")
def walkthrough_begin(request: HttpRequest, slug: str) -> HttpResponse:
    runbook = _runbook_or_404(slug)
    walkthrough, new = walkthrough_start(user=request.user, runbook=runbook, environment=active_environment_name())
    if new:
        messages.success(request, f"Walkthrough started: tick each step when it is done. ({len(runbook.steps)} steps)")
    else:
        started = date_format(timezone.localtime(walkthrough.started_at), "M j, Y H:i T")
        messages.info(
            request, f"Resuming your walkthrough started {started}: {walkthrough.ticks.count()} step(s) ticked."
        )
    return redirect("runbook_detail", slug=slug)


@require_POST
@permission_required_403("walk_runbooks")
def walkthrough_tick(request: HttpRequest, walkthrough_id: int, step: int) -> HttpResponse:
    walkthrough = walkthrough_get(walkthrough_id)
    if walkthrough is None or walkthrough.user_id != request.user.pk:
        # Someone else's walkthrough is not there for you: each user ticks only their own steps.
        raise Http404("You have no walkthrough with this number.")
    runbook = _runbook_or_404(walkthrough.runbook)
    try:
        step_tick(
            walkthrough=walkthrough,
            runbook=runbook,
            step=step,
            user=request.user,
            environment=active_environment_name(),
        )
    except WalkthroughError as error:
        messages.error(request, str(error))
        return redirect("runbook_detail", slug=runbook.slug)
    if walkthrough.completed_at:
        messages.success(request, f"Runbook {runbook.number} completed: every step is ticked. Well done.")
    url = reverse("runbook_detail", kwargs={"slug": runbook.slug})
    following = runbook.step(step + 1)
    return redirect(f"{url}#step-{following.number}" if following else url)


def _training_filters(request: HttpRequest) -> TrainingFilters:
    status = request.GET.get("status", "")
    return TrainingFilters(
        runbook=request.GET.get("runbook", "").strip()[:100],
        user=request.GET.get("user", "").strip()[:150],
        status=status if status in ("completed", "in_progress") else "",
    )


@require_GET
@permission_required_403("view_walkthrough")
def training_record_view(request: HttpRequest) -> HttpResponse:
    filters = _training_filters(request)
    page = Paginator(training_record(filters), TRAINING_PER_PAGE).get_page(request.GET.get("page") or 1)
    titles = runbook_titles()
    steps = {r.slug: len(r.steps) for r in runbook_list()}
    rows = [(w, titles.get(w.runbook, w.runbook), steps.get(w.runbook, 0)) for w in page.object_list]
    return render(
        request,
        "syncapp/training_record.html",
        {"page": page, "rows": rows, "filters": filters, "titles": titles, "params": filters.as_params()},
    )


CSV_COLUMNS = (
    "walkthrough",
    "user",
    "name",
    "runbook",
    "title",
    "environment",
    "started_at",
    "completed_at",
    "steps_ticked",
    "steps",
    "status",
)


@require_GET
@permission_required_403("view_walkthrough")
def training_record_csv(request: HttpRequest) -> StreamingHttpResponse:
    titles = runbook_titles()
    steps = {r.slug: len(r.steps) for r in runbook_list()}
    rows = (
        (
            w.pk,
            w.user.get_username(),
            w.user.get_full_name(),
            w.runbook,
            titles.get(w.runbook, ""),
            w.environment,
            w.started_at.isoformat(timespec="seconds"),
            w.completed_at.isoformat(timespec="seconds") if w.completed_at else "",
            w.ticked,
            steps.get(w.runbook, ""),
            "completed" if w.completed_at else "in progress",
        )
        for w in training_record(_training_filters(request)).iterator(chunk_size=500)
    )
    return csv_response("orderops-training-record.csv", CSV_COLUMNS, rows)


@require_GET
@permission_required_403("view_walkthrough")
def walkthrough_detail(request: HttpRequest, walkthrough_id: int) -> HttpResponse:
    walkthrough = walkthrough_get(walkthrough_id)
    if walkthrough is None:
        raise Http404("There is no walkthrough with this number.")
    runbook = runbook_get(walkthrough.runbook)
    ticks = walkthrough_ticks(walkthrough)
    titles = {s.number: s.title for s in runbook.steps} if runbook else {}
    numbers = sorted(set(titles) | set(ticks))
    rows = [(n, titles.get(n, "(no longer in the runbook)"), ticks.get(n)) for n in numbers]
    return render(
        request, "syncapp/walkthrough_detail.html", {"walkthrough": walkthrough, "runbook": runbook, "rows": rows}
    )
