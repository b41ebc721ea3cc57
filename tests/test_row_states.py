"""The row-state machine: named transitions, written by one writer as compare-and-set UPDATEs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from syncapp.domain import states
from syncapp.domain.states import State
from syncapp.engine.row_states import lines_transition, rows_transition
from syncapp.models import FactOrderList, OrderLine
from tests.sync_helpers import stage_and_merge

ROOT = Path(__file__).resolve().parent.parent
WRITER = ROOT / "syncapp" / "engine" / "row_states.py"


def test_it_lists_every_transition_once_with_a_legal_target():
    names = [t.name for t in states.TRANSITIONS]
    assert len(names) == len(set(names))
    for transition in states.TRANSITIONS:
        assert transition.sources, transition.name
        assert transition.target in State
    assert states.CLAIM.sources == {State.PENDING}, "only a PENDING row can be claimed"
    assert State.CLAIMED not in states.MARK_PENDING.sources, "marking never takes a row from a running sync"


def test_it_refuses_an_action_the_transition_does_not_write():
    with pytest.raises(ValueError, match="writes action_type INSERT, UPDATE"):
        states.RETRY.action_for("NONE")
    with pytest.raises(ValueError, match="keeps the row's action_type"):
        states.SYNCED.action_for("UPDATE")
    assert states.SKIPPED.action_for(None) == "NONE"


@pytest.mark.django_db
def test_it_moves_only_rows_in_a_source_state():
    stage_and_merge(12)
    rows = list(FactOrderList.objects.order_by("aag_order_number").values_list("record_uuid", flat=True)[:3])
    FactOrderList.objects.filter(record_uuid=rows[0]).update(sync_state="CLAIMED", api_status="CLAIMED 1")
    FactOrderList.objects.filter(record_uuid=rows[1]).update(sync_state="SYNCED")
    moved = rows_transition(FactOrderList.objects.filter(record_uuid__in=rows), states.FAILED, api_status="ERROR")
    assert moved == 1, "only the claimed row can fail"
    assert dict(FactOrderList.objects.filter(record_uuid__in=rows).values_list("record_uuid", "sync_state")) == {
        rows[0]: "ERROR",
        rows[1]: "SYNCED",
        rows[2]: "PENDING",
    }
    assert rows_transition(FactOrderList.objects.filter(record_uuid__in=rows), states.RETRY, action="UPDATE") == 1
    assert FactOrderList.objects.get(record_uuid=rows[0]).action_type == "UPDATE"
    FactOrderList.objects.filter(record_uuid=rows[2]).update(sync_state="CLAIMED")
    marked = rows_transition(FactOrderList.objects.filter(record_uuid__in=rows), states.MARK_COMPLETED)
    assert marked == 2 and FactOrderList.objects.get(record_uuid=rows[2]).sync_state == "CLAIMED"
    assert lines_transition(OrderLine.objects.filter(record_uuid=rows[1]), states.RESTORED, action="INSERT") > 0
    assert set(OrderLine.objects.filter(record_uuid=rows[1]).values_list("sync_state", "action_type")) == {
        ("PENDING", "INSERT")
    }


@pytest.mark.django_db
def test_it_refuses_state_fields_passed_beside_the_transition():
    with pytest.raises(ValueError, match="written by the transition"):
        rows_transition(FactOrderList.objects.none(), states.SYNCED, sync_state="SYNCED")


def _state_writes(path: Path) -> list[str]:
    """Calls that pass sync_state= or action_type= to update(), bulk_update() or update_or_create()."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in {"update", "bulk_update", "update_or_create"}:
                keywords = {k.arg for k in node.keywords}
                if keywords & {"sync_state", "action_type"}:
                    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                    found.append(f"{where}:{node.lineno}")
    return found


def test_it_is_the_only_writer_of_row_states():
    writes = [
        hit
        for path in (ROOT / "syncapp").rglob("*.py")
        if "migrations" not in path.parts and "emulator" not in path.parts and path != WRITER
        for hit in _state_writes(path)
    ]
    assert not writes, "sync_state/action_type written outside engine/row_states.py: " + ", ".join(writes)


def test_the_scan_finds_a_state_write(tmp_path):
    module = tmp_path / "x.py"
    module.write_text("def f(q):\n    q.filter(pk=1).update(api_status='x', action_type='NONE')\n")
    assert _state_writes(module) == ["x.py:2"]
