"""Kubernetes API: verbs by method and path, risk by resource kind."""

from __future__ import annotations

import pytest

from airlock.classify.http import classify_http
from airlock.model import Assessment, HttpRequest, Risk, Target, Verb

API = "https://10.0.0.1:6443"
HOST = Target("host", "10.0.0.1:6443")


def call(method: str, path: str) -> Assessment:
    return classify_http(HttpRequest(method, API + path))


@pytest.mark.parametrize(("method", "path", "risk", "targets"), [
    # Deleting one object: the kind decides.
    ("DELETE", "/api/v1/namespaces/prod", Risk.CATASTROPHIC,
     {Target("k8s:namespace", "prod")}),
    ("DELETE", "/api/v1/persistentvolumes/pv-1", Risk.CATASTROPHIC,
     {Target("k8s:persistentvolume", "pv-1")}),
    ("DELETE", "/api/v1/namespaces/prod/persistentvolumeclaims/data-db-0", Risk.CATASTROPHIC,
     {Target("k8s:namespace", "prod"), Target("k8s:persistentvolumeclaim", "prod/data-db-0")}),
    ("DELETE", "/api/v1/namespaces/prod/pods/web-1", Risk.DESTRUCTIVE,
     {Target("k8s:namespace", "prod"), Target("k8s:pod", "prod/web-1")}),
    ("DELETE", "/api/v1/namespaces/prod/secrets/db-password", Risk.DESTRUCTIVE,
     {Target("k8s:secret", "prod/db-password")}),
    ("DELETE", "/apis/apps/v1/namespaces/prod/statefulsets/db", Risk.DESTRUCTIVE,
     {Target("k8s:statefulset", "prod/db")}),
    ("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/dbs.example.com",
     Risk.CATASTROPHIC, {Target("k8s:customresourcedefinition", "dbs.example.com")}),
    ("DELETE", "/apis/snapshot.storage.k8s.io/v1/namespaces/prod/volumesnapshots/nightly",
     Risk.CATASTROPHIC, {Target("k8s:volumesnapshot", "prod/nightly")}),
    ("DELETE", "/apis/example.com/v1alpha1/namespaces/prod/widgets/w", Risk.DESTRUCTIVE,
     {Target("k8s:widgets", "prod/w")}),
    # deletecollection: at least destructive, catastrophic for the kinds above.
    ("DELETE", "/api/v1/namespaces/prod/pods", Risk.DESTRUCTIVE,
     {Target("k8s:pod", "prod/*"), Target("k8s:namespace", "prod")}),
    ("DELETE", "/api/v1/namespaces/prod/persistentvolumeclaims", Risk.CATASTROPHIC,
     {Target("k8s:persistentvolumeclaim", "prod/*")}),
    ("DELETE", "/api/v1/namespaces/prod/configmaps?labelSelector=app%3Dweb", Risk.DESTRUCTIVE,
     {Target("k8s:configmap", "prod/*")}),
    ("DELETE", "/api/v1/persistentvolumes", Risk.CATASTROPHIC,
     {Target("k8s:persistentvolume", "*")}),
    ("DELETE", "/apis/apps/v1/namespaces/prod/deployments", Risk.DESTRUCTIVE,
     {Target("k8s:deployment", "prod/*")}),
    # Reads and writes.
    ("GET", "/api/v1/namespaces/prod/pods", Risk.READ, {Target("k8s:pod", "prod/*")}),
    ("GET", "/api/v1/namespaces/prod/pods/web-1/log", Risk.READ, {Target("k8s:pod", "prod/web-1")}),
    ("GET", "/api/v1/pods?watch=true", Risk.READ, {Target("k8s:pod", "*")}),
    ("GET", "/api/v1/watch/namespaces/prod/pods", Risk.READ, {Target("k8s:pod", "prod/*")}),
    ("GET", "/apis/apps/v1", Risk.READ, {HOST}),
    ("POST", "/api/v1/namespaces/prod/configmaps", Risk.WRITE,
     {Target("k8s:configmap", "prod/*")}),
    ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web", Risk.WRITE,
     {Target("k8s:deployment", "prod/web")}),
    ("PUT", "/apis/apps/v1/namespaces/prod/deployments/web/scale", Risk.WRITE,
     {Target("k8s:deployment", "prod/web")}),
    ("DELETE", "/api/v1/namespaces/prod/pods/web-1?dryRun=All", Risk.READ,
     {Target("k8s:pod", "prod/web-1")}),
    # Subresources with effects of their own.
    ("POST", "/api/v1/namespaces/prod/pods/web-1/eviction", Risk.DESTRUCTIVE,
     {Target("k8s:pod", "prod/web-1")}),
    ("POST", "/api/v1/namespaces/prod/serviceaccounts/ci/token", Risk.DESTRUCTIVE,
     {Target("k8s:serviceaccount", "prod/ci")}),
    ("PUT", "/api/v1/namespaces/stuck/finalize", Risk.DESTRUCTIVE,
     {Target("k8s:namespace", "stuck")}),
    ("GET", "/api/v1/namespaces/prod/pods/web-1/exec?command=sh", Risk.UNKNOWN,
     {Target("k8s:pod", "prod/web-1")}),
    ("POST", "/api/v1/namespaces/prod/pods/web-1/exec?command=rm", Risk.UNKNOWN, {HOST}),
    ("GET", "/api/v1/namespaces/prod/services/web:80/proxy/admin/delete-all", Risk.UNKNOWN,
     {Target("k8s:service", "prod/web:80")}),
    ("POST", "/api/v1/namespaces/prod/pods/web-1/portforward", Risk.UNKNOWN, {HOST}),
    ("TRACE", "/api/v1/namespaces/prod/pods", Risk.UNKNOWN, {HOST}),
])
def test_kubernetes(method: str, path: str, risk: Risk, targets: set[Target]) -> None:
    assessment = call(method, path)
    assert assessment.risk is risk, assessment.reasons
    assert targets <= set(assessment.targets), assessment.targets
    assert HOST in assessment.targets
    assert assessment.complete is (risk is not Risk.UNKNOWN)


def test_namespace_delete_reason_and_verb() -> None:
    assessment = call("DELETE", "/api/v1/namespaces/prod")
    assert assessment.effects[0].verb is Verb.DESTROY
    assert "deletes namespace prod and everything in it" in assessment.reasons[0]


def test_exec_is_execute() -> None:
    assessment = call("POST", "/api/v1/namespaces/prod/pods/web-1/exec")
    assert assessment.effects[0].verb is Verb.EXECUTE


@pytest.mark.parametrize("url", [
    "https://api.example.com/api/v1/users/5",
    "https://api.example.com/apis/things/latest/x",
    "https://api.example.com/api/v2/namespaces/prod",
])
def test_other_apis_with_api_paths_are_not_kubernetes(url: str) -> None:
    assessment = classify_http(HttpRequest("DELETE", url))
    assert assessment.risk is Risk.DESTRUCTIVE
    assert assessment.targets == (Target("url", url),)


def test_encoded_slash_stays_in_its_segment() -> None:
    assessment = call("DELETE", "/api/v1/namespaces/prod%2Fpods/pods")
    assert Target("k8s:namespace", "prod/pods") in assessment.targets


def test_dot_segments_are_unknown() -> None:
    assessment = call("GET", "/api/v1/namespaces/dev/../../v1/namespaces/prod")
    assert assessment.risk is Risk.UNKNOWN
