"""The locally created order tables match the production definition column for column."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from syncapp.models import FactOrderList, OrderLine
from syncapp.order_tables import (
    FACT_TABLE,
    LINES_TABLE,
    STAGING_TABLE,
    declared_size_columns,
    discover_size_columns,
    order_columns,
    table_columns,
)

SHARED_COLUMNS = Path(settings.BASE_DIR).parent / "shared" / "data" / "order_list_columns.tsv"


def _definition() -> list[str]:
    path = Path(settings.BASE_DIR) / "configs" / "order_list_columns.tsv"
    with path.open(encoding="utf-8") as handle:
        return [row["column"] for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)]


@pytest.mark.django_db
@pytest.mark.parametrize("table", [FACT_TABLE, STAGING_TABLE])
def test_it_creates_the_order_tables_with_the_production_columns_in_order(table):
    columns = table_columns(table)
    assert len(columns) == 433
    assert columns == _definition()


@pytest.mark.django_db
def test_it_creates_order_list_lines_as_described():
    assert table_columns(LINES_TABLE)[:6] == ["line_uuid", "record_uuid", "size_code", "qty", "row_hash", "sync_state"]
    assert {"monday_subitem_id", "parent_item_id", "api_status", "api_error_message", "retry_count"} <= set(
        table_columns(LINES_TABLE)
    )


@pytest.mark.django_db
def test_it_discovers_all_245_sizes_from_the_table():
    sizes = discover_size_columns(FACT_TABLE)
    assert len(sizes) == 245
    assert sizes == declared_size_columns()
    for odd in ["S(6-8)", "3/6 MTHS", "30x32", "32DDD", "O/S", "ONE SIZE", "One_Size", "04/XXS", "2T"]:
        assert odd in sizes
    assert sizes[0] == "2T" and sizes[-1] == "D/L"


@pytest.mark.django_db
def test_it_finds_a_size_column_added_to_the_table():
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {quote('sizes_probe')} ({quote('UNIT OF MEASURE')} varchar(10), "
            f"{quote('XL-TALL')} integer, {quote('5/6 YRS')} integer, {quote('TOTAL QTY')} integer)"
        )
    assert discover_size_columns("sizes_probe") == ["XL-TALL", "5/6 YRS"]


def test_it_keeps_the_project_copy_identical_to_the_shared_definition():
    if not SHARED_COLUMNS.exists():
        pytest.skip("../shared is not on this machine; the project copy is checked when it is")
    ours = (Path(settings.BASE_DIR) / "configs" / "order_list_columns.tsv").read_bytes()
    assert ours == SHARED_COLUMNS.read_bytes()


def test_it_maps_key_business_and_sync_columns_but_no_sizes():
    fields = {f.column: f for f in FactOrderList._meta.get_fields() if hasattr(f, "column")}
    assert fields["record_uuid"].primary_key
    assert fields["AAG ORDER NUMBER"].attname == "aag_order_number"
    assert fields["CUSTOMER'S COLOUR CODE (CUSTOM FIELD) CUSTOMER PROVIDES THIS"].max_length == 255
    assert fields["sync_state"].attname == "sync_state"
    assert not set(declared_size_columns()) & set(fields)
    percent_columns = {"USA ONLY LSTP 75% EX WORKS", "TARIFF RELIEF DISCOUNT (20%)", "ADDITIONAL TARIFF %"}
    assert not percent_columns & set(fields), "Django's backends read % in SQL as a placeholder"
    assert len(fields) == 433 - 245 - len(percent_columns)
    assert FactOrderList._meta.managed is False and OrderLine._meta.managed is False


def test_it_gives_near_twin_columns_distinct_attribute_names():
    names = [c.attname for c in order_columns()]
    assert len(names) == len(set(names))
    by_name = {c.name: c.attname for c in order_columns()}
    assert by_name["CO NUMBER - INITIAL DISTRO"] == "co_number_initial_distro"
    assert by_name["CO NUMBER (INITIAL DISTRO)"] == "co_number_initial_distro_33"
    assert by_name["∆"] == "column_351"


class _ForbiddenEditor:
    """Any use of the schema editor is a change to the production tables."""

    def __getattr__(self, name):
        raise AssertionError(f"schema editor used ({name}) although the order tables are not managed locally")


@pytest.mark.parametrize("operation", ["create_local_order_tables", "drop_local_order_tables"])
def test_it_never_touches_the_order_tables_when_they_are_not_managed_locally(settings, operation):
    from syncapp import order_tables

    settings.ORDEROPS_MANAGE_ORDER_TABLES = False
    getattr(order_tables, operation)(_ForbiddenEditor())
    settings.ORDEROPS_MANAGE_ORDER_TABLES = True
    with pytest.raises(AssertionError, match="schema editor used"):
        getattr(order_tables, operation)(_ForbiddenEditor())
