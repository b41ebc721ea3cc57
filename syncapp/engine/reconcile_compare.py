"""The comparison of a board with the order tables: pure functions over what a reconcile gathered.

Keys: an item is an order line's when the environment's ItemLink names it; items are matched to
order lines by their AAG ORDER NUMBER text (case and outer spaces ignored); a size subitem is a
line's size when the SubitemLink names it (or, unlinked, by its size label or "Size <code>" name).

What is reported, per order line and per size:
- missing: a linked item (or, on a present item, a linked size subitem) monday no longer shows;
  its state (archived, deleted, gone) is in the message. A size the line has with a quantity and no
  subitem at all is missing too (not for a line whose changes are still PENDING: the next sync
  creates it).
- orphan: an item whose AAG ORDER NUMBER matches no order line (empty included); duplicate: a second
  item with the AAG ORDER NUMBER of an order line (the linked item, else the oldest, is the line's).
  A duplicate is orderops' to archive (created_by_orderops) when it copies orderops' record: the
  line's linked item is among the items with that number and orderops created it (its link says a
  run created it, or the journal has its ITEM_CREATED), whoever made the copy. A copy of an item
  orderops did not create (a line linked to an item a person made), and any copy while the line's
  linked item is not among them (the link is lost: the line must be linked again first), is not.
- value_drift: a mapped column whose board value differs both from what orderops last wrote and
  from what a sync would write today. Values are compared as the text monday shows, per type
  (numbers as numbers, dates by their day). "Last written" is the journal's latest update of the
  item when there is one; otherwise the line's current values when the line is not PENDING (the
  sync that created the item wrote them); for a PENDING line without an update in the journal it is
  not known, and the column is not compared (the next sync writes it anyway).
- wrong_group: the item is in another group than the customer/season group the sync puts it in.
- size_drift: a size subitem whose quantity differs from the order and from what orderops last
  wrote, whose size label changed, whose size the line no longer has, or a second subitem for a size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from syncapp.domain.scope import key
from syncapp.monday.column_values import written_text

MISSING, ORPHAN, DUPLICATE = "missing", "orphan", "duplicate"
VALUE_DRIFT, WRONG_GROUP, SIZE_DRIFT = "value_drift", "wrong_group", "size_drift"
KINDS = (MISSING, ORPHAN, DUPLICATE, VALUE_DRIFT, WRONG_GROUP, SIZE_DRIFT)


@dataclass
class Expected:
    """What a sync would write for the line today (the engine's own plan)."""

    group_name: str
    group_id: str  # "" when the board has no group of that name
    values: dict[str, object]  # column id -> value in monday's write format
    sizes: dict[str, int]  # size code -> qty


@dataclass
class Line:
    """One linked order line in scope and what orderops knows of it on this environment."""

    record_uuid: str
    aag_order_number: str
    customer_name: str
    po_number: str
    item_id: int
    pending: bool  # changes not yet synced
    created_by_orderops: bool
    expected: Expected | None  # None: the engine cannot plan the line (`problem` says why)
    problem: str = ""
    written: dict[str, object] = field(default_factory=dict)  # column id -> last written (journal)
    sizes: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # size -> (subitem id, qty written)


@dataclass
class Board:
    """The board as read, and how to read it."""

    items: dict[int, dict]  # active items by id (the whole-board read)
    groups: dict[str, str]  # group id -> title
    columns: dict[str, tuple[str, str]]  # mapped column id -> (title, type)
    aag_column: str
    customer_column: str
    po_column: str
    size_column: str
    qty_column: str
    subitem_prefix: str
    looked_up: dict[int, dict] = field(default_factory=dict)  # linked items not read, by id (any state)


@dataclass
class Finding:
    kind: str
    message: str
    record_uuid: str | None = None
    aag_order_number: str = ""
    customer_name: str = ""
    po_number: str = ""
    size_code: str = ""
    monday_item_id: int | None = None
    monday_subitem_id: int | None = None
    group_id: str = ""
    expected_group_id: str = ""
    created_by_orderops: bool = False
    column_id: str = ""
    column_title: str = ""
    board_value: str = ""
    order_value: str = ""
    written_value: str = ""


def compare(
    lines: list[Line],
    board: Board,
    *,
    order_lines_by_aag: dict[str, list[tuple[str, str, str]]],
    linked_item_ids: set[int],
    created_item_ids: set[int],
    in_scope: Callable[[str, str], bool],
) -> list[Finding]:
    """Every difference, lines first (in the order given), then the board's extra items.

    `order_lines_by_aag`: key(AAG ORDER NUMBER) -> [(record uuid, customer, PO)] for every order line
    whose number is on the board; `linked_item_ids`: every item linked on this environment;
    `created_item_ids`: items orderops created (links whose run created them, and the journal's
    ITEM_CREATED); `in_scope(customer, PO)`.
    """
    findings: list[Finding] = []
    for line in lines:
        item = board.items.get(line.item_id)
        if item is None:
            findings.append(missing_item(line, board.looked_up.get(line.item_id)))
            continue
        if line.expected is None:
            continue
        findings += wrong_group(line, item, board)
        findings += value_drift(line, item, board)
        findings += size_drift(line, item, board)
    findings += extra_items(board, order_lines_by_aag, linked_item_ids, created_item_ids, in_scope)
    return findings


def _line_finding(line: Line, kind: str, message: str, **fields) -> Finding:
    return Finding(
        kind=kind,
        message=message,
        record_uuid=line.record_uuid,
        aag_order_number=line.aag_order_number,
        customer_name=line.customer_name,
        po_number=line.po_number,
        monday_item_id=line.item_id,
        created_by_orderops=line.created_by_orderops,
        **fields,
    )


def missing_item(line: Line, found: dict | None) -> Finding:
    state = (found or {}).get("state") or ""
    if found is None:
        why = "monday no longer knows the item (deleted, and gone from the trash)"
    elif state == "archived":
        why = "the item was archived on the board (monday keeps it 30 days; it can be restored from the archive)"
    elif state == "deleted":
        why = "the item was deleted on the board (it stays in monday's trash for 30 days)"
    else:
        why = f"the item is on board {found.get('board_id')}, not on this board (moved to another board)"
    return _line_finding(line, MISSING, f"{why}.", group_id=str((found or {}).get("group_id") or ""))


def wrong_group(line: Line, item: dict, board: Board) -> list[Finding]:
    expected = line.expected
    group_id = str(item.get("group_id") or "")
    if not expected.group_id or group_id == expected.group_id:
        return []
    where = board.groups.get(group_id, group_id)
    return [
        _line_finding(
            line,
            WRONG_GROUP,
            f"the item is in group {where!r}; the sync puts it in {expected.group_name!r}.",
            group_id=group_id,
            expected_group_id=expected.group_id,
        )
    ]


def value_drift(line: Line, item: dict, board: Board) -> list[Finding]:
    findings = []
    values = item.get("column_values") or {}
    for column_id, order_value in line.expected.values.items():
        title, column_type = board.columns.get(column_id, (column_id, ""))
        order_text = written_text(column_type, order_value)
        if order_text is None:
            continue
        shown = (values.get(column_id) or {}).get("text") or ""
        board_text = canonical(column_type, shown)
        if column_id in line.written:
            written = _written(column_type, line.written[column_id])
        else:
            written = None if line.pending else order_text
        if written is None:
            continue
        if board_text in (canonical(column_type, written), canonical(column_type, order_text)):
            continue
        findings.append(
            _line_finding(
                line,
                VALUE_DRIFT,
                f"{title} is {shown or '(empty)'!s} on the board; the order says {order_text or '(empty)'}"
                + ("" if written == order_text else f" and orderops last wrote {written or '(empty)'}")
                + ".",
                group_id=str(item.get("group_id") or ""),
                column_id=column_id,
                column_title=title,
                board_value=shown,
                order_value=order_text,
                written_value=written,
            )
        )
    return findings


def size_drift(line: Line, item: dict, board: Board) -> list[Finding]:
    findings = []
    subitems = {int(s["id"]): s for s in item.get("subitems") or [] if (s.get("state") or "active") == "active"}
    expected = line.expected.sizes
    linked_ids = {sub_id for sub_id, _ in line.sizes.values()}
    group_id = str(item.get("group_id") or "")

    def finding(kind: str, size: str, message: str, sub_id: int | None, **fields) -> Finding:
        return _line_finding(line, kind, message, size_code=size, monday_subitem_id=sub_id, group_id=group_id, **fields)

    for size, (sub_id, written_qty) in sorted(line.sizes.items()):
        sub = subitems.get(sub_id)
        if sub is None:
            findings.append(finding(MISSING, size, f"the size {size} subitem is gone from the item.", sub_id))
            continue
        label = _size_of(sub, board)
        if label and label != size:
            findings.append(
                finding(
                    SIZE_DRIFT,
                    size,
                    f"the size {size} subitem now says size {label}.",
                    sub_id,
                    column_id=board.size_column,
                    column_title="size",
                    board_value=label,
                    order_value=size,
                    written_value=size,
                )
            )
            continue
        if size not in expected:
            findings.append(
                finding(SIZE_DRIFT, size, f"the order line no longer has size {size}; its subitem remains.", sub_id)
            )
            continue
        shown = ((sub.get("column_values") or {}).get(board.qty_column) or {}).get("text") or ""
        board_qty = canonical("numbers", shown)
        order_qty = str(expected[size])
        written = str(written_qty) if written_qty is not None else (None if line.pending else order_qty)
        if written is None or board_qty in (canonical("numbers", written), canonical("numbers", order_qty)):
            continue
        findings.append(
            finding(
                SIZE_DRIFT,
                size,
                f"size {size} has quantity {shown or '(empty)'} on the board; the order says {order_qty}"
                + ("" if written == order_qty else f" and orderops last wrote {written}")
                + ".",
                sub_id,
                column_id=board.qty_column,
                column_title="qty",
                board_value=shown,
                order_value=order_qty,
                written_value=written,
            )
        )
    by_size: dict[str, list[int]] = defaultdict(list)
    for sub_id, sub in subitems.items():
        label = _size_of(sub, board)
        if label and sub_id not in linked_ids:
            by_size[label].append(sub_id)
    for size, qty in sorted(expected.items()):
        if qty > 0 and size not in line.sizes and not by_size.get(size) and not line.pending:
            findings.append(finding(MISSING, size, f"the item has no subitem for size {size} (qty {qty}).", None))
    for size, sub_ids in sorted(by_size.items()):
        if size in line.sizes or size not in expected:
            for sub_id in sorted(sub_ids):
                why = "a second subitem for a size" if size in line.sizes else "a size the order line does not have"
                findings.append(finding(SIZE_DRIFT, size, f"subitem {sub_id} is {why} ({size}).", sub_id))
        elif len(sub_ids) > 1:
            for sub_id in sorted(sub_ids)[1:]:
                findings.append(
                    finding(SIZE_DRIFT, size, f"subitem {sub_id} is a second subitem for size {size}.", sub_id)
                )
    return findings


def extra_items(
    board: Board,
    order_lines_by_aag: dict[str, list[tuple[str, str, str]]],
    linked_item_ids: set[int],
    created_item_ids: set[int],
    in_scope: Callable[[str, str], bool],
) -> list[Finding]:
    """Orphans and duplicates among the board's items."""
    findings: list[Finding] = []
    by_aag: dict[str, list[dict]] = defaultdict(list)
    for item in board.items.values():
        by_aag[key(item_text(item, board.aag_column))].append(item)
    for aag_key, items in sorted(by_aag.items()):
        lines = order_lines_by_aag.get(aag_key) if aag_key else None
        if not lines:
            for item in sorted(items, key=lambda i: int(i["id"])):
                if int(item["id"]) in linked_item_ids:
                    continue  # a linked item whose number was edited: its line reports the value drift
                customer, po = item_text(item, board.customer_column), item_text(item, board.po_column)
                if not in_scope(customer, po):
                    continue
                number = item_text(item, board.aag_column)
                findings.append(
                    _item_finding(
                        item,
                        board,
                        ORPHAN,
                        f"no order line has the AAG ORDER NUMBER {number!r}."
                        if number
                        else "the item has no AAG ORDER NUMBER.",
                        created_by_orderops=int(item["id"]) in created_item_ids,
                        customer_name=customer,
                        po_number=po,
                    )
                )
            continue
        record_uuid, customer, po = lines[0]
        if len(items) < 2 or not in_scope(customer, po):
            continue
        ordered = sorted(items, key=lambda i: (int(i["id"]) not in linked_item_ids, int(i["id"])))
        kept = int(ordered[0]["id"])
        linked = kept in linked_item_ids
        ours = linked and kept in created_item_ids
        for item in ordered[1:]:
            if int(item["id"]) in linked_item_ids:
                continue  # linked to another line with the same number: that line's own item
            findings.append(
                _item_finding(
                    item,
                    board,
                    DUPLICATE,
                    duplicate_message(item_text(item, board.aag_column), kept, linked=linked, ours=ours),
                    created_by_orderops=ours,
                    record_uuid=record_uuid,
                    customer_name=customer,
                    po_number=po,
                )
            )
    return findings


def duplicate_message(number: str, kept: int, *, linked: bool, ours: bool) -> str:
    said = f"a second item with AAG ORDER NUMBER {number!r}"
    if ours:
        return (
            f"{said}, a copy of the order line's item {kept}, which orderops created. A repair keeps item {kept} and "
            "archives the copy (never deletes it: monday keeps it 30 days in the board's archive, where it can be "
            "restored)."
        )
    if linked:
        return (
            f"{said}; the order line's item is {kept}, which orderops did not create (the line was linked to an "
            "item made on monday), so a repair leaves both alone. Decide on the board which one the order "
            "follows and archive the other by hand."
        )
    return (
        f"{said} (item {kept} has it too), and neither is the order line's linked item (it is missing from the "
        "board, or the line is not linked). A repair archives nothing here: link the line again first (repair its "
        "missing item), then reconcile and repair again."
    )


def _item_finding(item: dict, board: Board, kind: str, message: str, *, created_by_orderops: bool, **fields) -> Finding:
    return Finding(
        kind=kind,
        message=message,
        aag_order_number=item_text(item, board.aag_column)[:100],
        monday_item_id=int(item["id"]),
        group_id=str(item.get("group_id") or ""),
        created_by_orderops=created_by_orderops,
        **fields,
    )


def item_text(item: dict, column_id: str) -> str:
    return str(((item.get("column_values") or {}).get(column_id) or {}).get("text") or "").strip()


def _size_of(sub: dict, board: Board) -> str:
    label = str(((sub.get("column_values") or {}).get(board.size_column) or {}).get("text") or "").strip()
    if label:
        return label
    name = str(sub.get("name") or "")
    return name[len(board.subitem_prefix) :].strip() if name.startswith(board.subitem_prefix) else ""


def _written(column_type: str, raw: object) -> str | None:
    """A journal value as text: the write format a sync sent, or (after a rollback restored a column)
    the value read from the board ({"text", "value"})."""
    if isinstance(raw, dict) and ("value" in raw or "id" in raw):
        return str(raw.get("text") or "")
    return written_text(column_type, raw)


def canonical(column_type: str, text: object) -> str:
    """A value's text as monday shows it, in one form per type so equal values compare equal."""
    value = str(text or "").strip().replace("\r\n", "\n")
    if column_type == "numbers" and value:
        try:
            return format(Decimal(value.replace(",", "")).normalize(), "f")
        except InvalidOperation:
            return value
    if column_type == "date":
        return value[:10]
    if column_type == "dropdown":
        return ", ".join(part.strip() for part in value.split(",") if part.strip())
    return value
