"""Fixtures for the vault: keys, a vault folder on another filesystem than the data (as the
local store insists), a real S3 protocol (moto in server mode) and real PostgreSQL databases."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airlock.upstream.postgres import PgConn
from airlock.vault.core import Vault
from airlock.vault.crypto import VaultKey
from airlock.vault.location import s3_client
from airlock.vault.stores.local import LocalStore
from airlock.vault.stores.s3 import S3Store
from tests.conftest import require
from tests.pgcluster import Cluster

OTHER_FS = Path("/dev/shm")


@pytest.fixture
def key() -> VaultKey:
    return VaultKey.generate()


@pytest.fixture
def vault_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on a different filesystem from tmp_path and the test PostgreSQL server."""
    usable = OTHER_FS.is_dir() and os.stat(OTHER_FS).st_dev != os.stat(tmp_path).st_dev
    require(usable, f"a second filesystem for the vault ({OTHER_FS} as tmpfs)")
    path = Path(tempfile.mkdtemp(prefix="airlock-vault-test-", dir=OTHER_FS))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def local_vault(vault_dir: Path, key: VaultKey) -> Vault:
    return Vault(LocalStore(vault_dir), key)


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    return s3_client(region="us-east-1", endpoint_url=moto_endpoint, access_key_id="testing",
                     secret_access_key="testing")


@pytest.fixture
def s3_bucket(s3: Any) -> str:
    """A fresh bucket with Object Lock (and so versioning) enabled."""
    name = f"vault-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


@pytest.fixture
def s3_vault(s3: Any, s3_bucket: str, key: VaultKey) -> Vault:
    return Vault(S3Store(s3, s3_bucket, "airlock"), key)


@pytest.fixture
def pg(pg_cluster: Cluster, pg_database: str) -> PgConn:
    return PgConn(pg_database, pg_cluster.bindir)
