"""The emulator's HTML pages: the list of boards with the trainer's controls (faults and labels,
applied by syncapp/emulator/controls.py), and a board's groups, items and subitems (read-only).

Both environments' boards have the same name at monday ("Customer Master Schedule"), so every
board is shown with its environment and id.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from syncapp.emulator import controls
from syncapp.emulator.faults import FaultConfig
from syncapp.emulator.state import EmulatorState

_STYLE = """
body{font:14px system-ui,sans-serif;margin:0;color:#323338}
.banner{background:#ffcb00;padding:.5rem 1rem;font-weight:700}
main{padding:1rem}h2{margin:1.5rem 0 .5rem}table{border-collapse:collapse;margin-bottom:1rem}
th,td{border:1px solid #d0d4e4;padding:.25rem .5rem;text-align:left;vertical-align:top;white-space:pre-wrap}
th{background:#f5f6f8}tr.sub td{background:#fafbfc}tr.sub td:first-child{padding-left:1.5rem}
form.controls{margin:.5rem 0 1rem}fieldset{border:1px solid #d0d4e4;margin:0 0 .5rem}
fieldset label{display:inline-block;margin:.25rem 1rem .25rem 0}
.said{background:#e3f4e8;border:1px solid #9fd3b0;padding:.5rem}.said-error{background:#fdecea;border-color:#eca39d}
"""


def render_board_list(
    state: EmulatorState,
    environments: Mapping[str, str] | None = None,
    faults: FaultConfig | None = None,
    message: str = "",
    error: bool = False,
) -> str:
    """The boards, each with its environment; below them the controls when `faults` is given."""
    environments = environments or {}
    with state.lock:
        rows = "".join(
            f"<tr><td><a href='/boards/{_e(b['id'])}'>{_e(b['name'])}</a></td>"
            f"<td><strong>{_e(environments.get(b['id'], 'no environment'))}</strong></td><td>{_e(b['id'])}</td>"
            f"<td>{_e(b['kind'])}</td><td>{sum(1 for _ in state.active_items(b['id']))}</td></tr>"
            for b in state.boards.values()
        )
    table = (
        f"<table><tr><th>Board</th><th>Environment</th><th>Id</th><th>Kind</th><th>Active items</th></tr>{rows}</table>"
    )
    said = ""
    if message:
        role = "alert" if error else "status"
        said = f"<p class='said {'said-error' if error else ''}' role='{role}' data-testid='controls-message'>{_e(message)}</p>"
    body = f"<h1>Boards</h1>{said}{table}"
    if faults is not None:
        body += _controls(state, environments, faults)
    return page("Boards", body)


def render_board(state: EmulatorState, board_id: str, environments: Mapping[str, str] | None = None) -> str | None:
    with state.lock:
        board = state.board(board_id)
        if board is None:
            return None
        sub_board = state.subitems_board_for(board)
        items = list(state.active_items(board["id"]))
        columns = _shown_columns(board, items)
        sub_columns = (
            _shown_columns(sub_board, [s for i in items for s in state.active_subitems(i)]) if sub_board else []
        )
        sections = [
            _group_section(state, group, [i for i in items if i["group_id"] == group["id"]], columns, sub_columns)
            for group in state.active_groups(board)
        ]
    environment = (environments or {}).get(board["id"], "no environment")
    title = f"{board['name']} ({board['id']}) · {environment}"
    return page(title, f"<p><a href='/boards/'>All boards</a></p><h1>{_e(title)}</h1>{''.join(sections)}")


def _controls(state: EmulatorState, environments: Mapping[str, str], faults: FaultConfig) -> str:
    rates = faults.describe()["rates"]
    shares = "".join(
        f"<label>{_e(label)} <input name='share_{kind}' type='number' min='0' max='100' step='any' "
        f"value='{rates.get(kind, 0) * 100:g}' size='4'> %</label>"
        for kind, label in controls.SHARED_FAULTS
    )
    fault_form = (
        f"<form method='post' action='{controls.CONTROLS_PATH}' class='controls' aria-label='Faults'>"
        "<input type='hidden' name='action' value='faults'>"
        f"<fieldset><legend>Faults (share of API requests)</legend>{shares}"
        f"<label>Latency <input name='latency_ms' type='number' min='0' max='{controls.MAX_LATENCY_MS}' "
        f"value='{faults.latency_ms}' size='6'> ms per request</label>"
        f"<label>429 burst: the next <input name='burst_429' type='number' min='0' max='{controls.MAX_BURST}' "
        "value='0' size='4'> requests answer 429</label></fieldset>"
        "<button type='submit'>Apply faults</button></form>"
        f"<form method='post' action='{controls.CONTROLS_PATH}' class='controls'>"
        "<input type='hidden' name='action' value='clear_faults'><button type='submit'>Clear all faults</button></form>"
    )
    options = "".join(
        f"<option value='{_e(b['id'])}:{_e(c['id'])}'>{_e(environments.get(b['id'], b['id']))} · "
        f"{_e(b['name'])} ({_e(b['id'])}) · {_e(c['title'])}</option>"
        for b, c in controls.label_columns(state)
    )
    label_form = (
        f"<form method='post' action='{controls.CONTROLS_PATH}' class='controls' aria-label='Labels'>"
        "<fieldset><legend>Dropdown and status labels</legend>"
        f"<label>Column <select name='column'>{options}</select></label>"
        "<label>Label <input name='label' type='text' size='20' required></label></fieldset>"
        "<button type='submit' name='action' value='label_add'>Add the label</button> "
        "<button type='submit' name='action' value='label_remove'>Remove the label</button></form>"
    )
    return (
        "<h2 id='controls'>Practise failures</h2>"
        f"<p data-testid='faults-now'>Faults now: {_e(controls.describe(faults))}.</p>"
        "<p>Changes apply at once to every client of this emulator, without a restart (runbook 05). "
        "Accepted from this machine only.</p>"
        f"{fault_form}{label_form}"
    )


def _shown_columns(board: dict, items: list[dict]) -> list[dict]:
    used = {column_id for item in items for column_id in item["values"]}
    return [c for c in board["columns"] if c["id"] in used]


def _group_section(state, group: dict, items: list[dict], columns: list[dict], sub_columns: list[dict]) -> str:
    header = "".join(f"<th>{_e(c['title'])}</th>" for c in columns)
    rows: list[str] = []
    for item in items:
        cells = "".join(f"<td>{_e(_text(item, c))}</td>" for c in columns)
        rows.append(f"<tr><td>{_e(item['name'])}</td>{cells}</tr>")
        for sub in state.active_subitems(item):
            sub_cells = "; ".join(f"{c['title']}: {_text(sub, c)}" for c in sub_columns if c["id"] in sub["values"])
            rows.append(
                f"<tr class='sub'><td>{_e(sub['name'])}</td><td colspan='{max(len(columns), 1)}'>{_e(sub_cells)}</td></tr>"
            )
    body = "".join(rows) or f"<tr><td colspan='{len(columns) + 1}'>No items</td></tr>"
    return f"<h2>{_e(group['title'])}</h2><table><tr><th>Name</th>{header}</tr>{body}</table>"


def _text(item: dict, column: dict) -> str:
    stored = item["values"].get(column["id"])
    return stored["text"] if stored else ""


def page(title: str, content: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_e(title)} - monday EMULATOR</title>"
        f"<style>{_STYLE}</style></head><body><div class='banner'>EMULATOR - local stand-in for monday.com, "
        f"not the real board</div><main>{content}</main></body></html>"
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)
