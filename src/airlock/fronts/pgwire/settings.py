"""`[fronts.pgwire]`: where the PostgreSQL wire proxy listens, and how it treats clients.

    [fronts.pgwire]
    listen = { app-db = "127.0.0.1:6433" }          # postgres resource → host:port (0: any)
    listen_socket = { app-db = "/run/airlock" }     # …and a folder for its .s.PGSQL.<port>
    tls_cert = "server.crt"                          # with tls_key: clients may use TLS
    tls_key = "server.key"
    hold_wait_seconds = 0    # > 0: a held statement waits this long for its approval
    idle_timeout = "1h"      # a client silent this long is disconnected
    password_auth = false    # also accept a token as a cleartext password (local or TLS only)
    shutdown_grace = "10s"   # on SIGTERM, open transactions get this long to finish
    uvloop = true            # the proxy's event loop: uvloop (false: asyncio's own)
    relay = "auto"           # allowed reads go through the compiled relay (pgrelay.c) where it
                             # builds; "python": every session stays in Python

Each resource in `listen` gets its own service in `airlock up` (`pgwire:<resource>`). A
resource that is not declared, or is not `kind = "postgres"`, is an error naming the key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field

from airlock.config.base import BuildContext, Strict
from airlock.config.sections import FrontSection

__all__ = ["MAX_HOLD_WAIT_SECONDS", "SECTION", "Listen", "PgwireFile", "PgwireSettings"]

MAX_HOLD_WAIT_SECONDS = 3600


class PgwireFile(Strict):
    listen: dict[str, str] = Field(default_factory=dict)
    listen_socket: dict[str, str] = Field(default_factory=dict)
    tls_cert: str | None = None
    tls_key: str | None = None
    hold_wait_seconds: int = 0
    idle_timeout: str = "1h"
    password_auth: bool = False
    shutdown_grace: str = "10s"
    uvloop: bool = True
    relay: Literal["auto", "python"] = "auto"


@dataclass(frozen=True, slots=True)
class Listen:
    """Where one resource is served: a TCP address, and optionally a Unix socket folder."""

    host: str
    port: int  # 0: any free port (tests)
    socket_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class PgwireSettings:
    listeners: Mapping[str, Listen] = field(default_factory=dict)  # resource → where
    tls_cert: Path | None = None
    tls_key: Path | None = None
    hold_wait_seconds: int = 0
    idle_timeout: timedelta = timedelta(hours=1)
    password_auth: bool = False
    shutdown_grace: timedelta = timedelta(seconds=10)
    uvloop: bool = True
    relay: str = "auto"  # "auto": quiet plain-socket sessions are lent to pgrelay where it builds

    def files(self) -> Iterator[tuple[Path, str, bool]]:
        """The files airlock depends on here (guards.AirlockPlaces): the TLS key is a secret
        (an agent holding it could pose as the proxy); the certificate may be read, not changed."""
        if self.tls_key is not None:
            yield self.tls_key, "TLS private key of the wire proxy", True
        if self.tls_cert is not None:
            yield self.tls_cert, "TLS certificate of the wire proxy", False


def build(parsed: PgwireFile, ctx: BuildContext) -> PgwireSettings:
    defaults = PgwireSettings()
    listeners: dict[str, Listen] = {}
    seen: dict[tuple[str, int], str] = {}
    for name, address in parsed.listen.items():
        if not _postgres_resource(name, f"listen.{name}", ctx):
            continue
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            ctx.fail(f"listen.{name}", f"{address!r} is not host:port (for example "
                     '"127.0.0.1:6433")')
            continue
        where = (host.strip("[]"), int(port))
        if where[1] != 0 and where in seen:  # port 0: any free port, never a clash
            ctx.fail(f"listen.{name}", f"{address} is also where {seen[where]} listens")
        seen[where] = name
        listeners[name] = Listen(*where)
    for name, folder in parsed.listen_socket.items():
        if not _postgres_resource(name, f"listen_socket.{name}", ctx):
            continue
        if name not in parsed.listen:
            ctx.fail(f"listen_socket.{name}", "also give listen."
                     f"{name} (its port names the socket file .s.PGSQL.<port>)")
            continue
        if name in listeners:
            listen = listeners[name]
            listeners[name] = Listen(listen.host, listen.port, ctx.local_path(folder))
    if (parsed.tls_cert is None) != (parsed.tls_key is None):
        ctx.fail("tls_cert", "give both tls_cert and tls_key, or neither")
    if not 0 <= parsed.hold_wait_seconds <= MAX_HOLD_WAIT_SECONDS:
        ctx.fail("hold_wait_seconds", f"{parsed.hold_wait_seconds} is outside "
                 f"0..{MAX_HOLD_WAIT_SECONDS}")
    return PgwireSettings(
        listeners=listeners,
        tls_cert=_file(parsed.tls_cert, "tls_cert", ctx),
        tls_key=_file(parsed.tls_key, "tls_key", ctx),
        hold_wait_seconds=parsed.hold_wait_seconds,
        idle_timeout=ctx.duration(parsed.idle_timeout, "idle_timeout",
                                  least=timedelta(seconds=10), most=timedelta(days=7),
                                  default=defaults.idle_timeout),
        password_auth=parsed.password_auth,
        shutdown_grace=ctx.duration(parsed.shutdown_grace, "shutdown_grace",
                                    least=timedelta(seconds=0), most=timedelta(minutes=10),
                                    default=defaults.shutdown_grace),
        uvloop=parsed.uvloop, relay=parsed.relay)


def _postgres_resource(name: str, key: str, ctx: BuildContext) -> bool:
    resource = ctx.resources.get(name)
    if resource is None:
        ctx.fail(key, f"{name!r} is not a declared resource (declared: "
                 f"{', '.join(sorted(ctx.resources)) or 'none'})")
        return False
    if resource.kind != "postgres":
        ctx.fail(key, f"{name} is a {resource.kind} resource; the wire proxy serves postgres "
                 "resources only")
        return False
    return True


def _file(text: str | None, key: str, ctx: BuildContext) -> Path | None:
    if text is None:
        return None
    path = ctx.local_path(text)
    if not path.is_file():
        ctx.fail(key, f"{path} is not a file")
    return path


SECTION: FrontSection[PgwireFile, PgwireSettings] = FrontSection("pgwire", PgwireFile, build)
