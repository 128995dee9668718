"""One contract, every vault backend: a local folder and S3 (moto in server mode, real HTTP)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airlock.model import utcnow
from airlock.vault.errors import VaultError
from airlock.vault.stores.base import ObjectStore
from airlock.vault.stores.local import LocalStore
from airlock.vault.stores.s3 import S3Store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    if request.param == "local":
        return LocalStore(request.getfixturevalue("vault_dir"))
    client, bucket = request.getfixturevalue("s3"), request.getfixturevalue("s3_bucket")
    return S3Store(client, bucket, "prefix/airlock")


def put(store: ObjectStore, key: str, data: bytes, retain: timedelta | None = None) -> None:
    writer = store.writer(key, retain_until=utcnow() + retain if retain else None)
    writer.write(data)
    writer.commit()


def read(store: ObjectStore, key: str) -> bytes:
    with store.open(key) as f:
        return f.read()


def test_round_trip_and_listing(store: ObjectStore) -> None:
    put(store, "snapshots/a/data.alv", b"x" * 100_000)
    put(store, "snapshots/a/manifest.json", b"{}")
    put(store, "snapshots/b/manifest.json", b"[]")
    assert read(store, "snapshots/a/data.alv") == b"x" * 100_000
    listed = {i.key: i.size for i in store.list("snapshots/")}
    assert listed == {"snapshots/a/data.alv": 100_000, "snapshots/a/manifest.json": 2,
                      "snapshots/b/manifest.json": 2}
    assert [i.key for i in store.list("snapshots/b/")] == ["snapshots/b/manifest.json"]
    assert store.exists("snapshots/a/data.alv") and not store.exists("snapshots/a/nope")


def test_an_unfinished_write_is_never_visible(store: ObjectStore) -> None:
    writer = store.writer("snapshots/c/data.alv", retain_until=None)
    writer.write(b"half of it")
    assert list(store.list("")) == []
    writer.abort()
    assert list(store.list("")) == []
    assert not store.exists("snapshots/c/data.alv")


def test_objects_are_never_overwritten(store: ObjectStore) -> None:
    put(store, "snapshots/a/data.alv", b"first")
    with pytest.raises(VaultError, match="already exists"):
        put(store, "snapshots/a/data.alv", b"second")
    assert read(store, "snapshots/a/data.alv") == b"first"


def test_missing_objects_are_a_clear_error(store: ObjectStore) -> None:
    with pytest.raises(VaultError, match="missing"):
        read(store, "snapshots/none/manifest.json")


def test_retained_objects_cannot_be_deleted_and_expired_ones_can(store: ObjectStore) -> None:
    put(store, "snapshots/a/data.alv", b"keep me", retain=timedelta(days=1))
    with pytest.raises(VaultError, match=r"retain|Object Lock|cannot be deleted"):
        store.delete("snapshots/a/data.alv")
    assert read(store, "snapshots/a/data.alv") == b"keep me"
    put(store, "snapshots/b/data.alv", b"scratch")
    store.delete("snapshots/b/data.alv")
    assert not store.exists("snapshots/b/data.alv")


@pytest.mark.parametrize("bad", ["", "/abs", "a/../b", "a//b", "a/./b"])
def test_keys_that_could_escape_are_refused(store: ObjectStore, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid vault key"):
        store.writer(bad, retain_until=None)


# ---- S3 specifics -------------------------------------------------------------------------------

def test_object_lock_holds_against_a_direct_delete_with_airlocks_own_credentials(
        s3: Any, s3_bucket: str) -> None:
    store = S3Store(s3, s3_bucket, "airlock")
    put(store, "snapshots/a/data.alv", b"backup", retain=timedelta(days=30))
    info = next(iter(store.list("snapshots/")))
    assert store.retention("snapshots/a/data.alv") is not None
    head = s3.head_object(Bucket=s3_bucket, Key="airlock/snapshots/a/data.alv")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=s3_bucket, Key="airlock/snapshots/a/data.alv",
                         VersionId=info.version)
    with pytest.raises(VaultError, match="Object Lock"):
        store.delete("snapshots/a/data.alv")
    # A plain DELETE only hides it behind a delete marker; the store still finds and reads it.
    s3.delete_object(Bucket=s3_bucket, Key="airlock/snapshots/a/data.alv")
    assert [i.key for i in store.list("snapshots/")] == ["snapshots/a/data.alv"]
    with store.open("snapshots/a/data.alv", info.version) as f:
        assert f.read() == b"backup"


def test_a_bucket_without_object_lock_is_refused(s3: Any) -> None:
    s3.create_bucket(Bucket="no-lock-bucket")
    with pytest.raises(VaultError, match="no Object Lock"):
        S3Store(s3, "no-lock-bucket")


def test_an_unreachable_s3_endpoint_is_a_clear_error() -> None:
    from airlock.vault.location import s3_client

    client = s3_client(region="us-east-1", endpoint_url="http://127.0.0.1:1",
                       access_key_id="x", secret_access_key="y")
    with pytest.raises(VaultError, match="cannot reach the vault bucket"):
        S3Store(client, "anything")


def test_local_partial_files_stay_out_of_listings(vault_dir: Path) -> None:
    store = LocalStore(vault_dir)
    writer = store.writer("snapshots/x/data.alv", retain_until=None)
    writer.write(b"partial")
    assert any((vault_dir / ".partial").iterdir())
    assert list(store.list()) == []
    writer.abort()
    assert not any((vault_dir / ".partial").iterdir())
