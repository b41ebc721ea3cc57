"""The emulator's read-only HTML pages: the list of boards, and a board's groups, items and subitems."""

from __future__ import annotations

import html

from syncapp.emulator.state import EmulatorState

_STYLE = """
body{font:14px system-ui,sans-serif;margin:0;color:#323338}
.banner{background:#ffcb00;padding:.5rem 1rem;font-weight:700}
main{padding:1rem}h2{margin:1.5rem 0 .5rem}table{border-collapse:collapse;margin-bottom:1rem}
th,td{border:1px solid #d0d4e4;padding:.25rem .5rem;text-align:left;vertical-align:top;white-space:pre-wrap}
th{background:#f5f6f8}tr.sub td{background:#fafbfc}tr.sub td:first-child{padding-left:1.5rem}
"""


def render_board_list(state: EmulatorState) -> str:
    with state.lock:
        rows = "".join(
            f"<tr><td><a href='/boards/{_e(b['id'])}'>{_e(b['name'])}</a></td><td>{_e(b['id'])}</td>"
            f"<td>{_e(b['kind'])}</td><td>{sum(1 for _ in state.active_items(b['id']))}</td></tr>"
            for b in state.boards.values()
        )
    table = f"<table><tr><th>Board</th><th>Id</th><th>Kind</th><th>Active items</th></tr>{rows}</table>"
    return page("Boards", f"<h1>Boards</h1>{table}")


def render_board(state: EmulatorState, board_id: str) -> str | None:
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
    title = f"{board['name']} ({board['id']})"
    return page(title, f"<p><a href='/boards/'>All boards</a></p><h1>{_e(title)}</h1>{''.join(sections)}")


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
