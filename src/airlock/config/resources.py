"""`[resources.NAME]`: what airlock protects, how targets find it, and its credentials."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field

from airlock.config.base import BuildContext, SecretSource, Strict, secret_or_plain
from airlock.errors import ConfigError
from airlock.secrets import MissingSecret, Secret, read_resource_secret

# What an api resource's upstream speaks, which decides how airlock authenticates to it and how
# its calls are read: Railway's GraphQL API (Bearer), AWS (SigV4 with `aws` keys), or any other
# HTTP API (Bearer; Kubernetes API servers are recognised by their paths).
ApiProvider = Literal["railway", "aws", "http"]
RAILWAY_HOSTS = ("backboard.railway.app", "backboard.railway.com")

ResourceKind = Literal[
    "postgres", "mysql", "sqlite", "redis", "mongodb", "api", "path", "volume", "bucket",
    "namespace", "project", "service", "other",
]


class AwsKeysFile(Strict):
    """The real AWS credentials airlock signs an aws api resource's calls with."""

    access_key_id: SecretSource
    secret_access_key: SecretSource
    session_token: SecretSource | None = None


@dataclass(frozen=True, slots=True)
class AwsKeys:
    access_key_id: Secret
    secret_access_key: Secret
    session_token: Secret | None = None


class ResourceFile(Strict):
    kind: ResourceKind
    environment: str
    description: str = ""
    url: SecretSource | str | None = None  # databases: connection URL (with credentials)
    credential: SecretSource | None = None  # upstream APIs: the real token
    base_url: str | None = None  # upstream APIs
    provider: ApiProvider | None = None  # api resources: default from base_url's host
    aws: AwsKeysFile | None = None  # provider "aws": airlock's own access key pair
    path: str | None = None  # sqlite files and folders
    match: list[str] = Field(default_factory=list)  # extra selectors, "kind:glob"
    stored_on: list[str] = Field(default_factory=list)  # resources whose loss destroys this one
    # resources this one is attached to (a service mounting a volume): their loss damages it
    attached_to: list[str] = Field(default_factory=list)
    backs_up: list[str] = Field(default_factory=list)  # resources this one holds backups of
    # the vault (vault/): quarantine instead of DROP TABLE, its grace period, scheduled backups
    soft_drop: bool = False
    grace: str | None = None
    backup_schedule: str | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    kind: str
    environment: str
    selectors: tuple[str, ...]  # "kind:glob" strings matched against Target.key
    paths: tuple[str, ...] = ()  # absolute folders or files this resource owns
    stored_on: tuple[str, ...] = ()
    backs_up: tuple[str, ...] = ()
    attached_to: tuple[str, ...] = ()
    url: Secret | None = None
    credential: Secret | None = None
    base_url: str | None = None
    description: str = ""
    provider: str = "http"  # api resources: railway, aws or http
    aws: AwsKeys | None = None


# The edges of the resource graph (the inventory walks them for the blast radius).
EDGES = ("stored_on", "attached_to", "backs_up")


def build_resources(parsed: Mapping[str, ResourceFile], known_envs: set[str],
                    ctx: BuildContext) -> dict[str, Resource]:
    declared_envs = sorted(ctx.environments)
    resources: dict[str, Resource] = {}
    for name, res in parsed.items():
        key = f"resources.{name}"
        if res.environment not in known_envs:
            ctx.fail(f"{key}.environment", f"environment {res.environment!r} is not declared "
                     f"under [environments] (declared: {', '.join(declared_envs) or 'none'})")
        for edge in EDGES:
            for other in getattr(res, edge):
                if other not in parsed:
                    ctx.fail(f"{key}.{edge}", f"names {other!r}, which is not a declared resource")
                elif other == name:
                    ctx.fail(f"{key}.{edge}", f"names {name!r} itself; an edge joins two "
                             "different resources")
        try:
            resources[name] = build_resource(name, res, ctx.base)
        except ConfigError as exc:
            ctx.fail(key, exc.message)
    return resources


def build_resource(name: str, res: ResourceFile, base: Path) -> Resource:
    where = f"resources.{name}"
    # Credentials that cannot be read now load as MissingSecret: judging never needs them.
    url = None
    if isinstance(res.url, SecretSource):
        url = read_resource_secret(env=res.url.env, file=res.url.file, where=f"{where}.url",
                                   base_dir=base)
    elif res.url is not None:
        url = secret_or_plain(res.url, f"{where}.url", base)
    credential = None
    if res.credential is not None:
        credential = read_resource_secret(env=res.credential.env, file=res.credential.file,
                                          where=f"{where}.credential", base_dir=base)
    selectors: list[str] = []
    paths: list[str] = []
    for selector in res.match:
        if ":" not in selector:
            raise ConfigError(f"{where}.match: selector {selector!r} must look like 'kind:value' "
                              "(for example 'railway:volume:4f2c…' or 'postgres:db.internal:5432/app')")
        selectors.append(selector)
    if res.kind in ("postgres", "mysql", "redis", "mongodb"):
        if url is None:
            raise ConfigError(f"{where}.url: a {res.kind} resource needs its connection URL "
                              f'(url = {{ env = "NAME" }})')
        if url.available:
            selectors.append(database_selector(res.kind, url.reveal(), where))
        # Without its URL the resource claims no database by address: what it would have
        # claimed is unclaimed, so (unknown) — judged as production, never more leniently.
    if res.kind in ("sqlite", "path"):
        if res.path is None:
            raise ConfigError(f"{where}.path: a {res.kind} resource needs `path`")
        resolved = Path(res.path).expanduser()
        if not resolved.is_absolute():
            resolved = base / resolved
        paths.append(os.path.normpath(resolved))
    if res.kind == "api":
        if res.base_url is None:
            raise ConfigError(f"{where}.base_url: an api resource needs the upstream's base URL")
        parts = urlsplit(res.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}.base_url: {res.base_url!r} is not an http(s) URL")
        selectors.append(f"url:{res.base_url.rstrip('/')}*")
        selectors.append(f"host:{parts.hostname.lower()}")
    provider, aws = _api_provider(name, res, base)
    return Resource(name=name, kind=res.kind, environment=res.environment,
                    selectors=tuple(selectors), paths=tuple(paths), stored_on=tuple(res.stored_on),
                    backs_up=tuple(res.backs_up), attached_to=tuple(res.attached_to), url=url,
                    credential=credential, base_url=res.base_url, description=res.description,
                    provider=provider, aws=aws)


def _api_provider(name: str, res: ResourceFile, base: Path) -> tuple[str, AwsKeys | None]:
    """An api resource's provider (stated, or known by its host) and its AWS keys."""
    where = f"resources.{name}"
    if res.kind != "api":
        if res.provider is not None or res.aws is not None:
            raise ConfigError(f"{where}: `provider` and `aws` belong to api resources only")
        return "http", None
    host = (urlsplit(res.base_url or "").hostname or "").lower()
    provider: str = res.provider or ("railway" if host in RAILWAY_HOSTS else
                                     "aws" if host == "amazonaws.com"
                                     or host.endswith(".amazonaws.com") else "http")
    if provider != "aws":
        if res.aws is not None:
            raise ConfigError(f"{where}.aws: AWS keys need provider = \"aws\"")
        return provider, None
    if res.aws is None:
        raise ConfigError(f"{where}.aws: an AWS api resource needs airlock's own keys: "
                          'aws = { access_key_id = { env = "…" }, secret_access_key = { env = "…" } }')
    if res.credential is not None:
        raise ConfigError(f"{where}.credential: AWS calls are signed with `aws` keys, not a "
                          "Bearer credential; remove `credential`")

    def read(source: SecretSource, key: str) -> Secret:
        return read_resource_secret(env=source.env, file=source.file,
                                    where=f"{where}.aws.{key}", base_dir=base)

    keys = AwsKeys(read(res.aws.access_key_id, "access_key_id"),
                   read(res.aws.secret_access_key, "secret_access_key"),
                   read(res.aws.session_token, "session_token")
                   if res.aws.session_token is not None else None)
    return provider, keys


DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "redis": 6379, "mongodb": 27017}


def database_selector(kind: str, url: str, where: str = "url") -> str:
    """`kind:host:port/db` for a database URL, the form classifiers give database targets."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS[kind]
    except (ValueError, KeyError):
        raise ConfigError(f"{where}: cannot parse the {kind} connection URL") from None
    host = (parts.hostname or "localhost").lower()
    db = parts.path.lstrip("/") or "?"
    return f"{kind}:{host}:{port}/{db}"


def missing_credentials(resources: Mapping[str, Resource]) -> list[MissingSecret]:
    """The resources' credentials that could not be read when the configuration was loaded.
    Judging needs none of them; serving does (`airlock up` refuses to start without them)."""
    found: list[MissingSecret] = []
    for res in resources.values():
        keys = (res.aws.access_key_id, res.aws.secret_access_key, res.aws.session_token) \
            if res.aws is not None else ()
        for secret in (res.url, res.credential, *keys):
            if isinstance(secret, MissingSecret):
                found.append(secret)
    return found
