"""The old CLI's delta tables, ORDER_LIST_DELTA and ORDER_LIST_LINES_DELTA: whether each exists, how
many rows it holds and every object that depends on it. Reads only; dropping them is
syncapp/services/delta_cleanup.py.

This file, the cleanup service, the drop_delta_tables command and runbook 08 are the only places that
name the tables (tests/test_no_delta_tables.py enforces it).

Dependants, per database
------------------------
SQL Server (production), with `%s` the table name as OBJECT_ID() reads it (e.g. N'[ORDER_LIST_DELTA]'):

* views, procedures, functions and triggers whose SQL mentions the table, from
  `sys.sql_expression_dependencies`. A reference SQL Server could not bind when the object was created
  (deferred name resolution) has no `referenced_id`, so references are also matched by name.
  References from other databases are not visible here; ask the DBA to run the same query there.
* foreign keys in other tables that reference it, from `sys.foreign_keys`;
* triggers defined on the table itself, from `sys.triggers`;
* synonyms that point at it, from `sys.synonyms`.

PostgreSQL: views and materialized views through `pg_depend` / `pg_rewrite`, foreign keys from
`pg_constraint`, triggers from `pg_trigger`, and functions or procedures whose body names the
table (`pg_proc.prosrc`: PostgreSQL does not track what a function body reads).

SQLite: views and triggers whose SQL names the table (`sqlite_master`), and foreign keys of other
tables (`pragma_foreign_key_list`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import connections

DELTA_TABLES = ("ORDER_LIST_DELTA", "ORDER_LIST_LINES_DELTA")

# --- SQL Server catalog queries (documented above; run only against mssql) ---------------------

MSSQL_EXISTS = "SELECT OBJECT_ID(%s, N'U')"

MSSQL_EXPRESSION_DEPENDANTS = """
SELECT DISTINCT OBJECT_SCHEMA_NAME(d.referencing_id) + N'.' + OBJECT_NAME(d.referencing_id) AS name,
       o.type_desc
FROM sys.sql_expression_dependencies AS d
JOIN sys.objects AS o ON o.object_id = d.referencing_id
WHERE (d.referenced_id = OBJECT_ID(%s)
       OR (d.referenced_id IS NULL AND d.referenced_database_name IS NULL AND d.referenced_entity_name = %s))
  AND d.referencing_id <> ISNULL(OBJECT_ID(%s), 0)
"""

MSSQL_FOREIGN_KEYS = """
SELECT fk.name, OBJECT_SCHEMA_NAME(fk.parent_object_id) + N'.' + OBJECT_NAME(fk.parent_object_id) AS referencing_table
FROM sys.foreign_keys AS fk
WHERE fk.referenced_object_id = OBJECT_ID(%s)
  AND fk.parent_object_id <> fk.referenced_object_id
"""

MSSQL_TRIGGERS = """
SELECT t.name, CASE WHEN t.is_disabled = 1 THEN N'disabled' ELSE N'enabled' END
FROM sys.triggers AS t
WHERE t.parent_id = OBJECT_ID(%s)
"""

MSSQL_SYNONYMS = """
SELECT SCHEMA_NAME(s.schema_id) + N'.' + s.name, s.base_object_name
FROM sys.synonyms AS s
WHERE OBJECT_ID(s.base_object_name) = OBJECT_ID(%s)
"""

# --- PostgreSQL catalog queries -------------------------------------------------------------------

POSTGRES_TABLE_OID = """
SELECT c.oid FROM pg_class AS c
WHERE c.relname = %s AND c.relkind IN ('r', 'p') AND pg_table_is_visible(c.oid)
"""

POSTGRES_VIEWS = """
SELECT DISTINCT v.oid::regclass::text,
       CASE v.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END
FROM pg_depend AS d
JOIN pg_rewrite AS r ON r.oid = d.objid
JOIN pg_class AS v ON v.oid = r.ev_class
WHERE d.classid = 'pg_rewrite'::regclass
  AND d.refclassid = 'pg_class'::regclass
  AND d.refobjid = %s
  AND v.oid <> d.refobjid
"""

POSTGRES_FOREIGN_KEYS = """
SELECT con.conname, con.conrelid::regclass::text
FROM pg_constraint AS con
WHERE con.contype = 'f' AND con.confrelid = %s AND con.conrelid <> con.confrelid
"""

POSTGRES_TRIGGERS = """
SELECT t.tgname, CASE t.tgenabled WHEN 'D' THEN 'disabled' ELSE 'enabled' END
FROM pg_trigger AS t
WHERE t.tgrelid = %s AND NOT t.tgisinternal
"""

POSTGRES_ROUTINES = """
SELECT p.oid::regprocedure::text, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, p.prosrc
FROM pg_proc AS p
JOIN pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND p.prosrc ILIKE %s
"""

# --- SQLite catalog queries -------------------------------------------------------------------------

SQLITE_OBJECTS = "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('view', 'trigger')"

SQLITE_FOREIGN_KEYS = """
SELECT m.name, fk."from"
FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS fk
WHERE m.type = 'table' AND lower(fk."table") = lower(%s) AND lower(m.name) <> lower(%s)
"""


@dataclass(frozen=True)
class Dependant:
    kind: str  # view, procedure, function, trigger, foreign key, synonym
    name: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.name}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class DeltaTableReport:
    table: str
    exists: bool
    row_count: int | None = None
    dependants: list[Dependant] = field(default_factory=list)
    dropped: bool = False

    @property
    def blocker(self) -> str:
        """Why the table cannot be dropped ("" when it can, or when it is already gone)."""
        if not self.exists:
            return ""
        reasons = []
        if self.row_count:
            reasons.append(
                f"it still holds {self.row_count} row(s); check nothing needs them (export them if in doubt), "
                "then empty the table"
            )
        if self.dependants:
            reasons.append(
                f"{len(self.dependants)} object(s) depend on it: {', '.join(str(d) for d in self.dependants)}; "
                "drop or change them first"
            )
        return "; ".join(reasons)

    def describe(self) -> str:
        if self.dropped:
            return f"{self.table}: dropped (it was empty and nothing depended on it)."
        if not self.exists:
            return f"{self.table}: does not exist (already removed)."
        deps = ", ".join(str(d) for d in self.dependants) or "none"
        verdict = f"cannot be dropped: {self.blocker}." if self.blocker else "can be dropped."
        return f"{self.table}: exists, {self.row_count} row(s), dependants: {deps}; {verdict}"


def delta_tables_inspect(*, using: str = "default") -> list[DeltaTableReport]:
    """Existence, row count and dependants of each delta table. Reads only."""
    connection = connections[using]
    return [_inspect(connection, table) for table in DELTA_TABLES]


# --- per database -----------------------------------------------------------------------------------


def _inspect(connection, table: str) -> DeltaTableReport:
    name = _existing_name(connection, table)
    if name is None:
        return DeltaTableReport(table=table, exists=False)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(name)}", [])  # noqa: S608
        count = int(cursor.fetchone()[0])
    finder = {"microsoft": _mssql_dependants, "postgresql": _postgres_dependants, "sqlite": _sqlite_dependants}
    dependants = finder.get(connection.vendor, _unknown_dependants)(connection, name)
    return DeltaTableReport(table=table, exists=True, row_count=count, dependants=dependants)


def _existing_name(connection, table: str) -> str | None:
    """The table's name as the database spells it, or None when it does not exist."""
    if connection.vendor == "microsoft":
        with connection.cursor() as cursor:
            cursor.execute(MSSQL_EXISTS, [connection.ops.quote_name(table)])
            return table if cursor.fetchone()[0] is not None else None
    with connection.cursor() as cursor:
        names = connection.introspection.table_names(cursor, include_views=False)
    # SQL Server and SQLite compare names without case; PostgreSQL keeps the case Django quoted.
    exact = [n for n in names if n == table]
    if exact:
        return exact[0]
    if connection.vendor == "postgresql":
        return None
    return next((n for n in names if n.lower() == table.lower()), None)


def _mentions(sql: str | None, table: str) -> bool:
    # A whole-word match, so ORDER_LIST_LINES_DELTA never counts as a reference to ORDER_LIST_DELTA.
    return bool(sql) and re.search(rf"(?<![\w$]){re.escape(table)}(?![\w$])", sql, re.IGNORECASE) is not None


def _mssql_dependants(connection, table: str) -> list[Dependant]:
    quoted = connection.ops.quote_name(table)
    found: list[Dependant] = []
    kinds = {
        "VIEW": "view",
        "SQL_STORED_PROCEDURE": "procedure",
        "SQL_TRIGGER": "trigger",
        "SQL_SCALAR_FUNCTION": "function",
        "SQL_TABLE_VALUED_FUNCTION": "function",
        "SQL_INLINE_TABLE_VALUED_FUNCTION": "function",
    }
    with connection.cursor() as cursor:
        cursor.execute(MSSQL_EXPRESSION_DEPENDANTS, [quoted, table, quoted])
        found += [Dependant(kinds.get(type_desc, type_desc.lower()), name) for name, type_desc in cursor.fetchall()]
        cursor.execute(MSSQL_FOREIGN_KEYS, [quoted])
        found += [Dependant("foreign key", name, f"on {owner}") for name, owner in cursor.fetchall()]
        cursor.execute(MSSQL_TRIGGERS, [quoted])
        found += [Dependant("trigger", name, f"on the table, {state}") for name, state in cursor.fetchall()]
        cursor.execute(MSSQL_SYNONYMS, [quoted])
        found += [Dependant("synonym", name, f"for {base}") for name, base in cursor.fetchall()]
    return _unique(found)


def _postgres_dependants(connection, table: str) -> list[Dependant]:
    found: list[Dependant] = []
    with connection.cursor() as cursor:
        cursor.execute(POSTGRES_TABLE_OID, [table])
        row = cursor.fetchone()
        if row is None:
            return []
        oid = row[0]
        cursor.execute(POSTGRES_VIEWS, [oid])
        found += [Dependant(kind, name) for name, kind in cursor.fetchall()]
        cursor.execute(POSTGRES_FOREIGN_KEYS, [oid])
        found += [Dependant("foreign key", name, f"on {owner}") for name, owner in cursor.fetchall()]
        cursor.execute(POSTGRES_TRIGGERS, [oid])
        found += [Dependant("trigger", name, f"on the table, {state}") for name, state in cursor.fetchall()]
        cursor.execute(POSTGRES_ROUTINES, [f"%{table}%"])
        found += [Dependant(kind, name) for name, kind, body in cursor.fetchall() if _mentions(body, table)]
    return _unique(found)


def _sqlite_dependants(connection, table: str) -> list[Dependant]:
    found: list[Dependant] = []
    with connection.cursor() as cursor:
        cursor.execute(SQLITE_OBJECTS, [])
        for kind, name, owner, sql in cursor.fetchall():
            if kind == "trigger" and owner.lower() == table.lower():
                found.append(Dependant("trigger", name, "on the table"))
            elif _mentions(sql, table):
                found.append(Dependant(kind, name, f"on {owner}" if kind == "trigger" else ""))
        cursor.execute(SQLITE_FOREIGN_KEYS, [table, table])
        found += [Dependant("foreign key", f"{owner}.{column}", f"on {owner}") for owner, column in cursor.fetchall()]
    return _unique(found)


def _unknown_dependants(connection, table: str) -> list[Dependant]:
    # Without a catalog query for this database, claim a dependant rather than drop blind.
    return [Dependant("unknown", "dependants", f"orderops cannot read the {connection.vendor} catalog")]


def _unique(dependants: list[Dependant]) -> list[Dependant]:
    # A trigger on the table can be found twice (by the catalog of triggers and by what its SQL names).
    seen: dict[tuple[str, str], Dependant] = {}
    for dependant in dependants:
        seen.setdefault((dependant.kind, dependant.name), dependant)
    return list(seen.values())
