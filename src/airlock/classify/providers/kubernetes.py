"""The Kubernetes API: verbs by method and path, risks by resource kind.

Recognised by path alone (any host: API servers live at arbitrary addresses): /api/v1/<core
resource>... or /apis/<group>/<version>/.... The data (core resources, kinds, which deletes are
catastrophic, subresources such as exec and eviction) is in `data/providers/kubernetes.toml`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from airlock.classify.providers.labels import DataError, load_data
from airlock.classify.providers.request import Request
from airlock.model import Assessment, Effect, Risk, Target, Verb

_VERSION = re.compile(r"^v\d+((alpha|beta)\d+)?$")
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITES = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, slots=True)
class SubresourceRule:
    methods: frozenset[str] | None
    risk: Risk
    verb: Verb
    reason: str


@dataclass(frozen=True, slots=True)
class KubeTable:
    core: Mapping[str, str]
    kinds: Mapping[str, str]
    plain_groups: frozenset[str]
    delete_risk: Mapping[str, Risk]
    subresources: Mapping[str, SubresourceRule]


@cache
def kube_table() -> KubeTable:
    data = load_data("kubernetes.toml")
    try:
        subresources = {
            name: SubresourceRule(
                frozenset(rule["methods"]) if "methods" in rule else None,
                Risk.parse(rule["risk"]), Verb(rule["verb"]), rule["reason"])
            for name, rule in data["subresources"].items()
        }
        return KubeTable(
            core=dict(data["core"]), kinds=dict(data["kinds"]),
            plain_groups=frozenset(data["groups"]["plain"]),
            delete_risk={k: Risk.parse(v) for k, v in data["delete_risk"].items()},
            subresources=subresources,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise DataError(f"kubernetes.toml: {exc}") from None


@dataclass(frozen=True, slots=True)
class KubePath:
    """What a Kubernetes API path addresses."""

    group: str  # "" for the core group
    namespace: str | None
    resource: str | None  # plural; None for discovery paths
    name: str | None
    subresource: str | None

    @property
    def kind(self) -> str:
        table = kube_table()
        plural = self.resource or ""
        if not self.group and plural in table.core:
            return table.core[plural]
        return table.kinds.get(plural, plural)


def parse_path(segments: tuple[str, ...]) -> KubePath | None:
    """The address of a Kubernetes API path, or None when the path is not one."""
    table = kube_table()
    if len(segments) >= 3 and segments[:2] == ("api", "v1"):
        group, rest = "", list(segments[2:])
        first = rest[1] if rest[0] == "watch" and len(rest) > 1 else rest[0]
        if first not in table.core:
            return None
    elif (len(segments) >= 3 and segments[0] == "apis" and _VERSION.match(segments[2])
          and ("." in segments[1] or segments[1] in table.plain_groups)):
        group, rest = segments[1], list(segments[3:])
    else:
        return None
    if rest and rest[0] == "watch":
        rest = rest[1:]  # the legacy watch prefix: a GET, read either way
    if not rest:
        return KubePath(group, None, None, None, None)
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 2:
        namespace = rest[1]
        if len(rest) == 2 or (len(rest) == 3 and rest[2] in ("status", "finalize")):
            # The namespace object itself (or its own subresource).
            sub = rest[2] if len(rest) == 3 else None
            return KubePath(group, None, "namespaces", namespace, sub)
        rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    return KubePath(group, namespace, resource, name, subresource)


class Kubernetes:
    name = "kubernetes"

    def claims(self, request: Request) -> bool:
        try:
            return parse_path(request.segments) is not None
        except Exception:
            return False

    def classify(self, request: Request) -> Assessment:
        path = parse_path(request.segments)
        if path is None:  # claims() said yes; a second look cannot disagree, but be total
            return Assessment.unknown("not a Kubernetes API path", classifier="http")
        effect_verb, risk, reason = _judge(request, path)
        targets = _targets(request, path)
        effects = [Effect(effect_verb, risk, reason, t, scope=_scope(path)) for t in targets]
        return Assessment.of(effects, classifier="http", complete=risk is not Risk.UNKNOWN)


def _judge(request: Request, path: KubePath) -> tuple[Verb, Risk, str]:
    table = kube_table()
    method = request.method
    what = _describe(path)
    host = request.authority
    rule = table.subresources.get(path.subresource or "")
    if rule is not None and (rule.methods is None or method in rule.methods):
        reason = rule.reason.format(name=_where(path), kind=path.kind)
        return rule.verb, rule.risk, f"Kubernetes API {host}: {method} {reason}"
    if request.param("dryRun") == "All" and method not in _SAFE:
        return Verb.READ, Risk.READ, (f"Kubernetes API {host}: {method} {what} is a dry run "
                                      "(dryRun=All); nothing is persisted")
    if method in _SAFE:
        return Verb.READ, Risk.READ, f"Kubernetes API {host}: {method} reads {what}"
    if method in _WRITES:
        verb = {"POST": "creates", "PUT": "replaces", "PATCH": "patches"}[method]
        return Verb.WRITE, Risk.WRITE, f"Kubernetes API {host}: {method} {verb} {what}"
    if method == "DELETE":
        return _delete(request, path, host)
    return Verb.UNKNOWN, Risk.UNKNOWN, (f"Kubernetes API {host}: method {method} is not a "
                                        "Kubernetes verb")


def _delete(request: Request, path: KubePath, host: str) -> tuple[Verb, Risk, str]:
    table = kube_table()
    risk = table.delete_risk.get(path.kind, Risk.DESTRUCTIVE)
    verb = Verb.DESTROY if risk is Risk.CATASTROPHIC else Verb.DELETE
    if path.resource is None:
        return Verb.UNKNOWN, Risk.UNKNOWN, f"Kubernetes API {host}: DELETE of a discovery path"
    if path.name is None:
        selector = request.param("labelSelector") or request.param("fieldSelector")
        which = f" matching {selector!r}" if selector else ""
        place = f"namespace {path.namespace}" if path.namespace else "the cluster"
        return verb, Risk.worst([risk, Risk.DESTRUCTIVE]), (
            f"Kubernetes API {host}: DELETE (deletecollection) deletes every {path.kind}"
            f"{which} in {place}")
    if path.kind == "namespace":
        return verb, risk, (f"Kubernetes API {host}: DELETE deletes namespace {path.name} and "
                            "everything in it: workloads, secrets, volume claims and, through "
                            "them, volumes")
    return verb, risk, f"Kubernetes API {host}: DELETE deletes {_describe(path)}"


def _describe(path: KubePath) -> str:
    if path.resource is None:
        return "API discovery"
    if path.name is None:
        place = f" in namespace {path.namespace}" if path.namespace else ""
        return f"{path.kind} collection{place}"
    sub = f" ({path.subresource})" if path.subresource else ""
    return f"{path.kind} {_where(path)}{sub}"


def _where(path: KubePath) -> str:
    name = path.name or "*"
    return f"{path.namespace}/{name}" if path.namespace else name


def _scope(path: KubePath) -> str:
    if path.resource is None:
        return ""
    return "namespace" if path.kind == "namespace" else path.kind


def _targets(request: Request, path: KubePath) -> list[Target]:
    targets = [Target("host", request.authority)]
    if path.namespace is not None:
        targets.append(Target("k8s:namespace", path.namespace))
    if path.kind == "namespace":
        targets.append(Target("k8s:namespace", path.name or "*"))
    elif path.resource is not None:
        targets.append(Target(f"k8s:{path.kind}", _where(path)))
    return list(dict.fromkeys(targets))
