"""Opening a vault: from the configuration (`[vault]`), or from a bare LOCATION and a key when
airlock's state is gone (`airlock restore --vault LOCATION --key-file FILE`).

    LOCATION   /srv/airlock-vault, file:///srv/airlock-vault, s3://bucket/prefix
    key        [vault] key = {env|file}; else <state_dir>/vault.key (created on first use);
               for --vault: --key-file FILE or $AIRLOCK_VAULT_KEY (hex or base64)

S3 credentials and endpoint follow boto3's usual chain (AWS_PROFILE, AWS_ACCESS_KEY_ID,
AWS_ENDPOINT_URL, instance roles) unless `[vault.s3]` names them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airlock.config import Config
from airlock.store import Store
from airlock.vault import identity
from airlock.vault.catalog import Catalog
from airlock.vault.core import Vault
from airlock.vault.crypto import VaultKey, load_or_create_key
from airlock.vault.errors import VaultError
from airlock.vault.stores.base import ObjectStore
from airlock.vault.stores.local import LocalStore
from airlock.vault.stores.s3 import S3Store

KEY_ENV = "AIRLOCK_VAULT_KEY"


def s3_client(*, region: str | None = None, endpoint_url: str | None = None,
              access_key_id: str | None = None, secret_access_key: str | None = None) -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    kwargs: dict[str, Any] = {"config": BotoConfig(retries={"max_attempts": 5, "mode": "standard"},
                                                   connect_timeout=10, read_timeout=120)}
    if region:
        kwargs["region_name"] = region
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if access_key_id and secret_access_key:
        kwargs["aws_access_key_id"] = access_key_id
        kwargs["aws_secret_access_key"] = secret_access_key
    return boto3.client("s3", **kwargs)


def store_at(location: str) -> ObjectStore:
    """An object store from a LOCATION string."""
    if location.startswith("s3://"):
        parts = urlsplit(location)
        if not parts.netloc:
            raise VaultError(f"{location}: an S3 location is s3://BUCKET[/PREFIX]")
        return S3Store(s3_client(), parts.netloc, parts.path.strip("/"))
    path = location.removeprefix("file://")
    if "://" in path:
        raise VaultError(f"{location}: expected a folder or s3://BUCKET/PREFIX")
    return LocalStore(Path(path))


def config_store(config: Config) -> ObjectStore:
    v = config.vault
    if v.s3_bucket is not None:
        client = s3_client(
            region=v.s3_region, endpoint_url=v.s3_endpoint_url,
            access_key_id=v.s3_access_key_id.reveal() if v.s3_access_key_id else None,
            secret_access_key=v.s3_secret_access_key.reveal() if v.s3_secret_access_key else None)
        return S3Store(client, v.s3_bucket, v.s3_prefix)
    return LocalStore(v.path or config.state_dir / "vault")


def config_key(config: Config) -> VaultKey:
    if config.vault.key is not None:
        return VaultKey.from_text(config.vault.key.reveal(), config.vault.key.source)
    return load_or_create_key(config.state_dir / "vault.key")


def open_vault(config: Config, state: Store | None) -> Vault:
    """The configured vault, with the state store as its catalog."""
    if not config.vault.enabled:
        raise VaultError("the vault is disabled ([vault] enabled = false)")
    vault = Vault(config_store(config), config_key(config),
                  catalog=Catalog(state) if state is not None else None,
                  retention=config.vault.retention)
    if state is not None:  # the state knows which vault this is: check before each snapshot
        vault.guard = lambda: identity.ensure(vault, state)
    return vault


def key_from(key_file: Path | None) -> VaultKey | None:
    """The key for a bare vault: --key-file, else $AIRLOCK_VAULT_KEY, else None (reading
    manifests and checking digests needs no key; decrypting does)."""
    if key_file is not None:
        try:
            return VaultKey.from_text(key_file.read_text(encoding="ascii"), f"file:{key_file}")
        except (OSError, UnicodeDecodeError) as exc:
            raise VaultError(f"cannot read the vault key {key_file}: {exc}") from None
    text = os.environ.get(KEY_ENV)
    return VaultKey.from_text(text, f"env:{KEY_ENV}") if text else None
