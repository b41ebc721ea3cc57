"""The production order tables, described by the project's copy of their column definitions.

FACT_ORDER_LIST and swp_ORDER_LIST_SYNC share the 433 columns of configs/order_list_columns.tsv;
ORDER_LIST_LINES has the columns of configs/order_list_lines_columns.tsv. Django fields for the
key, business and sync columns are derived from these files, so the models and the locally created
tables cannot drift from production. Size columns are never model fields: they are discovered from
the live table, between UNIT OF MEASURE and TOTAL QTY.
"""

from __future__ import annotations

import csv
import re
import unicodedata
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.conf import settings
from django.db import connections, models

from syncapp.fields import UniqueIdentifierField

FACT_TABLE = "FACT_ORDER_LIST"
STAGING_TABLE = "swp_ORDER_LIST_SYNC"
LINES_TABLE = "ORDER_LIST_LINES"
ORDER_TABLES = (STAGING_TABLE, FACT_TABLE, LINES_TABLE)

SIZES_AFTER = "UNIT OF MEASURE"
SIZES_BEFORE = "TOTAL QTY"

_SQL_TYPE = re.compile(r"^(?P<base>[A-Z0-9]+)(?:\((?P<args>[^)]*)\))?$")


@dataclass(frozen=True)
class Column:
    position: int
    name: str
    sql_type: str
    nullable: bool
    default: str
    role: str  # key | order | size | sync
    attname: str  # the Python attribute name, see _attname

    @property
    def base_type(self) -> str:
        return _parse_type(self.sql_type)[0]

    def django_field(self, *, primary_key: bool = False) -> models.Field:
        base, args = _parse_type(self.sql_type)
        options: dict = {"db_column": self.name, "null": self.nullable and not primary_key, "blank": True}
        if primary_key:
            options["primary_key"] = True
        if base == "UNIQUEIDENTIFIER":
            return UniqueIdentifierField(**options)
        if base in {"NVARCHAR", "VARCHAR", "CHAR", "NCHAR"}:
            if args and args[0].upper() == "MAX":
                return models.TextField(**options)
            return models.CharField(max_length=int(args[0]), **options)
        if base == "INT":
            return models.IntegerField(**options)
        if base == "SMALLINT":
            return models.SmallIntegerField(**options)
        if base == "BIGINT":
            return models.BigIntegerField(**options)
        if base == "DECIMAL":
            return models.DecimalField(max_digits=int(args[0]), decimal_places=int(args[1]), **options)
        if base == "DATE":
            return models.DateField(**options)
        if base == "DATETIME2":
            return models.DateTimeField(**options)
        raise ValueError(f"column {self.name!r}: SQL type {self.sql_type!r} has no Django field")


def _parse_type(sql_type: str) -> tuple[str, list[str]]:
    match = _SQL_TYPE.match(sql_type.replace(" ", "").upper())
    if not match:
        raise ValueError(f"unreadable SQL type {sql_type!r}")
    args = [a for a in (match["args"] or "").split(",") if a]
    return match["base"], args


def _attname(name: str, position: int, taken: set[str]) -> str:
    """Lower snake case of the name's ASCII letters and digits ("AAG ORDER NUMBER" -> aag_order_number).

    Production has near-twins ("CO NUMBER - INITIAL DISTRO" and "CO NUMBER (INITIAL DISTRO)"): the
    later column of such a pair gets its position as a suffix. Names with no usable letters become
    column_<position>.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", ascii_name).strip("_").lower()
    if not slug or slug[0].isdigit():
        slug = f"column_{position}"
    if slug in taken:
        slug = f"{slug}_{position}"
    taken.add(slug)
    return slug


def _read_columns(path: Path) -> tuple[Column, ...]:
    taken: set[str] = set()
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return tuple(
            Column(
                position=int(row["position"]),
                name=row["column"],
                sql_type=row["sql_type"],
                nullable=row["nullable"].strip().upper() == "NULL",
                default=row["default"],
                role=row["role"],
                attname=_attname(row["column"], int(row["position"]), taken),
            )
            for row in rows
        )


@cache
def order_columns() -> tuple[Column, ...]:
    """The 433 columns of FACT_ORDER_LIST and swp_ORDER_LIST_SYNC, in table order."""
    return _read_columns(Path(settings.BASE_DIR) / "configs" / "order_list_columns.tsv")


@cache
def line_columns() -> tuple[Column, ...]:
    """The columns of ORDER_LIST_LINES, in table order."""
    return _read_columns(Path(settings.BASE_DIR) / "configs" / "order_list_lines_columns.tsv")


@cache
def columns_by_name() -> dict[str, Column]:
    return {column.name: column for column in order_columns()}


def declared_size_columns() -> list[str]:
    """Size columns as the definition file declares them (used to create local tables and in tests)."""
    return [c.name for c in order_columns() if c.role == "size"]


def table_columns(table: str, using: str = "default") -> list[str]:
    """The live table's column names in their physical order.

    On SQL Server this is one parameterised query: mssql-django's get_table_description puts each
    column name inside a quoted literal, which a production name with an apostrophe ("CUSTOMER'S
    COLOUR CODE ...") breaks, and it costs three round trips per column.
    """
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "microsoft":
            cursor.execute(
                "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS "
                "WHERE TABLE_SCHEMA = SCHEMA_NAME() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                [table],
            )
            return [row[0] for row in cursor.fetchall()]
        description = connection.introspection.get_table_description(cursor, table)
    return [column.name for column in description]


def discover_size_columns(table: str = FACT_TABLE, using: str = "default") -> list[str]:
    """The size columns of a live order table: every column strictly between the two markers.

    Production adds size columns when a customer brings a new size family, so they are read from
    the table each time rather than hard-coded.
    """
    names = table_columns(table, using)
    try:
        start, end = names.index(SIZES_AFTER), names.index(SIZES_BEFORE)
    except ValueError as missing:
        raise OrderTableError(
            f"{table} has no {SIZES_AFTER!r} or {SIZES_BEFORE!r} column, so its size columns cannot "
            "be found. Check that the table has the production layout (python manage.py preflight)."
        ) from missing
    if end <= start:
        raise OrderTableError(
            f"{table}: {SIZES_BEFORE!r} comes before {SIZES_AFTER!r}; the layout is not production's."
        )
    return names[start + 1 : end]


def sql_name(name: str, using: str = "default") -> str:
    """A quoted column or table name for raw SQL that is run with parameters.

    Production has column names with a percent sign ("USA ONLY LSTP 75% EX WORKS"); every backend's
    parameter style reads % as a placeholder, so it is doubled. Always pass a parameter list (even
    an empty one) with such SQL, so the backend turns %% back into %.
    """
    return connections[using].ops.quote_name(name).replace("%", "%%")


def orm_mappable(column: Column) -> bool:
    """Whether a column can be a Django model field: names with % cannot (see sql_name)."""
    return column.role != "size" and "%" not in column.name


def db_uuid(value: object, using: str = "default") -> object:
    """A UUID as the database takes it (SQLite: 32 hex characters; PostgreSQL: native; SQL Server: dashed text).

    Raw SQL must use this so its rows match what the ORM writes and looks up.
    """
    parsed = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    return UniqueIdentifierField().get_db_prep_value(parsed, connections[using], prepared=False)


def canonical_uuid(value: object) -> str:
    """The one text form orderops uses for a UUID in Python: lower case with dashes."""
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


class OrderTableError(Exception):
    """An order table does not have the layout orderops expects."""


def _table_model(table: str, columns: tuple[Column, ...], *, key: str) -> type[models.Model]:
    """A throwaway model with every column of a table, used only to create it locally."""
    attrs: dict = {"__module__": "syncapp.order_tables"}
    for column in columns:
        attrs[f"c{column.position:03d}"] = column.django_field(primary_key=column.name == key)

    class Meta:
        db_table = table
        app_label = "syncapp_order_tables"
        apps = _isolated_apps()

    attrs["Meta"] = Meta
    return type(f"Local_{table}", (models.Model,), attrs)


def _isolated_apps():
    from django.apps.registry import Apps

    return Apps()


# Indexes for what the console asks of the tables: by PO, by customer, by state.
LOCAL_INDEXES = {
    FACT_TABLE: [
        ("ix_fol_po", ["PO NUMBER"]),
        ("ix_fol_customer_po", ["CUSTOMER NAME", "PO NUMBER"]),
        ("ix_fol_state", ["sync_state", "action_type"]),
        ("ix_fol_state_customer_po", ["sync_state", "CUSTOMER NAME", "PO NUMBER"]),
        ("ux_fol_aag_order_number", ["AAG ORDER NUMBER"]),
    ],
    LINES_TABLE: [("ix_lines_state", ["sync_state", "action_type"])],
}


def create_local_order_tables(schema_editor) -> None:
    """Create the three order tables from the definition files (embedded setup and tests only)."""
    if not settings.ORDEROPS_MANAGE_ORDER_TABLES:
        return
    connection = schema_editor.connection
    existing = set(connection.introspection.table_names())
    quote = connection.ops.quote_name
    specs = [
        (STAGING_TABLE, order_columns(), "record_uuid"),
        (FACT_TABLE, order_columns(), "record_uuid"),
        (LINES_TABLE, line_columns(), "line_uuid"),
    ]
    for table, columns, key in specs:
        if table in existing:
            continue
        schema_editor.create_model(_table_model(table, columns, key=key))
        for name, index_columns in LOCAL_INDEXES.get(table, []):
            unique = "UNIQUE " if name.startswith("ux_") else ""
            schema_editor.execute(
                f"CREATE {unique}INDEX {quote(name)} ON {quote(table)} ({', '.join(quote(c) for c in index_columns)})"
            )
    if LINES_TABLE not in existing:
        schema_editor.execute(
            f"CREATE UNIQUE INDEX {quote('ux_lines_record_size')} ON {quote(LINES_TABLE)} "
            f"({quote('record_uuid')}, {quote('size_code')})"
        )


def drop_local_order_tables(schema_editor) -> None:
    if not settings.ORDEROPS_MANAGE_ORDER_TABLES:
        return
    quote = schema_editor.connection.ops.quote_name
    for table in ORDER_TABLES:
        schema_editor.execute(f"DROP TABLE IF EXISTS {quote(table)}")
