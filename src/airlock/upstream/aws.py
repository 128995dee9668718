"""Signing calls to AWS with airlock's own keys (botocore's SigV4 signer), and where they go.

A call reaches airlock signed by the agent with an airlock-issued key pair; the agent's
signature is checked by the front (fronts/apiproxy/sigv4.py) and thrown away. What airlock sends
on is signed here, with the resource's real keys, for the service and region the agent's
signature named. The real secret never leaves this process: only its signature does.

The canonical URL of an AWS call is `https://{service}.{region}.amazonaws.com/{path}` — what the
call means, whatever endpoint it travels to — so the classifier and approvals see the same call
whether the upstream is AWS itself or a stand-in (LocalStack, moto) named by `base_url`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from airlock import extras
from airlock.config.resources import AwsKeys

__all__ = ["AwsScope", "canonical_url", "payload_hash", "scope_of_url", "sign"]

_CANONICAL_HOST = re.compile(r"^([a-z0-9-]+)\.([a-z0-9-]+)\.amazonaws\.com$")
# Headers the signer must not see from the agent's request: its own signature and credential
# headers (recomputed here), and headers a client library or a hop sets on its own.
_UNSIGNED = frozenset({"authorization", "x-amz-date", "x-amz-security-token",
                       "x-amz-content-sha256", "host", "content-length", "connection",
                       "transfer-encoding", "expect", "user-agent", "accept-encoding"})


@dataclass(frozen=True, slots=True)
class AwsScope:
    """The service (signing name) and region a call is signed for."""

    service: str
    region: str


def canonical_url(scope: AwsScope, path_and_query: str) -> str:
    return f"https://{scope.service}.{scope.region}.amazonaws.com{path_and_query}"


def scope_of_url(url: str) -> AwsScope | None:
    """The scope a canonical URL names, or None when it is not one."""
    match = _CANONICAL_HOST.match((urlsplit(url).hostname or "").lower())
    return AwsScope(match.group(1), match.group(2)) if match else None


def sign(keys: AwsKeys, scope: AwsScope, method: str, url: str,
         headers: Iterable[tuple[str, str]], payload_sha256: str) -> list[tuple[str, str]]:
    """The headers to send a body whose SHA-256 is `payload_sha256` to `url` with, signed with
    airlock's keys (SigV4; S3's variant for S3, which also sends the hash as
    X-Amz-Content-SHA256). The body itself is not needed: it may be streaming from a spool.
    Raises MissingExtraError when botocore (the `aws` extra) is not installed."""
    extras.require(extras.AWS, "signing a call to AWS")
    from airlock.upstream import aws_signer  # botocore: the optional `aws` extra

    kept = [(name, value) for name, value in headers if name.lower() not in _UNSIGNED]
    return aws_signer.sign(keys, scope.service, scope.region, method, url, kept, payload_sha256)


def payload_hash(body: bytes | None) -> str:
    return hashlib.sha256(body or b"").hexdigest()
