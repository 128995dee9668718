"""Railway's GraphQL API: every mutation labelled in `data/providers/railway.toml`.

Railway is recognised by host (backboard.railway.app / .com, every path GraphQL). Queries and
subscriptions read; a mutation is what its label says, raised by its escalation rules and by the
deletions inside an EnvironmentConfig patch; a mutation the table does not know is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from airlock.classify.graphql import MISSING, Operation, RootField, lookup
from airlock.classify.providers.graphql_endpoint import assess
from airlock.classify.providers.labels import (
    DataError,
    Label,
    effects_for,
    id_values,
    load_data,
    parse_labels,
)
from airlock.classify.providers.railway_config import config_effects
from airlock.classify.providers.request import Request
from airlock.model import Assessment, Effect, Risk, Target, Verb


@dataclass(frozen=True, slots=True)
class RailwayTable:
    hosts: frozenset[str]
    mutations: Mapping[str, Label]
    argument_kinds: Mapping[str, str]  # query argument name -> target kind
    id_kinds: Mapping[str, str]  # query field name -> kind of its `id` argument


@cache
def railway_table() -> RailwayTable:
    data = load_data("railway.toml")
    provider, queries = data.get("provider", {}), data.get("queries", {})
    hosts = provider.get("hosts")
    if not isinstance(hosts, list) or not hosts:
        raise DataError("railway.toml: [provider].hosts must list Railway's API hosts")
    return RailwayTable(
        hosts=frozenset(h.lower() for h in hosts),
        mutations=parse_labels(data.get("mutations", {}), "railway.toml:mutations"),
        argument_kinds=dict(queries.get("argument_kinds", {})),
        id_kinds=dict(queries.get("id_kinds", {})),
    )


class Railway:
    name = "railway"

    def claims(self, request: Request) -> bool:
        return request.host in railway_table().hosts

    def classify(self, request: Request) -> Assessment:
        return assess(request, label_field, "Railway")


def label_field(operation: Operation, field: RootField) -> list[Effect]:
    """The effects of one root field of a Railway operation."""
    table = railway_table()
    if operation.kind != "mutation":
        return _read_effects(operation, field, table)
    label = table.mutations.get(field.name)
    if label is None:
        return [Effect(Verb.UNKNOWN, Risk.UNKNOWN,
                       f"Railway mutation {field.shown} is not in airlock's Railway table "
                       "(a new or misspelt mutation); what it does is unknown")]
    prefix = f"Railway {field.shown}"
    effects = effects_for(label, field.arguments, prefix=prefix)
    if label.config is not None:
        environment = tuple(Target("railway:environment", v)
                            for v in id_values(field.arguments.get("environmentId")))
        effects += config_effects(lookup(field.arguments, label.config), prefix=prefix,
                                  context=environment)
    return effects


def _read_effects(operation: Operation, field: RootField, table: RailwayTable) -> list[Effect]:
    reason = f"Railway {operation.kind} {field.shown} reads data"
    targets = _read_targets(field.name, field.arguments, table)
    if not targets:
        return [Effect(Verb.READ, Risk.READ, reason)]
    return [Effect(Verb.READ, Risk.READ, reason, t) for t in dict.fromkeys(targets)]


def _read_targets(name: str, arguments: Mapping[str, Any], table: RailwayTable) -> list[Target]:
    """What a query reads, from argument names; ids it does not supply are left out (a read
    of "?" says nothing useful, and reads are not where fail-closed bites)."""
    out: list[Target] = []
    scopes = [arguments]
    nested = arguments.get("input")
    if isinstance(nested, Mapping):
        scopes.append(nested)
    for scope in scopes:
        for argument, kind in table.argument_kinds.items():
            if argument in scope:
                out += targets_for_value(kind, scope[argument])
    id_kind = table.id_kinds.get(name)
    if id_kind is not None and "id" in arguments:
        out += targets_for_value(id_kind, arguments["id"])
    return out


def targets_for_value(kind: str, value: Any) -> list[Target]:
    if value is MISSING:
        return []
    return [Target(kind, v) for v in id_values(value)]

