"""The shadow compile (tests/sqlserver_shadow.py) finds what SQL Server would refuse in ORM queries."""

from __future__ import annotations

import uuid

import pytest

from syncapp.models import ApiCall, FactOrderList, SyncRun
from tests import sqlserver_shadow
from tests.sqlserver_standin import rules

pytestmark = pytest.mark.django_db


def _found(queryset) -> list[str]:
    sqlserver_shadow._problems.clear()
    sqlserver_shadow._check(queryset.query.get_compiler(using="default"))
    found = [problem for problem, _ in sqlserver_shadow._problems]
    sqlserver_shadow._problems.clear()
    return found


def test_it_reports_a_query_over_sql_servers_parameter_limit():
    pos = [f"9{n:05d}" for n in range(1500)]
    uuids = [uuid.uuid4() for _ in range(1000)]
    found = _found(FactOrderList.objects.filter(po_number__in=pos, record_uuid__in=uuids))
    assert found == ["2500 parameters: SQL Server accepts at most 2100 per statement"]


def test_it_passes_the_same_lists_one_at_a_time():
    assert _found(FactOrderList.objects.filter(po_number__in=[f"9{n:05d}" for n in range(1500)])) == []
    assert _found(FactOrderList.objects.filter(record_uuid__in=[uuid.uuid4() for _ in range(1000)])) == []


def test_it_sends_uniqueidentifier_values_with_dashes():
    found = _found(FactOrderList.objects.filter(record_uuid=uuid.uuid4(), po_number="4755"))
    assert found == []
    catalogue = sqlserver_shadow._shadow_catalogue()
    assert catalogue.type_of(("FACT_ORDER_LIST", "record_uuid"), set()) == "uniqueidentifier"
    assert catalogue.type_of(("syncapp_itemlink", "record_uuid"), set()) == "uniqueidentifier"
    problems = rules.check(
        "SELECT [x] FROM [FACT_ORDER_LIST] WHERE [FACT_ORDER_LIST].[record_uuid] = ?", (uuid.uuid4().hex,), catalogue
    )
    assert problems and "Msg 8169" in problems[0]


def test_it_batches_bulk_inserts_as_mssql_django_would():
    run = SyncRun.objects.create(environment="development", items_board_id=1, subitems_board_id=2)
    calls = [ApiCall(run=run, environment="development", operation="create_item", ok=True) for _ in range(600)]
    sqlserver_shadow._problems.clear()
    ApiCall.objects.bulk_create(calls)
    assert sqlserver_shadow._problems == []
    assert ApiCall.objects.count() == 600
