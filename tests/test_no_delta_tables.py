"""The sync is DELTA-free: no delta table, and no reference to one, anywhere in the project."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
DELTA = re.compile(r"ORDER_LIST(_LINES)?_DELTA", re.IGNORECASE)
SCANNED = ("syncapp", "orderops", "templates", "configs", "static")
# The cleanup command and its runbook exist to remove the old delta tables.
ALLOWED = {
    "syncapp/management/commands/drop_delta_tables.py",
    "syncapp/services/delta_cleanup.py",
    "syncapp/selectors/delta_tables.py",
    "docs/runbooks/08-delta-table-cleanup.md",
}


def test_it_finds_no_reference_to_a_delta_table():
    offenders = []
    for folder in SCANNED:
        for path in (ROOT / folder).rglob("*"):
            relative = path.relative_to(ROOT).as_posix()
            if not path.is_file() or relative in ALLOWED or "__pycache__" in relative:
                continue
            if DELTA.search(path.read_text(encoding="utf-8", errors="ignore")):
                offenders.append(relative)
    assert offenders == []


def test_the_scan_would_catch_one(tmp_path):
    sample = tmp_path / "x.sql"
    sample.write_text("SELECT * FROM ORDER_LIST_DELTA", encoding="utf-8")
    assert DELTA.search(sample.read_text(encoding="utf-8"))
