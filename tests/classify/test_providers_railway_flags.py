"""Railway mutations that delete through input flags and patches, and ids from variables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airlock.classify.http import classify_http
from airlock.model import Assessment, HttpRequest, Risk, Target

ENDPOINT = "https://backboard.railway.app/graphql/v2"

PATCH_COMMIT = """
mutation EnvironmentPatchCommit($environmentId: String!, $patch: EnvironmentConfig!) {
  environmentPatchCommit(environmentId: $environmentId, patch: $patch)
}"""
STAGE = """
mutation EnvironmentStageChanges($environmentId: String!, $input: EnvironmentConfig!) {
  environmentStageChanges(environmentId: $environmentId, input: $input) { id }
}"""


def post(query: str, variables: dict[str, Any] | None = None) -> Assessment:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return classify_http(HttpRequest("POST", ENDPOINT, (("content-type", "application/json"),),
                                     json.dumps(body)))


@pytest.mark.parametrize(("patch", "risk", "target"), [
    ({"volumes": {"vol-1": {"isDeleted": True}}}, Risk.CATASTROPHIC,
     Target("railway:volume", "vol-1")),
    ({"services": {"svc-1": {"isDeleted": True}}}, Risk.CATASTROPHIC,
     Target("railway:service", "svc-1")),
    ({"buckets": {"b-1": {"isDeleted": True}}}, Risk.CATASTROPHIC,
     Target("railway:bucket", "b-1")),
    ({"volumes": {"vol-1": None}}, Risk.CATASTROPHIC, Target("railway:volume", "vol-1")),
    ({"services": {"svc-1": {"variables": {"DATABASE_URL": None}}}}, Risk.DESTRUCTIVE,
     Target("railway:service", "svc-1")),
    ({"services": {"svc-1": {"networking": {"customDomains": {"example.com": None}}}}},
     Risk.DESTRUCTIVE, Target("railway:service", "svc-1")),
    ({"sharedVariables": {"TOKEN": None}}, Risk.DESTRUCTIVE,
     Target("railway:environment", "env-1")),
    ({"somethingNew": {"x": {"isDeleted": True}}}, Risk.DESTRUCTIVE,
     Target("railway:environment", "env-1")),
    ({"services": {"svc-1": {"deploy": {"numReplicas": 3}}}}, Risk.WRITE,
     Target("railway:environment", "env-1")),
    ({"volumes": {"vol-1": {"isDeleted": False, "sizeMB": 5000}}}, Risk.WRITE,
     Target("railway:environment", "env-1")),
])
@pytest.mark.parametrize("document", [PATCH_COMMIT, STAGE])
def test_patch_deletions_raise_the_risk(document: str, patch: dict[str, Any], risk: Risk,
                                        target: Target) -> None:
    key = "patch" if "patch:" in document else "input"
    assessment = post(document, {"environmentId": "env-1", key: patch})
    assert assessment.risk is risk, assessment.reasons
    assert target in assessment.targets
    assert Target("railway:environment", "env-1") in assessment.targets


def test_patch_written_inline_is_read_too() -> None:
    document = """mutation {
      environmentPatchCommit(environmentId: "env-1",
                             patch: {volumes: {v9: {isDeleted: true}}})
    }"""
    assessment = post(document)
    assert assessment.risk is Risk.CATASTROPHIC
    assert Target("railway:volume", "v9") in assessment.targets


def test_patch_sent_as_a_json_string_is_read() -> None:
    patch = json.dumps({"volumes": {"v9": {"isDeleted": True}}})
    assessment = post(PATCH_COMMIT, {"environmentId": "env-1", "patch": patch})
    assert assessment.risk is Risk.CATASTROPHIC


def test_unreadable_patch_is_unknown() -> None:
    assessment = post(PATCH_COMMIT, {"environmentId": "env-1", "patch": "{not json"})
    assert assessment.risk is Risk.UNKNOWN and not assessment.complete
    assessment = post(PATCH_COMMIT, {"environmentId": "env-1", "patch": [1, 2]})
    assert assessment.risk is Risk.UNKNOWN


def test_lenient_truthy_delete_flags_count() -> None:
    patch = {"volumes": {"vol-1": {"isDeleted": "true"}}}
    assert post(PATCH_COMMIT, {"environmentId": "e", "patch": patch}).risk is Risk.CATASTROPHIC


@pytest.mark.parametrize(("state", "risk"), [("DELETED", Risk.CATASTROPHIC),
                                             ("DELETING", Risk.CATASTROPHIC),
                                             ("READY", Risk.WRITE)])
def test_volume_instance_state_flag(state: str, risk: Risk) -> None:
    literal = f"""mutation {{ volumeInstanceUpdate(volumeId: "v1",
                   input: {{state: {state}}}) }}"""
    assert post(literal).risk is risk
    variable = """mutation($v: String!, $i: VolumeInstanceUpdateInput!) {
                    volumeInstanceUpdate(volumeId: $v, input: $i) }"""
    assessment = post(variable, {"v": "v1", "i": {"state": state}})
    assert assessment.risk is risk
    assert Target("railway:volume", "v1") in assessment.targets
    # No environmentId: every instance of the volume is updated, so the environment is "?".
    assert Target("railway:environment", "?") in assessment.targets


def test_variable_collection_replace_deletes_the_rest() -> None:
    document = """mutation($input: VariableCollectionUpsertInput!) {
                    variableCollectionUpsert(input: $input) }"""
    base = {"projectId": "p", "environmentId": "e", "serviceId": "s", "variables": {"A": "1"}}
    assert post(document, {"input": base}).risk is Risk.WRITE
    assert post(document, {"input": {**base, "replace": True}}).risk is Risk.DESTRUCTIVE


def test_project_made_public_is_destructive() -> None:
    document = 'mutation { projectUpdate(id: "p1", input: {isPublic: true}) { id } }'
    assert post(document).risk is Risk.DESTRUCTIVE
    document = 'mutation { projectUpdate(id: "p1", input: {name: "x"}) { id } }'
    assert post(document).risk is Risk.WRITE


def test_ids_from_variables_and_literals() -> None:
    document = """mutation($env: String!) {
      serviceDelete(environmentId: $env, id: "svc-literal") }"""
    assessment = post(document, {"env": "env-var"})
    assert assessment.risk is Risk.CATASTROPHIC
    assert set(assessment.targets) == {Target("railway:service", "svc-literal"),
                                       Target("railway:environment", "env-var")}


def test_missing_variable_is_an_unknown_target_not_no_target() -> None:
    document = "mutation($id: String!) { environmentDelete(id: $id) }"
    assessment = post(document, {})
    assert assessment.risk is Risk.CATASTROPHIC
    assert assessment.targets == (Target("railway:environment", "?"),)


def test_variable_default_value_is_used() -> None:
    document = 'mutation($id: String = "p-default") { projectDelete(id: $id) }'
    assert post(document).targets == (Target("railway:project", "p-default"),)


def test_list_ids_become_one_target_each() -> None:
    document = """mutation { volumeInstanceBackupRestore(volumeInstanceId: "vi",
                    volumeInstanceBackupId: "b", wipeServiceIds: ["s1", "s2"]) { workflowId } }"""
    targets = post(document).targets
    assert Target("railway:service", "s1") in targets
    assert Target("railway:service", "s2") in targets


def test_unknown_mutation_on_railway_is_unknown() -> None:
    assessment = post('mutation { volumeObliterate(id: "v") }')
    assert assessment.risk is Risk.UNKNOWN
    assert not assessment.complete
    assert "not in airlock's Railway table" in assessment.reasons[0]


def test_several_root_fields_worst_wins() -> None:
    document = """mutation {
      a: serviceInstanceRedeploy(environmentId: "e", serviceId: "s")
      b: volumeDelete(volumeId: "v")
    }"""
    assessment = post(document)
    assert assessment.risk is Risk.CATASTROPHIC
    assert Target("railway:volume", "v") in assessment.targets
    assert Target("railway:service", "s") in assessment.targets


def test_telemetry_is_a_read() -> None:
    document = "mutation($input: CliEventTrackInput!) { cliEventTrack(input: $input) }"
    assert post(document, {"input": {"command": "up"}}).risk is Risk.READ
