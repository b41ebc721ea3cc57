"""The trigger API over real HTTP: a live console server, tokens made by `manage.py api_token`,
`requests`, and syncs to the monday emulator.

A triggered run is queued for the worker on commit; these tests stand in for the worker by calling
`run_execute` with the run's id (what `tasks.run_task` does), except the last one, which starts a
real `manage.py qcluster` and only polls the API.
"""

from __future__ import annotations

import pytest

from syncapp.models import AuditEntry, FactOrderList, SyncRun
from syncapp.services.runs import run_execute
from tests.api_helpers import Api, token_create
from tests.board_checks import write_sync_config
from tests.sync_helpers import PROD_ITEMS, only_po_pending, point_at, set_staged, stage_and_merge
from tests.worker_helpers import QCluster, wait_for, worker_environment

pytestmark = pytest.mark.django_db(transaction=True)

PO_4755 = {"environment": "development", "pos": ["4755"]}


@pytest.fixture
def api(live_server, emulator, settings):
    point_at(emulator, settings)
    stage_and_merge(120)
    only_po_pending("4755")
    return {
        "ops": Api(live_server.url, token_create("ops-bot", "ops")),
        "admin": Api(live_server.url, token_create("admin-bot", "admin")),
        "url": live_server.url,
    }


def _finished(api: Api, run_id: int) -> dict | None:
    body = api.run(run_id)
    return body if body["finished"] else None


def _refusal(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and body["detail"], body
    return body


def test_it_triggers_a_sync_polls_it_and_lists_the_failed_rows(api):
    bad = list(FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number")[:2])
    FactOrderList.objects.filter(pk__in=[r.pk for r in bad]).update(customer_name="NOT YET A LABEL")
    ops = api["ops"]

    response = ops.post_sync({**PO_4755, "dry_run": False, "merge": False})
    assert response.status_code == 202, response.text
    started = response.json()
    run_id = started["run_id"]
    assert started["url"] == f"{api['url']}/runs/{run_id}/"
    assert started["status_url"] == f"/api/v1/runs/{run_id}" == response.headers["Location"]
    assert started["scope"]["pos"] == ["4755"] and started["merge"] is None and not started["dry_run"]
    queued = ops.run(run_id)
    assert (queued["status"], queued["finished"], queued["outcome"]) == ("queued", False, None)

    run_execute(run_id=run_id)  # the worker's part
    run = wait_for(lambda: _finished(ops, run_id), timeout=30, what=f"run {run_id} to finish")
    assert run["status"] == "completed" and run["outcome"] == "FAILED", run["error_message"]
    assert (run["counts"]["created"], run["counts"]["failed"]) == (5, 2)
    assert run["requested_by"] == "api:ops-bot" and run["requested_via"] == "api"
    customers = {c["customer"]: c for c in run["customers"]}
    assert customers["GREYSON"]["synced"] == 5 and customers["NOT YET A LABEL"]["failed"] == 2
    assert customers["NOT YET A LABEL"]["outcome"] == "FAILED"
    assert all(run[k].endswith("Z") for k in ("created_at", "started_at", "finished_at")), "ISO 8601 in UTC"

    failed = ops.get(started["results_url"], outcome="failed")
    assert failed.status_code == 200, failed.text
    page = failed.json()
    assert page["count"] == 2 and page["next"] is None
    assert {r["aag_order_number"] for r in page["results"]} == {r.aag_order_number for r in bad}
    for result in page["results"]:
        assert (result["outcome"], result["error_code"], result["po"]) == ("error", "ColumnValueException", "4755")
        assert "NOT YET A LABEL" in result["message"] and result["monday_item_id"] is None

    first = ops.get(started["results_url"], page_size=3).json()
    assert (first["count"], first["pages"], len(first["results"])) == (7, 3, 3)
    second = ops.get(first["next"]).json()
    assert (
        second["page"] == 2
        and second["previous"]
        and {r["id"] for r in second["results"]}.isdisjoint({r["id"] for r in first["results"]})
    )
    assert all(r["monday_item_id"] for r in ops.get(started["results_url"], outcome="synced").json()["results"])

    start = AuditEntry.objects.get(action="sync_start", target_id=str(run_id))
    assert (start.actor_name, start.via) == ("api:ops-bot", "api")
    reads = AuditEntry.objects.filter(action="api_read", actor_name="api:ops-bot", target_id=str(run_id))
    assert reads.count() >= 6 and all(r.via == "api" and r.details["token"] == "ops-bot" for r in reads)


def test_it_refuses_what_the_console_refuses(api):
    ops, admin = api["ops"], api["admin"]
    body = _refusal(ops.post_sync({"environment": "production", "pos": ["4755"]}), 403, "permission_denied")
    assert "sync_production" in body["detail"]
    for request, field in [
        ({**PO_4755, "pos": "4755"}, "pos"),
        ({**PO_4755, "customer": 5}, "customer"),
        ({**PO_4755, "pos": [["4755"]]}, "pos"),
        ({"environment": "staging"}, "environment"),
        ({"pos": ["4755"]}, "environment"),
        ({**PO_4755, "po": ["4755"]}, "po"),
        ({**PO_4755, "dry_run": "yes"}, "dry_run"),
        # PostgreSQL refuses a NUL byte in text: it must be the caller's 400, never the server's 500.
        ({**PO_4755, "customer": "GREY\x00SON"}, "customer"),
        ({**PO_4755, "pos": ["47\x0055"]}, "pos"),
        ({**PO_4755, "n\x00pe": 1}, "n\x00pe"),
    ]:
        body = _refusal(ops.post_sync(request), 400, "invalid")
        assert list(body["errors"]) == [field] and body["errors"][field][0], (request, body)
    not_json = ops.session.post(f"{api['url']}/api/v1/syncs", data="{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["detail"]

    # Production: the typed board, as on the console's confirmation page.
    production = {"environment": "production", "pos": ["4755"]}
    body = _refusal(admin.post_sync(production), 400, "confirmation_required")
    assert list(body["errors"]) == ["confirm"] and "production board's name" in body["detail"]
    _refusal(admin.post_sync({**production, "confirm": "the dev board"}), 400, "confirmation_required")
    assert admin.post_sync({**production, "confirm": PROD_ITEMS}).status_code == 202

    # One run writes to a board at a time.
    first = ops.post_sync(PO_4755)
    assert first.status_code == 202
    body = _refusal(admin.post_sync(PO_4755), 409, "busy")
    assert body["running_run_id"] == first.json()["run_id"]
    assert ops.post_sync({**PO_4755, "dry_run": True}).status_code == 202, "a dry run writes nothing: never busy"
    assert SyncRun.objects.filter(dry_run=False).count() == 2

    refused = AuditEntry.objects.filter(action="sync_refused")
    assert {e.actor_name for e in refused} == {"api:ops-bot", "api:admin-bot"}
    assert refused.filter(actor_name="api:ops-bot", via="api").count() >= 11, "every refused call is audited"
    assert refused.filter(summary__contains="n?pe").exists(), "what was sent is kept printable in the log"
    assert api["ops"].session.get(f"{api['url']}/api/v1/runs/1", headers={"Authorization": ""}).status_code == 401


def test_it_refuses_a_run_without_the_monday_token(api, settings):
    settings.MONDAY_API_TOKEN_DEVELOPMENT = ""
    body = _refusal(api["ops"].post_sync(PO_4755), 409, "refused")
    assert "MONDAY_API_TOKEN_DEVELOPMENT is not set" in body["detail"]
    assert not SyncRun.objects.exists()


def test_it_merges_the_staging_table_first_when_asked(api):
    row = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    set_staged(row.aag_order_number, "ORDER TYPE", "Cancelled")
    response = api["ops"].post_sync({**PO_4755, "merge": True, "dry_run": True})
    assert response.status_code == 202, response.text
    merge = response.json()["merge"]
    assert (merge["changed"], merge["cancelled"], merge["new"]) == (1, 1, 0) and "merged" in merge["summary"]
    assert AuditEntry.objects.filter(action="merge_orders", actor_name="api:ops-bot", via="api").count() == 1
    run_id = response.json()["run_id"]
    run_execute(run_id=run_id)
    run = api["ops"].run(run_id)
    assert run["dry_run"] and run["outcome"] is None
    assert run["plan"]["by_action"] == {"create": 6, "skip": 1}, "the merged cancellation is in the plan"
    assert FactOrderList.objects.filter(pk=row.pk, sync_state="SYNCED").count() == 0, "a dry run writes nothing"


def test_it_returns_the_same_run_for_a_repeated_idempotency_key(api):
    ops, admin = api["ops"], api["admin"]
    first = ops.post_sync(PO_4755, **{"Idempotency-Key": "kestra-exec-1"})
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    again = ops.post_sync({**PO_4755, "pos": [" 4755 "]}, **{"Idempotency-Key": "kestra-exec-1"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json(), "the same body: the same run"
    assert SyncRun.objects.count() == 1

    different = ops.post_sync({**PO_4755, "pos": ["4756"]}, **{"Idempotency-Key": "kestra-exec-1"})
    body = _refusal(different, 422, "idempotency_key_reused")
    assert body["run_id"] == first.json()["run_id"]
    other = admin.post_sync({**PO_4755, "dry_run": True}, **{"Idempotency-Key": "kestra-exec-1"})
    assert other.status_code == 202, "keys are kept per token"

    # A refused request keeps no key: once the board is free, the same key starts the run.
    _refusal(ops.post_sync(PO_4755, **{"Idempotency-Key": "kestra-exec-2"}), 409, "busy")
    run_execute(run_id=first.json()["run_id"])
    FactOrderList.objects.filter(po_number="4755").update(sync_state="PENDING", action_type="UPDATE")
    retried = ops.post_sync(PO_4755, **{"Idempotency-Key": "kestra-exec-2"})
    assert retried.status_code == 202 and retried.json()["run_id"] != first.json()["run_id"]

    body = _refusal(ops.post_sync(PO_4755, **{"Idempotency-Key": "x" * 129}), 400, "invalid")
    assert list(body["errors"]) == ["Idempotency-Key"]


@pytest.mark.slow
def test_it_runs_a_triggered_sync_in_a_real_qcluster(api, emulator, tmp_path, settings):
    config = write_sync_config(tmp_path / "sync.toml")
    settings.ORDEROPS_SYNC_CONFIG = config
    cluster = QCluster(worker_environment(emulator, config), tmp_path / "qcluster.log").wait_ready()
    try:
        response = api["ops"].post_sync(PO_4755, **{"Idempotency-Key": "cluster-1"})
        assert response.status_code == 202, response.text
        run_id = response.json()["run_id"]
        run = wait_for(lambda: _finished(api["ops"], run_id), timeout=90, interval=0.5, what=f"run {run_id}")
    finally:
        cluster.stop()
    assert (run["status"], run["outcome"], run["counts"]["created"]) == ("completed", "SUCCESS", 7)
    assert cluster.processed().count(f"run-{run_id}") == 1, "the worker ran it, once"
