"""A recording stand-in for a SQL Server and its DB-API driver (mssql-python's surface).

No SQL Server exists on these machines, so the real mssql-django backend (compiler, schema editor,
operations, introspection, cursor wrapper) talks to this module instead of a driver. Every
statement is recorded as the driver would receive it and checked by `rules`; a statement that SQL
Server would refuse fails here the way it would fail there (the same error class, the message
saying which rule). To answer, each statement is translated with sqlglot from T-SQL to SQLite and
run on an in-memory database that holds the three production order tables with their exact
production types (configs/*.tsv). INFORMATION_SCHEMA and the few sys views mssql-django reads are
attached databases filled from the stand-in's catalogue.

Like mssql-python, the connection has no MARS: a statement sent while another cursor of the same
connection still has unread rows fails with "Connection is busy with results for another command".
"""

from __future__ import annotations

import csv
import datetime
import re
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import sqlglot
from sqlglot import exp

from tests.sqlserver_standin import driver, rules

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
PRODUCTION_TABLES = (
    ("swp_ORDER_LIST_SYNC", "order_list_columns.tsv", "record_uuid"),
    ("FACT_ORDER_LIST", "order_list_columns.tsv", "record_uuid"),
    ("ORDER_LIST_LINES", "order_list_lines_columns.tsv", "line_uuid"),
)
PRODUCT_VERSION = "16.0.4135.4"  # SQL Server 2022

# SQLite declared types that name the SQL Server type, so values come back as the driver returns them.
_DECLARED = {
    "uniqueidentifier": "MSSQL_UUID",
    "datetime2": "MSSQL_DATETIME2",
    "datetime": "MSSQL_DATETIME2",
    "datetimeoffset": "MSSQL_DATETIME2",
    "date": "MSSQL_DATE",
    "time": "MSSQL_TIME",
    "decimal": "MSSQL_DECIMAL",
    "numeric": "MSSQL_DECIMAL",
    "bit": "MSSQL_BIT",
    "int": "MSSQL_INT",
    "integer": "MSSQL_INT",
    "bigint": "MSSQL_INT",
    "smallint": "MSSQL_INT",
    "tinyint": "MSSQL_INT",
    "float": "MSSQL_REAL",
    "real": "MSSQL_REAL",
    "varbinary": "MSSQL_BLOB",
}


# ODBC SQL type codes, as SQLColumns reports them.
_ODBC_TYPES = {
    "uniqueidentifier": -11,
    "nvarchar": -9,
    "nchar": -8,
    "varchar": 12,
    "char": 1,
    "int": 4,
    "integer": 4,
    "bigint": -5,
    "smallint": 5,
    "tinyint": -6,
    "bit": -7,
    "decimal": 3,
    "numeric": 2,
    "float": 6,
    "date": 91,
    "datetime2": 93,
    "datetime": 93,
    "datetimeoffset": -155,
    "time": 92,
    "varbinary": -3,
}


def _register_converters() -> None:
    sqlite3.register_converter("MSSQL_UUID", lambda b: b.decode().upper())
    sqlite3.register_converter("MSSQL_DATETIME2", lambda b: datetime.datetime.fromisoformat(b.decode()))
    sqlite3.register_converter("MSSQL_DATE", lambda b: datetime.date.fromisoformat(b.decode()[:10]))
    sqlite3.register_converter("MSSQL_TIME", lambda b: datetime.time.fromisoformat(b.decode()))
    sqlite3.register_converter("MSSQL_DECIMAL", lambda b: Decimal(b.decode()))
    sqlite3.register_converter("MSSQL_BIT", lambda b: bool(int(b)))


_register_converters()


def _bind(value: object) -> object:
    if isinstance(value, uuid.UUID):
        return str(value).upper()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


@dataclass
class Recorded:
    sql: str
    params: tuple
    problems: list[str]
    executemany_rows: int = 0  # >0 for executemany: one round trip per row with mssql-python

    @property
    def round_trips(self) -> int:
        return self.executemany_rows or 1


@dataclass
class Server:
    """One stand-in SQL Server database, shared by every connection opened to it."""

    name: str
    statements: list[Recorded] = field(default_factory=list)
    catalogue: rules.Catalogue = field(default_factory=rules.Catalogue)
    identity: dict[str, str] = field(default_factory=dict)  # table -> identity column
    # table -> rows a trigger without SET NOCOUNT ON adds to every UPDATE's reported row count
    trigger_rows: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._columns_meta: dict[str, list[tuple[str, str, bool]]] = {}  # table -> (column, type, nullable)
        self._translated: dict[str, tuple[str, str]] = {}  # T-SQL -> (SQLite, table it updates)
        self.primary_keys: dict[str, str] = {}
        self.lock = threading.RLock()
        self.db = sqlite3.connect(
            ":memory:", detect_types=sqlite3.PARSE_DECLTYPES, isolation_level=None, check_same_thread=False
        )
        self.db.execute("ATTACH DATABASE ':memory:' AS INFORMATION_SCHEMA")
        self.db.execute("ATTACH DATABASE ':memory:' AS sys")
        self._functions()
        self._create_views()
        for table, definition, key in PRODUCTION_TABLES:
            self._create_production_table(table, CONFIGS / definition, key)

    def copy(self, name: str) -> Server:
        """A new server holding this one's schema and data (statements are not copied)."""
        import copy as copying

        other = Server.__new__(Server)
        other.name, other.statements = name, []
        other.catalogue = copying.deepcopy(self.catalogue)
        other.identity = dict(self.identity)
        other.trigger_rows = {}
        other.lock = threading.RLock()
        other.db = sqlite3.connect(
            ":memory:", detect_types=sqlite3.PARSE_DECLTYPES, isolation_level=None, check_same_thread=False
        )
        self.db.backup(other.db)
        other.db.execute("ATTACH DATABASE ':memory:' AS INFORMATION_SCHEMA")
        other.db.execute("ATTACH DATABASE ':memory:' AS sys")
        other._translated = {}
        other._functions()
        other._create_views()
        other._columns_meta = copying.deepcopy(self._columns_meta)
        other.primary_keys = dict(self.primary_keys)
        _servers[name] = other
        return other

    # --- recording ---------------------------------------------------------------------------
    @property
    def problems(self) -> list[tuple[str, str]]:
        return [(problem, r.sql) for r in self.statements for problem in r.problems]

    def mark(self) -> int:
        return len(self.statements)

    def since(self, mark: int) -> list[Recorded]:
        return self.statements[mark:]

    # --- schema ------------------------------------------------------------------------------
    def _create_production_table(self, table: str, definition: Path, key: str) -> None:
        with definition.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
        columns = [(row["column"], row["sql_type"].lower(), row["nullable"].strip().upper() == "NULL") for row in rows]
        self._create_table(table, columns, primary_key=key)

    def _create_table(self, table: str, columns: list[tuple[str, str, bool]], *, primary_key: str = "") -> None:
        parts = []
        for name, sql_type, nullable in columns:
            declared = _DECLARED.get(sql_type.split("(")[0].strip(), "MSSQL_TEXT")
            if name == primary_key and self.identity.get(table.lower(), "").lower() == name.lower():
                parts.append(f"{_q(name)} INTEGER PRIMARY KEY AUTOINCREMENT")
                continue
            # SQL Server's default collations compare text case- and trailing-space-insensitively.
            collate = " COLLATE MSSQL_CI_AS" if declared == "MSSQL_TEXT" else ""
            parts.append(
                f"{_q(name)} {declared}{collate}{'' if nullable else ' NOT NULL'}"
                f"{' PRIMARY KEY' if name == primary_key else ''}"
            )
        self.db.execute(f"CREATE TABLE {_q(table)} ({', '.join(parts)})")
        self.catalogue.add_table(table, [(name, sql_type) for name, sql_type, _ in columns])
        self._columns_meta[table.lower()] = columns
        self.primary_keys[table.lower()] = primary_key

    def _functions(self) -> None:
        self.db.create_collation("MSSQL_CI_AS", _compare_ci_as)
        self.db.create_function("SCHEMA_NAME", 0, lambda: "dbo")
        self.db.create_function("SCHEMA_NAME", 1, lambda _id: "dbo")
        self.db.create_function("OBJECT_SCHEMA_NAME", 1, lambda _id: "dbo")
        self.db.create_function("SERVERPROPERTY", 1, self._server_property)
        self.db.create_function("OBJECT_ID", 1, self._object_id)
        self.db.create_function("OBJECT_ID", 2, lambda name, _kind: self._object_id(name))
        self.db.create_function("COLUMNPROPERTY", 3, self._column_property)
        self.db.create_function("SYSDATETIME", 0, lambda: datetime.datetime.now().isoformat(sep=" "))
        self.db.create_function("GETDATE", 0, lambda: datetime.datetime.now().isoformat(sep=" "))
        self.db.create_function("COL_NAME", 2, lambda _object, _column: None)
        self.db.create_function("OBJECT_NAME", 1, lambda _object: None)
        self.db.create_function("SCHEMA_ID", 0, lambda: 1)
        self.db.create_function("SCHEMA_ID", 1, lambda _name: 1)
        self.db.create_function("NEWID", 0, lambda: str(uuid.uuid4()).upper())

    @staticmethod
    def _server_property(name: str) -> object:
        return {"ProductVersion": PRODUCT_VERSION, "EngineEdition": 3}.get(name)

    def _object_id(self, name: str | None) -> int | None:
        if not name:
            return None
        bare = name.split(".")[-1].strip("[]").lower()
        names = sorted(self.catalogue.names)
        return names.index(bare) + 1000 if bare in names else None

    def _column_property(self, object_id: int | None, column: str, prop: str) -> int | None:
        if object_id is None or prop != "IsIdentity":
            return None
        table = sorted(self.catalogue.names)[object_id - 1000]
        return int(self.identity.get(table, "").lower() == (column or "").lower())

    def _create_views(self) -> None:
        self.db.executescript(
            """
            CREATE TABLE INFORMATION_SCHEMA.TABLES (TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE);
            CREATE TABLE INFORMATION_SCHEMA.COLUMNS (TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME,
                ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH,
                NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, COLLATION_NAME);
            CREATE TABLE INFORMATION_SCHEMA.KEY_COLUMN_USAGE (CONSTRAINT_CATALOG, CONSTRAINT_SCHEMA,
                CONSTRAINT_NAME, TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION);
            CREATE TABLE INFORMATION_SCHEMA.TABLE_CONSTRAINTS (CONSTRAINT_CATALOG, CONSTRAINT_SCHEMA,
                CONSTRAINT_NAME, TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_TYPE);
            CREATE TABLE INFORMATION_SCHEMA.CONSTRAINT_COLUMN_USAGE (TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME,
                COLUMN_NAME, CONSTRAINT_CATALOG, CONSTRAINT_SCHEMA, CONSTRAINT_NAME);
            CREATE TABLE INFORMATION_SCHEMA.REFERENTIAL_CONSTRAINTS (CONSTRAINT_CATALOG, CONSTRAINT_SCHEMA,
                CONSTRAINT_NAME, UNIQUE_CONSTRAINT_CATALOG, UNIQUE_CONSTRAINT_SCHEMA, UNIQUE_CONSTRAINT_NAME);
            CREATE TABLE INFORMATION_SCHEMA.VIEWS (TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME);
            CREATE TABLE sys.columns (object_id, name, column_id, system_type_id, user_type_id, max_length,
                precision, scale, collation_name, is_nullable, is_identity, default_object_id);
            CREATE TABLE sys.tables (object_id, name, schema_id, type);
            CREATE TABLE sys.objects (object_id, name, schema_id, type, type_desc, parent_object_id);
            CREATE TABLE sys.sql_expression_dependencies (referencing_id, referenced_id, referenced_database_name,
                referenced_entity_name);
            CREATE TABLE sys.synonyms (object_id, name, schema_id, base_object_name);
            CREATE TABLE sys.schemas (schema_id, name);
            CREATE TABLE sys.types (system_type_id, user_type_id, name);
            CREATE TABLE sys.indexes (object_id, name, index_id, type, type_desc, is_unique, is_primary_key,
                is_unique_constraint, has_filter, filter_definition, is_disabled);
            CREATE TABLE sys.index_columns (object_id, index_id, index_column_id, column_id, key_ordinal,
                is_descending_key, is_included_column);
            CREATE TABLE INFORMATION_SCHEMA.CONSTRAINT_TABLE_USAGE (TABLE_CATALOG, TABLE_SCHEMA, TABLE_NAME,
                CONSTRAINT_CATALOG, CONSTRAINT_SCHEMA, CONSTRAINT_NAME);
            CREATE TABLE sys.foreign_keys (object_id, name, parent_object_id, referenced_object_id);
            CREATE TABLE sys.foreign_key_columns (constraint_object_id, parent_object_id, parent_column_id,
                referenced_object_id, referenced_column_id);
            CREATE TABLE sys.check_constraints (object_id, name, parent_object_id, parent_column_id, definition);
            CREATE TABLE sys.default_constraints (object_id, name, parent_object_id, parent_column_id);
            CREATE TABLE sys.key_constraints (object_id, name, parent_object_id, type, unique_index_id);
            CREATE TABLE sys.triggers (object_id, name, parent_id, is_disabled);
            CREATE TABLE sys.sequences (object_id, name);
            CREATE TABLE sys.extended_properties (major_id, minor_id, name, value, class);
            INSERT INTO sys.schemas VALUES (1, 'dbo');
            """
        )

    def _refresh_views(self) -> None:
        self.db.execute("DELETE FROM INFORMATION_SCHEMA.TABLES")
        self.db.execute("DELETE FROM INFORMATION_SCHEMA.COLUMNS")
        self.db.execute("DELETE FROM sys.columns")
        self.db.execute("DELETE FROM sys.tables")
        for key, table in self.catalogue.names.items():
            object_id = self._object_id(table)
            self.db.execute(
                "INSERT INTO INFORMATION_SCHEMA.TABLES VALUES (?, 'dbo', ?, 'BASE TABLE')", (self.name, table)
            )
            self.db.execute("INSERT INTO sys.tables VALUES (?, ?, 1, 'U')", (object_id, table))
            for position, (column, sql_type, nullable) in enumerate(self._columns_meta.get(key, []), start=1):
                base, _, rest = sql_type.partition("(")
                length = rest.rstrip(")").split(",")[0] if rest else None
                length = -1 if length == "max" else (int(length) if length and length.isdigit() else None)
                self.db.execute(
                    "INSERT INTO INFORMATION_SCHEMA.COLUMNS VALUES (?, 'dbo', ?, ?, ?, NULL, ?, ?, ?, NULL, NULL, NULL,"
                    " 'SQL_Latin1_General_CP1_CI_AS')",
                    (self.name, table, column, position, "YES" if nullable else "NO", base, length),
                )
                self.db.execute(
                    "INSERT INTO sys.columns VALUES (?, ?, ?, 0, 0, ?, 0, 0, 'SQL_Latin1_General_CP1_CI_AS', ?, ?, 0)",
                    (
                        object_id,
                        column,
                        position,
                        length,
                        int(nullable),
                        int(self.identity.get(key, "").lower() == column.lower()),
                    ),
                )

    def odbc_columns(self, table: str) -> list[tuple]:
        with self.lock:
            self.statements.append(Recorded(f"{{call SQLColumns({table})}}", (), []))
            rows = []
            for column, sql_type, nullable in self._columns_meta.get(table.lower(), []):
                base, _, rest = sql_type.partition("(")
                args = [a.strip() for a in rest.rstrip(")").split(",")] if rest else []
                size = 2**30 if args[:1] == ["max"] else (int(args[0]) if args and args[0].isdigit() else 0)
                scale = int(args[1]) if len(args) > 1 else 0
                code = _ODBC_TYPES.get(base.strip(), 12)
                rows.append(
                    (self.name, "dbo", table, column, code, base, size, size, scale, 10, int(nullable), "", None)
                )
            return rows

    # --- executing ---------------------------------------------------------------------------
    def execute(self, connection: driver.Connection, sql: str, params: tuple) -> tuple[list | None, list, int]:
        """Run one batch; returns (description, rows, rowcount) of its last statement."""
        with self.lock:
            problems = rules.check(sql, params, self.catalogue)
            self.statements.append(Recorded(sql, params, problems))
            if problems:
                raise _error_for(problems)(f"[stand-in SQL Server] {problems[0]} -- statement: {sql[:300]}")
            return self._run(connection, sql, params)

    def executemany(self, connection: driver.Connection, sql: str, rows: list[tuple]) -> int:
        with self.lock:
            problems = sorted({p for row in rows for p in rules.check(sql, row, self.catalogue)})
            self.statements.append(Recorded(sql, rows[0] if rows else (), problems, executemany_rows=len(rows)))
            if problems:
                raise _error_for(problems)(f"[stand-in SQL Server] {problems[0]} -- statement: {sql[:300]}")
            total = 0
            for row in rows:
                total += max(self._run(connection, sql, row)[2], 0)
            return total

    def _run(self, connection: driver.Connection, sql: str, params: tuple) -> tuple[list | None, list, int]:
        numbered, _ = rules.number_placeholders(sql)
        values = self._coerce_uuids(sql, params)
        bound = {f"P{i}": _bind(v) for i, v in enumerate(values)}
        description, rows, rowcount = None, [], -1
        for part in rules.split_batch(numbered):
            result = self._statement(connection, part, bound)
            if result is not None:
                description, rows, rowcount = result
        return description, rows, rowcount

    def _coerce_uuids(self, sql: str, params: tuple) -> list:
        """SQL Server converts text to uniqueidentifier by value: store and compare one form."""
        analysis = rules.analyse(sql)
        values = list(params)
        for index, ref in analysis.targets.items():
            if index < len(values) and isinstance(values[index], str):
                if rules.is_uniqueidentifier(self.catalogue.type_of(ref, analysis.tables)):
                    values[index] = str(uuid.UUID(values[index])).upper()
        return values

    def _statement(self, connection: driver.Connection, part: str, bound: dict) -> tuple[list | None, list, int] | None:
        upper = part.upper()
        if upper.startswith(("SET ", "DECLARE ")):
            if upper.startswith("DECLARE "):
                self._declare(part, bound)
            return None
        if upper == "SELECT @@TRANCOUNT":
            return [("trancount",)], [(1 if self.db.in_transaction else 0,)], -1
        if upper in ("SELECT SYSDATETIME()", "SELECT GETDATE()"):
            return [("now",)], [(datetime.datetime.now(),)], -1
        if upper.startswith("SAVE TRANSACTION"):
            connection.begin()
            self.db.execute(f"SAVEPOINT {_savepoint(part)}")
            return None
        if upper.startswith("ROLLBACK TRANSACTION"):
            self.db.execute(f"ROLLBACK TO {_savepoint(part)}")
            return None
        if upper.startswith("BEGIN TRAN"):
            connection.begin()
            return None
        if upper.startswith("IF OBJECT_ID("):
            table = re.search(r"DROP TABLE (#\w+)", part)
            if table:
                self.db.execute(f"DROP TABLE IF EXISTS temp.{_q(table[1].lstrip('#'))}")
            return None
        connection.ensure_transaction()
        if part in self._translated:
            return self._query(*self._translated[part], bound)
        # sqlglot writes SCHEMA_NAME() as SQLite's 'main'; the stand-in's schema is dbo.
        statement = sqlglot.parse_one(part.replace("SCHEMA_NAME()", "'dbo'"), read="tsql")
        if isinstance(statement, exp.Create):
            return self._create(statement)
        if isinstance(statement, exp.Alter):
            return self._alter(statement, part)
        if isinstance(statement, exp.Drop):
            return self._drop(statement)
        if isinstance(statement, exp.Select | exp.Insert | exp.Update | exp.Delete | exp.Union):
            return self._dml(statement, bound, part)
        raise driver.ProgrammingError(f"[stand-in SQL Server] no answer modelled for: {part[:200]}")

    def _declare(self, part: str, bound: dict) -> None:
        # DECLARE @var0 NVARCHAR(5) = @P0, ...: the GROUP BY path binds values to variables.
        for name, source in re.findall(r"@(var\d+) [\w()]+ = @(P\d+)", part):
            bound[name] = bound[source]

    def _dml(self, statement: exp.Expression, bound: dict, part: str) -> tuple[list | None, list, int]:
        for function in list(statement.find_all(exp.Anonymous)):
            if function.name.upper() == "SCOPE_IDENTITY":
                function.replace(exp.Anonymous(this="last_insert_rowid"))
        for national in list(statement.find_all(exp.National)):
            national.replace(exp.Literal.string(national.this))
        returning = statement.args.get("returning")
        if returning is not None:
            for column in returning.find_all(exp.Column):
                if column.table.upper() == "INSERTED":
                    column.set("table", None)
        for table in statement.find_all(exp.Table):
            if _is_temporary(table):
                table.set("this", exp.to_identifier(table.name.lstrip("#")))
                table.set("db", exp.to_identifier("temp"))
        text = statement.sql(dialect="sqlite")
        updated = statement.this.name.lower() if isinstance(statement, exp.Update) else ""
        if len(self._translated) < 5000:
            self._translated[part] = (text, updated)
        return self._query(text, updated, bound)

    def _query(self, text: str, updated: str, bound: dict) -> tuple[list | None, list, int]:
        if "INFORMATION_SCHEMA" in text.upper() or re.search(r"\bsys\.", text):
            self._refresh_views()
        try:
            cursor = self.db.execute(text, {k: v for k, v in bound.items() if f"@{k}" in text})
        except sqlite3.IntegrityError as error:
            raise driver.IntegrityError(f"[stand-in SQL Server] {error}") from error
        except sqlite3.Error as error:
            raise driver.ProgrammingError(f"[stand-in SQL Server] {error} -- as SQLite: {text[:300]}") from error
        rows = cursor.fetchall() if cursor.description else []
        rowcount = cursor.rowcount
        if updated and rowcount > 0:
            rowcount += self.trigger_rows.get(updated, 0)
        return cursor.description, rows, rowcount

    def _create(self, statement: exp.Create) -> None:
        kind = statement.args.get("kind", "").upper()
        if kind == "TABLE":
            schema = statement.this
            table = schema.this.name
            if _is_temporary(schema.this):
                table = "#" + table.lstrip("#")
            columns, primary_key = [], ""
            for definition in schema.expressions:
                if not isinstance(definition, exp.ColumnDef):
                    continue
                sql_type = definition.args["kind"].sql(dialect="tsql").lower() if definition.args.get("kind") else ""
                constraints = [c.kind for c in definition.constraints]
                nullable = not any(_not_null(c) for c in constraints)
                if any(isinstance(c, exp.PrimaryKeyColumnConstraint) for c in constraints):
                    primary_key = definition.name
                if any(isinstance(c, exp.GeneratedAsIdentityColumnConstraint) for c in constraints):
                    self.identity[table.lower()] = definition.name
                columns.append((definition.name, sql_type, nullable))
            if table.startswith("#"):
                self.db.execute(f"CREATE TEMP TABLE {_q(table[1:])} ({', '.join(_q(c) for c, _, _ in columns)})")
                self.catalogue.add_table(table, [(c, t) for c, t, _ in columns])
                return None
            self._create_table(table, columns, primary_key=primary_key)
            return None
        if kind == "INDEX":
            self.db.execute(statement.sql(dialect="sqlite"))
            return None
        raise driver.ProgrammingError(f"[stand-in SQL Server] CREATE {kind} is not modelled")

    def _alter(self, statement: exp.Alter, part: str) -> None:
        table = statement.this.name
        columns = list(self._columns_meta.get(table.lower(), []))
        primary_key = self.primary_keys.get(table.lower(), "")
        for action in statement.args.get("actions") or []:
            if isinstance(action, exp.ColumnDef):
                sql_type = action.args["kind"].sql(dialect="tsql").lower()
                kinds = [c.kind for c in action.constraints]
                nullable = not any(_not_null(k) for k in kinds)
                if any(isinstance(k, exp.PrimaryKeyColumnConstraint) for k in kinds):
                    primary_key = action.name
                columns.append((action.name, sql_type, nullable))
            elif isinstance(action, exp.AlterColumn) and action.args.get("dtype") is not None:
                sql_type = action.args["dtype"].sql(dialect="tsql").lower()
                # sqlglot drops the NULL / NOT NULL that T-SQL's ALTER COLUMN carries with the type.
                nullable = not re.search(r"\bNOT NULL\s*$", part, re.I)
                columns = [
                    (n, sql_type, nullable) if n.lower() == action.name.lower() else (n, t, nl) for n, t, nl in columns
                ]
            elif isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() == "COLUMN":
                dropped = {c.name.lower() for c in action.args.get("tables") or []}
                columns = [c for c in columns if c[0].lower() not in dropped]
                if primary_key.lower() in dropped:
                    primary_key = ""
            # Constraints (foreign keys, checks, defaults) are recorded and checked, not enforced.
        if columns != self._columns_meta.get(table.lower(), []):
            self._rebuild(table, columns, primary_key)
        return None

    def _rebuild(self, table: str, columns: list[tuple[str, str, bool]], primary_key: str) -> None:
        kept = [c[0] for c in columns if c[0].lower() in {n.lower() for n, _, _ in self._columns_meta[table.lower()]}]
        self.db.execute(f"ALTER TABLE {_q(table)} RENAME TO {_q(table + '__old')}")
        self._create_table(table, columns, primary_key=primary_key)
        names = ", ".join(_q(c) for c in kept)
        self.db.execute(f"INSERT INTO {_q(table)} ({names}) SELECT {names} FROM {_q(table + '__old')}")
        self.db.execute(f"DROP TABLE {_q(table + '__old')}")

    def _drop(self, statement: exp.Drop) -> None:
        kind = statement.args.get("kind", "").upper()
        targets = statement.args.get("tables") or ([statement.this] if statement.this is not None else [])
        for target in targets:
            name = target.name
            if kind == "TABLE":
                self.db.execute(f"DROP TABLE IF EXISTS {_q(name)}")
                self.catalogue.drop_table(name)
                self._columns_meta.pop(name.lower(), None)
            elif kind == "INDEX":
                self.db.execute(f"DROP INDEX IF EXISTS {_q(name)}")
        return None


def _compare_ci_as(left: str, right: str) -> int:
    a, b = left.rstrip(" ").casefold(), right.rstrip(" ").casefold()
    return (a > b) - (a < b)


def _is_temporary(table: exp.Table) -> bool:
    return table.name.startswith("#") or bool(table.this.args.get("temporary"))


def _not_null(constraint: exp.Expression) -> bool:
    # sqlglot writes an explicit NULL as NotNullColumnConstraint(allow_null=True).
    return isinstance(constraint, exp.NotNullColumnConstraint) and not constraint.args.get("allow_null")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _savepoint(part: str) -> str:
    return _q(part.split()[-1].strip("[]"))


def _error_for(problems: list[str]) -> type[driver.Error]:
    if any("Msg 8169" in p for p in problems):
        return driver.DataError
    return driver.ProgrammingError


_servers: dict[str, Server] = {}


def server_for(name: str) -> Server:
    if name not in _servers:
        _servers[name] = Server(name)
    return _servers[name]


def reset(name: str) -> Server:
    _servers.pop(name, None)
    return server_for(name)
