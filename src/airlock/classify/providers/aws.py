"""Amazon Web Services: query, JSON and REST protocols, operations labelled in `aws.toml`.

A call is located (service, region) by `aws_table.locate`, its operation and parameters read
by protocol, then judged: a hand label if `aws.toml` has one, a special reader if the body
decides (DynamoDB batches, PartiQL, Route 53 change batches), otherwise the verb its name
starts with. Every effect also targets the region, so policy can tell regions apart.
"""

from __future__ import annotations

import re
from typing import Any

from airlock.classify.graphql import MISSING, lookup
from airlock.classify.providers.aws_s3 import S3Error, s3_operation
from airlock.classify.providers.aws_special import READERS, SpecialError, route53_changes
from airlock.classify.providers.aws_table import (
    Endpoint,
    aws_table,
    convention,
    locate,
    match_route,
)
from airlock.classify.providers.labels import effects_for, make_effects, targets_for
from airlock.classify.providers.request import Request, RequestError
from airlock.classify.providers.rest import method_effect
from airlock.model import Assessment, Effect, Risk, Target, Verb

_LIST_PARAM = re.compile(r"^(.+?)(?:\.member)?\.\d+$")
_CONVENTION_WORDS = {Risk.READ: (Verb.READ, "reads"), Risk.WRITE: (Verb.WRITE, "writes"),
                     Risk.DESTRUCTIVE: (Verb.DELETE, "deletes")}


class AwsCallError(ValueError):
    """An AWS request whose operation cannot be told."""


class Aws:
    name = "aws"

    def claims(self, request: Request) -> bool:
        try:
            return locate(request) is not None
        except RequestError:
            return True  # AWS-looking but unreadable: classify() will say unknown

    def classify(self, request: Request) -> Assessment:
        endpoint = locate(request)
        if endpoint is None:
            return Assessment.unknown("not an AWS API call", classifier="http")
        context = (Target("aws:region", endpoint.region),) if endpoint.region else ()
        try:
            effects = _effects(request, endpoint, context)
        except (AwsCallError, S3Error, SpecialError, RequestError) as exc:
            effects = [Effect(Verb.UNKNOWN, Risk.UNKNOWN,
                              f"AWS {endpoint.service} call cannot be read: {exc}",
                              context[0] if context else None)]
        complete = not any(e.risk is Risk.UNKNOWN for e in effects)
        return Assessment.of(effects, classifier="http", complete=complete)


def _effects(request: Request, endpoint: Endpoint, context: tuple[Target, ...]) -> list[Effect]:
    service = endpoint.service
    target = request.header("x-amz-target")
    if target:
        return judge(_json_service(target, service), _json_operation(target),
                     _json_params(request), context)
    action = _action(request)
    if action is not None:
        return judge(service, action, _query_params(request), context)
    if service == "s3":
        operation, params = s3_operation(request, endpoint.bucket)
        return judge(service, operation, params, context)
    routed = match_route(service, request.method, request.segments)
    if routed is not None:
        operation, params = routed
        if operation == "ChangeResourceRecordSets":
            params = route53_changes(params, request.body or "")
        return judge(service, operation, params, context)
    # A REST call of a service without routes here: its HTTP method is all there is to go on.
    what = f"AWS {service}" + (f" in {endpoint.region}" if endpoint.region else "")
    effect = method_effect(request, Target("url", request.endpoint), what)
    return make_effects(effect.verb, effect.risk, effect.reason,
                        (Target("url", request.endpoint), *context), scope=effect.scope)


def judge(service: str, operation: str, params: dict[str, Any],
          context: tuple[Target, ...]) -> list[Effect]:
    """The effects of one AWS operation called with `params`."""
    prefix = f"AWS {service} {operation}"
    label = aws_table().operations.get(service, {}).get(operation)
    if label is not None:
        return effects_for(label, params, prefix=prefix, extra_targets=context)
    reader = READERS.get(f"{service}.{operation}")
    if reader is not None:
        return reader(params, prefix, context)
    risk = convention(operation)
    named = [t for path in aws_table().default_targets.get(service, ())
             if lookup(params, path.path) is not MISSING
             for t in targets_for((path,), params)]
    targets = (*named, *context)
    if risk is Risk.UNKNOWN:
        return make_effects(Verb.UNKNOWN, Risk.UNKNOWN, f"{prefix} is not known to airlock, "
                            "and its name does not start with a verb airlock knows", targets)
    verb, does = _CONVENTION_WORDS[risk]
    return make_effects(verb, risk, f"{prefix} {does} (judged by the verb of its name)",
                        targets)


def _json_service(target: str, fallback: str) -> str:
    return aws_table().json_targets.get(target.split(".", 1)[0], fallback)


def _json_operation(target: str) -> str:
    prefix, _, operation = target.partition(".")
    if not prefix or not operation or not operation.isalnum():
        raise AwsCallError(f"X-Amz-Target {target!r} does not name an operation")
    return operation


def _json_params(request: Request) -> dict[str, Any]:
    if not request.has_body:
        return {}
    body = request.json_body()
    if not isinstance(body, dict):
        raise AwsCallError("the JSON body is not an object")
    return body


def _action(request: Request) -> str | None:
    """The query-protocol operation; the form and the URL must not disagree."""
    in_query, in_form = request.param("Action"), request.form_field("Action")
    if in_query and in_form and in_query != in_form:
        raise AwsCallError(f"Action is {in_query!r} in the URL but {in_form!r} in the body")
    action = in_form or in_query
    if action is not None and not action.isalnum():
        raise AwsCallError(f"Action {action!r} is not an operation name")
    return action


def _query_params(request: Request) -> dict[str, Any]:
    """Query-protocol parameters, lists (Name.1, Name.member.1) gathered under their name and
    booleans lower-cased, so labels can match them."""
    params: dict[str, Any] = {}
    for key, value in (*request.query, *request.form):
        match = _LIST_PARAM.match(key)
        name = match.group(1) if match else key
        if value.lower() in ("true", "false"):
            value = value.lower()
        if match:
            existing = params.get(name)
            params[name] = [*existing, value] if isinstance(existing, list) else [value]
        else:
            params[name] = value
    return params
