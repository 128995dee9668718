"""REST APIs airlock has no table for: the HTTP method decides (RFC 9110 semantics).

GET, HEAD and OPTIONS are safe methods and read; POST, PUT and PATCH write; DELETE is
destructive; any other method (TRACE, CONNECT, WebDAV's MOVE, a custom verb) is unknown.
"""

from __future__ import annotations

from airlock.classify.providers.request import Request
from airlock.model import Assessment, Effect, Risk, Target, Verb

_BY_METHOD = {
    "GET": (Verb.READ, Risk.READ, "reads"),
    "HEAD": (Verb.READ, Risk.READ, "reads"),
    "OPTIONS": (Verb.READ, Risk.READ, "reads"),
    "POST": (Verb.WRITE, Risk.WRITE, "writes"),
    "PUT": (Verb.WRITE, Risk.WRITE, "writes"),
    "PATCH": (Verb.WRITE, Risk.WRITE, "writes"),
    "DELETE": (Verb.DELETE, Risk.DESTRUCTIVE, "deletes"),
}


def method_effect(request: Request, target: Target, what: str) -> Effect:
    """The effect of `request` judged by its method alone; `what` names the API in words."""
    known = _BY_METHOD.get(request.method)
    if known is None:
        return Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"{request.method} {request.endpoint}: "
                      f"method {request.method} has no agreed meaning on {what}", target)
    verb, risk, does = known
    return Effect(verb, risk, f"{request.method} {request.endpoint} {does} a resource on {what}",
                  target,
                  scope="resource" if risk is Risk.DESTRUCTIVE else "")


class GenericRest:
    name = "rest"

    def claims(self, request: Request) -> bool:
        return True

    def classify(self, request: Request) -> Assessment:
        effect = method_effect(request, Target("url", request.endpoint),
                               "an API airlock has no table for")
        return Assessment.of([effect], classifier="http",
                             complete=effect.risk is not Risk.UNKNOWN)
