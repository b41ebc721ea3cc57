"""GraphQL documents the monday client sends, built from fixed templates.

Values never enter the query text: every argument is a GraphQL variable, so an item name with
quotes, newlines or emoji cannot change the document. The document text depends only on the kinds
and argument names in a batch, which keeps it identical across retries (for Idempotency-Key) and
small in number (monday and the emulator cache parsed documents).

Every document selects `complexity { before after query reset_in_x_seconds }` so the client can see
its remaining budget and slow down before monday answers 429.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

COMPLEXITY_SELECTION = "complexity { before after query reset_in_x_seconds }"


@dataclass(frozen=True)
class ArgSpec:
    name: str  # monday's argument name, also the key in Mutation.args
    graphql_type: str  # the variable's type, exactly as declared in monday's schema
    required: bool = False


@dataclass(frozen=True)
class MutationSpec:
    field: str
    args: tuple[ArgSpec, ...]
    selection: str


MUTATION_SPECS: dict[str, MutationSpec] = {
    "create_group": MutationSpec(
        "create_group",
        (
            ArgSpec("board_id", "ID!", True),
            ArgSpec("group_name", "String!", True),
            ArgSpec("group_color", "String"),
            ArgSpec("relative_to", "String"),
            ArgSpec("position_relative_method", "PositionRelative"),
        ),
        "id title",
    ),
    "create_item": MutationSpec(
        "create_item",
        (
            ArgSpec("board_id", "ID!", True),
            ArgSpec("group_id", "String"),
            ArgSpec("item_name", "String!", True),
            ArgSpec("column_values", "JSON"),
            ArgSpec("create_labels_if_missing", "Boolean"),
        ),
        "id",
    ),
    "create_subitem": MutationSpec(
        "create_subitem",
        (
            ArgSpec("parent_item_id", "ID!", True),
            ArgSpec("item_name", "String!", True),
            ArgSpec("column_values", "JSON"),
            ArgSpec("create_labels_if_missing", "Boolean"),
        ),
        "id board { id }",
    ),
    "change_columns": MutationSpec(
        "change_multiple_column_values",
        (
            ArgSpec("board_id", "ID!", True),
            ArgSpec("item_id", "ID", True),
            ArgSpec("column_values", "JSON!", True),
            ArgSpec("create_labels_if_missing", "Boolean"),
        ),
        "id",
    ),
    "move_item": MutationSpec(
        "move_item_to_group",
        (ArgSpec("item_id", "ID", True), ArgSpec("group_id", "String!", True)),
        "id group { id }",
    ),
    "archive_item": MutationSpec("archive_item", (ArgSpec("item_id", "ID", True),), "id"),
    "delete_item": MutationSpec("delete_item", (ArgSpec("item_id", "ID", True),), "id"),
    "delete_group": MutationSpec(
        "delete_group",
        (ArgSpec("board_id", "ID!", True), ArgSpec("group_id", "String!", True)),
        "id",
    ),
}

MUTATION_KINDS: tuple[str, ...] = tuple(MUTATION_SPECS)


def alias(index: int) -> str:
    """Response key of the index-th mutation in a batch (caller keys may not be valid GraphQL names)."""
    return f"m{index}"


def build_mutation_document(batch: Iterable[tuple[str, Mapping[str, object]]]) -> tuple[str, dict[str, object]]:
    """Build one aliased mutation document from (kind, args) pairs.

    Returns (document, variables). Raises ValueError for an unknown kind, an unknown argument or a
    missing required argument: those are programming errors and must fail before any request.
    """
    definitions: list[str] = []
    fields: list[str] = []
    variables: dict[str, object] = {}
    for index, (kind, args) in enumerate(batch):
        spec = _spec(kind)
        _check_args(kind, spec, args)
        call_args: list[str] = []
        for arg in spec.args:
            if arg.name not in args:
                continue
            var = f"{arg.name}_{index}"
            definitions.append(f"${var}: {arg.graphql_type}")
            call_args.append(f"{arg.name}: ${var}")
            variables[var] = encode_variable(arg.graphql_type, args[arg.name])
        fields.append(f"  {alias(index)}: {spec.field}({', '.join(call_args)}) {{ {spec.selection} }}")
    if not fields:
        raise ValueError("A mutation document needs at least one mutation.")
    header = f"mutation OrderopsBatch({', '.join(definitions)})" if definitions else "mutation OrderopsBatch"
    return f"{header} {{\n" + "\n".join(fields) + f"\n  {COMPLEXITY_SELECTION}\n}}", variables


def encode_variable(graphql_type: str, value: object) -> object:
    """Encode a Python value for a variable of `graphql_type`.

    monday's JSON scalar takes the column values as a JSON *string* (its documented form); IDs are
    sent as strings so 64-bit ids never pass through a float.
    """
    base = graphql_type.rstrip("!")
    if value is None:
        return None
    if base == "JSON":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if base == "ID":
        return str(value)
    if base == "Boolean":
        return bool(value)
    return str(value)


def _spec(kind: str) -> MutationSpec:
    try:
        return MUTATION_SPECS[kind]
    except KeyError:
        raise ValueError(f"Unknown mutation kind '{kind}'; expected one of {', '.join(MUTATION_KINDS)}.") from None


def _check_args(kind: str, spec: MutationSpec, args: Mapping[str, object]) -> None:
    known = {arg.name for arg in spec.args}
    unknown = sorted(set(args) - known)
    if unknown:
        raise ValueError(f"Mutation '{kind}' does not take {unknown}; it takes {sorted(known)}.")
    missing = [arg.name for arg in spec.args if arg.required and args.get(arg.name) is None]
    if missing:
        raise ValueError(f"Mutation '{kind}' is missing required arguments {missing}.")


# --- queries ---------------------------------------------------------------------------------

_COLUMN_VALUE_FIELDS = "id text value type"

ITEM_FIELDS_FRAGMENT = f"""
fragment OrderopsItem on Item {{
  id
  name
  state
  group {{ id }}
  board {{ id }}
  column_values {{ {_COLUMN_VALUE_FIELDS} }}
  subitems {{
    id
    name
    state
    board {{ id }}
    column_values {{ {_COLUMN_VALUE_FIELDS} }}
  }}
}}
"""

BOARD_QUERY = f"""query OrderopsBoard($board_ids: [ID!]) {{
  boards(ids: $board_ids) {{
    id
    name
    state
    columns {{ id title type settings }}
    groups {{ id title }}
  }}
  {COMPLEXITY_SELECTION}
}}"""

ITEMS_BY_COLUMN_VALUES_QUERY = f"""query OrderopsItemsByColumnValues(
  $board_id: ID!, $columns: [ItemsPageByColumnValuesQuery!], $limit: Int!
) {{
  items_page_by_column_values(board_id: $board_id, columns: $columns, limit: $limit) {{
    cursor
    items {{ ...OrderopsItem }}
  }}
  {COMPLEXITY_SELECTION}
}}
{ITEM_FIELDS_FRAGMENT}"""

NEXT_ITEMS_PAGE_QUERY = f"""query OrderopsNextItemsPage($cursor: String!, $limit: Int!) {{
  next_items_page(cursor: $cursor, limit: $limit) {{
    cursor
    items {{ ...OrderopsItem }}
  }}
  {COMPLEXITY_SELECTION}
}}
{ITEM_FIELDS_FRAGMENT}"""

ITEMS_QUERY = f"""query OrderopsItems($item_ids: [ID!], $limit: Int) {{
  items(ids: $item_ids, limit: $limit, exclude_nonactive: true) {{ ...OrderopsItem }}
  {COMPLEXITY_SELECTION}
}}
{ITEM_FIELDS_FRAGMENT}"""


# The first page of each group's active items: a rollback deletes a group it created only when
# nothing is left in it (items people added by hand included).
GROUP_ITEMS_QUERY = f"""query OrderopsGroupItems($board_ids: [ID!], $group_ids: [String], $limit: Int!) {{
  boards(ids: $board_ids) {{
    groups(ids: $group_ids) {{
      id
      title
      items_page(limit: $limit) {{ items {{ id name }} }}
    }}
  }}
  {COMPLEXITY_SELECTION}
}}"""


def board_variables(board_id: int | str) -> dict[str, object]:
    return {"board_ids": [str(board_id)]}


def items_by_column_values_variables(
    board_id: int | str, column_id: str, values: list[str], limit: int
) -> dict[str, object]:
    return {
        "board_id": str(board_id),
        "columns": [{"column_id": column_id, "column_values": [str(v) for v in values]}],
        "limit": limit,
    }


def group_items_variables(board_id: int | str, group_ids: list[str], limit: int) -> dict[str, object]:
    return {"board_ids": [str(board_id)], "group_ids": [str(g) for g in group_ids], "limit": limit}


def next_items_page_variables(cursor: str, limit: int) -> dict[str, object]:
    return {"cursor": cursor, "limit": limit}


def items_variables(item_ids: list[int | str]) -> dict[str, object]:
    return {"item_ids": [str(i) for i in item_ids], "limit": len(item_ids)}


def sample_documents() -> list[tuple[str, str, dict[str, object]]]:
    """Every document shape the client sends, with plausible variables: (name, document, variables).

    The schema contract test validates each against monday's official schema, so a field or argument
    monday does not have fails in CI instead of against the production board.
    """
    samples = _SAMPLE_ARGS
    documents: list[tuple[str, str, dict[str, object]]] = []
    for kind in MUTATION_KINDS:
        full = samples[kind]
        required = {a.name: full[a.name] for a in MUTATION_SPECS[kind].args if a.required}
        for label, args in (("all-args", full), ("required-args", required)):
            query, variables = build_mutation_document([(kind, args)])
            documents.append((f"mutation {kind} single {label}", query, variables))
    batch = [(kind, samples[kind]) for kind in MUTATION_KINDS] * 2
    query, variables = build_mutation_document(batch)
    documents.append(("mutation batch of every kind", query, variables))
    documents.extend(
        [
            ("query board", BOARD_QUERY, board_variables(9609317401)),
            (
                "query items_page_by_column_values",
                ITEMS_BY_COLUMN_VALUES_QUERY,
                items_by_column_values_variables(9609317401, "text_mkr5wya6", ["AAG-1", "AAG-2"], 100),
            ),
            ("query next_items_page", NEXT_ITEMS_PAGE_QUERY, next_items_page_variables("opaque-cursor", 100)),
            ("query items", ITEMS_QUERY, items_variables([1, 2, 3])),
            ("query group items", GROUP_ITEMS_QUERY, group_items_variables(9609317401, ["topics"], 25)),
        ]
    )
    return documents


_SAMPLE_ARGS: dict[str, dict[str, object]] = {
    "create_group": {
        "board_id": 9609317401,
        "group_name": 'GREYSON "SS26"',
        "group_color": "#00c875",
        "relative_to": "topics",
        "position_relative_method": "after_at",
    },
    "create_item": {
        "board_id": 9609317401,
        "group_id": "topics",
        "item_name": "Line 1\nwith 'quotes' \"and\" emoji 🧵 ünïcödé",
        "column_values": {"text_mkr5wya6": "AAG-1", "dropdown_mkr542p2": {"labels": ["GREYSON"]}},
        "create_labels_if_missing": False,
    },
    "create_subitem": {
        "parent_item_id": 12345,
        "item_name": "M",
        "column_values": {"numeric_mkra7j8e": "12"},
        "create_labels_if_missing": True,
    },
    "change_columns": {
        "board_id": 9609317401,
        "item_id": 12345,
        "column_values": {"date_mkr5zp5": {"date": "2025-01-31"}},
        "create_labels_if_missing": False,
    },
    "move_item": {"item_id": 12345, "group_id": "topics"},
    "archive_item": {"item_id": 12345},
    "delete_item": {"item_id": 12345},
    "delete_group": {"board_id": 9609317401, "group_id": "topics"},
}
