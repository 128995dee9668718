"""The AWS data file (`data/providers/aws.toml`) as typed tables, and where a request goes.

`locate` answers "is this an AWS API call, and to which service in which region" from the host,
or from the request's AWS signature when the host is not an AWS domain (LocalStack, a VPC
endpoint, a proxy).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from airlock.classify.providers.labels import (
    DataError,
    Label,
    TargetPath,
    load_data,
    parse_label,
)
from airlock.classify.providers.request import Request
from airlock.model import Risk

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d+$")
_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


@dataclass(frozen=True, slots=True)
class Route:
    service: str
    method: str
    pattern: tuple[str, ...]  # path segments; "{Name}" binds a parameter
    operation: str


@dataclass(frozen=True, slots=True)
class AwsTable:
    suffixes: tuple[str, ...]
    customer_labels: frozenset[str]
    host_services: Mapping[str, str]
    json_targets: Mapping[str, str]
    conventions: Mapping[str, Risk]  # operation verb -> risk
    routes: tuple[Route, ...]
    operations: Mapping[str, Mapping[str, Label]]  # service -> operation -> label
    default_targets: Mapping[str, tuple[TargetPath, ...]]  # service -> targets when present


@cache
def aws_table() -> AwsTable:
    data = load_data("aws.toml")
    try:
        hosts, conventions = data["hosts"], data["conventions"]
        verbs: dict[str, Risk] = {}
        for name, risk in (("read", Risk.READ), ("write", Risk.WRITE),
                           ("destructive", Risk.DESTRUCTIVE)):
            for verb in conventions[name]:
                if verb in verbs:
                    raise DataError(f"aws.toml: verb {verb} is in two convention lists")
                verbs[verb] = risk
        routes = tuple(Route(r["service"], r["method"], _segments(r["path"]), r["operation"])
                       for r in data["routes"])
        operations = {
            service: {op: parse_label(op, entry, f"aws.toml:operations.{service}.{op}")
                      for op, entry in ops.items()}
            for service, ops in data["operations"].items()
        }
        return AwsTable(
            suffixes=tuple(hosts["suffixes"]),
            customer_labels=frozenset(hosts["customer_labels"]),
            host_services=dict(hosts.get("services", {})),
            json_targets=dict(data["json_targets"]),
            conventions=verbs, routes=routes, operations=operations,
            default_targets={service: tuple(TargetPath(p, k) for p, k in paths.items())
                             for service, paths in data.get("default_targets", {}).items()},
        )
    except (KeyError, TypeError) as exc:
        raise DataError(f"aws.toml: missing or malformed {exc}") from None


def _segments(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.split("/") if s)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where an AWS call goes. `bucket` is set for virtual-hosted S3 (bucket.s3.amazonaws.com)."""

    service: str
    region: str | None
    bucket: str | None = None


def locate(request: Request) -> Endpoint | None:
    """The AWS endpoint a request goes to, or None when it is not an AWS API call."""
    table = aws_table()
    for suffix in table.suffixes:
        if request.host == suffix or request.host.endswith("." + suffix):
            labels = request.host[: -len(suffix)].rstrip(".").split(".")
            if any(_customer(label, table) for label in labels):
                return None
            return _from_host([label for label in labels if label], table)
    signed = _signature_scope(request)
    if signed is not None:
        region, service = signed
        if _customer(service, table):
            return None
        return Endpoint(table.host_services.get(service, service), region)
    target = request.header("x-amz-target")
    if target:
        # Only AWS's JSON protocol uses this header; an unfamiliar prefix is still AWS-shaped,
        # and judging its operation by name beats calling it a generic POST.
        prefix = target.split(".", 1)[0]
        return Endpoint(table.json_targets.get(prefix, prefix.lower()), None)
    return None


def _customer(label: str, table: AwsTable) -> bool:
    return label in table.customer_labels or label.startswith("s3-website")


def _from_host(labels: list[str], table: AwsTable) -> Endpoint | None:
    region = next((label for label in reversed(labels) if _REGION.match(label)), None)
    for index, label in enumerate(labels):
        if label == "s3" or label.startswith("s3-"):
            # S3: path-style (s3.<region>), legacy (s3-<region>), or virtual-hosted with the
            # bucket in front (which may itself contain dots).
            service = "s3control" if label == "s3-control" else "s3"
            if region is None and _REGION.match(label[3:]):
                region = label[3:]
            bucket = ".".join(labels[:index]) or None
            if service == "s3control":
                bucket = None
            return Endpoint(service, region, bucket)
    rest = [label for label in labels if label != region and label not in ("dualstack", "fips")]
    if not rest:
        return None
    prefix = ".".join(rest).removesuffix("-fips")
    return Endpoint(table.host_services.get(prefix, prefix), region)


def _signature_scope(request: Request) -> tuple[str, str] | None:
    """(region, service) from a SigV4 Authorization header or presigned URL."""
    auth = request.header("authorization") or ""
    if auth.startswith("AWS4-HMAC-SHA256"):
        match = _CREDENTIAL.search(auth)
        if match:
            return match.group(1), match.group(2)
    for key, value in request.query:
        if key.lower() == "x-amz-credential":
            match = _CREDENTIAL.search("Credential=" + value)
            if match:
                return match.group(1), match.group(2)
    return None


def convention(operation: str) -> Risk:
    """The risk of an operation judged by the verb its name starts with (unknown if none)."""
    words = re.findall(r"[A-Z][a-z]+|[A-Z]+(?![a-z])", operation)
    if words and words[0] == "Batch":
        words = words[1:]
    if not words:
        return Risk.UNKNOWN
    return aws_table().conventions.get(words[0], Risk.UNKNOWN)


def match_route(service: str, method: str,
                segments: tuple[str, ...]) -> tuple[str, dict[str, str]] | None:
    """The operation of a REST call and the parameters its path binds."""
    for route in aws_table().routes:
        if route.service != service or route.method != method:
            continue
        if len(route.pattern) != len(segments):
            continue
        params: dict[str, str] = {}
        for want, have in zip(route.pattern, segments, strict=True):
            if want.startswith("{") and want.endswith("}"):
                params[want[1:-1]] = have
            elif want != have:
                break
        else:
            return route.operation, params
    return None
