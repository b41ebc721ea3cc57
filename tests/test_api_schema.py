"""The API against its own OpenAPI description, property-based (schemathesis): requests generated
from /api/v1/openapi.json, valid and invalid, sent to a live server with a real token and real runs,
and every answer checked — no server error, a documented status code, a documented content type, a
body that matches the response schema, and the token actually required.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from syncapp.models import FactOrderList, SyncRun
from syncapp.services.runs import run_execute
from tests.api_helpers import Api, token_create
from tests.sync_helpers import only_po_pending, point_at, stage_and_merge

pytestmark = pytest.mark.django_db(transaction=True)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
]
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}


@pytest.fixture
def served(live_server, emulator, settings):
    """A live server whose database holds finished runs: one with failed rows, one dry run."""
    point_at(emulator, settings)
    stage_and_merge(60)
    only_po_pending("4755")
    token = token_create("schemathesis", "admin")
    api = Api(live_server.url, token)
    bad = FactOrderList.objects.filter(po_number="4755").order_by("aag_order_number").first()
    FactOrderList.objects.filter(pk=bad.pk).update(customer_name="NOT YET A LABEL")
    runs = []
    for body in ({"environment": "development", "pos": ["4755"]}, {"environment": "production", "dry_run": True}):
        response = api.post_sync(body)
        assert response.status_code == 202, response.text
        runs.append(response.json()["run_id"])
        run_execute(run_id=runs[-1])
    assert SyncRun.objects.get(pk=runs[0]).failed_count == 1
    return live_server.url, token, runs


def test_it_finds_no_failing_case_against_the_openapi_description(served):
    base_url, token, run_ids = served
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == {
        "POST /api/v1/syncs",
        "GET /api/v1/runs/{run_id}",
        "GET /api/v1/runs/{run_id}/results",
    }
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            strategy = operation.as_strategy(generation_mode=mode)
            if "run_id" in operation.path and mode is GenerationMode.POSITIVE:
                # Half the cases read the real runs, so whole bodies are checked, not only 404s.
                strategy = st.one_of(
                    strategy,
                    *(operation.as_strategy(generation_mode=mode, path_parameters={"run_id": r}) for r in run_ids),
                )

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def check(case):
                case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

            check()
