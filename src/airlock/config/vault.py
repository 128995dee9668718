"""`[vault]` and the vault keys of `[resources.NAME]`: where snapshots go, how long they and
deferred deletes wait, and which resources are soft-dropped or backed up on a schedule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from airlock.config.base import BuildContext, SecretSource, Strict
from airlock.config.resources import ResourceFile
from airlock.secrets import Secret


class VaultS3File(Strict):
    bucket: str
    prefix: str = "airlock"
    region: str | None = None
    endpoint_url: str | None = None  # for S3-compatible services (MinIO, R2, …)
    access_key_id: SecretSource | None = None  # default: boto3's usual credential chain
    secret_access_key: SecretSource | None = None


class VaultFile(Strict):
    enabled: bool = True
    path: str | None = None  # a local folder on another disk (default: <state_dir>/vault)
    s3: VaultS3File | None = None  # or an S3 bucket with Object Lock
    key: SecretSource | None = None  # 32 bytes, hex or base64 (default: <state_dir>/vault.key)
    retention: str = "30d"  # how long snapshots are kept (Object Lock retain-until on S3)
    grace: str = "48h"  # deferred deletes and soft-dropped tables wait this long
    pg_bin: str | None = None  # folder with pg_dump and psql (default: PATH, then Debian's)
    rpo: str | None = None  # `airlock doctor`: a resource's newest backup may be this old
    drill_every: str | None = None  # `airlock doctor`: a drill must have passed this recently


@dataclass(frozen=True, slots=True)
class ResourceVault:
    """Per-resource vault settings (`soft_drop`, `grace`, `backup_schedule`)."""

    soft_drop: bool = False
    grace: timedelta | None = None  # None: the vault's grace
    backup_schedule: timedelta | None = None  # None: no scheduled backups


@dataclass(frozen=True, slots=True)
class VaultSettings:
    """`[vault]`: where snapshots go and how long they and deferred deletes wait."""

    enabled: bool = True
    path: Path | None = None  # None and no s3: <state_dir>/vault
    s3_bucket: str | None = None
    s3_prefix: str = "airlock"
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    s3_access_key_id: Secret | None = None
    s3_secret_access_key: Secret | None = None
    key: Secret | None = None  # None: <state_dir>/vault.key, created on first use
    retention: timedelta = timedelta(days=30)
    grace: timedelta = timedelta(hours=48)
    pg_bin: Path | None = None
    resources: Mapping[str, ResourceVault] = field(default_factory=dict)
    rpo: timedelta | None = None  # None: doctor does not judge backups' age
    drill_every: timedelta | None = None  # None: doctor does not judge drills' age

    def for_resource(self, name: str) -> ResourceVault:
        return self.resources.get(name, ResourceVault())


def build_vault(v: VaultFile, resources: Mapping[str, ResourceFile],
                ctx: BuildContext) -> VaultSettings:
    defaults = VaultSettings()
    retention = ctx.duration(v.retention, "vault.retention", least=timedelta(days=1),
                             most=timedelta(days=3650), default=defaults.retention)
    grace = ctx.duration(v.grace, "vault.grace", least=timedelta(minutes=1),
                         most=timedelta(days=90), default=defaults.grace)
    rpo = None if v.rpo is None else ctx.duration(
        v.rpo, "vault.rpo", least=timedelta(minutes=5), most=timedelta(days=365),
        default=timedelta(days=1))
    drill_every = None if v.drill_every is None else ctx.duration(
        v.drill_every, "vault.drill_every", least=timedelta(hours=1), most=timedelta(days=365),
        default=timedelta(days=30))
    if v.path is not None and v.s3 is not None:
        ctx.fail("vault", "give either `path` (a local folder) or `s3` (a bucket), not both")
    path = ctx.local_path(v.path) if v.path is not None else None
    s3 = v.s3
    if s3 is not None and s3.endpoint_url is not None \
            and urlsplit(s3.endpoint_url).scheme not in ("http", "https"):
        ctx.fail("vault.s3.endpoint_url", f"{s3.endpoint_url!r} is not an http(s) URL")
    if s3 is not None and (s3.access_key_id is None) != (s3.secret_access_key is None):
        ctx.fail("vault.s3", "give both access_key_id and secret_access_key, or neither (boto3's "
                 "usual credential chain)")
    per_resource: dict[str, ResourceVault] = {}
    for name, res in resources.items():
        where = f"resources.{name}"
        if res.soft_drop and res.kind != "postgres":
            ctx.fail(f"{where}.soft_drop", "soft drop is for postgres resources")
        res_grace = None if res.grace is None else ctx.duration(
            res.grace, f"{where}.grace", least=timedelta(minutes=1),
            most=timedelta(days=90), default=grace)
        schedule = None if res.backup_schedule is None else ctx.duration(
            res.backup_schedule, f"{where}.backup_schedule", least=timedelta(minutes=5),
            most=timedelta(days=90), default=timedelta(days=1))
        if res.soft_drop or res_grace is not None or schedule is not None:
            per_resource[name] = ResourceVault(res.soft_drop, res_grace, schedule)
    return VaultSettings(
        enabled=v.enabled, path=path, s3_bucket=s3.bucket if s3 else None,
        s3_prefix=s3.prefix if s3 else "airlock", s3_region=s3.region if s3 else None,
        s3_endpoint_url=s3.endpoint_url if s3 else None,
        s3_access_key_id=ctx.secret(s3.access_key_id, "vault.s3.access_key_id") if s3 else None,
        s3_secret_access_key=ctx.secret(s3.secret_access_key, "vault.s3.secret_access_key")
        if s3 else None,
        key=ctx.secret(v.key, "vault.key"), retention=retention, grace=grace,
        pg_bin=Path(v.pg_bin) if v.pg_bin else None, resources=per_resource, rpo=rpo,
        drill_every=drill_every)
