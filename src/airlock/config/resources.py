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
from airlock.secrets import Secret, read_secret

ResourceKind = Literal[
    "postgres", "mysql", "sqlite", "redis", "mongodb", "api", "path", "volume", "bucket",
    "namespace", "project", "service", "other",
]


class ResourceFile(Strict):
    kind: ResourceKind
    environment: str
    description: str = ""
    url: SecretSource | str | None = None  # databases: connection URL (with credentials)
    credential: SecretSource | None = None  # upstream APIs: the real token
    base_url: str | None = None  # upstream APIs
    path: str | None = None  # sqlite files and folders
    match: list[str] = Field(default_factory=list)  # extra selectors, "kind:glob"
    stored_on: list[str] = Field(default_factory=list)  # resources whose loss destroys this one
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
    url: Secret | None = None
    credential: Secret | None = None
    base_url: str | None = None
    description: str = ""


def build_resources(parsed: Mapping[str, ResourceFile], known_envs: set[str],
                    ctx: BuildContext) -> dict[str, Resource]:
    declared_envs = sorted(ctx.environments)
    resources: dict[str, Resource] = {}
    for name, res in parsed.items():
        key = f"resources.{name}"
        if res.environment not in known_envs:
            ctx.fail(f"{key}.environment", f"environment {res.environment!r} is not declared "
                     f"under [environments] (declared: {', '.join(declared_envs) or 'none'})")
        for edge in ("stored_on", "backs_up"):
            for other in getattr(res, edge):
                if other not in parsed:
                    ctx.fail(f"{key}.{edge}", f"names {other!r}, which is not a declared resource")
        try:
            resources[name] = build_resource(name, res, ctx.base)
        except ConfigError as exc:
            ctx.fail(key, exc.message)
    return resources


def build_resource(name: str, res: ResourceFile, base: Path) -> Resource:
    where = f"resources.{name}"
    url = secret_or_plain(res.url, f"{where}.url", base) if res.url is not None else None
    credential = None
    if res.credential is not None:
        credential = read_secret(env=res.credential.env, file=res.credential.file,
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
        selectors.append(database_selector(res.kind, url.reveal(), where))
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
    return Resource(name=name, kind=res.kind, environment=res.environment,
                    selectors=tuple(selectors), paths=tuple(paths), stored_on=tuple(res.stored_on),
                    backs_up=tuple(res.backs_up), url=url, credential=credential,
                    base_url=res.base_url, description=res.description)


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
