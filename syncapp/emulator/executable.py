"""monday's official GraphQL schema (API 2026-10), executable by the emulator.

`schema.graphql` next to this module is monday's public schema byte for byte (the project's one
copy of ../shared/monday/schema.graphql; tests/test_schema_contract.py keeps them identical), so
every document valid at monday is valid here, and one that is not fails validation here too.

Fields the emulator models resolve from its state: the root queries and the fields of boards,
groups, items, columns and column values in reads.py, the mutations in resolvers.py. Every other
field answers what monday answers when there is nothing:

- a list, nullable or not: `[]`;
- any other nullable field: `null`;
- a non-null scalar: String and ID `""`, Int `0`, Float `0.0`, Boolean `false`, JSON `"{}"`, and
  `""` for monday's own scalars (Date, ISO8601DateTime, File, CompareValue);
- a non-null enum: its first value in the schema;
- a non-null object: an object whose fields follow these same rules;
- a non-null interface or union: its first implementation (for ColumnValue, UnsupportedValue);
- a mutation the emulator does not model: `null` and an error with code `EmulatorUnsupported`, so a
  caller never takes "nothing happened" for success.

Parsing and building the 11,000-line schema costs about 0.4 s, so it is built once per process
(`build_executable_schema` is cached; resolvers are stateless and read everything from the request
context, so every emulator in the process shares the one schema).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
)

from syncapp.emulator import reads, resolvers

SCHEMA_PATH = Path(__file__).with_name("schema.graphql")
SCALAR_EMPTY: dict[str, object] = {"String": "", "ID": "", "Int": 0, "Float": 0.0, "Boolean": False, "JSON": "{}"}
OTHER_SCALAR_EMPTY = ""
COLUMN_VALUE_FALLBACK = "UnsupportedValue"


@cache
def build_executable_schema() -> GraphQLSchema:
    schema = build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))
    for object_type in _object_types(schema):
        for name, field in object_type.fields.items():
            field.resolve = _nothing(name, field.type)
    for name, field in schema.mutation_type.fields.items():
        field.resolve = _unsupported_mutation(name)
    _wire(schema.query_type, reads.QUERY_FIELDS)
    _wire(schema.mutation_type, {**resolvers.MUTATION_FIELDS, "complexity": reads.resolve_complexity})
    for type_name, fields in reads.OBJECT_FIELDS.items():
        _wire(schema.get_type(type_name), fields)
    column_value = schema.get_type("ColumnValue")
    for implementation in schema.get_possible_types(column_value):
        implementation.fields["column"].resolve = reads.value_column
    for abstract in schema.type_map.values():
        if isinstance(abstract, GraphQLInterfaceType | GraphQLUnionType) and not abstract.name.startswith("__"):
            abstract.resolve_type = _type_resolver(schema, abstract)
    return schema


def _object_types(schema: GraphQLSchema) -> list[GraphQLObjectType]:
    return [t for name, t in schema.type_map.items() if isinstance(t, GraphQLObjectType) and not name.startswith("__")]


def _wire(object_type, fields: dict[str, Callable]) -> None:
    for name, resolver in fields.items():
        object_type.fields[name].resolve = resolver


def _nothing(field_name: str, field_type) -> Callable:
    """The field's value from the state's dict when there is one, else monday's "nothing" for its type."""
    empty = _empty_factory(field_type)

    def resolve(source, _info, **_args):
        value = source.get(field_name) if isinstance(source, dict) else None
        return empty() if value is None and empty is not None else value

    return resolve


def _empty_factory(field_type) -> Callable[[], object] | None:
    nullable = not isinstance(field_type, GraphQLNonNull)
    inner = field_type.of_type if not nullable else field_type
    if isinstance(inner, GraphQLList):
        return list
    if nullable:
        return None
    if isinstance(inner, GraphQLScalarType):
        value = SCALAR_EMPTY.get(inner.name, OTHER_SCALAR_EMPTY)
        return lambda: value
    if isinstance(inner, GraphQLEnumType):
        first = next(iter(inner.values))
        return lambda: first
    return dict  # an object, or an interface/union (its resolve_type picks the first implementation)


def _type_resolver(schema: GraphQLSchema, abstract) -> Callable:
    names = [t.name for t in schema.get_possible_types(abstract)]
    fallback = COLUMN_VALUE_FALLBACK if COLUMN_VALUE_FALLBACK in names else (names[0] if names else None)
    known = set(names)

    def resolve_type(value, _info, _type):
        name = value.get("__typename") if isinstance(value, dict) else None
        return name if name in known else fallback

    return resolve_type


def _unsupported_mutation(name: str) -> Callable:
    def resolve(_root, _info, **_args):
        raise GraphQLError(
            f"The emulator does not model the mutation {name}; nothing was changed",
            extensions={"code": "EmulatorUnsupported", "error_data": {"mutation": name}},
        )

    return resolve
