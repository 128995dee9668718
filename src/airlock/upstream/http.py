"""Calling an HTTP upstream with airlock's own credential for it.

Only a URL under exactly one configured `api` resource's `base_url` is called, with that
resource's credential as `Authorization: Bearer …`. Whatever credential the agent sent (an
airlock token, or worse, a real one) is dropped, never replayed, and so are hop-by-hop headers.
Redirects are not followed (a redirect could carry the credential elsewhere), and any answer
outside 2xx is an error. AWS calls need SigV4 signing, which airlock does not do yet: refused.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airlock.config import Config, Resource
from airlock.errors import AirlockError

__all__ = ["TIMEOUT_SECONDS", "UpstreamAnswer", "UpstreamCallError", "call", "owner_of"]

TIMEOUT_SECONDS = 30
# Request headers never forwarded: credentials (airlock adds its own), and hop-by-hop fields.
_DROPPED = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key",
                      "x-auth-token", "private-token", "host", "content-length", "connection",
                      "transfer-encoding", "x-amz-security-token"})


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


def call(config: Config, method: str, url: str, headers: Iterable[tuple[str, str]],
         body: str | None, *, timeout: float = TIMEOUT_SECONDS) -> UpstreamAnswer:
    """Send the call to the api resource that owns `url`, with that resource's credential."""
    upstream = owner_of(config, url)
    if upstream.credential is None:
        raise UpstreamCallError(f"api resource {upstream.name} has no credential to call it with")
    if ".amazonaws.com" in url:
        raise UpstreamCallError("AWS calls must be signed (SigV4); airlock cannot carry out a "
                                "deferred AWS call yet — run it by hand or cancel it")
    sent = {name: value for name, value in headers if name.lower() not in _DROPPED}
    sent["Authorization"] = f"Bearer {upstream.credential.reveal()}"
    data = body.encode("utf-8") if body is not None else None
    # The URL is under a configured base URL, which configuration checked is http(s).
    request = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310
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
