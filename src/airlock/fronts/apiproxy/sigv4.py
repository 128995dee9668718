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
from urllib.parse import quote

from botocore.auth import UNSIGNED_PAYLOAD, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from botocore.utils import normalize_url_path

from airlock.errors import AuthError

__all__ = ["MAX_SKEW", "SignatureError", "SignedBy", "parse_authorization", "verify"]

MAX_SKEW = timedelta(minutes=15)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[A-Za-z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request\s*,\s*SignedHeaders=(?P<headers>[a-z0-9;._-]+)\s*,"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})\s*$")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


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
    request = AWSRequest(method=method, url=f"http://{_header(headers, 'host')}{path}"
                                            + (f"?{query}" if query else ""))
    for name, value in headers:
        if name.lower() in signed.signed_headers:
            request.headers.add_header(name, value)
    request.context["timestamp"] = amz_date
    checker = _Checker(Credentials(signed.access_key_id, secret), signed.service, signed.region,
                       signed.signed_headers, payload_sha256)
    expected = checker.signature(checker.string_to_sign(request, checker.canonical_request(request)),
                                 request)
    if not hmac.compare_digest(expected, signed.signature):
        raise SignatureError("the signature does not match: sign with the access key pair "
                             "airlock issued, for this endpoint URL")
    return signed


class _Checker(SigV4Auth):
    """botocore's SigV4 signer, told which headers were signed and what the body hashes to."""

    def __init__(self, credentials: Credentials, service: str, region: str,
                 signed_headers: tuple[str, ...], payload_sha256: str) -> None:
        super().__init__(credentials, service, region)
        self._signed = frozenset(signed_headers)
        self._payload = payload_sha256
        self._s3 = service == "s3"

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name, value in request.headers.items():
            if name.lower() in self._signed:
                chosen[name.lower()] = value
        return chosen

    def payload(self, request: AWSRequest) -> str:
        return self._payload

    def _normalize_url_path(self, path: str) -> str:
        # S3 signs the path as sent; every other service signs it normalised and encoded once
        # more (botocore's SigV4Auth and S3SigV4Auth).
        if self._s3:
            return path
        return quote(normalize_url_path(path), safe="/~")


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


def _query_pairs(query: str) -> list[tuple[str, str]]:
    return [(p.partition("=")[0], p.partition("=")[2]) for p in query.split("&") if p]
