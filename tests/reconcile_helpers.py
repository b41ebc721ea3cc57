"""The hand edits people make on a synced board, made as direct monday API calls to the emulator.

`six_hand_edits` is the acceptance scenario of reconcile: after a sync, delete an item, archive
another, edit a mapped column, duplicate an item, move one to another group and change a size's
quantity, each on a different order line. It returns what it did per edit, with the finding kind a
reconcile must report for it, so reconcile and repair tests check against the same six edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from syncapp.domain.scope import Scope
from syncapp.models import ItemLink, ReconcileFinding, SubitemLink, SyncRun
from syncapp.monday.client import API_VERSION
from syncapp.selectors.reconcile import finding_line
from syncapp.services.reconcile import reconcile_run_create, reconcile_run_execute
from syncapp.sync_config import get_sync_config

# The mapped column the value edit changes: a price, as people edit it on the board.
EDITED_ORDER_COLUMN = "CUSTOMER PRICE"
EDITED_VALUE = "987.65"
MOVED_TO_GROUP = "Moved by hand"
QTY_ADDED = 7


@dataclass
class HandEdit:
    name: str  # delete, archive, edit, duplicate, move, qty
    kind: str  # the ReconcileFinding.Kind a reconcile reports for it
    record_uuid: str
    aag_order_number: str
    item_id: int
    details: dict = field(default_factory=dict)  # copy_item_id, column_id, group_id, subitem_id, size_code, qty ...


def graphql(emulator, query: str, variables: dict | None = None, *, environment: str = "development") -> dict:
    """One request to the emulator's /v2 with the environment's token, as a person's script would send it."""
    response = requests.post(
        emulator.url,
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": emulator.tokens[environment], "API-Version": API_VERSION},
        timeout=10,
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


def linked_lines(environment: str = "development") -> list[ItemLink]:
    """The order lines with an item and at least one size with a quantity on the board, by order number."""
    with_sizes = set(
        SubitemLink.objects.filter(environment=environment, qty__gt=0).values_list("record_uuid", flat=True)
    )
    links = ItemLink.objects.filter(environment=environment).order_by("aag_order_number")
    return [link for link in links if link.record_uuid in with_sizes]


def six_hand_edits(emulator, environment: str = "development") -> dict[str, HandEdit]:
    """Make the six edits on six different order lines; returns them by name."""
    env = get_sync_config().environment(environment)
    lines = linked_lines(environment)
    assert len(lines) >= 6, f"test setup: {len(lines)} synced order lines with sizes, 6 needed"
    # Every other line, so no two edited lines sit next to each other on the board.
    chosen = lines[::2][:6] if len(lines) >= 12 else lines[:6]
    delete, archive, edit, duplicate, move, qty = chosen

    def edit_of(name: str, kind: str, link: ItemLink, **details) -> HandEdit:
        return HandEdit(name, kind, str(link.record_uuid), link.aag_order_number, link.monday_item_id, details)

    def call(query: str, **variables) -> dict:
        return graphql(emulator, query, variables, environment=environment)

    edits: dict[str, HandEdit] = {}
    call("mutation ($i: ID) { delete_item(item_id: $i) { id } }", i=str(delete.monday_item_id))
    edits["delete"] = edit_of("delete", "missing", delete, state="deleted")

    call("mutation ($i: ID) { archive_item(item_id: $i) { id } }", i=str(archive.monday_item_id))
    edits["archive"] = edit_of("archive", "missing", archive, state="archived")

    column_id = env.item_columns[EDITED_ORDER_COLUMN]
    call(
        "mutation ($b: ID!, $i: ID, $v: JSON!) { change_multiple_column_values(board_id: $b, item_id: $i, "
        "column_values: $v) { id } }",
        b=str(env.items_board_id),
        i=str(edit.monday_item_id),
        v=f'{{"{column_id}": "{EDITED_VALUE}"}}',
    )
    edits["edit"] = edit_of("edit", "value_drift", edit, column_id=column_id, board_value=EDITED_VALUE)

    copy = call(
        "mutation ($b: ID!, $i: ID) { duplicate_item(board_id: $b, item_id: $i, with_updates: false) { id } }",
        b=str(env.items_board_id),
        i=str(duplicate.monday_item_id),
    )["duplicate_item"]
    edits["duplicate"] = edit_of("duplicate", "duplicate", duplicate, copy_item_id=int(copy["id"]))

    group = call(
        "mutation ($b: ID!, $n: String!) { create_group(board_id: $b, group_name: $n) { id } }",
        b=str(env.items_board_id),
        n=MOVED_TO_GROUP,
    )["create_group"]
    call(
        "mutation ($i: ID, $g: String!) { move_item_to_group(item_id: $i, group_id: $g) { id } }",
        i=str(move.monday_item_id),
        g=group["id"],
    )
    edits["move"] = edit_of("move", "wrong_group", move, group_id=group["id"], expected_group_id=move.group_id)

    size = SubitemLink.objects.filter(environment=environment, record_uuid=qty.record_uuid, qty__gt=0).order_by(
        "size_code"
    )[0]
    call(
        "mutation ($b: ID!, $i: ID, $v: JSON!) { change_multiple_column_values(board_id: $b, item_id: $i, "
        "column_values: $v) { id } }",
        b=str(env.subitems_board_id),
        i=str(size.monday_subitem_id),
        v=f'{{"{env.qty_column_id}": "{size.qty + QTY_ADDED}"}}',
    )
    edits["qty"] = edit_of(
        "qty",
        "size_drift",
        qty,
        subitem_id=size.monday_subitem_id,
        size_code=size.size_code,
        qty=size.qty,
        board_qty=size.qty + QTY_ADDED,
    )
    return edits


def assert_no_drift(environment: str = "development", **scope) -> SyncRun:
    """Reconcile the environment's board (the CLI's path) and assert it finds nothing: the product's
    own check that the database matches the board, with which the fault and scale runs end."""
    run = reconcile_run_create(environment=environment, scope=Scope.parse(**scope), via="cli", enqueue=False)
    run = reconcile_run_execute(run_id=run.pk)
    assert run.status == SyncRun.Status.COMPLETED, f"reconcile run {run.pk} {run.status}: {run.error_message}"
    findings = list(ReconcileFinding.objects.filter(run=run).order_by("id"))
    shown = "\n".join(finding_line(f) for f in findings[:30])
    assert not findings, f"reconcile run {run.pk} found {len(findings)} difference(s) on {environment}:\n{shown}"
    return run
