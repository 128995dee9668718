"""Reaching a PostgreSQL resource with airlock's own credential.

`PgConn` is one database as airlock reaches it: the libpq URL read from the resource's secret
(password included) and where PostgreSQL's client tools live. Everything that connects — the
vault's snapshots, restores and drills, `airlock sql`, a wire proxy's protected transactions —
builds it with `postgres_of(resource, config)`. The password never appears on a command line
(where `ps` would show it): a tool gets it in `PGPASSWORD`, with `--dbname` stripped of it.

Errors are `VaultError`s: the vault was the first to connect, and its callers expect them.
"""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import conninfo

from airlock.config import Config, Resource
from airlock.secrets import redact_url
from airlock.vault.errors import VaultError

__all__ = ["PgConn", "find_tool", "postgres_of"]


def postgres_of(resource: Resource, config: Config) -> PgConn:
    """How airlock reaches a configured postgres resource, with its credential."""
    if resource.url is None:
        raise VaultError(f"resource {resource.name} has no url")
    return PgConn(resource.url.reveal(), config.vault.pg_bin)


@dataclass(frozen=True)
class PgConn:
    """How to reach one database: a libpq URL (with its password) and where tools live."""

    url: str
    bindir: Path | None = None

    @property
    def shown(self) -> str:
        return redact_url(self.url)

    def params(self) -> dict[str, str]:
        try:
            return {k: str(v) for k, v in conninfo.conninfo_to_dict(self.url).items()}
        except psycopg.ProgrammingError as exc:
            raise VaultError(f"cannot parse the connection URL {self.shown}: {exc}") from None

    @property
    def dbname(self) -> str:
        params = self.params()
        return params.get("dbname") or params.get("user") or "postgres"

    @property
    def host(self) -> str:
        return self.params().get("host", "localhost")

    def with_dbname(self, dbname: str) -> PgConn:
        params = self.params()
        params["dbname"] = dbname
        return PgConn(conninfo.make_conninfo(**params), self.bindir)

    def tool_args(self) -> tuple[str, dict[str, str]]:
        """(`--dbname` value without the password, environment carrying it)."""
        params = self.params()
        env = dict(os.environ)
        password = params.pop("password", None)
        if password is not None:
            env["PGPASSWORD"] = password
        env.setdefault("PGCONNECT_TIMEOUT", "10")
        return conninfo.make_conninfo(**params), env

    def connect(self, *, autocommit: bool = False,
                timeout: int = 10) -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(self.url, autocommit=autocommit, connect_timeout=timeout,
                                   application_name="airlock-vault")
        except psycopg.Error as exc:
            raise VaultError(f"cannot connect to {self.shown}: {str(exc).strip()}") from None

    def tool(self, name: str) -> str:
        return find_tool(name, self.bindir)


def find_tool(name: str, bindir: Path | None = None) -> str:
    """`name` from the configured folder, else PATH, else the newest /usr/lib/postgresql/*/bin."""
    if bindir is not None:
        candidate = bindir / name
        if candidate.exists():
            return str(candidate)
        raise VaultError(f"{name} is not in {bindir}", hint="fix [vault] pg_bin")
    found = shutil.which(name)
    if found:
        return found
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                     key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    for folder in reversed(folders):
        if (Path(folder) / name).exists():
            return str(Path(folder) / name)
    raise VaultError(f"{name} (PostgreSQL client tools) is not installed",
                     hint="install postgresql-client, or set [vault] pg_bin to its folder")


