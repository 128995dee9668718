"""The SigV4 signature botocore would compute for a request as it arrived (fronts/apiproxy/sigv4.py).

Imported only when an AWS signature is checked: botocore is the optional `aws` extra
(airlock/extras.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from botocore.utils import normalize_url_path


def expected_signature(*, method: str, url: str, headers: Sequence[tuple[str, str]],
                       amz_date: str, access_key_id: str, secret: str, service: str, region: str,
                       signed_headers: tuple[str, ...], payload_sha256: str) -> str:
    """The signature of the request with `secret`, over exactly the `signed_headers`."""
    request = AWSRequest(method=method, url=url)
    for name, value in headers:
        request.headers.add_header(name, value)
    request.context["timestamp"] = amz_date
    checker = _Checker(Credentials(access_key_id, secret), service, region, signed_headers,
                       payload_sha256)
    return checker.signature(checker.string_to_sign(request, checker.canonical_request(request)),
                             request)


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
