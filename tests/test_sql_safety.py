"""No raw SQL is built by string formatting from user input.

Every f-string in the application that builds SQL may interpolate only identifiers quoted by the
database backend (`sql_name`, `quote_name` and the local aliases of those), placeholder lists
(`', '.join(['%s'] * n)`), or names built from those in the same module. Values always travel as
parameters. A new interpolation that is none of these fails this test until it is reviewed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SQL = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bINSERT INTO\b|\bUPDATE\b.*\bSET\b|\bDELETE FROM\b|\bWHERE\b|\bVALUES\s*\("
    r"|\bCREATE (UNIQUE )?(TABLE|INDEX|VIEW)\b|\bDROP (TABLE|VIEW|INDEX)\b|\bALTER TABLE\b",
    re.DOTALL,
)
QUOTING = re.compile(r"^(q|quote|qn|sql_name|self\.quote|connection\.ops\.quote_name|quote_name)\(")
PLACEHOLDERS = re.compile(r"^', '\.join\(\['%s'\] \* len\(\w+\)\)$")
QUOTED_JOIN = re.compile(r"^', '\.join\((q|quote|sql_name)\(\w+\) for \w+ in .+\)$")
# Local names that hold SQL fragments assembled only from the pieces above, one per module.
REVIEWED_NAMES = {
    "syncapp/services/merge.py": {"set_values", "select", "values"},
    "syncapp/engine/writeback.py": {"assignments"},
    "syncapp/engine/rows.py": set(),
    "syncapp/order_tables.py": {"unique"},
    # The caller passes names quoted with sql_name (see the function's docstring).
    "syncapp/raw_sql.py": {"table_sql", "columns"},
    # The staging table quoted with sql_name, each column quoted with sql_name, and a constant function name.
    "syncapp/selectors/staging.py": {"table", "row_text", "SQLITE_HASH_FUNCTION"},
}


def _sql_fstrings(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if SQL.search(text):
                yield node


def _unsafe(source: str, node: ast.JoinedStr, reviewed: set[str]) -> list[str]:
    problems = []
    for value in node.values:
        if not isinstance(value, ast.FormattedValue):
            continue
        expression = ast.get_source_segment(source, value.value) or ""
        if QUOTING.match(expression) or PLACEHOLDERS.match(expression) or QUOTED_JOIN.match(expression):
            continue
        if isinstance(value.value, ast.Name) and value.value.id in reviewed:
            continue
        problems.append(expression)
    return problems


def _scan(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    relative = path.relative_to(ROOT).as_posix()
    reviewed = REVIEWED_NAMES.get(relative, set())
    return [
        f"{relative}:{node.lineno}: {{{expr}}}"
        for node in _sql_fstrings(ast.parse(source))
        for expr in _unsafe(source, node, reviewed)
    ]


def test_it_finds_no_sql_built_from_values():
    problems = [
        p for path in sorted((ROOT / "syncapp").rglob("*.py")) if "migrations" not in path.parts for p in _scan(path)
    ]
    assert problems == []


def test_the_scan_catches_a_value_formatted_into_sql(tmp_path):
    sample = ROOT / "syncapp" / "_sql_scan_probe.py"
    sample.write_text(
        "def bad(cursor, po):\n    cursor.execute(f\"SELECT * FROM t WHERE {q('PO')} = '{po}'\")\n", encoding="utf-8"
    )
    try:
        assert _scan(sample) == ["syncapp/_sql_scan_probe.py:2: {po}"]
    finally:
        sample.unlink()
