"""The API proxy's wire rules, without I/O: what of a request the gate judges, what airlock
answers when it does not forward, and how credentials are kept out of what comes back.

**The action.** The gate judges the request as it will reach the upstream: its canonical URL
(upstream/http.py), the agent's headers less its credentials and the headers a client sets on
its own for every call (user agent, SDK invocation ids, dates, tracing) — so that the identical
request sent again after an approval has the identical digest — and its body. A body over the
classifier's limit (or not UTF-8) is not put in the action; a line naming its size and SHA-256
stands in, so the approval still binds those exact bytes, while every provider that must read
the body (GraphQL, AWS JSON and XML bodies) fails to parse the stand-in and the call is unknown
(held). Form bodies are where method overrides hide, so an oversized one is refused outright.

**Answers.** A hold is HTTP 409 with `{status: "held", approval_id, reason, next_step,
console_url, …}`; a deny 403 `{status: "denied", …}`; an approved call that was deferred 202
`{status: "deferred", deferred_ids, due_at, …}`. GraphQL callers also get `errors` in GraphQL's
shape. AWS callers get the same fields in the error shape their SDK parses (XML for S3, EC2 and
query services, JSON for JSON services), so boto3 and the aws CLI print the reason; a deferral is
an error there too (`AirlockDeferred`, 409), because an AWS 2xx would be read as done.

**Scrubbing.** The upstream credential must never reach the agent: every response header, the
body (streamed: the scrubber keeps back the last len(secret)-1 bytes between chunks), redirect
locations and error texts have each secret (and its URL- and JSON-escaped forms) replaced by as
many `*`, which keeps Content-Length true. `Set-Cookie` is dropped: a session minted for airlock's
credential is a credential. Redirects to the upstream are rewritten to the local endpoint.
A compressed answer is decoded for the scrubber a bounded step at a time (`BodyDecoder`), and
refused past a size or a ratio: a decompression bomb must not take airlock's memory.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote
from xml.sax.saxutils import escape

from airlock.classify import MAX_INPUT_BYTES
from airlock.model import HttpRequest, Outcome, Status
from airlock.upstream.http import BODY_NOT_KEPT, DROPPED_HEADERS

__all__ = ["DECODE_STEP", "VOLATILE_HEADERS", "Answer", "BodyDecoder", "BodyRefused",
           "DecodingRefused", "Scrubber", "action_request", "answer_style", "body_decoder",
           "error_answer", "outcome_answer", "response_headers", "secret_forms"]

# Headers a client sets on its own, differently on every call: kept out of the judged action
# (forwarded all the same) so an identical retry has an identical digest.
VOLATILE_HEADERS = frozenset({
    "user-agent", "x-amz-user-agent", "amz-sdk-invocation-id", "amz-sdk-request", "date",
    "traceparent", "tracestate", "x-amzn-trace-id", "x-request-id", "x-forwarded-for",
    "x-forwarded-host", "x-forwarded-proto", "forwarded", "via"})
# Response headers never passed back: hop-by-hop ones, and cookies (a session the upstream minted
# for airlock's credential would work without airlock).
_DROPPED_RESPONSE = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer",
                               "upgrade", "proxy-authenticate", "proxy-connection", "set-cookie",
                               "set-cookie2"})


class BodyRefused(ValueError):
    """A body airlock will not judge by its stand-in (an oversized form)."""


def action_request(method: str, url: str, headers: Iterable[tuple[str, str]],
                   body: bytes | None, size: int, sha256: str) -> HttpRequest:
    """The request the gate judges. `body` is None when the body was too large to keep in
    memory; `size` and `sha256` describe it either way."""
    kept = tuple((name, value) for name, value in headers
                 if name.lower() not in DROPPED_HEADERS and name.lower() not in VOLATILE_HEADERS)
    text: str | None = None
    if size:
        if body is not None and size <= MAX_INPUT_BYTES:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if text is None:
            content_type = next((v for k, v in kept if k.lower() == "content-type"), "")
            if "x-www-form-urlencoded" in content_type.lower():
                raise BodyRefused(f"a form body over {MAX_INPUT_BYTES} bytes (or not UTF-8) "
                                  "cannot be judged; send a smaller one")
            text = f"{BODY_NOT_KEPT} ({size} bytes, sha256 {sha256})"
    return HttpRequest(method.upper(), url, kept, text)


# --------------------------------------------------------------------------------------------
# Answers

@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def answer_style(provider: str, service: str | None, headers: Sequence[tuple[str, str]],
                 body_head: bytes) -> str:
    """How this caller reads errors: graphql, json, aws-json, aws-s3, aws-ec2 or aws-query."""
    content_type = next((v.lower() for k, v in headers if k.lower() == "content-type"), "")
    if provider == "aws":
        if any(k.lower() == "x-amz-target" for k, _ in headers) or "json" in content_type:
            return "aws-json"
        return {"s3": "aws-s3", "ec2": "aws-ec2"}.get(service or "", "aws-query")
    if provider == "railway" or "graphql" in content_type \
            or (b'"query"' in body_head and "json" in content_type):
        return "graphql"
    return "json"


def outcome_answer(outcome: Outcome, *, style: str, console_url: str,
                   due_at: str | None = None) -> Answer:
    """What the agent is told when the gate did not let the call through."""
    deferred = tuple(s for s in outcome.snapshots if s.startswith("def_"))
    fields: dict[str, Any] = {"action_id": outcome.action_id, "reason": outcome.reason,
                              "what": "; ".join(outcome.assessment.reasons[:3]),
                              "risk": outcome.assessment.risk.value, "rule": outcome.decision.rule}
    if outcome.status is Status.DENIED:
        status, code = 403, "AirlockDenied"
        fields = {"status": "denied", **fields,
                  "next_step": "do not retry: this is outside what your token may do, and no "
                               "approval changes that; ask a human if it must be done"}
    elif deferred:
        status, code = 202, "AirlockDeferred"
        fields = {"status": "deferred", **fields, "approval_id": outcome.approval_id,
                  "deferred_ids": list(deferred), "due_at": due_at,
                  "next_step": "approved, and deferred: it runs after its grace period unless a "
                               f"human cancels it (`airlock cancel {deferred[0]}`); do not send "
                               "it again"}
    else:
        status, code = 409, "AirlockHeld"
        url = f"{console_url.rstrip('/')}/console/approvals/{outcome.approval_id}" \
            if outcome.approval_id else f"{console_url.rstrip('/')}/console/"
        fields = {"status": "held", **fields, "approval_id": outcome.approval_id,
                  "console_url": url,
                  "next_step": (f"ask a human to approve it (`airlock approve "
                                f"{outcome.approval_id}` or the console), then send exactly the "
                                "same request again; it passes once")
                  if outcome.approval_id else "it did not run; see the reason"}
    fields["targets"] = [t.to_json() for t in outcome.targets]
    if style.startswith("aws") and status == 202:
        status = 409  # an AWS SDK reads any 2xx as "done"
    return _shaped(status, code, fields, style)


def error_answer(status: int, code: str, message: str, *, style: str,
                 **extra: Any) -> Answer:
    """airlock's own refusal (bad token, bad signature, oversized body, upstream unreachable)."""
    return _shaped(status, code, {"status": "refused" if status < 500 else "error",
                                  "reason": message, **extra}, style)


def _shaped(status: int, code: str, fields: dict[str, Any], style: str) -> Answer:
    headers: list[tuple[str, str]] = [("x-airlock-status", str(fields.get("status")))]
    if fields.get("approval_id"):
        headers.append(("x-airlock-approval-id", str(fields["approval_id"])))
    message = str(fields.get("reason", ""))
    if fields.get("what"):
        message = f"{fields['what']} — {message}"
    if fields.get("next_step"):
        message = f"{message} — {fields['next_step']}"
    if style in ("aws-s3", "aws-ec2", "aws-query"):
        inner = (f"<Code>{code}</Code><Message>{escape(message)}</Message>"
                 + "".join(f"<{_xml_name(k)}>{escape(_text(v))}</{_xml_name(k)}>"
                           for k, v in fields.items() if k != "reason"))
        if style == "aws-s3":
            xml = f"<Error>{inner}</Error>"
        elif style == "aws-ec2":
            xml = (f"<Response><Errors><Error>{inner}</Error></Errors>"
                   "<RequestID>airlock</RequestID></Response>")
        else:
            xml = (f"<ErrorResponse><Error><Type>Sender</Type>{inner}</Error>"
                   f"<RequestId>airlock</RequestId></ErrorResponse>")
        body = ('<?xml version="1.0" encoding="UTF-8"?>' + xml).encode()
        return Answer(status, (*headers, ("content-type", "application/xml")), body)
    obj: dict[str, Any] = dict(fields)
    if style == "aws-json":
        obj = {"__type": code, "message": message, **fields}
        headers.append(("x-amzn-errortype", code))
        content_type = "application/x-amz-json-1.1"
    else:
        content_type = "application/json"
        if style == "graphql":
            obj["errors"] = [{"message": message, "extensions": {"code": code, **fields}}]
            obj["data"] = None
    return Answer(status, (*headers, ("content-type", content_type)),
                  json.dumps(obj).encode())


def _xml_name(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# --------------------------------------------------------------------------------------------
# Keeping credentials out of what comes back

def secret_forms(secrets: Iterable[str]) -> list[str]:
    """Each secret as it may be echoed: raw, URL-encoded, JSON-escaped. Very short values are
    left out (masking every "a" would garble answers, and they guard nothing)."""
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) < 8:
            continue
        forms.update({secret, quote(secret, safe=""), json.dumps(secret)[1:-1]})
    return sorted(forms, key=len, reverse=True)


class Scrubber:
    """Replaces every form of the secrets in a stream by as many `*`, across chunk boundaries."""

    def __init__(self, forms: Iterable[str]) -> None:
        self._needles = [f.encode() for f in forms]
        self._keep = max((len(n) for n in self._needles), default=1) - 1
        self._pending = b""

    @property
    def active(self) -> bool:
        return bool(self._needles)

    def text(self, value: str) -> str:
        for needle in self._needles:
            value = value.replace(needle.decode(), "*" * len(needle))
        return value

    def feed(self, chunk: bytes) -> bytes:
        if not self._needles:
            return chunk
        data = self._mask(self._pending + chunk)
        if len(data) <= self._keep:
            self._pending = data
            return b""
        # A secret not yet complete starts within the last len-1 bytes: hold those back.
        cut = len(data) - self._keep
        self._pending = data[cut:]
        return data[:cut]

    def close(self) -> bytes:
        rest, self._pending = self._pending, b""
        return rest

    def _mask(self, data: bytes) -> bytes:
        for needle in self._needles:
            if needle in data:
                data = data.replace(needle, b"*" * len(needle))
        return data


def response_headers(headers: Iterable[tuple[str, str]], scrubber: Scrubber, *,
                     forward_base: str, local_base: str, decoded: bool) -> list[tuple[str, str]]:
    """The upstream's response headers as the agent gets them: hop-by-hop fields and cookies
    dropped, secrets masked, redirects to the upstream pointed at airlock's endpoint instead.
    `decoded`: the body is passed on decompressed, so its encoding and length no longer hold."""
    out: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        if lower in _DROPPED_RESPONSE:
            continue
        if decoded and lower in ("content-encoding", "content-length"):
            continue
        value = scrubber.text(value)
        if lower in ("location", "content-location") and forward_base \
                and (value == forward_base or value.startswith(forward_base + "/")):
            value = local_base + value[len(forward_base):]
        out.append((name, value))
    return out


# Decoding answers in bounded steps. A few KB of gzip (zstd: of anything) can decode to GBs:
# decoded whole, one answer would take airlock's memory, and every agent's calls with it. So a
# body is decoded a step at a time, each step giving back at most about DECODE_STEP bytes, and an
# answer whose decoded size passes the configured limit, or whose ratio is absurd, is refused.
DECODE_STEP = 256 * 1024
# zstd's decoder (python-zstandard) has no output limit per call, so its input is given a slice
# at a time: a block is at least 4 bytes (3 of header, 1 of an RLE byte) and decodes to at most
# 128 KiB, so 24 bytes finish at most 7 blocks: under 1 MiB out per step.
_ZSTD_SLICE = 24
# RFC 9659: the zstd content coding uses windows of at most 8 MiB. A frame that asks for more
# (a window the decoder would allocate) is not an HTTP answer; it is refused.
_ZSTD_WINDOW = 8 * 1024 * 1024
# Below this many decoded bytes any ratio is fine (a small answer of one repeated byte).
RATIO_FLOOR = 1024 * 1024
DEFAULT_MAX_DECODED = 512 * 1024 * 1024
DEFAULT_MAX_RATIO = 1000


class DecodingRefused(ValueError):
    """An answer that decodes to more than airlock passes on — over the limit, or absurdly
    compressed (a decompression bomb) — or does not decode at all (corrupt, or a zstd window
    over 8 MiB). The message says which, for the log and the agent."""


class _Steps(Protocol):
    consumed: int  # encoded bytes used so far
    errors: tuple[type[Exception], ...]  # what the codec raises for bytes that are not its own

    def feed(self, data: bytes) -> Iterator[bytes]: ...
    def flush(self) -> Iterator[bytes]: ...


class BodyDecoder:
    """Decodes a body sent in a content encoding, step by step: `feed` and `flush` give back
    pieces of at most about DECODE_STEP bytes (under 1 MiB), decoded only as the caller asks for
    the next one, and raise DecodingRefused once the decoded size passes `max_bytes`, or passes
    RATIO_FLOOR at more than `max_ratio` times the encoded bytes it came from. The identity
    encoding passes bytes through, unlimited: nothing is amplified (a long watch stays open)."""

    def __init__(self, encoding: str, steps: _Steps | None, *, max_bytes: int,
                 max_ratio: int) -> None:
        self.encoding = encoding
        self._steps = steps
        self.max_bytes = max_bytes
        self.max_ratio = max_ratio
        self.decoded = 0

    @property
    def decodes(self) -> bool:
        """Whether the body is decoded (its encoding and length no longer hold)."""
        return self._steps is not None

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._steps is None:
            if data:
                yield data
            return
        yield from self._counted(self._steps.feed(data))

    def flush(self) -> Iterator[bytes]:
        if self._steps is not None:
            yield from self._counted(self._steps.flush())

    def _counted(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        assert self._steps is not None
        try:
            yield from self._limited(pieces)
        except self._steps.errors as exc:
            raise DecodingRefused(f"the {self.encoding} answer does not decode "
                                  f"({type(exc).__name__}: {exc})") from None

    def _limited(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        assert self._steps is not None
        for piece in pieces:
            self.decoded += len(piece)
            if self.decoded > self.max_bytes:
                raise DecodingRefused(
                    f"the {self.encoding} answer decodes to more than "
                    f"{self.max_bytes // (1024 * 1024)} MiB ([fronts.apiproxy] max_decoded_mb)")
            encoded = max(self._steps.consumed, 1)
            if self.decoded > RATIO_FLOOR and self.decoded > self.max_ratio * encoded:
                raise DecodingRefused(
                    f"the {self.encoding} answer is a decompression bomb: {encoded} bytes "
                    f"decoded to over {self.decoded} (more than {self.max_ratio}x, "
                    "[fronts.apiproxy] max_decode_ratio)")
            yield piece


def body_decoder(encoding: str, *, max_bytes: int = DEFAULT_MAX_DECODED,
                 max_ratio: int = DEFAULT_MAX_RATIO) -> BodyDecoder | None:
    """A decoder for a body sent in `encoding` (a Content-Encoding value), so the scrubber reads
    plain bytes, or None for an encoding airlock cannot read (the call is then refused, not
    passed on unread). The identity encoding decodes to itself."""
    name = encoding.strip().lower()
    steps: _Steps | None
    if name in ("", "identity"):
        steps = None
    elif name in ("gzip", "x-gzip"):
        steps = _ZlibSteps(zlib.MAX_WBITS | 16)
    elif name == "deflate":  # zlib-wrapped as the standard says, or raw as some servers send it
        steps = _ZlibSteps(zlib.MAX_WBITS, raw_fallback=True)
    elif name == "zstd":
        steps = _ZstdSteps()
    else:
        return None
    return BodyDecoder(name or "identity", steps, max_bytes=max_bytes, max_ratio=max_ratio)


class _ZlibSteps:
    """gzip and deflate: zlib's own output limit (`max_length`), the rest of the input kept in
    `unconsumed_tail` until the caller asks for the next step."""

    def __init__(self, wbits: int, *, raw_fallback: bool = False) -> None:
        self._inflate = zlib.decompressobj(wbits)
        self._undecided = raw_fallback  # deflate: the first bytes say zlib-wrapped or raw
        self.consumed = 0
        self.errors: tuple[type[Exception], ...] = (zlib.error,)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._undecided and data:
            self._undecided = False
            try:
                first = self._inflate.decompress(data, DECODE_STEP)
            except zlib.error:  # not zlib-wrapped: raw deflate
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            else:
                yield from self._account(data, first)
                data = self._inflate.unconsumed_tail
                if not first and not data:
                    return
        yield from self._steps(data)

    def flush(self) -> Iterator[bytes]:
        yield from self._steps(b"")
        rest = self._inflate.flush()  # all input is used: what is left is at most a step
        if rest:
            yield rest

    def _steps(self, data: bytes) -> Iterator[bytes]:
        while True:
            out = self._inflate.decompress(data, DECODE_STEP)
            yield from self._account(data, out)
            data = self._inflate.unconsumed_tail
            # A full step may leave output pending with no input left: ask again until a step
            # gives nothing (then the input is used up: zlib keeps none back when it has room).
            if not out:
                return

    def _account(self, given: bytes, out: bytes) -> Iterator[bytes]:
        self.consumed += len(given) - len(self._inflate.unconsumed_tail)
        if out:
            yield out


class _ZstdSteps:
    """zstd: input a slice at a time (see _ZSTD_SLICE), output gathered up to a step."""

    def __init__(self) -> None:
        import zstandard  # a runtime dependency (the vault's compression)

        self._zstd = zstandard.ZstdDecompressor(max_window_size=_ZSTD_WINDOW).decompressobj(
            read_across_frames=True)
        self.consumed = 0
        self.errors: tuple[type[Exception], ...] = (zstandard.ZstdError,)

    def feed(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        gathered: list[bytes] = []
        size = 0
        for at in range(0, len(view), _ZSTD_SLICE):
            piece = view[at:at + _ZSTD_SLICE]
            out = self._zstd.decompress(piece)
            self.consumed += len(piece)
            if out:
                gathered.append(out)
                size += len(out)
                if size >= DECODE_STEP:
                    yield b"".join(gathered)
                    gathered, size = [], 0
        if gathered:
            yield b"".join(gathered)

    def flush(self) -> Iterator[bytes]:
        return iter(())
