"""airlock's own connection to the real server: TLS as the URL asks, then trust, cleartext, md5
or SCRAM-SHA-256 with the real credential, which never leaves airlock.

The URL is a libpq connection string or URI (parsed by psycopg's own parser), so the usual
options mean what they mean to libpq: `sslmode` (disable, allow, prefer, require, verify-ca,
verify-full), `sslrootcert` (a file, or `system`), `sslcert`/`sslkey`, a Unix socket folder as
`host`. `require` without a root certificate encrypts without checking who answers, as in
libpq; name a root certificate, or use verify-full, to be sure.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from airlock.errors import AuthError, InputError
from airlock.fronts.pgwire import auth
from airlock.fronts.pgwire import protocol as pw

CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    user: str
    password: str | None
    dbname: str
    sslmode: str = "prefer"
    sslrootcert: str | None = None
    sslcert: str | None = None
    sslkey: str | None = None

    @classmethod
    def from_url(cls, url: str) -> Target:
        try:
            info = conninfo_to_dict(url)
        except Exception as exc:  # psycopg raises ProgrammingError with the reason
            raise InputError(f"cannot read the upstream connection URL: {exc}") from None
        host = str(info.get("host") or "/var/run/postgresql").split(",")[0]
        user = str(info.get("user") or os.environ.get("USER", "postgres"))
        sslmode = str(info.get("sslmode") or ("disable" if host.startswith("/") else "prefer"))
        if sslmode not in ("disable", "allow", "prefer", "require", "verify-ca", "verify-full"):
            raise InputError(f"sslmode={sslmode} is not one of libpq's modes")
        return cls(host=host, port=int(str(info.get("port") or 5432).split(",")[0]), user=user,
                   password=str(info["password"]) if info.get("password") else None,
                   dbname=str(info.get("dbname") or user), sslmode=sslmode,
                   sslrootcert=_opt(info.get("sslrootcert")), sslcert=_opt(info.get("sslcert")),
                   sslkey=_opt(info.get("sslkey")))

    @property
    def shown(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"


def _opt(value: object) -> str | None:
    return str(value) if value else None


@dataclass
class Upstream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    params: dict[str, str] = field(default_factory=dict)
    pid: int = 0
    secret: int = 0
    status: str = pw.TX_IDLE
    frames: pw.FrameReader = field(default_factory=pw.FrameReader)

    async def frame(self) -> tuple[bytes, bytes]:
        while True:
            got = self.frames.next()
            if got is not None:
                return got
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.frames.feed(data)


def client_tls(target: Target) -> ssl.SSLContext:
    verify = target.sslmode in ("verify-ca", "verify-full") or (
        target.sslmode == "require" and target.sslrootcert is not None)
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if verify:
        root = target.sslrootcert or str(Path.home() / ".postgresql" / "root.crt")
        if root != "system":
            ctx.load_verify_locations(cafile=root)
        ctx.check_hostname = target.sslmode == "verify-full"
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if target.sslcert:
        ctx.load_cert_chain(target.sslcert, target.sslkey)
    return ctx


async def _open(target: Target) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if target.host.startswith("/"):
        path = os.path.join(target.host, f".s.PGSQL.{target.port}")
        return await asyncio.open_unix_connection(path)
    return await asyncio.open_connection(target.host, target.port)


async def connect(target: Target, params: Mapping[str, str]) -> Upstream:
    """Open, secure and authenticate a connection; returns it ready for queries."""
    try:
        return await asyncio.wait_for(_connect(target, params), CONNECT_TIMEOUT)
    except TimeoutError:
        raise ConnectionError(f"the server {target.shown} did not answer within "
                              f"{CONNECT_TIMEOUT:.0f}s") from None


async def _connect(target: Target, params: Mapping[str, str]) -> Upstream:
    reader, writer = await _open(target)
    if target.sslmode != "disable" and not target.host.startswith("/"):
        writer.write(pw.ssl_request())
        await writer.drain()
        answer = await reader.readexactly(1)
        if answer == b"S":
            await writer.start_tls(client_tls(target), server_hostname=target.host)
        elif answer != b"N":
            writer.close()
            raise ConnectionError(f"the server answered the TLS request with {answer!r}")
        elif target.sslmode in ("require", "verify-ca", "verify-full"):
            writer.close()
            raise ConnectionError(f"the server {target.shown} does not offer TLS, and "
                                  f"sslmode={target.sslmode} requires it")
    up = Upstream(reader, writer)
    startup = {**params, "user": target.user, "database": target.dbname}
    writer.write(pw.startup_message(startup))
    await writer.drain()
    await _authenticate(up, target)
    while True:
        kind, body = await up.frame()
        if kind == b"S":
            name, value = pw.parse_parameter_status(body)
            up.params[name] = value
        elif kind == b"K":
            up.pid, up.secret = pw.parse_backend_key(body)
        elif kind == b"Z":
            up.status = pw.parse_ready(body)
            return up
        elif kind == b"E":
            writer.close()
            raise ConnectionError(f"the server {target.shown} refused: "
                                  f"{pw.parse_notice(body).message}")
        elif kind != b"N":
            writer.close()
            raise ConnectionError(f"unexpected {kind!r} from the server during startup")


async def _authenticate(up: Upstream, target: Target) -> None:
    scram: auth.ScramClient | None = None
    while True:
        kind, body = await up.frame()
        if kind == b"E":
            up.writer.close()
            raise AuthError(f"the server {target.shown} refused airlock's credential: "
                            f"{pw.parse_notice(body).message}")
        if kind != b"R":
            raise ConnectionError(f"unexpected {kind!r} from the server during authentication")
        code, data = pw.parse_authentication(body)
        if code == pw.AUTH_OK:
            return
        password = target.password
        if code in (pw.AUTH_CLEARTEXT, pw.AUTH_MD5, pw.AUTH_SASL) and password is None:
            raise AuthError(f"the server {target.shown} asks for a password and the resource's "
                            "URL has none")
        assert password is not None or code not in (pw.AUTH_CLEARTEXT, pw.AUTH_MD5, pw.AUTH_SASL)
        if code == pw.AUTH_CLEARTEXT and password is not None:
            up.writer.write(pw.password_message(password.encode()))
        elif code == pw.AUTH_MD5 and password is not None:
            up.writer.write(pw.password_message(auth.md5_password(target.user, password,
                                                                  data[:4])))
        elif code == pw.AUTH_SASL and password is not None:
            if auth.MECHANISM not in pw.parse_sasl_mechanisms(data):
                raise AuthError(f"the server {target.shown} offers no SCRAM-SHA-256")
            scram = auth.ScramClient(password)
            up.writer.write(pw.sasl_initial_response(auth.MECHANISM, scram.first()))
        elif code == pw.AUTH_SASL_CONTINUE and scram is not None:
            up.writer.write(pw.sasl_response(scram.final(data)))
        elif code == pw.AUTH_SASL_FINAL and scram is not None:
            scram.verify(data)
            continue
        else:
            raise AuthError(f"the server {target.shown} asks for authentication method {code}, "
                            "which airlock does not speak (trust, password, md5, SCRAM-SHA-256)")
        await up.writer.drain()


async def cancel(target: Target, pid: int, secret: int) -> None:
    """Forward a cancel request (on its own connection, as the protocol wants)."""
    reader, writer = await asyncio.wait_for(_open(target), CONNECT_TIMEOUT)
    try:
        if target.sslmode in ("require", "verify-ca", "verify-full") \
                and not target.host.startswith("/"):
            writer.write(pw.ssl_request())
            await writer.drain()
            if await reader.readexactly(1) == b"S":
                await writer.start_tls(client_tls(target), server_hostname=target.host)
        writer.write(pw.cancel_request(pid, secret))
        await writer.drain()
        await asyncio.wait_for(reader.read(1), 5)
    finally:
        writer.close()
