"""The SigV4 check, replayed on requests botocore signed: what passes, and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from airlock.fronts.apiproxy.sigv4 import SignatureError, verify
from airlock.upstream.aws import payload_hash

KEY, SECRET = "ALKAABCDEFGHIJKLMNOP", "s3cr3t-" + "k" * 33
SIGNED_AT = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def signed(method: str, url: str, body: bytes = b"", *, s3: bool = False,
           headers: dict[str, str] | None = None) -> list[tuple[str, str]]:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    signer = (S3SigV4Auth if s3 else SigV4Auth)(Credentials(KEY, SECRET),
                                                "s3" if s3 else "rds", "us-east-1")
    with mock.patch("botocore.auth.get_current_datetime", return_value=SIGNED_AT):
        signer.add_auth(request)
    return [("Host", "127.0.0.1:8378"), *((k, str(v)) for k, v in request.headers.items())]


def check(method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes = b"",
          now: datetime = SIGNED_AT, secret: str = SECRET) -> str:
    return verify(method=method, path=path, query=query, headers=headers,
                  payload_sha256=payload_hash(body), secret=secret, now=now).service


URL = "http://127.0.0.1:8378/aws/"
FORM = b"Action=DescribeDBInstances&Version=2014-10-31"


def test_a_request_botocore_signed_passes_within_the_clock_window() -> None:
    headers = signed("POST", URL, FORM)
    assert check("POST", "/aws/", "", headers, FORM) == "rds"
    assert check("POST", "/aws/", "", headers, FORM, now=SIGNED_AT + timedelta(minutes=14)) == "rds"
    s3 = signed("GET", "http://127.0.0.1:8378/aws/my%20bucket/a%2Fb?list-type=2", s3=True)
    assert check("GET", "/aws/my%20bucket/a%2Fb", "list-type=2", s3) == "s3"


@pytest.mark.parametrize(("change", "why"), [
    ({"now": SIGNED_AT + timedelta(minutes=16)}, "more than 15 minutes"),
    ({"now": SIGNED_AT - timedelta(minutes=16)}, "more than 15 minutes"),
    ({"secret": "another-secret"}, "does not match"),
    ({"body": b"Action=DeleteDBInstance&DBInstanceIdentifier=prod"}, "does not match"),
    ({"path": "/aws/other"}, "does not match"),
])
def test_anything_changed_is_refused(change: dict[str, object], why: str) -> None:
    headers = signed("POST", URL, FORM)
    args: dict[str, object] = {"method": "POST", "path": "/aws/", "query": "",
                               "headers": headers, "body": FORM, **change}
    with pytest.raises(SignatureError, match=why):
        check(**args)  # type: ignore[arg-type]


def test_streaming_presigned_and_unsigned_requests_are_refused_clearly() -> None:
    streaming = signed("PUT", URL + "b/k", s3=True,
                       headers={"X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"})
    streaming = [(k, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" if k == "X-Amz-Content-SHA256" else v)
                 for k, v in streaming]
    with pytest.raises(SignatureError, match="streaming payloads"):
        check("PUT", "/aws/b/k", "", streaming)
    with pytest.raises(SignatureError, match="presigned"):
        check("GET", "/aws/b/k", "X-Amz-Signature=abc", signed("GET", URL + "b/k", s3=True))
    with pytest.raises(SignatureError, match="unsigned"):
        check("GET", "/aws/", "", [("Host", "127.0.0.1:8378")])
