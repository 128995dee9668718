"""Railway: the label table against Railway's schema, and the Railway CLI's own documents
(shared corpora) sent as real HTTP requests to backboard.railway.app."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    FieldNode,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    TypeNode,
    parse,
)

from airlock.classify.graphql import RootField
from airlock.classify.http import classify_http
from airlock.classify.providers.labels import LABEL_RISKS, Label
from airlock.classify.providers.railway import railway_table
from airlock.model import Assessment, HttpRequest, Risk, Target

RAILWAY_TOML = (Path(__file__).resolve().parents[2] / "src" / "airlock" / "data" / "providers"
                / "railway.toml")
ENDPOINT = "https://backboard.railway.app/graphql/v2"
UUID = "4f2c9a1e-5b7d-4c3e-9f10-2a3b4c5d6e7f"


def post(query: str, variables: Mapping[str, Any] | None = None,
         operation_name: str | None = None, url: str = ENDPOINT) -> Assessment:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation_name is not None:
        body["operationName"] = operation_name
    return classify_http(HttpRequest("POST", url, (("Content-Type", "application/json"),),
                                     json.dumps(body)))


# ----------------------------------------------------------------------------------------------
# The schema and the table


@cache
def _schema(corpora: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((corpora / "railway" / "schema.json").read_text())
    return data["data"]["__schema"]  # type: ignore[no-any-return]


def schema_types(corpora: Path) -> dict[str, Any]:
    return {t["name"]: t for t in _schema(corpora)["types"]}


def schema_mutations(corpora: Path) -> dict[str, Any]:
    return {f["name"]: f for f in schema_types(corpora)["Mutation"]["fields"]}


def test_every_schema_mutation_has_exactly_one_label(corpora: Path) -> None:
    in_schema = set(schema_mutations(corpora))
    labelled = set(railway_table().mutations)
    assert len(in_schema) == 230
    assert sorted(in_schema - labelled) == [], "mutations of the schema without a label"
    assert sorted(labelled - in_schema) == [], "labels for mutations the schema lacks"
    headers = re.findall(r"^\[mutations\.(\w+)\]\s*$", RAILWAY_TOML.read_text(), re.M)
    assert len(headers) == len(set(headers)) == 230


def test_labels_are_one_of_the_four_risks() -> None:
    for label in railway_table().mutations.values():
        assert label.risk in LABEL_RISKS


def test_lead_decisions_are_in_the_table() -> None:
    risk = {name: label.risk for name, label in railway_table().mutations.items()}
    for name in ("volumeDelete", "projectDelete", "environmentDelete",
                 "volumeInstanceBackupDelete"):
        assert risk[name] is Risk.CATASTROPHIC, name
    assert risk["serviceDelete"].at_least(Risk.DESTRUCTIVE)


def _argument_paths(corpora: Path, field: Mapping[str, Any]) -> set[str]:
    """Every dotted argument path of a mutation (two levels into input objects)."""
    types = schema_types(corpora)

    def base(t: Mapping[str, Any]) -> str:
        while t.get("ofType"):
            t = t["ofType"]
        return str(t["name"])

    def walk(type_name: str, prefix: str, depth: int) -> set[str]:
        t = types[type_name]
        if t["kind"] != "INPUT_OBJECT" or depth > 2:
            return set()
        out: set[str] = set()
        for f in t["inputFields"]:
            out.add(f"{prefix}.{f['name']}")
            out |= walk(base(f["type"]), f"{prefix}.{f['name']}", depth + 1)
        return out

    paths: set[str] = set()
    for arg in field["args"]:
        paths.add(arg["name"])
        paths |= walk(base(arg["type"]), arg["name"], 1)
    return paths


def test_targets_placeholders_and_flags_name_real_arguments(corpora: Path) -> None:
    mutations = schema_mutations(corpora)
    for name, label in railway_table().mutations.items():
        paths = _argument_paths(corpora, mutations[name])
        used = [t.path for t in label.targets] + [e.path for e in label.escalate]
        used += re.findall(r"\{([\w.]+)\}", label.reason)
        used += [p for e in label.escalate for p in re.findall(r"\{([\w.]+)\}", e.reason)]
        if label.config:
            used.append(label.config)
        for path in used:
            assert path in paths, f"{name}: {path} is not an argument of the mutation"


def test_every_target_kind_is_railway() -> None:
    for name, label in railway_table().mutations.items():
        for target in label.targets:
            assert target.kind.startswith("railway:"), name


# ----------------------------------------------------------------------------------------------
# The CLI's documents, as requests


def _corpus_ids(folder: str) -> list[str]:
    """Document names, for test ids. With no corpus, one placeholder case still runs, so the
    `corpora` fixture can skip it locally and fail it under CI."""
    from tests.conftest import CORPORA

    names = [p.name for p in sorted((CORPORA / "railway" / folder).glob("*.graphql"))]
    return names or ["corpus-missing"]


def _sample(corpora: Path, type_node: TypeNode, name: str) -> Any:
    """A harmless value for a variable of this type: ids named after the variable, false
    flags, one-element lists, input objects with their required fields."""
    if isinstance(type_node, NonNullTypeNode):
        return _sample(corpora, type_node.type, name)
    if isinstance(type_node, ListTypeNode):
        return [_sample(corpora, type_node.type, name)]
    assert isinstance(type_node, NamedTypeNode)
    return _sample_named(corpora, type_node.name.value, name, 0)


def _sample_named(corpora: Path, type_name: str, name: str, depth: int) -> Any:
    scalars: dict[str, Any] = {
        "String": f"{name}-value", "ID": f"{name}-value", "Int": 1, "Float": 1.0,
        "Boolean": False, "DateTime": "2025-01-01T00:00:00Z", "JSON": {},
        "EnvironmentConfig": {"services": {"svc-1": {"deploy": {"numReplicas": 2}}}},
        "EnvironmentVariables": {"KEY": "value"}, "SerializedTemplateConfig": {},
    }
    if type_name in scalars:
        return scalars[type_name]
    t = schema_types(corpora)[type_name]
    if t["kind"] == "ENUM":
        return t["enumValues"][0]["name"]
    assert t["kind"] == "INPUT_OBJECT", type_name
    out: dict[str, Any] = {}
    for f in t["inputFields"]:
        required = f["type"]["kind"] == "NON_NULL"
        if required or f["name"].endswith("Id"):
            ft = f["type"]["ofType"] if required else f["type"]
            if ft["kind"] == "LIST":
                out[f["name"]] = []
            elif depth < 3:
                out[f["name"]] = _sample_named(corpora, ft["name"], f["name"], depth + 1)
    return out


def _variables(corpora: Path, operation: OperationDefinitionNode) -> dict[str, Any]:
    return {d.variable.name.value: _sample(corpora, d.type, d.variable.name.value)
            for d in operation.variable_definitions or ()}


def _operation(path: Path) -> OperationDefinitionNode:
    (operation,) = [d for d in parse(path.read_text()).definitions
                    if isinstance(d, OperationDefinitionNode)]
    return operation


def _labels_of(operation: OperationDefinitionNode) -> list[Label]:
    table = railway_table().mutations
    names = [s.name.value for s in operation.selection_set.selections
             if isinstance(s, FieldNode)]
    return [table[name] for name in names]


@pytest.mark.parametrize("name", _corpus_ids("mutations"))
def test_cli_mutation_classifies_as_labelled(corpora: Path, name: str) -> None:
    path = corpora / "railway" / "mutations" / name
    operation = _operation(path)
    labels = _labels_of(operation)
    expected = Risk.worst(label.risk for label in labels)
    assessment = post(path.read_text(), _variables(corpora, operation))
    assert assessment.complete, assessment.reasons
    assert assessment.risk is expected, (name, assessment.reasons)
    if expected.at_least(Risk.WRITE):
        assert assessment.reasons and all(r.startswith("Railway ") for r in assessment.reasons)
    for label in labels:
        kinds = {t.kind for t in assessment.targets}
        for target in label.targets:
            assert target.kind in kinds, (name, target)


@pytest.mark.parametrize("name", _corpus_ids("mutations"))
def test_cli_mutation_without_variables_is_never_milder(corpora: Path, name: str) -> None:
    """Variables not supplied: still the label's risk (or unknown), ids become '?'."""
    path = corpora / "railway" / "mutations" / name
    labels = _labels_of(_operation(path))
    assessment = post(path.read_text())
    expected = Risk.worst(label.risk for label in labels)
    assert assessment.risk.rank >= expected.rank, name


@pytest.mark.parametrize("name", _corpus_ids("queries"))
def test_cli_query_is_a_read(corpora: Path, name: str) -> None:
    path = corpora / "railway" / "queries" / name
    assessment = post(path.read_text(), _variables(corpora, _operation(path)))
    assert assessment.risk is Risk.READ, (name, assessment.reasons)
    assert assessment.complete


def test_volume_delete_is_catastrophic_and_names_the_volume(corpora: Path) -> None:
    text = (corpora / "railway" / "mutations" / "VolumeDelete.graphql").read_text()
    assessment = post(text, {"id": UUID})
    assert assessment.risk is Risk.CATASTROPHIC
    assert assessment.targets == (Target("railway:volume", UUID),)
    assert assessment.reasons == ("Railway volumeDelete deletes volume 4f2c9a1e… and every byte "
                                  "on it",)


def test_volume_delete_on_the_com_host_and_internal_path(corpora: Path) -> None:
    text = (corpora / "railway" / "mutations" / "VolumeDelete.graphql").read_text()
    for url in ("https://backboard.railway.com/graphql/v2",
                "https://backboard.railway.com/graphql/internal?q=VolumeDelete"):
        assert post(text, {"id": UUID}, url=url).risk is Risk.CATASTROPHIC


def test_query_reads_carry_targets() -> None:
    assessment = post("query($id: String!) { project(id: $id) { name } }", {"id": "p1"})
    assert assessment.risk is Risk.READ
    assert Target("railway:project", "p1") in assessment.targets


def test_root_field_shown_with_alias() -> None:
    field = RootField("volumeDelete", "cleanup", {})
    assert field.shown == "volumeDelete (aliased cleanup)"
