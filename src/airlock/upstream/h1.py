"""HTTP/1.1 as the API proxy speaks it to an upstream, without I/O: a request's head as bytes,
and a response read from the bytes that arrive (llhttp, through httptools, parses them).

`upstream/client.py` moves these bytes over keep-alive connections. Kept apart so that every
framing rule (Content-Length, chunked, a body that ends when the connection does, a HEAD
answer, informational answers, what may be kept alive) is tested by replaying bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

from airlock.errors import AirlockError

__all__ = ["ResponseHead", "ResponseReader", "Target", "UpstreamProtocolError", "request_head",
           "target_of"]


class UpstreamProtocolError(AirlockError):
    """The upstream's bytes are not an HTTP/1.1 answer, or a request cannot be written safely."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a request goes: the connection's key, the Host header and the request target."""

    scheme: str
    host: str
    port: int
    authority: str  # the Host header: host[:port], the port left out when it is the default
    path: str  # path and query, exactly as given (already escaped)


def target_of(url: str) -> Target:
    """`url` (http or https, from configuration and the agent's own path) as a `Target`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamProtocolError(f"airlock forwards only to http(s) URLs, not {url!r}")
    default = 443 if scheme == "https" else 80
    try:
        port = parts.port or default
    except ValueError:
        raise UpstreamProtocolError(f"{url!r} has an invalid port") from None
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    authority = shown if port == default else f"{shown}:{port}"
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port, authority, path)


def request_head(method: str, target: Target, headers: list[tuple[str, str]]) -> bytes:
    """The request line and headers. `headers` carries neither Host nor hop-by-hop fields (the
    caller dropped them); Host is the target's. Refuses any line break or NUL that would let a
    value start a header or a request of its own."""
    lines = [f"{method} {target.path} HTTP/1.1\r\nHost: {target.authority}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers]
    lines.append("\r\n")
    text = "".join(lines)
    # Each line ends in exactly one CRLF, so a value with a CR or LF of its own shows as a count
    # that does not match (one C-level scan each instead of a check per header).
    breaks = len(headers) + 3
    if text.count("\n") != breaks or text.count("\r") != breaks or "\x00" in text \
            or " " in target.path or not method.isalpha():
        raise UpstreamProtocolError("a request line or header holds a line break, NUL or space "
                                    "where HTTP allows none; it was not sent")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise UpstreamProtocolError("a request header is not Latin-1 text; it was not "
                                    "sent") from None


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    content_length: int | None


class ResponseReader:
    """One response, fed the bytes that arrive after its request was sent.

    After `feed` (or `eof`, when the connection ends): `head` once the headers are in, `take()`
    the body bytes so far, `complete` once the body is whole, `reusable` when the connection
    may carry another request. Raises UpstreamProtocolError on bytes that are not HTTP, or on a
    connection that ends before the answer does."""

    def __init__(self, *, head_request: bool = False) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._head_request = head_request
        self._headers: list[tuple[str, str]] = []
        self._reason = ""
        self._body: list[bytes] = []
        self._until_close = False  # no length and not chunked: the body ends with the connection
        self._extra = False  # bytes after the answer: never reuse such a connection
        self.head: ResponseHead | None = None
        self.complete = False
        self.keep_alive = False
        self.started = False  # any byte of the answer arrived

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self._extra and not self._until_close

    def take(self) -> bytes:
        """The body bytes received since the last call."""
        if not self._body:
            return b""
        data = b"".join(self._body) if len(self._body) > 1 else self._body[0]
        self._body.clear()
        return data

    @property
    def buffered(self) -> int:
        return sum(map(len, self._body))

    def feed(self, data: bytes) -> None:
        self.started = self.started or bool(data)
        if self.complete:
            self._extra = self._extra or bool(data)
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise UpstreamProtocolError("the upstream switched protocols, which airlock did not "
                                        "ask for") from None
        except httptools.HttpParserError as exc:
            if self._is_complete():  # bytes after a complete answer (a HEAD's stray body)
                self._extra = True
                return
            raise UpstreamProtocolError(f"the upstream's answer is not valid HTTP/1.1: "
                                        f"{exc}") from None

    def _is_complete(self) -> bool:  # (a call: the parser's callbacks change it under mypy)
        return self.complete

    def eof(self) -> None:
        """The connection ended. Fine after a complete answer or one that ends that way."""
        if self.complete:
            return
        if self.head is not None and self._until_close:
            self.complete = True
            self.keep_alive = False
            return
        state = "before its headers" if self.head is None else "in the middle of its body"
        raise UpstreamProtocolError(f"the upstream closed the connection {state}")

    # ---- httptools callbacks --------------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        self._reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # informational (103 Early Hints): the real answer follows
            self._headers, self._reason = [], ""
            return
        length: int | None = None
        chunked = False
        for name, value in self._headers:
            lower = name.lower()
            if lower == "content-length":
                length = int(value) if value.strip().isdigit() else None
            elif lower == "transfer-encoding":
                chunked = chunked or "chunked" in value.lower()
        no_body = self._head_request or status in (204, 304)
        self._until_close = not no_body and not chunked and length is None
        self.keep_alive = self._parser.should_keep_alive()
        self.head = ResponseHead(status, self._reason.strip(), self._headers,
                                 None if chunked else length)
        if self._head_request:
            # llhttp does not know this answered a HEAD and would wait for a body that never
            # comes: the answer is complete now, and the connection is not used again (its
            # parser may be out of step).
            self.complete = True
            self.keep_alive = False

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self.head is not None:
            self.complete = True
