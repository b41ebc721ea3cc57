"""What SQL Server refuses, checked on each statement exactly as the driver would send it.

The statement is the text mssql-django's CursorWrapper hands the driver (`?` placeholders) and the
parameters after its formatting. The rules are the ones orderops has broken before:

- `%%` reaching the server (mssql-django unescapes `%%` only when a statement has parameters);
- more than 2,100 parameters in one statement;
- a value for a UNIQUEIDENTIFIER column that SQL Server cannot convert (32 hex digits without
  dashes: Msg 8169), and a comparison of a UNIQUEIDENTIFIER column with a character column;
- text that is not T-SQL: sqlglot's tsql dialect must parse it, and a few shapes sqlglot accepts but
  SQL Server does not (`CREATE INDEX IF NOT EXISTS`, `LIMIT`) are named explicitly.

`analyse` is cached by statement text, so checking every query of the suite stays cheap.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

logging.getLogger("sqlglot").setLevel(logging.ERROR)

MAX_PARAMETERS = 2100
DASHED_UUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
CHARACTER_TYPES = ("char", "varchar", "nchar", "nvarchar", "text", "ntext")

# Statements mssql-django itself sends that sqlglot's tsql dialect cannot parse. They are fixed
# text inside the backend, not built by orderops, so they are accepted by shape.
BACKEND_STATEMENTS = (
    re.compile(r"^SAVE TRANSACTION \[?[\w]+\]?$", re.I),
    re.compile(r"^ROLLBACK TRANSACTION \[?[\w]+\]?$", re.I),
    re.compile(r"^IF OBJECT_ID\('tempdb[.\w#]*'(, 'U')?\) IS NOT NULL DROP TABLE #\w+;?$", re.I),
    re.compile(r"^SET (NOCOUNT|DATEFORMAT|DATEFIRST|TRANSACTION ISOLATION LEVEL) [\w ]+$", re.I),
    re.compile(r"^SET IDENTITY_INSERT \[\w+\] (ON|OFF)$", re.I),
)
# Shapes sqlglot parses but SQL Server rejects.
NOT_TSQL = (
    (re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\s+IF\s+NOT\s+EXISTS\b", re.I), "CREATE INDEX IF NOT EXISTS"),
    (re.compile(r"\bLIMIT\s+\d", re.I), "LIMIT"),
    (re.compile(r"\bRETURNING\b", re.I), "RETURNING"),
)
# sqlglot falls back to these node types for text it does not understand.
UNPARSED = tuple(getattr(exp, name) for name in ("Command", "IfBlock", "Execute") if hasattr(exp, name))
_DECLARE = re.compile(r"^DECLARE (?P<vars>.*?)\s*\n", re.S)


@dataclass
class Analysis:
    """What a statement's text says, independent of its parameter values."""

    placeholders: int
    statements: list[exp.Expression] = field(default_factory=list)
    parse_error: str = ""
    # placeholder index -> (table, column) the value is compared with or written to
    targets: dict[int, tuple[str, str]] = field(default_factory=dict)
    # pairs of (table, column) compared with each other
    comparisons: list[tuple[tuple[str, str], tuple[str, str]]] = field(default_factory=list)
    tables: set[str] = field(default_factory=set)


def number_placeholders(sql: str) -> tuple[str, int]:
    """Replace each `?` outside literals and [identifiers] with @P<n>, so values can be traced."""
    out, count, i, n = [], 0, 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'[\"":
            close = "]" if char == "[" else char
            j = i + 1
            while j < n:
                if sql[j] == close:
                    if j + 1 < n and sql[j + 1] == close:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1])
            i = j + 1
            continue
        if char == "?":
            out.append(f"@P{count}")
            count += 1
        else:
            out.append(char)
        i += 1
    return "".join(out), count


def split_batch(sql: str) -> list[str]:
    """The statements of a batch, as mssql-django joins them ('; ' and SET NOCOUNT prefixes)."""
    text = sql.strip()
    parts: list[str] = []
    declare = _DECLARE.match(text)
    if declare:
        parts.append("DECLARE " + declare["vars"])
        text = text[declare.end() :]
    for prefix in ("SET NOCOUNT ON ", "SET NOCOUNT OFF "):
        if text.upper().startswith(prefix) and not text[len(prefix) :].lstrip().startswith(";"):
            parts.append(prefix.strip())
            text = text[len(prefix) :]
    parts.extend(p for p in _split_semicolons(text) if p.strip())
    return [p.strip() for p in parts]


def _split_semicolons(text: str) -> list[str]:
    pieces, current, quote = [], [], ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'[":
            quote = "]" if char == "[" else "'"
        elif char == ";":
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    pieces.append("".join(current))
    return pieces


@lru_cache(maxsize=20_000)
def analyse(sql: str) -> Analysis:
    numbered, count = number_placeholders(sql)
    analysis = Analysis(placeholders=count)
    variables: dict[str, int] = {}
    for part in split_batch(numbered):
        if part.upper().startswith("DECLARE "):
            # mssql-django's GROUP BY path binds each value to a variable: @var0 NVARCHAR(5) = @P0
            variables.update({v.lower(): int(i) for v, i in re.findall(r"@(var\d+) [\w()]+ = @P(\d+)", part)})
            continue
        if any(p.match(part) for p in BACKEND_STATEMENTS):
            continue
        try:
            parsed = sqlglot.parse(part, read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
        except SqlglotError as error:
            analysis.parse_error = f"{error}"[:300]
            continue
        for statement in parsed:
            if statement is None:
                continue
            if isinstance(statement, UNPARSED):
                analysis.parse_error = f"not T-SQL that sqlglot understands: {part[:200]}"
                continue
            analysis.statements.append(statement)
            _trace(statement, analysis, variables)
    return analysis


def _scope_tables(node: exp.Expression, cache: dict) -> dict[str, str]:
    """alias or name -> table name for the nearest SELECT/UPDATE/DELETE/INSERT around `node`."""
    scope = node.find_ancestor(exp.Select, exp.Update, exp.Delete, exp.Insert)
    if scope is None:
        return {}
    if id(scope) in cache:
        return cache[id(scope)]
    tables: dict[str, str] = cache.setdefault(id(scope), {})
    for table in scope.find_all(exp.Table):
        if table.find_ancestor(exp.Select, exp.Update, exp.Delete, exp.Insert) is scope:
            tables[table.alias_or_name.lower()] = table_name(table)
    return tables


def table_name(table: exp.Table) -> str:
    """The table's name, with the # of a temporary table (sqlglot keeps it as a flag)."""
    if table.this is not None and table.this.args.get("temporary") and not table.name.startswith("#"):
        return "#" + table.name
    return table.name


def _column_ref(column: exp.Column, cache: dict) -> tuple[str, str]:
    tables = _scope_tables(column, cache)
    if column.table:
        return tables.get(column.table.lower(), column.table), column.name
    if len(tables) == 1:
        return next(iter(tables.values())), column.name
    return "", column.name  # resolved against the catalogue by column name


def _subquery_column(node: exp.Expression) -> exp.Column | None:
    select = node if isinstance(node, exp.Select) else node.find(exp.Select)
    if select is None or not select.expressions:
        return None
    first = select.expressions[0]
    first = first.this if isinstance(first, exp.Alias) else first
    return first if isinstance(first, exp.Column) else None


def _trace(statement: exp.Expression, analysis: Analysis, variables: dict[str, int]) -> None:
    def index(parameter: exp.Parameter) -> int | None:
        name = parameter.name.lower()
        if name in variables:
            return variables[name]
        return int(name[1:]) if name[:1] == "p" and name[1:].isdigit() else None

    cache: dict = {}

    for table in statement.find_all(exp.Table):
        if table.name:
            analysis.tables.add(table_name(table))
    if isinstance(statement, exp.Insert) and isinstance(statement.this, exp.Schema):
        table = table_name(statement.this.this)
        columns = [c.name for c in statement.this.expressions]
        values = statement.expression
        if isinstance(values, exp.Values):
            for row in values.expressions:
                for column, value in zip(columns, row.expressions, strict=False):
                    if isinstance(value, exp.Parameter) and index(value) is not None:
                        analysis.targets[index(value)] = (table, column)
    for parameter in statement.find_all(exp.Parameter):
        parent = parameter.parent
        if isinstance(parent, exp.Paren):
            parent = parent.parent
        other = None
        if isinstance(parent, exp.Binary):
            other = parent.left if parent.right is parameter else parent.right
        elif isinstance(parent, exp.In):
            other = parent.this
        if isinstance(other, exp.Column) and index(parameter) is not None:
            analysis.targets[index(parameter)] = _column_ref(other, cache)
    for binary in statement.find_all(exp.EQ, exp.NEQ):
        if isinstance(binary.left, exp.Column) and isinstance(binary.right, exp.Column):
            analysis.comparisons.append((_column_ref(binary.left, cache), _column_ref(binary.right, cache)))
    for in_ in statement.find_all(exp.In):
        query = in_.args.get("query")
        if isinstance(in_.this, exp.Column) and query is not None:
            inner = _subquery_column(query)
            if inner is not None:
                analysis.comparisons.append((_column_ref(in_.this, cache), _column_ref(inner, cache)))


class Catalogue:
    """Column types by table, as SQL Server would know them (case-insensitive names)."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, str]] = {}
        self.names: dict[str, str] = {}

    def add_table(self, name: str, columns: list[tuple[str, str]]) -> None:
        self.names[name.lower()] = name
        self.tables[name.lower()] = {column.lower(): sql_type.lower() for column, sql_type in columns}

    def drop_table(self, name: str) -> None:
        self.names.pop(name.lower(), None)
        self.tables.pop(name.lower(), None)

    def set_column(self, table: str, column: str, sql_type: str) -> None:
        self.tables.setdefault(table.lower(), {})[column.lower()] = sql_type.lower()

    def type_of(self, ref: tuple[str, str], tables: set[str]) -> str:
        table, column = ref
        if table:
            return self.tables.get(table.lower(), {}).get(column.lower(), "")
        for candidate in tables:
            found = self.tables.get(candidate.lower(), {}).get(column.lower())
            if found:
                return found
        return ""


def is_uniqueidentifier(sql_type: str) -> bool:
    return sql_type.startswith("uniqueidentifier")


def is_character(sql_type: str) -> bool:
    return sql_type.split("(")[0] in CHARACTER_TYPES


def uuid_value_ok(value: object) -> bool:
    return value is None or isinstance(value, uuid.UUID) or (isinstance(value, str) and bool(DASHED_UUID.match(value)))


def check(sql: str, params: tuple | list | None, catalogue: Catalogue) -> list[str]:
    """Every rule the statement breaks, in words that name the rule."""
    problems: list[str] = []
    params = tuple(params or ())
    if "%%" in sql:
        problems.append("'%%' reaches the server (mssql-django unescapes it only when the statement has parameters)")
    if len(params) > MAX_PARAMETERS:
        problems.append(f"{len(params)} parameters: SQL Server accepts at most {MAX_PARAMETERS} per statement")
    for pattern, name in NOT_TSQL:
        if pattern.search(sql):
            problems.append(f"{name} is not T-SQL")
    analysis = analyse(sql)
    if analysis.parse_error:
        problems.append(f"does not parse as T-SQL: {analysis.parse_error}")
    for index, ref in analysis.targets.items():
        if index < len(params) and is_uniqueidentifier(catalogue.type_of(ref, analysis.tables)):
            if not uuid_value_ok(params[index]):
                problems.append(
                    f"{ref[0]}.{ref[1]} is UNIQUEIDENTIFIER but receives {params[index]!r}: Msg 8169, conversion "
                    "failed when converting from a character string to uniqueidentifier"
                )
    for left, right in analysis.comparisons:
        types = catalogue.type_of(left, analysis.tables), catalogue.type_of(right, analysis.tables)
        if (is_uniqueidentifier(types[0]) and is_character(types[1])) or (
            is_uniqueidentifier(types[1]) and is_character(types[0])
        ):
            problems.append(
                f"compares {left[0]}.{left[1]} ({types[0]}) with {right[0]}.{right[1]} ({types[1]}): SQL Server "
                "converts the character column to uniqueidentifier and fails on 32-digit hex (Msg 8169)"
            )
    return problems
