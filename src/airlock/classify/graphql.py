"""GraphQL requests read the way a server executes them, with graphql-core's parser.

A GraphQL request is a document, optional variables and an optional operation name. A server
executes exactly one operation of the document (the one `operationName` names, or the only one)
and runs every root field of that operation, whether written directly, through an alias, or
inside an inline fragment or a named fragment spread at the root. This module turns a request
into that list of root fields with their arguments resolved against the variables, so that
providers can label each field. It knows nothing about HTTP or providers.

Whatever the server would refuse, or airlock cannot see (no document, a persisted-query hash,
several operations and no name, a cyclic or missing fragment), raises `GraphQLRequestError`
with a readable reason; callers turn that into `unknown`.

Two deliberate over-approximations, both toward holding:
- `@skip` and `@include` are ignored: a skipped field is still counted, because the directive's
  value may come from a variable the server sees differently.
- Operations not selected by `operationName` are ignored: per the GraphQL spec they do not run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    parse,
)

# The parser's own bound on work: real client documents (Railway's CLI included) stay far below
# a few thousand tokens; anything larger is refused before it can cost much.
MAX_TOKENS = 50_000
# Root fields after fragment expansion; far beyond any real client, low enough to stay cheap.
MAX_ROOT_FIELDS = 1_000
# Operations in one batched (JSON array) request.
MAX_BATCH = 100


class GraphQLRequestError(ValueError):
    """The request cannot be read as one executable GraphQL operation."""


class _Missing(Enum):
    MISSING = "missing"

    def __repr__(self) -> str:
        return "MISSING"


# The value of a variable the request uses but does not supply (and that has no default).
MISSING = _Missing.MISSING


@dataclass(frozen=True, slots=True)
class GraphQLPayload:
    """One GraphQL request: what a client sends in one JSON object (or GET query string)."""

    query: str
    variables: Mapping[str, Any]
    operation_name: str | None


@dataclass(frozen=True, slots=True)
class RootField:
    """A root field of the executed operation, with arguments resolved to Python values
    (`MISSING` where a variable was not supplied)."""

    name: str
    alias: str | None
    arguments: Mapping[str, Any]

    @property
    def shown(self) -> str:
        """The field as a reader should see it: with its alias when it has one."""
        if self.alias and self.alias != self.name:
            return f"{self.name} (aliased {self.alias})"
        return self.name


@dataclass(frozen=True, slots=True)
class Operation:
    kind: str  # "query", "mutation" or "subscription"
    name: str | None
    fields: tuple[RootField, ...]


# ----------------------------------------------------------------------------------------------
# Envelopes: from decoded JSON (or form / query-string values) to payloads


def payloads_from_json(value: Any) -> list[GraphQLPayload]:
    """A JSON body: one request object, or a non-empty array of them (a batch)."""
    if isinstance(value, list):
        if not value:
            raise GraphQLRequestError("the batch is an empty array")
        if len(value) > MAX_BATCH:
            raise GraphQLRequestError(f"the batch holds {len(value)} operations (limit {MAX_BATCH})")
        return [payload_from_object(item) for item in value]
    return [payload_from_object(value)]


def payload_from_object(value: Any) -> GraphQLPayload:
    if not isinstance(value, dict):
        raise GraphQLRequestError("a GraphQL request must be a JSON object")
    return payload_from_fields(value.get("query"), value.get("variables"),
                               value.get("operationName"),
                               has_persisted="extensions" in value or "id" in value
                               or "documentId" in value)


def payload_from_fields(query: Any, variables: Any, operation_name: Any, *,
                        has_persisted: bool = False) -> GraphQLPayload:
    """Build a payload from the three standard fields, refusing anything a server would
    interpret differently from airlock."""
    if query is None:
        if has_persisted:
            raise GraphQLRequestError("the request names a persisted query whose document "
                                      "airlock cannot see")
        raise GraphQLRequestError("the request has no query document")
    if not isinstance(query, str):
        raise GraphQLRequestError("the query is not a string")
    if operation_name == "":
        operation_name = None  # clients send "" for "none"; servers treat it the same way
    if operation_name is not None and not isinstance(operation_name, str):
        raise GraphQLRequestError("operationName is not a string")
    if isinstance(variables, str):
        # GET requests, and some clients, send variables as a JSON-encoded string.
        if not variables.strip():
            variables = None
        else:
            try:
                variables = json.loads(variables, object_pairs_hook=_unique_keys)
            except (ValueError, RecursionError):
                raise GraphQLRequestError("the variables are not valid JSON (or repeat a "
                                          "key)") from None
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        raise GraphQLRequestError("the variables are not a JSON object")
    return GraphQLPayload(query, variables, operation_name)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: parsers disagree on which duplicate wins."""
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("a key appears twice in one object")
    return out


# ----------------------------------------------------------------------------------------------
# Documents: from a payload to the executed operation and its root fields


def parse_document(query: str) -> DocumentNode:
    try:
        return parse(query, no_location=True, max_tokens=MAX_TOKENS)
    except GraphQLError as exc:
        raise GraphQLRequestError(f"the document does not parse: {exc.message}") from None
    except RecursionError:
        raise GraphQLRequestError("the document is nested too deeply to parse") from None


def looks_like_graphql(query: str) -> bool:
    """Whether a string parses as a GraphQL document with at least one operation. Used to tell
    GraphQL hidden in a generic request (a `query` field, a `?query=` parameter) from a search
    string that merely shares the name."""
    try:
        document = parse_document(query)
    except GraphQLRequestError:
        return False
    return any(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def executed_operation(payload: GraphQLPayload) -> Operation:
    """The operation a server would execute for this payload, with its root fields."""
    document = parse_document(payload.query)
    operations: list[OperationDefinitionNode] = []
    fragments: dict[str, FragmentDefinitionNode] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            operations.append(definition)
        elif isinstance(definition, FragmentDefinitionNode):
            name = definition.name.value
            if name in fragments:
                raise GraphQLRequestError(f"fragment {name} is defined twice")
            fragments[name] = definition
        else:
            raise GraphQLRequestError("the document holds type-system definitions, which a "
                                      "server does not execute")
    operation = _select(operations, payload.operation_name)
    try:
        variables = _variables_with_defaults(operation, payload.variables)
    except (ValueError, RecursionError) as exc:
        raise GraphQLRequestError(f"a variable default cannot be read: {exc}") from None
    nodes = _RootCollector(fragments).collect(operation.selection_set)
    for node in nodes:
        names = [arg.name.value for arg in node.arguments or ()]
        if len(set(names)) != len(names):
            raise GraphQLRequestError(f"field {node.name.value} is given an argument twice")
    try:
        fields = tuple(
            RootField(
                name=node.name.value,
                alias=node.alias.value if node.alias else None,
                arguments={arg.name.value: resolve_value(arg.value, variables)
                           for arg in node.arguments or ()},
            )
            for node in nodes
        )
    except GraphQLRequestError:
        raise
    except (ValueError, RecursionError) as exc:  # an integer too long to convert, and such
        raise GraphQLRequestError(f"an argument value cannot be read: {exc}") from None
    operation_name = operation.name.value if operation.name else None
    return Operation(operation.operation.value, operation_name, fields)


def _select(operations: list[OperationDefinitionNode],
            operation_name: str | None) -> OperationDefinitionNode:
    if operation_name is not None:
        named = [op for op in operations if op.name and op.name.value == operation_name]
        if len(named) != 1:
            what = "no operation" if not named else "several operations"
            raise GraphQLRequestError(f"operationName {operation_name!r} names {what} in "
                                      "the document")
        return named[0]
    if len(operations) != 1:
        raise GraphQLRequestError(f"the document holds {len(operations)} operations and the "
                                  "request names none of them")
    return operations[0]


def _variables_with_defaults(operation: OperationDefinitionNode,
                             supplied: Mapping[str, Any]) -> dict[str, Any]:
    variables = dict(supplied)
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in variables and definition.default_value is not None:
            variables[name] = resolve_value(definition.default_value, {})
    return variables


class _RootCollector:
    """Expands inline fragments and named fragment spreads at the root of an operation.

    Each named fragment is expanded once and remembered, and fields are kept once per AST
    node, so a document that spreads fragments exponentially costs linear time."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.done: dict[str, list[FieldNode]] = {}
        self.active: set[str] = set()

    def collect(self, selection_set: SelectionSetNode) -> list[FieldNode]:
        unique = {id(node): node for node in self._expand(selection_set)}
        if len(unique) > MAX_ROOT_FIELDS:
            raise GraphQLRequestError(f"the operation has {len(unique)} root fields "
                                      f"(limit {MAX_ROOT_FIELDS})")
        return list(unique.values())

    def _expand(self, selection_set: SelectionSetNode) -> list[FieldNode]:
        out: list[FieldNode] = []
        for selection in selection_set.selections or ():
            if isinstance(selection, FieldNode):
                out.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                # The type condition is not checked: on the root it can only name the root type
                # (or the server refuses the document), so its fields are root fields.
                out.extend(self._expand(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                out.extend(self._spread(selection.name.value))
        return list({id(node): node for node in out}.values())

    def _spread(self, name: str) -> list[FieldNode]:
        if name in self.done:
            return self.done[name]
        fragment = self.fragments.get(name)
        if fragment is None:
            raise GraphQLRequestError(f"fragment {name} is spread but never defined")
        if name in self.active:
            raise GraphQLRequestError(f"fragment {name} spreads itself")
        self.active.add(name)
        fields = self._expand(fragment.selection_set)
        self.active.discard(name)
        self.done[name] = fields
        return fields


def resolve_value(node: ValueNode, variables: Mapping[str, Any]) -> Any:
    """An argument's AST value as a Python value, variables substituted."""
    if isinstance(node, VariableNode):
        return variables.get(node.name.value, MISSING)
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, FloatValueNode):
        return float(node.value)
    if isinstance(node, StringValueNode | EnumValueNode):
        return node.value
    if isinstance(node, BooleanValueNode):
        return node.value
    if isinstance(node, NullValueNode):
        return None
    if isinstance(node, ListValueNode):
        return [resolve_value(item, variables) for item in node.values or ()]
    if isinstance(node, ObjectValueNode):
        fields = node.fields or ()
        if len({field.name.value for field in fields}) != len(fields):
            raise GraphQLRequestError("an input object gives a field twice")
        return {field.name.value: resolve_value(field.value, variables) for field in fields}
    raise GraphQLRequestError(f"an argument has a value airlock cannot read ({node.kind})")


def lookup(value: Any, path: str) -> Any:
    """The value at a dotted path ('input.projectId') inside resolved arguments; `MISSING` when
    any step is absent. A list on the way is searched element by element (a list result)."""
    current: Any = value
    for step in path.split("."):
        if isinstance(current, list):
            current = [lookup(item, step) for item in current]
        elif isinstance(current, Mapping):
            current = current.get(step, MISSING)
        else:
            return MISSING
    return current
