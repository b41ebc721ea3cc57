"""Contract with monday's official GraphQL schema (API 2026-10).

The project holds one copy of monday's public schema, syncapp/emulator/schema.graphql: the emulator
serves it and every document the client can send must validate against it. It must stay byte for
byte the file in ../shared/monday/schema.graphql (checked when ../shared is on the machine; in CI,
CI=true, a missing ../shared is a failure).
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import pytest
import requests
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    build_schema,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from syncapp.emulator import limits
from syncapp.emulator.executable import SCHEMA_PATH, build_executable_schema
from syncapp.monday import documents
from syncapp.monday.types import Mutation
from tests.emulator_fixtures import DEV_ITEMS_BOARD

SHARED_SCHEMA = Path(__file__).resolve().parents[1].parent / "shared" / "monday" / "schema.graphql"


@cache
def _official() -> GraphQLSchema:
    # Built here from the file itself, not taken from the emulator, so the two can be compared.
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def official() -> GraphQLSchema:
    return _official()


def test_it_keeps_the_project_copy_identical_to_the_shared_schema():
    if not SHARED_SCHEMA.exists():
        message = f"monday's official schema is missing at {SHARED_SCHEMA}; the project copy cannot be checked."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " CI must provide it (see ../shared/monday/README.md).")
        pytest.skip(message)
    assert SCHEMA_PATH.read_bytes() == SHARED_SCHEMA.read_bytes()


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
            members = {t.name for t in actual.types}
            problems += [f"union {name} member {t.name} unknown" for t in emulated.types if t.name not in members]
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


def test_it_serves_mondays_schema_whole_with_the_same_types(official):
    served = build_executable_schema()
    assert _types_match(served, official) == []
    assert _types_match(official, served) == []  # nothing of monday's is missing either


def test_it_builds_the_served_schema_once_per_process(emulator):
    assert emulator.api._schema is build_executable_schema()


def test_it_detects_a_field_or_argument_that_differs_from_monday(official):
    # Guard against a comparison that always passes: a drifted copy must be reported.
    drifted = (
        SCHEMA_PATH.read_text(encoding="utf-8")
        .replace(
            'archive_item(  "The item\'s unique identifier."\nitem_id: ID): Item',
            "archive_item(item_id: ID!, reason: String): Item",
        )
        .replace("  reset_in_x_seconds: Int!", "  reset_in_x_seconds: Int!\n  budget_left: Int", 1)
    )
    problems = _types_match(build_schema(drifted), official)
    assert "Mutation.archive_item(item_id) is ID! here but ID at monday" in problems
    assert "Mutation.archive_item(reason) does not exist at monday" in problems
    assert "Complexity.budget_left does not exist at monday" in problems


def test_it_detects_a_document_monday_would_reject(official):
    assert _problems(official, 'mutation { create_item(board_id: 1, item_name: "x") { id colour } }', {})
    assert _problems(official, 'mutation ($b: Int!) { delete_group(board_id: $b, group_id: "g") { id } }', {"b": 1})
    assert _problems(official, documents.ITEMS_QUERY, {"item_ids": [{"not": "an id"}]})


# --- every document valid at monday is answered ---------------------------------------------------------

# Fields whose generated arguments legitimately fail: next_items_page gets a cursor it never issued.
EXPECTED_ERRORS = {"next_items_page": {"CursorExpiredError"}}
# Codes that mean "the document was refused" or "the emulator broke the schema", never acceptable.
REFUSALS = ("GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "undefinedField", "argumentNotAccepted")


def _literal(type_) -> str:
    """A GraphQL literal of `type_` that validates: plausible ids, a string, the first enum value."""
    if isinstance(type_, GraphQLNonNull):
        return _literal(type_.of_type)
    if isinstance(type_, GraphQLList):
        return f"[{_literal(type_.of_type)}]"
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        required = {n: f for n, f in type_.fields.items() if isinstance(f.type, GraphQLNonNull)}
        return "{" + ", ".join(f"{n}: {_literal(f.type)}" for n, f in required.items()) + "}"
    return {"Int": "1", "Float": "1.5", "Boolean": "false", "ID": f'"{DEV_ITEMS_BOARD}"'}.get(type_.name, '"x"')


def _call(name: str, field) -> str:
    required = [
        f"{arg_name}: {_literal(arg.type)}"
        for arg_name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull)
        and arg.default_value is Undefined
        and getattr(arg, "default", None) is None
    ]
    return f"{name}({', '.join(required)})" if required else name


def _selection(schema: GraphQLSchema, type_, depth: int) -> str:
    named = get_named_type(type_)
    parts = ["__typename"]
    fields = getattr(named, "fields", {}) if not isinstance(named, GraphQLUnionType) else {}
    for name, field in fields.items():
        if is_leaf_type(get_named_type(field.type)):
            parts.append(_call(name, field))
        elif depth > 0:
            parts.append(f"{_call(name, field)} {{ {_selection(schema, field.type, depth - 1)} }}")
    if isinstance(named, GraphQLInterfaceType | GraphQLUnionType) and depth > 0:
        for possible in schema.get_possible_types(named):
            parts.append(f"... on {possible.name} {{ {_selection(schema, possible, depth - 1)} }}")
    return " ".join(parts)


def _root_documents(schema: GraphQLSchema, operation: str) -> list[tuple[str, str]]:
    root = schema.query_type if operation == "query" else schema.mutation_type
    documents = []
    for name, field in root.fields.items():
        named = get_named_type(field.type)
        selection = "" if is_leaf_type(named) else f" {{ {_selection(schema, field.type, 2)} }}"
        documents.append((name, f"{operation} {{ {_call(name, field)}{selection} }}"))
    return documents


@pytest.mark.parametrize("operation", ["query", "mutation"])
def test_it_answers_every_root_field_of_the_official_schema(official, emulator, operation, monkeypatch):
    """One generated document per root field, selecting every field two levels deep: each one is
    valid at monday, so each must be answered, with no refusal and no "Cannot return null"."""
    emulator.budget.per_minute = None
    # Every field two levels deep with no limits: the nested complexity model charges some of these
    # documents (boards, items, workspaces...) above the 5,000,000 cap. This test is about answering;
    # the cap has its own tests in test_emulator_strict.py.
    monkeypatch.setattr(limits, "MAX_QUERY_COMPLEXITY", 10**12)
    token = emulator.tokens["development"]
    problems: list[str] = []
    documents = _root_documents(official, operation)
    for name, document in documents:
        assert validate(official, parse(document)) == [], document
        response = requests.post(
            emulator.url,
            json={"query": document},
            headers={"Authorization": token, "API-Version": "2026-10"},
            timeout=10,
        )
        body = response.json()
        for error in body.get("errors", []):
            code = (error.get("extensions") or {}).get("code")
            if code in EXPECTED_ERRORS.get(name, set()):
                continue
            if (
                operation == "mutation"
                and code
                and code not in REFUSALS
                and "Cannot return null" not in error["message"]
            ):
                continue  # an application error of a generated argument, or EmulatorUnsupported
            problems.append(f"{name}: {code} {error['message']}")
        if operation == "query" and name not in EXPECTED_ERRORS and name not in (body.get("data") or {}):
            problems.append(f"{name}: HTTP {response.status_code} without data")
    assert len(documents) > 100
    assert problems == []


def test_it_answers_an_unmodelled_mutation_with_an_error_and_changes_nothing(emulator):
    before = emulator.state.revision
    body = requests.post(
        emulator.url,
        json={"query": 'mutation { create_update(item_id: 1, body: "hello") { id body } }'},
        headers={"Authorization": emulator.tokens["development"], "API-Version": "2026-10"},
        timeout=5,
    ).json()

    assert body["data"] == {"create_update": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["EmulatorUnsupported"]
    assert emulator.state.revision == before
