"""Reconcile in the console: start one from Environments → Reconcile, watch it, read and filter its
findings, download them as CSV, repair selected findings (development) or all of them behind the
typed confirmation (production); refusals for trainers and busy boards. Against the emulator over
real HTTP, through the Django test client with the role fixtures."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse
from django_q.models import OrmQ

from syncapp.domain.errors import PermissionRefusedError
from syncapp.domain.scope import Scope
from syncapp.models import AuditEntry, FactOrderList, ItemLink, ReconcileFinding, SyncRun
from syncapp.selectors.reconcile import CSV_HEADER
from syncapp.services.reconcile import reconcile_run_create, reconcile_run_execute
from syncapp.services.reconcile_repair import reconcile_repair_execute
from tests.console_helpers import PROD_BOARD, PROD_BOARD_NAME, make_run
from tests.reconcile_helpers import EDITED_VALUE, graphql, six_hand_edits
from tests.sync_helpers import DEV_ITEMS, point_at, stage_and_merge, sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(emulator, settings):
    """20 demo orders synced to the development board."""
    point_at(emulator, settings)
    stage_and_merge(20)
    run = sync()
    assert run.status == SyncRun.Status.COMPLETED and run.failed_count == 0, run.error_message
    return emulator


@pytest.fixture
def edited(synced):
    """The board after the six hand edits (tests/reconcile_helpers.py), by name."""
    return six_hand_edits(synced)


def _start(client, captured, environment: str = "development", **form) -> tuple:
    """POST "Reconcile now"; (response, the run it queued or None)."""
    before = set(SyncRun.objects.filter(kind=SyncRun.Kind.RECONCILE).values_list("pk", flat=True))
    with captured(execute=True):
        response = client.post(reverse("environment_reconcile_start", args=[environment]), form)
    new = SyncRun.objects.filter(kind=SyncRun.Kind.RECONCILE).exclude(pk__in=before)
    return response, new.first()


def _reconciled(client, captured, **form) -> SyncRun:
    """Start a reconcile from the console and let the worker's task execute it."""
    response, run = _start(client, captured, **form)
    assert response.status_code == 302 and run is not None, response.content.decode()[:800]
    run = reconcile_run_execute(run_id=run.pk)
    assert run.status == SyncRun.Status.COMPLETED, run.error_message
    return run


def _detail(client, run: SyncRun, **params):
    response = client.get(reverse("reconcile_detail", args=[run.pk]), params)
    assert response.status_code == 200
    return response


def _shown(response) -> list[ReconcileFinding]:
    return [row["f"] for row in response.context["rows"]]


# --- start, watch, read ------------------------------------------------------------------------------


def test_it_starts_a_reconcile_from_the_environment_page_and_shows_the_findings(
    ops_client, edited, django_capture_on_commit_callbacks
):
    environments = ops_client.get(reverse("environments")).content.decode()
    assert reverse("environment_reconcile", args=["development"]) in environments
    page = ops_client.get(reverse("environment_reconcile", args=["development"]))
    assert page.status_code == 200 and 'data-testid="reconcile-now"' in page.content.decode()

    response, run = _start(ops_client, django_capture_on_commit_callbacks)

    assert response.status_code == 302 and response.url == reverse("reconcile_detail", args=[run.pk])
    assert (run.status, run.dry_run, run.requested_by.username) == ("queued", True, "olivia.ops")
    assert OrmQ.objects.count() == 1, "queued for the worker on commit"
    queued = _detail(ops_client, run).content.decode()
    assert reverse("reconcile_progress", args=[run.pk]) in queued and 'hx-trigger="every 1s"' in queued

    reconcile_run_execute(run_id=run.pk)
    page = _detail(ops_client, run)
    html = page.content.decode()
    assert page.context["counts"] == {
        "missing": 2,
        "orphan": 0,
        "duplicate": 1,
        "value_drift": 1,
        "wrong_group": 1,
        "size_drift": 1,
    }
    assert {f.aag_order_number for f in _shown(page)} == {e.aag_order_number for e in edited.values()}
    assert "6 differences" in html and "Value changed" in html and "Wrong group" in html
    drift = next(f for f in _shown(page) if f.kind == "value_drift")
    assert EDITED_VALUE in html and drift.changed_by in html, "board value and who changed it"
    assert f"item {drift.monday_item_id}" in html
    assert 'hx-trigger="every 1s"' not in html, "a finished reconcile is not polled"
    progress = ops_client.get(reverse("reconcile_progress", args=[run.pk]))
    assert json.loads(progress["HX-Trigger"])["runFinished"]["status"] == "completed"
    entry = AuditEntry.objects.get(action="reconcile_start", target_id=str(run.pk))
    assert entry.actor_name == "olivia.ops"
    listed = ops_client.get(reverse("environment_reconcile", args=["development"])).content.decode()
    assert reverse("reconcile_detail", args=[run.pk]) in listed and "6 differences" in listed


def test_it_says_plainly_when_the_board_and_the_database_are_in_step(
    ops_client, synced, django_capture_on_commit_callbacks
):
    run = _reconciled(ops_client, django_capture_on_commit_callbacks)

    html = _detail(ops_client, run).content.decode()
    assert "The board and the order tables are in step" in html and "Nothing to repair" in html
    assert 'data-testid="repair-form"' not in html
    runs = ops_client.get(reverse("runs")).content.decode()
    assert "reconcile" in runs
    redirected = ops_client.get(reverse("run_detail", args=[run.pk]))
    assert redirected.status_code == 302 and redirected.url == reverse("reconcile_detail", args=[run.pk])


COPY_ARCHIVED = "copy of orderops' item: a repair archives it"
COPY_LEFT = "a repair leaves it: the line's item was not made by orderops, or is not on the board"


def _owner_labels(html: str) -> dict[int, str]:
    """Finding id -> what its row says under the monday links about whose item it is."""
    labels = {}
    for row in html.split('<tr data-testid="finding-')[1:]:
        pk, rest = row.split('"', 1)
        marker = 'data-testid="finding-owner">'
        if marker in rest.split("</tr>", 1)[0]:
            labels[int(pk)] = rest.split(marker, 1)[1].split("<", 1)[0]
    return labels


def test_it_says_a_copy_of_orderops_item_is_archived_and_who_made_the_other_findings_items(
    ops_client, edited, django_capture_on_commit_callbacks
):
    run = _reconciled(ops_client, django_capture_on_commit_callbacks)

    labels = _owner_labels(_detail(ops_client, run).content.decode())
    findings = {f.pk: f for f in ReconcileFinding.objects.filter(run=run)}
    assert set(labels) == set(findings), "every finding of the six edits names its item's maker"
    copy = next(f for f in findings.values() if f.kind == "duplicate")
    assert labels.pop(copy.pk) == COPY_ARCHIVED, "a person made the copy, of the item orderops created"
    assert set(labels.values()) == {"item made by orderops"}


def test_it_says_a_copy_of_an_item_a_person_made_is_left_alone(ops_client, synced, django_capture_on_commit_callbacks):
    # The order line linked to a copy a person made of its item (a lost link found again on the
    # wrong item): the item orderops created is now the line's second item, and not orderops' to archive.
    link = ItemLink.objects.filter(environment="development").order_by("aag_order_number").first()
    made_by_orderops = link.monday_item_id
    copy = graphql(
        synced,
        "mutation ($b: ID!, $i: ID) { duplicate_item(board_id: $b, item_id: $i) { id } }",
        {"b": DEV_ITEMS, "i": str(made_by_orderops)},
    )["duplicate_item"]
    ItemLink.objects.filter(pk=link.pk).update(monday_item_id=int(copy["id"]), created_by_run=None)
    run = _reconciled(ops_client, django_capture_on_commit_callbacks)

    html = _detail(ops_client, run).content.decode()
    labels = _owner_labels(html)
    findings = {f.pk: f for f in ReconcileFinding.objects.filter(run=run)}
    duplicate = next(f for f in findings.values() if f.kind == "duplicate")
    assert (duplicate.monday_item_id, duplicate.created_by_orderops) == (made_by_orderops, False)
    assert labels.pop(duplicate.pk) == COPY_LEFT
    assert labels and set(labels.values()) == {"item made by a person"}, "the sizes of the line's item, a copy"
    assert COPY_ARCHIVED not in html and "made by orderops<" not in html


def test_it_narrows_the_reconcile_to_a_customer_and_pos(ops_client, edited, django_capture_on_commit_callbacks):
    line = FactOrderList.objects.get(record_uuid=edited["edit"].record_uuid)
    customer, po = line.customer_name.lower(), line.po_number
    in_po = {e.aag_order_number for e in edited.values() if e.aag_order_number.split("-")[1] == po}

    run = _reconciled(ops_client, django_capture_on_commit_callbacks, customer=customer, pos=f"{po}, 9999")

    assert run.scope == {"customer": customer, "pos": [po, "9999"]}
    assert {f.aag_order_number for f in ReconcileFinding.objects.filter(run=run)} == in_po
    assert f"customer {customer}, PO {po}, 9999" in _detail(ops_client, run).content.decode()


def test_it_refuses_a_reconcile_while_a_sync_writes_and_keeps_what_was_typed(
    ops_client, synced, django_capture_on_commit_callbacks
):
    running = make_run(status="running")

    response, run = _start(ops_client, django_capture_on_commit_callbacks, customer="GREYSON", pos="4755 4763")

    html = response.content.decode()
    assert response.status_code == 409 and run is None
    assert f"run {running.pk} is already writing to the Development board" in html
    assert reverse("run_detail", args=[running.pk]) in html, "a link to the run it waits for"
    assert 'value="GREYSON"' in html and 'value="4755 4763"' in html, "nothing typed is lost"


def test_it_names_a_missing_token_in_plain_words(ops_client, synced, settings, django_capture_on_commit_callbacks):
    settings.MONDAY_API_TOKEN_DEVELOPMENT = ""

    response, run = _start(ops_client, django_capture_on_commit_callbacks, customer="GREYSON")

    assert response.status_code == 400 and run is None
    assert "MONDAY_API_TOKEN_DEVELOPMENT is not set" in response.content.decode()


# --- filters and CSV -------------------------------------------------------------------------------


def test_it_filters_findings_by_kind_status_customer_po_and_order_number(
    ops_client, edited, django_capture_on_commit_callbacks
):
    run = _reconciled(ops_client, django_capture_on_commit_callbacks)
    drift = edited["edit"]

    assert {f.kind for f in _shown(_detail(ops_client, run, kind="missing"))} == {"missing"}
    assert len(_shown(_detail(ops_client, run, kind="missing"))) == 2
    assert [f.aag_order_number for f in _shown(_detail(ops_client, run, q=drift.aag_order_number))] == [
        drift.aag_order_number
    ]
    line = FactOrderList.objects.get(record_uuid=drift.record_uuid)
    by_po = _shown(_detail(ops_client, run, po=line.po_number, customer=line.customer_name.lower()))
    po = line.po_number
    assert by_po and {f.po_number for f in by_po} == {po}
    assert _shown(_detail(ops_client, run, status="open")) and not _shown(_detail(ops_client, run, status="repaired"))
    page = _detail(ops_client, run, kind="no-such-kind")
    assert len(_shown(page)) == 6 and "There is no kind of finding called" in page.content.decode()


def test_it_downloads_the_filtered_findings_as_csv(ops_client, edited, django_capture_on_commit_callbacks):
    run = _reconciled(ops_client, django_capture_on_commit_callbacks)
    ReconcileFinding.objects.filter(run=run, kind="value_drift").update(message="=HYPERLINK(evil)")

    response = ops_client.get(reverse("reconcile_findings_csv", args=[run.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="orderops-reconcile-{run.pk}.csv"'
    assert rows[0] == list(CSV_HEADER) and len(rows) == 7
    by_kind = {row[1]: dict(zip(CSV_HEADER, row, strict=True)) for row in rows[1:]}
    assert by_kind["value_drift"]["board_value"] == EDITED_VALUE
    assert by_kind["value_drift"]["message"] == "'=HYPERLINK(evil)", "spreadsheet formulas are defused"
    assert by_kind["size_drift"]["size"] == edited["qty"].details["size_code"]

    filtered = ops_client.get(reverse("reconcile_findings_csv", args=[run.pk]), {"kind": "missing"})
    rows = list(csv.reader(io.StringIO(b"".join(filtered.streaming_content).decode())))
    assert filtered["Content-Disposition"].endswith(f'orderops-reconcile-{run.pk}-missing.csv"')
    assert [row[1] for row in rows[1:]] == ["missing", "missing"]


# --- repair ------------------------------------------------------------------------------------------


def test_it_repairs_the_selected_findings_on_development(ops_client, edited, django_capture_on_commit_callbacks):
    run = _reconciled(ops_client, django_capture_on_commit_callbacks)
    chosen = ReconcileFinding.objects.filter(run=run, kind__in=["value_drift", "wrong_group"])
    others = ReconcileFinding.objects.filter(run=run).exclude(pk__in=chosen.values("pk"))

    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(reverse("reconcile_repair", args=[run.pk]), {"finding": [str(f.pk) for f in chosen]})

    repair = SyncRun.objects.get(kind=SyncRun.Kind.REPAIR)
    assert response.status_code == 302 and response.url == reverse("run_detail", args=[repair.pk])
    assert (repair.parent_id, repair.environment, repair.requested_by.username) == (run.pk, "development", "olivia.ops")
    audit = AuditEntry.objects.get(action="reconcile_repair_start", target_id=str(repair.pk))
    assert sorted(audit.details["findings"]) == sorted(f.pk for f in chosen)
    reconcile_repair_execute(run_id=repair.pk)
    assert set(ReconcileFinding.objects.filter(pk__in=[f.pk for f in chosen]).values_list("status", flat=True)) == {
        "repaired"
    }
    assert set(others.values_list("status", flat=True)) == {"open"}, "only what was ticked"

    run_page = ops_client.get(reverse("run_detail", args=[repair.pk])).content.decode()
    assert reverse("reconcile_detail", args=[run.pk]) in run_page, "the repair links back to its reconcile"
    assert f"of {run.pk}" in ops_client.get(reverse("runs")).content.decode()
    detail = _detail(ops_client, run).content.decode()
    assert reverse("run_detail", args=[repair.pk]) in detail and "Repair all 4 open" in detail

    again = _reconciled(ops_client, django_capture_on_commit_callbacks)
    assert set(ReconcileFinding.objects.filter(run=again).values_list("kind", flat=True)) == {
        "missing",
        "duplicate",
        "size_drift",
    }


def test_it_asks_for_a_selection_before_repairing(ops_client, edited, django_capture_on_commit_callbacks):
    run = _reconciled(ops_client, django_capture_on_commit_callbacks)

    response = ops_client.post(reverse("reconcile_repair", args=[run.pk]), {}, follow=True)

    assert "Tick at least one open finding" in response.content.decode()
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.REPAIR).exists()


def _production_reconcile(emulator, settings) -> SyncRun:
    """A finished production reconcile with two open findings (stored as the executor stores them)."""
    point_at(emulator, settings)
    run = make_run(environment="production", kind=SyncRun.Kind.RECONCILE, dry_run=True, status="completed", scope={})
    for n in range(2):
        ReconcileFinding.objects.create(
            run=run, kind="orphan", monday_item_id=111 + n, aag_order_number=f"HAND-{n}", message="no order line"
        )
    return run


def test_it_asks_production_to_type_the_board_before_a_repair(
    ops_prod_client, emulator, settings, django_capture_on_commit_callbacks
):
    run = _production_reconcile(emulator, settings)
    url = reverse("reconcile_repair", args=[run.pk])

    asked = ops_prod_client.post(url, {"all_open": "1"})
    html = asked.content.decode()
    assert asked.status_code == 200 and 'name="confirm_board"' in html and str(PROD_BOARD) in html
    assert "every open finding of reconcile run" in html and "2 not ours" in html
    for typed in ("", "9609317401"):
        again = ops_prod_client.post(url, {"all_open": "1", "confirm_board": typed})
        assert again.status_code == 200 and 'data-testid="confirm-error"' in again.content.decode()
        assert 'name="all_open" value="1"' in again.content.decode(), "the selection is kept"
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.REPAIR).exists()

    with django_capture_on_commit_callbacks(execute=True):
        started = ops_prod_client.post(url, {"all_open": "1", "confirm_board": PROD_BOARD_NAME.lower()})
    repair = SyncRun.objects.get(kind=SyncRun.Kind.REPAIR)
    assert started.status_code == 302 and repair.environment == "production" and repair.total_rows == 2
    assert AuditEntry.objects.filter(action="reconcile_repair_start", target_id=str(repair.pk)).exists()


def test_it_shows_a_busy_board_when_a_repair_cannot_start(ops_client, edited, django_capture_on_commit_callbacks):
    run = _reconciled(ops_client, django_capture_on_commit_callbacks)
    running = make_run(status="running")

    response = ops_client.post(reverse("reconcile_repair", args=[run.pk]), {"all_open": "1"})

    html = response.content.decode()
    assert response.status_code == 409 and "The repair was not started" in html
    assert reverse("run_detail", args=[running.pk]) in html and reverse("reconcile_detail", args=[run.pk]) in html


# --- permissions -------------------------------------------------------------------------------------


def test_it_refuses_reconcile_and_repair_to_a_trainer(
    trainer_client, trainer_user, ops_client, edited, django_capture_on_commit_callbacks
):
    page = trainer_client.get(reverse("environment_reconcile", args=["development"])).content.decode()
    assert 'data-testid="reconcile-not-allowed"' in page and 'data-testid="reconcile-now"' not in page

    response, run = _start(trainer_client, django_capture_on_commit_callbacks)
    assert response.status_code == 403 and run is None
    with pytest.raises(PermissionRefusedError, match=r"tara\.trainer may not reconcile the development board"):
        reconcile_run_create(environment="development", scope=Scope(), actor=trainer_user, via="console")
    with pytest.raises(PermissionRefusedError):
        reconcile_run_create(environment="development", scope=Scope(), actor=None, via="console")

    run = _reconciled(ops_client, django_capture_on_commit_callbacks)
    detail = _detail(trainer_client, run).content.decode()
    assert 'data-testid="repair-not-allowed"' in detail and 'name="finding"' not in detail
    refused = trainer_client.post(reverse("reconcile_repair", args=[run.pk]), {"all_open": "1"})
    assert refused.status_code == 403
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.REPAIR).exists()
    assert not AuditEntry.objects.filter(actor_name="tara.trainer", action="reconcile_start").exists()


def test_it_refuses_a_production_reconcile_to_ops_without_the_production_permission(
    ops_client, emulator, settings, django_capture_on_commit_callbacks
):
    point_at(emulator, settings)

    response, run = _start(ops_client, django_capture_on_commit_callbacks, environment="production")

    assert response.status_code == 403 and run is None
    assert "sync to the production board" in response.content.decode()
