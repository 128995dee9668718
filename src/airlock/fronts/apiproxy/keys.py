"""AWS-style access key pairs for agents: boto3 and the aws CLI sign with one instead of real keys.

`issue_aws_key` binds a new pair to an issued token and prints nowhere: the caller shows it once.
A SigV4 signature is an HMAC, so checking one needs the secret itself, not a hash of it: the
secret is sealed with AES-256-GCM under a key derived from the approvals key (like approvers'
TOTP seeds), with the access key id and token id as associated data, so a sealed secret cannot
be moved to another key id. The token decides who signs and how far they reach; revoking it
ends the key.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from airlock.approvers import derive_key
from airlock.errors import AuthError
from airlock.model import utcnow
from airlock.store import AwsKeyRecord, Store, TokenRecord

__all__ = ["ACCESS_KEY_PREFIX", "IssuedAwsKey", "issue_aws_key", "open_secret"]

ACCESS_KEY_PREFIX = "ALKA"  # 20 characters like AWS's own (AKIA…), but never mistaken for one
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_PURPOSE = "aws-secret-key"


@dataclass(frozen=True, slots=True)
class IssuedAwsKey:
    access_key_id: str
    secret_access_key: str  # shown once


def issue_aws_key(store: Store, approvals_key: bytes, token: TokenRecord,
                  now: datetime | None = None) -> IssuedAwsKey:
    access_key_id = ACCESS_KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(30)  # 40 characters, 240 bits
    box = _seal(approvals_key, access_key_id, token.id, secret)
    store.add_aws_key(AwsKeyRecord(access_key_id, token.id, box,
                                   (now or utcnow()).isoformat()))
    return IssuedAwsKey(access_key_id, secret)


def _aad(access_key_id: str, token_id: str) -> bytes:
    return f"{access_key_id}\n{token_id}".encode()


def _seal(approvals_key: bytes, access_key_id: str, token_id: str, secret: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(derive_key(approvals_key, _PURPOSE)).encrypt(
        nonce, secret.encode("ascii"), _aad(access_key_id, token_id))
    return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def open_secret(approvals_key: bytes, record: AwsKeyRecord) -> str:
    """The secret of an issued key, to check a signature with; AuthError when it cannot be
    opened (another approvals key, or an altered row)."""
    try:
        version, _, data = record.secret_box.partition(".")
        if version != "v1":
            raise ValueError(f"unknown seal version {version!r}")
        raw = base64.urlsafe_b64decode(data)
        secret = AESGCM(derive_key(approvals_key, _PURPOSE)).decrypt(
            raw[:12], raw[12:], _aad(record.access_key_id, record.token_id))
        return secret.decode("ascii")
    except (InvalidTag, ValueError) as exc:
        raise AuthError(f"the secret of access key {record.access_key_id} cannot be opened "
                        f"({type(exc).__name__})",
                        hint="the approvals key changed or the state was altered; issue a new "
                             "key with `airlock token create --aws`") from None
