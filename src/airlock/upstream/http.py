"""Calling an HTTP upstream with airlock's own credential for it.

An `api` resource is reached at its `base_url`. A call is known by its *canonical* URL — what it
means to the provider: Railway's own host for a Railway resource, `{service}.{region}.amazonaws.com`
for AWS, the base URL itself for any other API — so that the classifier, the approval digest and
a deferred call read the same whether the upstream is the real one or a stand-in. `forward_url`
turns a canonical URL into the one airlock sends to.

Whatever credential the agent sent (an airlock token, a signature with an airlock key, or worse,
a real one) is dropped, never replayed, and so are hop-by-hop headers; `upstream_headers` adds
the resource's own: `Authorization: Bearer …`, or a SigV4 signature with its AWS keys
(upstream/aws.py). Redirects are not followed (a redirect could carry the credential elsewhere).

`call` is the one-shot form for deferred calls: anything outside 2xx is an error. The API proxy
(fronts/apiproxy/) streams through the same functions.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airlock.config import Config, Resource
from airlock.config.resources import RAILWAY_HOSTS
from airlock.errors import AirlockError
from airlock.extras import MissingExtraError
from airlock.upstream import aws

__all__ = ["BODY_NOT_KEPT", "DROPPED_HEADERS", "TIMEOUT_SECONDS", "UpstreamAnswer",
           "UpstreamCallError", "call", "canonical_base", "forward_url", "owner_of", "upstream_headers"]

TIMEOUT_SECONDS = 30
# What the API proxy puts in an action instead of a body too large (or too binary) to keep
# (fronts/apiproxy/wire.py): such a stored call cannot be replayed later.
BODY_NOT_KEPT = "\x00airlock: body not kept"
# Request headers never forwarded: credentials (airlock adds its own), and hop-by-hop fields.
DROPPED_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token",
    "private-token", "project-access-token", "team-access-token", "x-amz-security-token",
    "x-amz-date", "x-amz-content-sha256", "host", "content-length", "connection",
    "transfer-encoding", "keep-alive", "te", "trailer", "upgrade", "proxy-connection",
    "accept-encoding", "expect"})


class UpstreamCallError(AirlockError):
    """The upstream was not called (no single owner, no credential) or did not accept the call."""


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    status: int
    body: bytes  # the start of it (4 KiB)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx answer is returned as an error, and the credential stays here


def owner_of(config: Config, url: str) -> Resource:
    """The one configured api resource whose base URL the call is under."""
    matches = [r for r in config.resources.values()
               if r.kind == "api" and r.base_url and _under(url, r.base_url)]
    if len(matches) != 1:
        found = ", ".join(r.name for r in matches) or "none"
        raise UpstreamCallError(f"{url} is under {len(matches)} configured api resources "
                                f"({found}); airlock calls only a URL exactly one of them owns")
    return matches[0]


def _under(url: str, base: str) -> bool:
    base = base.rstrip("/")
    return url == base or url.startswith((base + "/", base + "?"))


def canonical_base(resource: Resource) -> str:
    """The base of the canonical URLs of a Railway or plain HTTP resource (AWS calls have one
    per service and region: `aws.canonical_url`)."""
    base = (resource.base_url or "").rstrip("/")
    if resource.provider == "railway":
        return f"https://{RAILWAY_HOSTS[0]}{urlsplit(base).path.rstrip('/')}"
    return base


def forward_url(resource: Resource, url: str) -> str:
    """Where a call known by its canonical `url` is sent."""
    base = (resource.base_url or "").rstrip("/")
    if resource.provider == "aws":
        if aws.scope_of_url(url) is None:
            raise UpstreamCallError(f"{url} is not an AWS API URL")
        if (urlsplit(base).hostname or "").lower() == "amazonaws.com":
            return url  # AWS itself: the canonical URL is the endpoint
        parts = urlsplit(url)
        return base + parts.path + (f"?{parts.query}" if parts.query else "")
    canonical = canonical_base(resource)
    if not _under(url, canonical):
        raise UpstreamCallError(f"{url} is not under {resource.name}'s base URL {canonical}")
    return base + url[len(canonical):]


def upstream_headers(resource: Resource, method: str, canonical: str, forward: str,
                     headers: Iterable[tuple[str, str]], body: bytes | None, *,
                     payload_sha256: str | None = None) -> list[tuple[str, str]]:
    """`headers` without any credential the caller sent, with the resource's own added: a
    Bearer token, or for AWS a SigV4 signature for the scope the canonical URL names, over the
    `forward` URL and the body (`body`, or its hash when it is streamed from elsewhere)."""
    kept = [(name, value) for name, value in headers if name.lower() not in DROPPED_HEADERS]
    if resource.provider == "aws":
        scope = aws.scope_of_url(canonical)
        if scope is None or resource.aws is None:
            raise UpstreamCallError(f"{canonical} is not an AWS API URL, or {resource.name} has "
                                    "no AWS keys to sign with")
        try:
            return aws.sign(resource.aws, scope, method, forward, kept,
                            payload_sha256 or aws.payload_hash(body))
        except MissingExtraError as exc:
            raise UpstreamCallError(str(exc)) from None
    if resource.credential is None:
        raise UpstreamCallError(f"api resource {resource.name} has no credential to call it with")
    return [*kept, ("Authorization", f"Bearer {resource.credential.reveal()}")]


def call(config: Config, method: str, url: str, headers: Iterable[tuple[str, str]],
         body: str | None, *, timeout: float = TIMEOUT_SECONDS,
         resource: str | None = None) -> UpstreamAnswer:
    """Send the call known by `url` to its api resource (`resource`, else the one whose base URL
    owns `url`), with that resource's credential."""
    if resource is not None:
        upstream = config.resources.get(resource)
        if upstream is None or upstream.kind != "api":
            raise UpstreamCallError(f"{resource} is not a configured api resource")
    else:
        upstream = owner_of(config, url)
    if upstream.provider != "aws" and ".amazonaws.com" in (urlsplit(url).hostname or ""):
        raise UpstreamCallError("AWS calls must be signed (SigV4) by an api resource with "
                                "provider = \"aws\"; run it by hand or cancel it")
    if body is not None and body.startswith(BODY_NOT_KEPT):
        raise UpstreamCallError("this call's body was too large to keep, so airlock cannot send "
                                "it later; run it by hand or cancel it")
    target = forward_url(upstream, url)
    data = body.encode("utf-8") if body is not None else None
    sent = upstream_headers(upstream, method, url, target, headers, data)
    # The URL is under a configured base URL, which configuration checked is http(s).
    request = urllib.request.Request(target, data=data, method=method,  # noqa: S310
                                     headers=dict(sent))
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            status, text = response.status, response.read(4096)
    except urllib.error.HTTPError as exc:
        raise UpstreamCallError(f"{method} {url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UpstreamCallError(f"{method} {url} failed: {exc}") from None
    if not 200 <= status < 300:
        raise UpstreamCallError(f"{method} {url} answered {status}")
    return UpstreamAnswer(status, text)
