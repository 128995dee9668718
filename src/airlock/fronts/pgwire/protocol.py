"""PostgreSQL protocol 3.0: frames, and the messages the proxy reads or writes. No I/O here.

A frame is a type byte, a 4-byte big-endian length that counts itself, and a body. The first
message a client sends has no type byte (StartupMessage, SSLRequest, GSSENCRequest,
CancelRequest): `read_startup` reads those. Everything else goes through `FrameReader`, which
cuts a byte stream into `(type, body)` frames without copying the bodies it does not need.

Only what the proxy must understand is decoded (queries, statement and portal names, error
fields, ReadyForQuery status, authentication); everything else — DataRow above all — travels as
the bytes it arrived as. A frame that breaks the protocol raises `ProtocolViolation`: the
connection it came from is closed with an error, and nothing it sent afterwards is read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from airlock.errors import AirlockError

PROTOCOL_3_0 = 196608  # (3 << 16) | 0
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102

# Frames larger than this are refused. PostgreSQL's own limit for most messages is 1 GB; a
# proxy must bound what it buffers, and no sane statement or row comes near this.
MAX_FRAME = 256 * 1024 * 1024
MAX_STARTUP = 10_000  # PostgreSQL's limit for the startup packet

_LEN = struct.Struct("!I")
_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")
_HEADER = struct.Struct("!cI")


class ProtocolViolation(AirlockError):
    """A peer sent bytes that are not protocol 3.0; its connection is closed."""


# --------------------------------------------------------------------------------------------
# Framing


class FrameReader:
    """Cuts a stream into `(type, body)` frames. Feed bytes, then take whole frames out.

    A frame that is not complete stays buffered; a length below 4 or above `limit` raises
    `ProtocolViolation` at once (the rest of the stream cannot be framed after that)."""

    __slots__ = ("_buf", "_pos", "limit")

    def __init__(self, limit: int = MAX_FRAME) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.limit = limit

    def feed(self, data: bytes) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def next(self) -> tuple[bytes, bytes] | None:
        """The next whole frame as (type byte, body), or None until more bytes arrive."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 5:
            return None
        kind, length = _HEADER.unpack_from(buf, pos)
        if length < 4 or length > self.limit:
            raise ProtocolViolation(f"a {kind!r} message claims a length of {length} bytes, "
                                    f"outside 4..{self.limit}")
        end = pos + 1 + length
        if len(buf) < end:
            return None
        self._pos = end
        return kind, bytes(buf[pos + 5:end])

    def frames(self) -> list[tuple[bytes, bytes]]:
        out = []
        while (frame := self.next()) is not None:
            out.append(frame)
        return out

    def take_rest(self) -> bytes:
        """Everything buffered and not yet framed (after a TLS upgrade it must be empty)."""
        rest = bytes(self._buf[self._pos:])
        self._buf.clear()
        self._pos = 0
        return rest


def frame(kind: bytes, body: bytes = b"") -> bytes:
    return kind + _LEN.pack(len(body) + 4) + body


# --------------------------------------------------------------------------------------------
# Startup (untyped first message)


@dataclass(frozen=True, slots=True)
class Startup:
    """StartupMessage: protocol version and parameters (user, database, options, …)."""

    params: Mapping[str, str]
    version: int = PROTOCOL_3_0


@dataclass(frozen=True, slots=True)
class SslRequest:
    pass


@dataclass(frozen=True, slots=True)
class GssEncRequest:
    pass


@dataclass(frozen=True, slots=True)
class CancelRequest:
    pid: int
    secret: int


StartupPacket = Startup | SslRequest | GssEncRequest | CancelRequest


def read_startup(buf: bytes | bytearray) -> tuple[StartupPacket, int] | None:
    """The first untyped message in `buf` and how many bytes it took, or None if incomplete."""
    if len(buf) < 8:
        return None
    length, code = struct.unpack_from("!II", buf, 0)
    if length < 8 or length > MAX_STARTUP:
        raise ProtocolViolation(f"the startup packet claims {length} bytes, outside 8..{MAX_STARTUP}")
    if len(buf) < length:
        return None
    body = bytes(buf[8:length])
    if code == SSL_REQUEST and length == 8:
        return SslRequest(), length
    if code == GSSENC_REQUEST and length == 8:
        return GssEncRequest(), length
    if code == CANCEL_REQUEST and length == 16:
        pid, secret = struct.unpack("!II", body)
        return CancelRequest(pid, secret), length
    if code >> 16 != 3:
        raise ProtocolViolation(f"unsupported protocol version {code >> 16}.{code & 0xFFFF} "
                                "(airlock speaks 3.0)")
    parts = body.split(b"\x00")
    # key\0value\0 … \0 : after the split the list ends with two empty strings
    if len(parts) < 2 or parts[-1] != b"" or parts[-2] != b"" or len(parts) % 2:
        raise ProtocolViolation("the startup packet's parameters are not NUL-terminated pairs")
    params: dict[str, str] = {}
    for i in range(0, len(parts) - 2, 2):
        key, value = _text(parts[i]), _text(parts[i + 1])
        if not key:
            raise ProtocolViolation("the startup packet has an empty parameter name")
        params[key] = value
    return Startup(params, code), length


def startup_message(params: Mapping[str, str], version: int = PROTOCOL_3_0) -> bytes:
    body = struct.pack("!I", version) + b"".join(
        k.encode() + b"\x00" + v.encode() + b"\x00" for k, v in params.items()) + b"\x00"
    return _LEN.pack(len(body) + 4) + body


def ssl_request() -> bytes:
    return struct.pack("!II", 8, SSL_REQUEST)


def gssenc_request() -> bytes:
    return struct.pack("!II", 8, GSSENC_REQUEST)


def cancel_request(pid: int, secret: int) -> bytes:
    return struct.pack("!IIII", 16, CANCEL_REQUEST, pid, secret)


# --------------------------------------------------------------------------------------------
# Reading bodies


class _Body:
    """A cursor over one message body; every read is bounds-checked."""

    __slots__ = ("data", "kind", "pos")

    def __init__(self, kind: bytes, data: bytes) -> None:
        self.kind, self.data, self.pos = kind, data, 0

    def cstring(self) -> bytes:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise ProtocolViolation(f"a {self.kind!r} message has an unterminated string")
        out = self.data[self.pos:end]
        self.pos = end + 1
        return out

    def int16(self) -> int:
        return int(self._unpack("!h", 2))

    def uint16(self) -> int:
        return int(self._unpack("!H", 2))

    def int32(self) -> int:
        return int(self._unpack("!i", 4))

    def uint32(self) -> int:
        return int(self._unpack("!I", 4))

    def byte(self) -> bytes:
        return self.bytes_(1)

    def bytes_(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolViolation(f"a {self.kind!r} message is shorter than its fields")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def rest(self) -> bytes:
        out = self.data[self.pos:]
        self.pos = len(self.data)
        return out

    def end(self) -> None:
        if self.pos != len(self.data):
            raise ProtocolViolation(f"a {self.kind!r} message has {len(self.data) - self.pos} "
                                    "bytes after its last field")

    def _unpack(self, fmt: str, n: int) -> int:
        if self.pos + n > len(self.data):
            raise ProtocolViolation(f"a {self.kind!r} message is shorter than its fields")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += n
        return int(value)


def _text(raw: bytes) -> str:
    # Names and SQL are decoded as UTF-8 with surrogateescape: bytes that are not UTF-8 survive
    # the round trip (and the SQL classifier calls such text unknown).
    return raw.decode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------------------------
# Frontend messages the proxy inspects


@dataclass(frozen=True, slots=True)
class Query:  # 'Q'
    sql: str


@dataclass(frozen=True, slots=True)
class Parse:  # 'P'
    name: str
    sql: str
    param_types: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Bind:  # 'B'
    portal: str
    statement: str


@dataclass(frozen=True, slots=True)
class Describe:  # 'D'
    what: str  # "S" statement, "P" portal
    name: str


@dataclass(frozen=True, slots=True)
class Execute:  # 'E'
    portal: str
    max_rows: int


@dataclass(frozen=True, slots=True)
class Close:  # 'C'
    what: str
    name: str


def parse_query(body: bytes) -> Query:
    b = _Body(b"Q", body)
    sql = _text(b.cstring())
    b.end()
    return Query(sql)


def parse_parse(body: bytes) -> Parse:
    b = _Body(b"P", body)
    name, sql = _text(b.cstring()), _text(b.cstring())
    count = b.int16()
    if count < 0:
        raise ProtocolViolation("a Parse message has a negative parameter count")
    types = tuple(b.uint32() for _ in range(count))
    b.end()
    return Parse(name, sql, types)


def parse_bind(body: bytes) -> Bind:
    """Names only; parameter values are checked for shape and forwarded as they are. (Written
    with local offsets rather than `_Body`: it runs for every execution of a prepared
    statement.)"""
    end_portal = body.find(b"\x00")
    end_statement = body.find(b"\x00", end_portal + 1) if end_portal >= 0 else -1
    if end_statement < 0:
        raise ProtocolViolation("a b'B' message has an unterminated string")
    size = len(body)
    pos = end_statement + 1
    try:
        (formats,) = _INT16.unpack_from(body, pos)
        if formats < 0:
            raise ProtocolViolation("a Bind message has a negative format count")
        pos += 2 + 2 * formats
        (values,) = _INT16.unpack_from(body, pos)
        if values < 0:
            raise ProtocolViolation("a Bind message has a negative parameter count")
        pos += 2
        for _ in range(values):
            (length,) = _INT32.unpack_from(body, pos)
            if length < -1:
                raise ProtocolViolation("a Bind parameter has a negative length")
            pos += 4 + max(length, 0)
        (results,) = _INT16.unpack_from(body, pos)
        if results < 0:
            raise ProtocolViolation("a Bind message has a negative result-format count")
        pos += 2 + 2 * results
    except struct.error:
        raise ProtocolViolation("a b'B' message is shorter than its fields") from None
    if pos != size:
        raise ProtocolViolation("a b'B' message is shorter than its fields" if pos > size else
                                f"a b'B' message has {size - pos} bytes after its last field")
    return Bind(_text(body[:end_portal]), _text(body[end_portal + 1:end_statement]))


def parse_describe(body: bytes) -> Describe:
    b = _Body(b"D", body)
    what = b.byte()
    if what not in (b"S", b"P"):
        raise ProtocolViolation(f"Describe of {what!r}: expected S or P")
    name = _text(b.cstring())
    b.end()
    return Describe(what.decode(), name)


def parse_execute(body: bytes) -> Execute:
    end = body.find(b"\x00")
    if end < 0:
        raise ProtocolViolation("a b'E' message has an unterminated string")
    if len(body) != end + 5:
        raise ProtocolViolation("a b'E' message is shorter than its fields" if len(body) < end + 5
                                else f"a b'E' message has {len(body) - end - 5} bytes after "
                                "its last field")
    return Execute(_text(body[:end]), _INT32.unpack_from(body, end + 1)[0])


def parse_close(body: bytes) -> Close:
    b = _Body(b"C", body)
    what = b.byte()
    if what not in (b"S", b"P"):
        raise ProtocolViolation(f"Close of {what!r}: expected S or P")
    name = _text(b.cstring())
    b.end()
    return Close(what.decode(), name)


def query(sql: str) -> bytes:
    return frame(b"Q", sql.encode("utf-8", "surrogateescape") + b"\x00")


def parse(name: str, sql: str, param_types: Iterable[int] = ()) -> bytes:
    types = tuple(param_types)
    return frame(b"P", _c(name) + _c(sql) + struct.pack(f"!h{len(types)}I", len(types), *types))


def bind(portal: str = "", statement: str = "", params: Iterable[bytes | None] = (),
         result_formats: Iterable[int] = ()) -> bytes:
    values = list(params)
    out = [_c(portal), _c(statement), struct.pack("!hh", 0, len(values))]
    for v in values:
        out.append(struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v)
    formats = tuple(result_formats)
    out.append(struct.pack(f"!h{len(formats)}h", len(formats), *formats))
    return frame(b"B", b"".join(out))


def describe(what: str, name: str = "") -> bytes:
    return frame(b"D", what.encode() + _c(name))


def execute(portal: str = "", max_rows: int = 0) -> bytes:
    return frame(b"E", _c(portal) + struct.pack("!i", max_rows))


def close(what: str, name: str = "") -> bytes:
    return frame(b"C", what.encode() + _c(name))


SYNC = frame(b"S")
FLUSH = frame(b"H")
TERMINATE = frame(b"X")
COPY_DONE = frame(b"c")


def copy_data(data: bytes) -> bytes:
    return frame(b"d", data)


def copy_fail(reason: str) -> bytes:
    return frame(b"f", _c(reason))


def password_message(password: bytes) -> bytes:
    return frame(b"p", password + b"\x00")


def sasl_initial_response(mechanism: str, data: bytes) -> bytes:
    return frame(b"p", _c(mechanism) + struct.pack("!i", len(data)) + data)


def sasl_response(data: bytes) -> bytes:
    return frame(b"p", data)


def parse_password(body: bytes) -> bytes:
    b = _Body(b"p", body)
    out = b.cstring()
    b.end()
    return out


def parse_sasl_initial(body: bytes) -> tuple[str, bytes]:
    b = _Body(b"p", body)
    mechanism = _text(b.cstring())
    size = b.int32()
    data = b"" if size == -1 else b.bytes_(size)
    b.end()
    return mechanism, data


def _c(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogateescape")
    if b"\x00" in raw:
        raise ValueError("protocol strings cannot contain NUL")
    return raw + b"\x00"


# --------------------------------------------------------------------------------------------
# Backend messages

AUTH_OK = 0
AUTH_CLEARTEXT = 3
AUTH_MD5 = 5
AUTH_SASL = 10
AUTH_SASL_CONTINUE = 11
AUTH_SASL_FINAL = 12

TX_IDLE, TX_BLOCK, TX_FAILED = "I", "T", "E"


def authentication(code: int, data: bytes = b"") -> bytes:
    return frame(b"R", struct.pack("!i", code) + data)


def auth_sasl(mechanisms: Iterable[str]) -> bytes:
    return authentication(AUTH_SASL, b"".join(_c(m) for m in mechanisms) + b"\x00")


def parameter_status(name: str, value: str) -> bytes:
    return frame(b"S", _c(name) + _c(value))


def backend_key_data(pid: int, secret: int) -> bytes:
    return frame(b"K", struct.pack("!II", pid, secret))


def ready_for_query(status: str) -> bytes:
    return frame(b"Z", status.encode())


def command_complete(tag: str) -> bytes:
    return frame(b"C", _c(tag))


PARSE_COMPLETE = frame(b"1")
BIND_COMPLETE = frame(b"2")
CLOSE_COMPLETE = frame(b"3")
NO_DATA = frame(b"n")
EMPTY_QUERY = frame(b"I")


@dataclass(frozen=True, slots=True)
class Notice:
    """The fields of an ErrorResponse or NoticeResponse, by their one-letter codes."""

    fields: Mapping[str, str]

    @property
    def severity(self) -> str:
        return self.fields.get("V") or self.fields.get("S", "")

    @property
    def code(self) -> str:
        return self.fields.get("C", "")

    @property
    def message(self) -> str:
        return self.fields.get("M", "")


def error_response(code: str, message: str, *, severity: str = "ERROR", detail: str = "",
                   hint: str = "", kind: bytes = b"E") -> bytes:
    fields = [(b"S", severity), (b"V", severity), (b"C", code), (b"M", message)]
    if detail:
        fields.append((b"D", detail))
    if hint:
        fields.append((b"H", hint))
    body = b"".join(k + _c(v.replace("\x00", " ")) for k, v in fields) + b"\x00"
    return frame(kind, body)


def notice_response(code: str, message: str, *, severity: str = "NOTICE", detail: str = "") -> bytes:
    return error_response(code, message, severity=severity, detail=detail, kind=b"N")


def parse_notice(body: bytes) -> Notice:
    b = _Body(b"E", body)
    fields: dict[str, str] = {}
    while True:
        code = b.byte()
        if code == b"\x00":
            break
        fields[code.decode("latin-1")] = _text(b.cstring())
    b.end()
    return Notice(fields)


def parse_ready(body: bytes) -> str:
    if body not in (b"I", b"T", b"E"):
        raise ProtocolViolation(f"ReadyForQuery with status {body!r}")
    return body.decode()


def parse_authentication(body: bytes) -> tuple[int, bytes]:
    b = _Body(b"R", body)
    code = b.int32()
    return code, b.rest()


def parse_sasl_mechanisms(data: bytes) -> list[str]:
    b = _Body(b"R", data)
    out = []
    while (name := b.cstring()) != b"":
        out.append(_text(name))
    return out


def parse_parameter_status(body: bytes) -> tuple[str, str]:
    b = _Body(b"S", body)
    name, value = _text(b.cstring()), _text(b.cstring())
    b.end()
    return name, value


def parse_backend_key(body: bytes) -> tuple[int, int]:
    b = _Body(b"K", body)
    pid, secret = b.uint32(), b.uint32()
    b.end()
    return pid, secret


def parse_command_tag(body: bytes) -> str:
    b = _Body(b"C", body)
    tag = _text(b.cstring())
    b.end()
    return tag


def rows_of_tag(tag: str) -> int | None:
    """The row count a CommandComplete tag reports (`DELETE 3` → 3, `INSERT 0 5` → 5)."""
    last = tag.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() and " " in tag else None
