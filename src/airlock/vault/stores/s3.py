"""A vault in an S3-compatible bucket with Object Lock in compliance mode.

Every object is written with `ObjectLockMode=COMPLIANCE` and a retain-until date: until then
nobody — not an agent, not airlock's own credentials, not the account's root user — can delete
that object version or shorten its retention. The bucket must have been created with Object
Lock enabled (which also turns on versioning); the store refuses a bucket without it.

Atomicity: bytes are spooled locally and sent only when the object is complete; a PUT (or a
multipart upload's completion) is atomic in S3, so a crash leaves no partial object under the
key (an abandoned multipart upload is invisible; a lifecycle rule can clean it up). Single PUTs
carry `If-None-Match: *`, so an existing key is never overwritten.

Deleting through this store deletes the object *version* (a plain DELETE would only add a
delete marker and hide it); listing ignores delete markers, so a hidden backup is still found.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from airlock.vault.errors import VaultError
from airlock.vault.stores.base import ObjectInfo, check_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

SPOOL_IN_MEMORY = 8 << 20
SINGLE_PUT_LIMIT = 64 << 20


def _client_error(exc: Exception) -> tuple[str, str]:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    return str(error.get("Code", type(exc).__name__)), str(error.get("Message", exc))


class _S3Writer:
    def __init__(self, store: S3Store, key: str, retain_until: datetime | None) -> None:
        self._store = store
        self._key = key
        self._retain_until = retain_until
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        self._size = 0

    def write(self, data: bytes) -> int:
        self._spool.write(data)
        self._size += len(data)
        return len(data)

    def commit(self) -> ObjectInfo:
        from botocore.exceptions import BotoCoreError, ClientError

        extra: dict[str, Any] = {}
        if self._retain_until is not None:
            extra = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": self._retain_until}
        full = self._store.full_key(self._key)
        try:
            self._spool.seek(0)
            client = self._store.client
            if self._size <= SINGLE_PUT_LIMIT:
                response = client.put_object(Bucket=self._store.bucket, Key=full,
                                             Body=cast(Any, self._spool), IfNoneMatch="*",
                                             ChecksumAlgorithm="SHA256", **extra)
                version = response.get("VersionId")
            else:
                if self._store.exists(self._key):
                    raise VaultError(f"vault object {self._key} already exists")
                client.upload_fileobj(cast(Any, self._spool), self._store.bucket, full,
                                      ExtraArgs={**extra, "ChecksumAlgorithm": "SHA256"})
                version = client.head_object(Bucket=self._store.bucket, Key=full).get("VersionId")
        except ClientError as exc:
            code, message = _client_error(exc)
            if code == "PreconditionFailed":
                raise VaultError(f"vault object {self._key} already exists; objects are never "
                                 "overwritten") from None
            raise VaultError(f"cannot write {self._key} to {self._store.location}: {code}: "
                             f"{message}") from None
        except BotoCoreError as exc:
            raise VaultError(f"cannot write {self._key} to {self._store.location}: {exc}") from None
        finally:
            self._spool.close()
        return ObjectInfo(self._key, self._size, version)

    def abort(self) -> None:
        self._spool.close()


class S3Store:
    def __init__(self, client: S3Client, bucket: str, prefix: str = "", *,
                 require_lock: bool = True) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        if require_lock:
            self._check_bucket()

    def _check_bucket(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            conf = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            code, message = _client_error(exc)
            if "ObjectLockConfigurationNotFound" in code:
                raise VaultError(f"bucket {self.bucket} has no Object Lock, so backups in it could "
                                 "be deleted", hint="create the bucket with Object Lock enabled "
                                 "(aws s3api create-bucket --object-lock-enabled-for-bucket)") from None
            raise VaultError(f"cannot reach the vault bucket {self.bucket}: {code}: {message}",
                             hint="check [vault] bucket, endpoint and credentials") from None
        except BotoCoreError as exc:
            raise VaultError(f"cannot reach the vault bucket {self.bucket}: {exc}",
                             hint="check [vault] endpoint and credentials") from None
        enabled = conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        if enabled != "Enabled":
            raise VaultError(f"bucket {self.bucket} does not have Object Lock enabled")

    def full_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative(self, full: str) -> str:
        return full[len(self.prefix) + 1:] if self.prefix else full

    def writer(self, key: str, *, retain_until: datetime | None) -> _S3Writer:
        check_key(key)
        return _S3Writer(self, key, retain_until)

    def open(self, key: str, version: str | None = None) -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError

        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self.full_key(key)}
        if version:
            args["VersionId"] = version
        try:
            response = self.client.get_object(**args)
        except ClientError as exc:
            code, message = _client_error(exc)
            if code in ("NoSuchKey", "NoSuchVersion", "404"):
                raise VaultError(f"vault object {key} is missing from {self.location}") from None
            raise VaultError(f"cannot read vault object {key}: {code}: {message}") from None
        except BotoCoreError as exc:
            raise VaultError(f"cannot read vault object {key}: {exc}") from None
        return cast(BinaryIO, response["Body"])

    def _versions(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_object_versions")
        full = (f"{self.prefix}/" if self.prefix else "") + prefix
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for version in page.get("Versions", []):
                yield cast(dict[str, Any], version)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        from botocore.exceptions import BotoCoreError, ClientError

        newest: dict[str, dict[str, Any]] = {}
        try:
            for version in self._versions(prefix):
                key = self._relative(version["Key"])
                seen = newest.get(key)
                if seen is None or version["LastModified"] > seen["LastModified"]:
                    newest[key] = version
        except (ClientError, BotoCoreError) as exc:
            raise VaultError(f"cannot list the vault at {self.location}: {exc}") from None
        for key in sorted(newest):
            if key.startswith(prefix):
                yield ObjectInfo(key, int(newest[key]["Size"]), newest[key]["VersionId"])

    def exists(self, key: str) -> bool:
        return any(info.key == key for info in self.list(key))

    def retention(self, key: str) -> datetime | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.full_key(key))
        except ClientError:
            return None
        until = head.get("ObjectLockRetainUntilDate")
        return until if isinstance(until, datetime) else None

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        versions = [v for v in self._versions(key) if self._relative(v["Key"]) == key]
        if not versions:
            raise VaultError(f"vault object {key} is missing from {self.location}")
        for version in versions:
            try:
                self.client.delete_object(Bucket=self.bucket, Key=version["Key"],
                                          VersionId=version["VersionId"])
            except ClientError as exc:
                code, message = _client_error(exc)
                raise VaultError(f"vault object {key} cannot be deleted: {code}: {message} "
                                 "(Object Lock retention holds it)") from None
            except BotoCoreError as exc:
                raise VaultError(f"cannot delete vault object {key}: {exc}") from None
