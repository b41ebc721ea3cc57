"""Contract with monday's official GraphQL schema (API 2026-10).

Every document the client can send must validate against ../shared/monday/schema.graphql, and the
emulator's own schema must only contain fields and arguments that exist there with the same type.
The official file is read here and nowhere else; without it the tests skip, except in CI
(CI=true), where a missing contract is a failure.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from syncapp.monday import documents
from syncapp.monday.client import Mutation
from tests.emulator_fixtures import DEV_ITEMS_BOARD

OFFICIAL_SCHEMA = Path(__file__).resolve().parents[1].parent / "shared" / "monday" / "schema.graphql"
EMULATOR_SCHEMA = Path(__file__).resolve().parents[1] / "syncapp" / "emulator" / "schema.graphql"


@cache
def _official() -> GraphQLSchema:
    return build_schema(OFFICIAL_SCHEMA.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def official() -> GraphQLSchema:
    if not OFFICIAL_SCHEMA.exists():
        message = f"monday's official schema is missing at {OFFICIAL_SCHEMA}; the contract cannot be checked."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " CI must provide it (see ../shared/monday/README.md).")
        pytest.skip(message)
    return _official()


def _problems(schema: GraphQLSchema, document: str, variables: dict) -> list[str]:
    ast = parse(document)
    problems = [error.message for error in validate(schema, ast)]
    if problems:
        return problems
    operation = get_operation_ast(ast)
    coerced = get_variable_values(schema, operation.variable_definitions or [], variables)
    return [error.message for error in coerced] if isinstance(coerced, list) else []


SAMPLES = documents.sample_documents()


@pytest.mark.parametrize(("name", "document", "variables"), SAMPLES, ids=[name for name, _, _ in SAMPLES])
def test_it_validates_every_client_document_against_the_official_schema(official, name, document, variables):
    assert _problems(official, document, variables) == [], name


def test_it_samples_every_mutation_kind_and_query(official):
    texts = [document for _, document, _ in SAMPLES]
    names = {name for name, _, _ in SAMPLES}
    for kind in documents.MUTATION_KINDS:
        assert {f"mutation {kind} single all-args", f"mutation {kind} single required-args"} <= names
    batch = next(document for name, document, _ in SAMPLES if name == "mutation batch of every kind")
    assert all(batch.count(f" {spec.field}(") == 2 for spec in documents.MUTATION_SPECS.values())
    for query in (
        documents.BOARD_QUERY,
        documents.ITEMS_BY_COLUMN_VALUES_QUERY,
        documents.NEXT_ITEMS_PAGE_QUERY,
        documents.ITEMS_QUERY,
    ):
        assert query in texts
    assert all(documents.COMPLEXITY_SELECTION in text for text in texts)


def test_it_validates_the_documents_the_client_actually_sent(official, emulator, monkeypatch):
    """Run every client operation against the emulator and check each request body it produced."""
    from syncapp.monday import client as client_module

    monkeypatch.setattr(client_module, "PAGE_LIMIT", 1)  # force next_items_page
    client = emulator.client()
    board = client.get_board(DEV_ITEMS_BOARD)
    created = client.run_batch(
        [
            Mutation(
                f"k{i}",
                "create_item",
                {
                    "board_id": DEV_ITEMS_BOARD,
                    "group_id": board.groups[0].id,
                    "item_name": f"n{i}",
                    "column_values": {"text_mkr5wya6": "AAG-1"},
                    "create_labels_if_missing": False,
                },
            )
            for i in range(3)
        ],
        operation="create",
        idempotency_scope="contract",
    )
    item_id = created["k0"].data["id"]
    client.run_batch(
        [
            Mutation("g", "create_group", {"board_id": DEV_ITEMS_BOARD, "group_name": "G"}),
            Mutation("s", "create_subitem", {"parent_item_id": item_id, "item_name": "S"}),
            Mutation("c", "change_columns", {"board_id": DEV_ITEMS_BOARD, "item_id": item_id, "column_values": {}}),
            Mutation("m", "move_item", {"item_id": item_id, "group_id": "topics"}),
            Mutation("a", "archive_item", {"item_id": created["k2"].data["id"]}),
        ],
        operation="all-kinds",
        idempotency_scope="contract",
    )
    client.find_items_by_column_value(DEV_ITEMS_BOARD, "text_mkr5wya6", ["AAG-1", "AAG-2"])
    client.get_items([int(item_id)])
    client.run_batch(
        [
            Mutation("d", "delete_item", {"item_id": item_id}),
            Mutation("dg", "delete_group", {"board_id": DEV_ITEMS_BOARD, "group_id": "topics"}),
        ],
        operation="deletes",
        idempotency_scope="contract",
    )

    sent = [json.loads(entry["body"]) for entry in emulator.request_log]
    fields_used = " ".join(body["query"] for body in sent)
    for field in (
        "boards(",
        "items_page_by_column_values(",
        "next_items_page(",
        "items(",
        "create_group(",
        "create_item(",
        "create_subitem(",
        "change_multiple_column_values(",
        "move_item_to_group(",
        "archive_item(",
        "delete_item(",
        "delete_group(",
    ):
        assert field in fields_used, f"the client never sent {field}"
    for body in sent:
        assert _problems(official, body["query"], body["variables"]) == [], body["query"]


def _types_match(emulator_schema: GraphQLSchema, official: GraphQLSchema) -> list[str]:
    problems: list[str] = []
    for name, emulated in emulator_schema.type_map.items():
        if name.startswith("__"):
            continue
        actual = official.type_map.get(name)
        if actual is None:
            problems.append(f"type {name} does not exist at monday")
            continue
        if type(actual) is not type(emulated):
            problems.append(f"type {name} is a {type(emulated).__name__} here but a {type(actual).__name__} at monday")
            continue
        if isinstance(emulated, GraphQLEnumType):
            problems += [
                f"enum value {name}.{v} does not exist at monday" for v in emulated.values if v not in actual.values
            ]
        if isinstance(emulated, GraphQLUnionType):
            problems += [f"union {name} member {t} unknown" for t in emulated.types if t not in actual.types]
        if isinstance(emulated, GraphQLObjectType | GraphQLInterfaceType):
            extra = {i.name for i in emulated.interfaces} - {i.name for i in actual.interfaces}
            problems += [f"{name} implements {i} only here" for i in sorted(extra)]
        if isinstance(emulated, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            problems += _field_problems(name, emulated, actual)
    return problems


def _field_problems(type_name: str, emulated, actual) -> list[str]:
    problems: list[str] = []
    for field_name, field in emulated.fields.items():
        official_field = actual.fields.get(field_name)
        where = f"{type_name}.{field_name}"
        if official_field is None:
            problems.append(f"{where} does not exist at monday")
            continue
        if str(field.type) != str(official_field.type):
            problems.append(f"{where} is {field.type} here but {official_field.type} at monday")
        for arg_name, arg in getattr(field, "args", {}).items():
            official_arg = official_field.args.get(arg_name)
            if official_arg is None:
                problems.append(f"{where}({arg_name}) does not exist at monday")
            elif str(arg.type) != str(official_arg.type):
                problems.append(f"{where}({arg_name}) is {arg.type} here but {official_arg.type} at monday")
    return problems


def test_it_serves_only_fields_and_arguments_monday_has_with_the_same_types(official):
    emulator_schema = build_schema(EMULATOR_SCHEMA.read_text(encoding="utf-8"))
    assert _types_match(emulator_schema, official) == []


def test_it_detects_a_field_or_argument_that_differs_from_monday(official):
    # Guard against a comparison that always passes: a drifted copy must be reported.
    drifted = (
        EMULATOR_SCHEMA.read_text(encoding="utf-8")
        .replace("archive_item(item_id: ID): Item", "archive_item(item_id: ID!, reason: String): Item")
        .replace("  reset_in_x_seconds: Int!", "  reset_in_x_seconds: Int!\n  budget_left: Int")
    )
    problems = _types_match(build_schema(drifted), official)
    assert "Mutation.archive_item(item_id) is ID! here but ID at monday" in problems
    assert "Mutation.archive_item(reason) does not exist at monday" in problems
    assert "Complexity.budget_left does not exist at monday" in problems


def test_it_detects_a_document_monday_would_reject(official):
    assert _problems(official, 'mutation { create_item(board_id: 1, item_name: "x") { id colour } }', {})
    assert _problems(official, 'mutation ($b: Int!) { delete_group(board_id: $b, group_id: "g") { id } }', {"b": 1})
    assert _problems(official, documents.ITEMS_QUERY, {"item_ids": [{"not": "an id"}]})
