"""botocore's SigV4 signer, told the payload hash instead of reading the body (upstream/aws.py).

Imported only when AWS support is used: botocore is the optional `aws` extra (airlock/extras.py).
"""

from __future__ import annotations

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from airlock.config.resources import AwsKeys


def sign(keys: AwsKeys, service: str, region: str, method: str, url: str,
         headers: list[tuple[str, str]], payload_sha256: str) -> list[tuple[str, str]]:
    request = AWSRequest(method=method, url=url, headers=dict(headers))
    token = keys.session_token.reveal() if keys.session_token is not None else None
    credentials = Credentials(keys.access_key_id.reveal(), keys.secret_access_key.reveal(), token)
    signer = (_S3Signer if service == "s3" else _Signer)(credentials, service, region,
                                                          payload_sha256)
    signer.add_auth(request)  # sets X-Amz-Date (and X-Amz-Security-Token with a session token)
    return [(name, str(value)) for name, value in request.headers.items()]


class _Signer(SigV4Auth):
    def __init__(self, credentials: Credentials, service: str, region: str, payload: str) -> None:
        super().__init__(credentials, service, region)
        self._payload = payload

    def payload(self, request: AWSRequest) -> str:
        return self._payload


class _S3Signer(S3SigV4Auth):
    def __init__(self, credentials: Credentials, service: str, region: str, payload: str) -> None:
        super().__init__(credentials, service, region)
        self._payload = payload

    def payload(self, request: AWSRequest) -> str:
        return self._payload
