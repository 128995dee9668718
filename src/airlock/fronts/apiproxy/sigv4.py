"""Checking an agent's AWS Signature Version 4 with botocore's own signing logic.

The agent signs with an access key airlock issued (keys.py). Here the expected signature is
computed the way botocore computes it — canonical request, string to sign, derived key — over
exactly the headers the agent says it signed, the path and query as they arrived, and the body
airlock received, and compared in constant time. Sans-io: the caller passes what arrived.

Refused, each with a reason the agent can act on: a missing or malformed Authorization header,
presigned URLs (a signature in the query), a clock more than 15 minutes off, a declared payload
hash that does not match the body, and chunk-signed streaming payloads
(`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, `STREAMING-UNSIGNED-PAYLOAD-TRAILER`), which sign each
chunk separately and would need airlock to re-frame the body.
A replay of the very same signed request within those 15 minutes is accepted: it is the same
call, and the gate judges it again (a held one stays held until approved, then passes once).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from airlock import extras
from airlock.errors import AuthError

__all__ = ["MAX_SKEW", "SignatureError", "SignedBy", "parse_authorization", "verify"]

MAX_SKEW = timedelta(minutes=15)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[A-Za-z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request\s*,\s*SignedHeaders=(?P<headers>[a-z0-9;._-]+)\s*,"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})\s*$")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"  # botocore.auth's name for a body the signature leaves out


class SignatureError(AuthError):
    """The request's AWS signature is missing, malformed, stale or wrong."""


@dataclass(frozen=True, slots=True)
class SignedBy:
    """What a SigV4 Authorization header says: who signed, for which scope, over what."""

    access_key_id: str
    date: str  # YYYYMMDD
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str | None) -> SignedBy:
    if not value:
        raise SignatureError("this endpoint takes AWS SigV4 requests signed with an airlock "
                             "access key (`airlock token create --aws`); the request is unsigned")
    match = _AUTH.match(value.strip())
    if match is None:
        raise SignatureError("the Authorization header is not an AWS4-HMAC-SHA256 signature "
                             "airlock can read")
    return SignedBy(match["key"], match["date"], match["region"], match["service"],
                    tuple(match["headers"].split(";")), match["signature"])


def verify(*, method: str, path: str, query: str, headers: Sequence[tuple[str, str]],
           payload_sha256: str, secret: str, now: datetime) -> SignedBy:
    """Check the request's signature with `secret`; returns who signed it, or raises
    SignatureError. `path` and `query` are as they arrived (still percent-encoded)."""
    if any(k.lower().startswith("x-amz-signature") for k, _ in _query_pairs(query)):
        raise SignatureError("presigned URLs are not accepted; sign the request itself")
    signed = parse_authorization(_header(headers, "authorization"))
    if "host" not in signed.signed_headers:
        raise SignatureError("the signature must cover the Host header")
    amz_date = _header(headers, "x-amz-date")
    if amz_date is None:
        raise SignatureError("send X-Amz-Date with a SigV4 signature")
    try:
        when = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError(f"X-Amz-Date {amz_date!r} is not YYYYMMDDTHHMMSSZ") from None
    if amz_date[:8] != signed.date:
        raise SignatureError("the credential scope's date is not the day of X-Amz-Date")
    if abs(now - when) > MAX_SKEW:
        raise SignatureError(f"the request was signed at {when.isoformat()}, more than 15 "
                             "minutes from airlock's clock; fix the clock and send it again")
    declared = _header(headers, "x-amz-content-sha256")
    if declared is not None and declared.startswith("STREAMING-"):
        raise SignatureError(f"streaming payloads ({declared}) are not accepted by airlock; "
                             "send the body whole (for boto3: Config(request_checksum_calculation="
                             "'when_required') and no chunked upload)")
    if declared not in (None, UNSIGNED_PAYLOAD) and declared != payload_sha256:
        raise SignatureError("X-Amz-Content-SHA256 does not match the body airlock received")

    present = {k.lower() for k, _ in headers}
    missing = [h for h in signed.signed_headers if h not in present]
    if missing:
        raise SignatureError(f"signed headers missing from the request: {', '.join(missing)}")
    extras.require(extras.AWS, "checking an AWS signature")
    from airlock.fronts.apiproxy import sigv4_checker  # botocore: the optional `aws` extra

    url = f"http://{_header(headers, 'host')}{path}" + (f"?{query}" if query else "")
    expected = sigv4_checker.expected_signature(
        method=method, url=url, headers=[(k, v) for k, v in headers
                                         if k.lower() in signed.signed_headers],
        amz_date=amz_date, access_key_id=signed.access_key_id, secret=secret,
        service=signed.service, region=signed.region, signed_headers=signed.signed_headers,
        payload_sha256=payload_sha256)
    if not hmac.compare_digest(expected, signed.signature):
        raise SignatureError("the signature does not match: sign with the access key pair "
                             "airlock issued, for this endpoint URL")
    return signed


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _query_pairs(query: str) -> list[tuple[str, str]]:
    return [(p.partition("=")[0], p.partition("=")[2]) for p in query.split("&") if p]
