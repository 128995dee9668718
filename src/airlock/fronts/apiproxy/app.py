"""The API proxy's ASGI application: every api resource at `/<resource>/…`.

    request ─► endpoint (first path segment) ─► body spooled (size, SHA-256) ─► caller
      (Bearer airlock token; for AWS a SigV4 signature with an airlock key, checked)
      ─► Action (canonical URL, judged headers, body) ─► that endpoint's gate
      ─► allow: forward with airlock's credential, stream the answer back scrubbed
         hold / deny / deferred: airlock's answer in the caller's protocol (wire.py)

Each endpoint has its own gate: the same classifier, policy, approvals, vault and audit log as
every front, and a resolver that knows where that endpoint's targets live (placing.py).
With a local store (SQLite), a call whose verdict is kept, or is cheap to judge (no network
lookup to place it, a small body), is judged on the event loop itself; if the gate lets it
through as routine (`Evaluation.routine`: three audit records, an unsynced commit, shared by
the calls of one turn of the loop) it is submitted there too. Everything else — holds, denials,
backups, and every call when the store is over the network — runs on the proxy's worker
threads (one hop a call), with the evaluation already made.
Bytes go to the upstream through airlock's own keep-alive client (upstream/client.py).
Any failure inside airlock is answered with an error, never by forwarding.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from typing import IO, Any, TypeVar
from urllib.parse import unquote

from airlock.classify import MAX_INPUT_BYTES
from airlock.config import Resource
from airlock.errors import AuthError
from airlock.execute import Release
from airlock.extras import MissingExtraError
from airlock.fronts.apiproxy import sigv4, wire
from airlock.fronts.apiproxy.keys import open_secret
from airlock.fronts.apiproxy.placing import EndpointResolver
from airlock.fronts.apiproxy.railway import RailwayLookup
from airlock.fronts.apiproxy.settings import ApiProxySettings
from airlock.fronts.context import action_context, front_action
from airlock.gate import Evaluation, Gate, Judge
from airlock.inventory import Inventory
from airlock.model import Action, ActionContext, Caller, Outcome, Verdict, utcnow
from airlock.runtime import Runtime
from airlock.store import is_local
from airlock.tokens import TokenLookup, authenticate, caller_of_token
from airlock.upstream import aws
from airlock.upstream.client import UpstreamClient, UpstreamProtocolError
from airlock.upstream.http import canonical_base, forward_url, upstream_headers
from airlock.verdicts import VerdictCache

log = logging.getLogger("airlock.apiproxy")

__all__ = ["ApiProxyApp", "Endpoint"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

FRONT = "apiproxy"
_IN_MEMORY = 8 * 1024 * 1024  # request bodies above this spill to a temporary file
_CHUNK = 64 * 1024
# Threads for the gate and store reads. Concurrent calls share an audit commit (one fsync for
# several), but each more thread contends for the GIL with the event loop: with 16, a call cost
# ~25 % more CPU than with 1 or 2 (bench_apiproxy, tmpfs). Four keep a group commit.
_WORKERS = 4
# A call judged afresh on the event loop has a body no larger than this: the classifier's time
# grows with the body, and the loop serves every other call meanwhile. Larger: on a worker.
_JUDGED_ON_LOOP_BYTES = 16 * 1024
# Never sent upstream from the agent's or the signer's headers: the client writes these itself.
_FRAMING = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_T = TypeVar("_T")


@dataclass
class Endpoint:
    """One api resource as the proxy serves it."""

    resource: Resource
    gate: Gate
    local_url: str
    secrets: tuple[str, ...]  # every form of its credential to keep out of answers
    # Worked out once from the configuration (a reload builds new endpoints), not per call:
    context: ActionContext  # where its calls run, as the gate sees them
    canonical_base: str  # its calls' canonical URLs start so (AWS: one per service, region)
    judged_on_loop: bool = False  # placing its targets needs no network lookup (no Railway map)

    @property
    def provider(self) -> str:
        return self.resource.provider


@dataclass
class _Body:
    """A spooled request body: its size, SHA-256, the bytes when small, else the spool."""

    size: int
    sha256: str
    data: bytes | None
    spool: IO[bytes] | None

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.data is not None:
            yield self.data
            return
        assert self.spool is not None
        self.spool.seek(0)
        while chunk := await asyncio.to_thread(self.spool.read, _CHUNK):
            yield chunk

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


class _TooLarge(Exception):
    pass


class ApiProxyApp:
    """The ASGI application. `client` lets tests trust their own CA for a TLS upstream."""

    def __init__(self, runtime: Runtime, settings: ApiProxySettings, *, console_url: str,
                 clock: Callable[[], datetime] = utcnow,
                 client: UpstreamClient | None = None) -> None:
        self.runtime = runtime
        self.settings = settings
        self.console_url = console_url
        self.clock = clock
        # Made on the event loop that serves (its connections belong to that loop); redirects
        # are the agent's business, not ours.
        self.client = client or UpstreamClient(
            connect_timeout=10.0, read_timeout=120.0,
            max_per_host=settings.max_upstream_connections)
        self._workers = ThreadPoolExecutor(_WORKERS, thread_name_prefix="airlock-apiproxy-gate")
        self.on_loop = is_local(runtime.store)
        self.tokens = TokenLookup(runtime.store)
        # Routine calls waiting for the end of this turn of the loop (_submit_here).
        self._here: list[tuple[Endpoint, Action, Caller, Evaluation,
                               asyncio.Future[Outcome]]] = []
        self.endpoints = {name: self._endpoint(resource)
                          for name, resource in runtime.config.resources.items()
                          if resource.kind == "api"}

    def _endpoint(self, resource: Resource) -> Endpoint:
        runtime, config = self.runtime, self.runtime.config
        proxied = self.settings.of(resource.name)
        railway = RailwayLookup(config, resource, proxied) \
            if resource.provider == "railway" and proxied.railway_projects else None
        resolver = EndpointResolver(Inventory.from_config(config), resource, proxied, railway)
        base = runtime.judge
        # Repeated reads are judged once for a while; a read naming targets only where their
        # placement cannot change under it (no live Railway lookup).
        ttl = self.settings.verdict_ttl
        verdicts = VerdictCache(static_placement=railway is None, max_age=ttl) if ttl else None
        judge = Judge(config=config, classifier=base.classifier, resolver=resolver,
                      policy=base.policy, clock=self.clock, guards=base.guards,
                      verdicts=verdicts)
        gate = Gate(judge=judge, approvals=runtime.approvals(), safety_net=runtime.safety_net,
                    executor=Release(), audit=runtime.audit)
        secrets = [s.reveal() for s in (resource.credential,) if s is not None]
        if resource.aws is not None:
            secrets += [s.reveal() for s in (resource.aws.access_key_id,
                                             resource.aws.secret_access_key,
                                             resource.aws.session_token) if s is not None]
        context = action_context(config, resource=resource.name
                                 if proxied.one_environment else None)
        return Endpoint(resource, gate, self.settings.endpoint(resource.name),
                        tuple(wire.secret_forms(secrets)), context,
                        canonical_base(resource) if resource.provider != "aws" else "",
                        judged_on_loop=railway is None)

    async def aclose(self) -> None:
        await self.client.aclose()
        self._workers.shutdown(wait=False, cancel_futures=True)

    async def _in_worker(self, work: Callable[[], _T]) -> _T:
        """`work` on one of the proxy's threads: store reads and writes never block the loop."""
        return await asyncio.get_running_loop().run_in_executor(self._workers, work)

    # ---------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._handle(scope, receive, tracked)
        except Exception as exc:
            log.exception("the API proxy failed on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # mid-stream: the connection is cut, the agent sees a broken answer
            await _send_answer(tracked, wire.error_answer(
                500, "AirlockError", f"airlock failed on this call ({type(exc).__name__}); "
                "it was not forwarded", style="json"))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        name, slash, rest = raw_path.lstrip("/").partition("/")
        rest = slash + rest
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        endpoint = self.endpoints.get(unquote(name))
        if endpoint is None:
            known = ", ".join(sorted(self.endpoints)) or "none are configured"
            await _send_answer(send, wire.error_answer(
                404, "AirlockNoEndpoint", f"no api resource {unquote(name)!r} is served here "
                f"(endpoints: {known}; see `airlock endpoints`)", style="json"))
            return
        method = scope["method"]
        style = wire.answer_style(endpoint.provider, _aws_service(endpoint, headers), headers,
                                  b"")
        try:
            body = await self._read_body(receive, headers)
        except _TooLarge:
            await _send_answer(send, wire.error_answer(
                413, "AirlockBodyTooLarge", f"the request body is over "
                f"{self.settings.max_body // (1024 * 1024)} MiB ([fronts.apiproxy] max_body_mb)",
                style=style))
            return
        try:
            await self._judge_and_forward(endpoint, method, rest, query, headers, body, style,
                                          send)
        finally:
            body.close()

    async def _judge_and_forward(self, endpoint: Endpoint, method: str, rest: str, query: str,
                                 headers: list[tuple[str, str]], body: _Body, style: str,
                                 send: Send) -> None:
        head = body.data[:MAX_INPUT_BYTES] if body.data is not None else b""
        style = wire.answer_style(endpoint.provider, _aws_service(endpoint, headers), headers,
                                  head)
        path_and_query = (rest or "/") + (f"?{query}" if query else "")

        def prepare() -> tuple[Caller, str, Action]:
            caller, canonical = self._authenticate(endpoint, method, rest, query, headers, body,
                                                   path_and_query)
            request = wire.action_request(method, canonical, headers, body.data, body.size,
                                          body.sha256)
            return caller, canonical, front_action(request, caller, FRONT, endpoint.context)

        def judge() -> tuple[Outcome, str]:
            caller, canonical, action = prepare()
            return endpoint.gate.submit(action, caller), canonical

        try:
            if self.on_loop:
                # A local store: a call judged here (kept, or cheap to judge) that the gate lets
                # through as routine is submitted here too, with no thread hop (most of a call's
                # cost under load was the hop: GIL hand-offs between the loop and the workers);
                # anything else goes to a worker, with the evaluation made here if any.
                caller, canonical, action = prepare()
                ev = self._judged_here(endpoint, action, caller, body.size)
                if ev is not None and ev.routine:
                    outcome = await self._submit_here(endpoint, action, caller, ev)
                else:
                    outcome = await self._in_worker(
                        lambda: endpoint.gate.submit(action, caller, ev))
            else:  # every store read over the network: one trip to a worker for all of it
                outcome, canonical = await self._in_worker(judge)
        except AuthError as exc:
            code = "SignatureDoesNotMatch" if isinstance(exc, sigv4.SignatureError) \
                else "AirlockUnauthorized"
            await _send_answer(send, wire.error_answer(
                401 if code == "AirlockUnauthorized" else 403, code, exc.message, style=style))
            return
        except wire.BodyRefused as exc:
            await _send_answer(send, wire.error_answer(413, "AirlockBodyRefused", str(exc),
                                                       style=style))
            return
        except MissingExtraError as exc:  # AWS support is not installed: nothing is forwarded
            await _send_answer(send, wire.error_answer(503, "AirlockUnavailable", str(exc),
                                                       style=style))
            return
        if outcome.verdict is not Verdict.ALLOW:
            due = await self._in_worker(lambda: self._due_at(outcome.snapshots))
            await _send_answer(send, wire.outcome_answer(outcome, style=style,
                                                         console_url=self.console_url, due_at=due))
            return
        await self._forward(endpoint, method, canonical, headers, body, style, send)

    @staticmethod
    def _judged_here(endpoint: Endpoint, action: Action, caller: Caller,
                     size: int) -> Evaluation | None:
        """The evaluation of a call, when it can be made on the event loop: the verdict kept for
        it, or — where placement needs no network lookup and the body is small — a judgement
        (CPU only, bounded by the body's size). None: judge it on a worker."""
        kept = endpoint.gate.judge.kept(action, caller)
        if kept is not None:
            return kept
        if endpoint.judged_on_loop and size <= _JUDGED_ON_LOOP_BYTES:
            return endpoint.gate.evaluate(action, caller)
        return None

    async def _submit_here(self, endpoint: Endpoint, action: Action, caller: Caller,
                           evaluation: Evaluation) -> Outcome:
        """`Gate.submit` of a routine evaluation (`Evaluation.routine`: allowed, no backup, no
        sync), batched: the calls that reach this point in one turn of the event loop are
        submitted together at its end, inside one `audit.group()` (each submission's own group
        nests in it), so their records take one transaction instead of one each. Each call's
        answer waits for that commit, as it waits for its own."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._here.append((endpoint, action, caller, evaluation, future))
        if len(self._here) == 1:
            loop.call_soon(self._submit_batch)
        return await future

    def _submit_batch(self) -> None:
        batch, self._here = self._here, []
        outcomes: list[Outcome] = []
        try:
            with contextlib.ExitStack() as groups:
                # (every endpoint's gate writes to the runtime's one log; grouped per log anyway)
                for audit in {id(e.gate.audit): e.gate.audit for e, *_ in batch}.values():
                    groups.enter_context(audit.group())
                for endpoint, action, caller, evaluation, _ in batch:
                    outcomes.append(endpoint.gate.submit(action, caller, evaluation))
        except BaseException as exc:  # their records were not written: nothing of it passes
            log.exception("the audit records of %d calls could not be written", len(batch))
            for *_, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception)
                                         else RuntimeError(repr(exc)))
            return
        for (*_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():  # (a caller that went away was cancelled)
                future.set_result(outcome)

    def _authenticate(self, endpoint: Endpoint, method: str, rest: str, query: str,
                      headers: list[tuple[str, str]], body: _Body,
                      path_and_query: str) -> tuple[Caller, str]:
        """The caller and the canonical URL of the call (runs on a worker thread)."""
        store, config = self.runtime.store, self.runtime.config
        if endpoint.provider != "aws":
            auth = next((v for k, v in headers if k.lower() == "authorization"), "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("send your airlock token as `Authorization: Bearer alk_…`; "
                                "airlock adds the real credential")
            caller = authenticate(self.tokens, config, token.strip(), now=self.clock())
            return caller, endpoint.canonical_base + path_and_query
        signed = sigv4.parse_authorization(
            next((v for k, v in headers if k.lower() == "authorization"), None))
        key = store.get_aws_key(signed.access_key_id)
        issued = self.tokens.get_token(key.token_id) if key is not None else None
        if key is None or issued is None:
            raise sigv4.SignatureError(f"unknown access key {signed.access_key_id}: sign with a "
                                       "key from `airlock token create --aws`, never a real one")
        secret = open_secret(self.runtime.approvals_key, key)
        # The agent signed the path it sent, endpoint prefix included (names need no escaping).
        sigv4.verify(method=method, path=f"/{endpoint.resource.name}{rest}", query=query,
                     headers=headers, payload_sha256=body.sha256, secret=secret, now=self.clock())
        caller = caller_of_token(issued, config, now=self.clock())
        return caller, aws.canonical_url(aws.AwsScope(signed.service, signed.region),
                                         path_and_query)

    def _due_at(self, ids: tuple[str, ...]) -> str | None:
        for deferred_id in ids:
            if deferred_id.startswith("def_"):
                record = self.runtime.store.get_deferred(deferred_id)
                if record is not None:
                    return record.due_at
        return None

    async def _read_body(self, receive: Receive, headers: list[tuple[str, str]]) -> _Body:
        limit = self.settings.max_body
        declared = next((v for k, v in headers if k.lower() == "content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _TooLarge
        digest = hashlib.sha256()
        parts: list[bytes] = []
        spool: IO[bytes] | None = None
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("the client went away while sending its body")
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if not chunk:
                continue
            size += len(chunk)
            if size > limit:
                if spool is not None:
                    spool.close()
                raise _TooLarge
            digest.update(chunk)
            if spool is None and size > _IN_MEMORY:
                spool = tempfile.TemporaryFile()  # noqa: SIM115 — closed by _Body.close
                spool.write(b"".join(parts))
                parts = []
            if spool is not None:
                await asyncio.to_thread(spool.write, chunk)
            else:
                parts.append(chunk)
        data = b"".join(parts) if spool is None else None
        return _Body(size, digest.hexdigest(), data, spool)

    async def _forward(self, endpoint: Endpoint, method: str, canonical: str,
                       headers: list[tuple[str, str]], body: _Body, style: str,
                       send: Send) -> None:
        resource = endpoint.resource
        target = forward_url(resource, canonical)
        signed = upstream_headers(resource, method, canonical, target, headers, body.data,
                                  payload_sha256=body.sha256)
        sent = [(k, v) for k, v in signed if k.lower() not in _FRAMING]
        sent.append(("Accept-Encoding", "identity"))  # so the scrubber reads plain bytes
        content: bytes | AsyncIterator[bytes] | None = body.data if body.data is not None \
            else body.chunks()
        scrubber = wire.Scrubber(endpoint.secrets)
        try:
            response = await self.client.request(method, target, sent,
                                                 content if body.size else None, body.size)
        except UpstreamProtocolError as exc:
            await _send_answer(send, wire.error_answer(
                502, "AirlockUpstreamUnreachable",
                scrubber.text(f"the upstream of {resource.name} did not answer: "
                              f"{type(exc).__name__}: {exc}"), style=style))
            return
        try:
            encoding = next((v for k, v in response.headers if k.lower() == "content-encoding"),
                            "").strip().lower()
            decoder = wire.body_decoder(encoding, max_bytes=self.settings.max_decoded,
                                        max_ratio=self.settings.max_decode_ratio)
            if decoder is None:
                await _send_answer(send, wire.error_answer(
                    502, "AirlockUpstreamEncoding", f"the upstream answered in encoding "
                    f"{encoding!r}, which airlock cannot check for credentials", style=style))
                return
            decoded = decoder.decodes
            out_headers = wire.response_headers(
                response.headers, scrubber, forward_base=(resource.base_url or "").rstrip("/"),
                local_base=endpoint.local_url, decoded=decoded)
            start = {"type": "http.response.start", "status": response.status,
                     "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                                 for k, v in out_headers]}
            if not decoded and response.content_length is not None \
                    and response.content_length <= _CHUNK:
                # A small answer of known length goes out as one write: read whole (no more
                # than its Content-Length), masked whole. A stream of unknown length, such as
                # a watch, is never held back.
                try:
                    whole = await response.read()
                except UpstreamProtocolError as exc:
                    await _send_answer(send, wire.error_answer(
                        502, "AirlockUpstreamBroken", scrubber.text(
                            f"the upstream of {resource.name} broke off its answer: {exc}"),
                        style=style))
                    return
                await send(start)
                await send({"type": "http.response.body",
                            "body": scrubber.feed(whole) + scrubber.close(), "more_body": False})
                return
            chunks = aiter(response.chunks())
            try:
                # A decoded answer is decoded a little ahead of its head (its first chunk, up
                # to _AHEAD bytes), so that a bomb is refused with an answer that says so; past
                # the head, the connection is cut. A plain stream's head is never held back.
                ahead, pieces = await _decode_ahead(decoder, chunks) if decoded \
                    else ([], iter(()))
            except wire.DecodingRefused as exc:
                log.warning("refused an answer of %s: %s", resource.name, exc)
                await _send_answer(send, wire.error_answer(
                    502, "AirlockUpstreamEncoding", f"{exc}; airlock did not pass it on",
                    style=style))
                return
            await send(start)
            try:
                async for piece in _decoded(decoder, ahead, pieces, chunks):
                    masked = scrubber.feed(piece)
                    if masked:
                        await send({"type": "http.response.body", "body": masked,
                                    "more_body": True})
            except wire.DecodingRefused as exc:
                log.warning("cut an answer of %s short: %s", resource.name, exc)
                raise
            await send({"type": "http.response.body", "body": scrubber.close(),
                        "more_body": False})
        finally:
            await response.aclose()


# How much of a decoded answer is decoded before its head is sent (see _forward): a step past
# the ratio's floor, so a bomb in the first chunk is found while a 502 can still say so.
_AHEAD = wire.RATIO_FLOOR + wire.DECODE_STEP


async def _decode_ahead(decoder: wire.BodyDecoder, chunks: AsyncIterator[bytes]
                        ) -> tuple[list[bytes], Iterator[bytes]]:
    """The first chunk's decoded pieces up to _AHEAD bytes, and the rest of them (undecoded
    yet). Raises DecodingRefused for a bomb found there. Never waits for a second chunk."""
    pieces = decoder.feed(await anext(chunks, b""))
    ahead: list[bytes] = []
    size = 0
    for piece in pieces:
        ahead.append(piece)
        size += len(piece)
        if size >= _AHEAD:
            break
    return ahead, pieces


async def _decoded(decoder: wire.BodyDecoder, ahead: list[bytes], pieces: Iterator[bytes],
                   chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The whole body decoded, a bounded step at a time (wire.BodyDecoder)."""
    for piece in ahead:
        yield piece
    for piece in pieces:
        yield piece
    async for chunk in chunks:
        for piece in decoder.feed(chunk):
            yield piece
    for piece in decoder.flush():
        yield piece


def _aws_service(endpoint: Endpoint, headers: list[tuple[str, str]]) -> str | None:
    if endpoint.provider != "aws":
        return None
    auth = next((v for k, v in headers if k.lower() == "authorization"), "")
    try:
        return sigv4.parse_authorization(auth).service if auth else None
    except sigv4.SignatureError:
        return None


async def _send_answer(send: Send, answer: wire.Answer) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
    headers.append((b"content-length", str(len(answer.body)).encode()))
    headers.append((b"date", formatdate(usegmt=True).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})
