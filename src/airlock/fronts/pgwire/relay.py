"""The compiled relay (`pgrelay.c`): sessions of allowed reads relayed without Python.

A Python relay cannot carry the ~100k messages a second of a busy pool on two shared cores;
`pgrelay` can. Python keeps everything that judges — startup, TLS, SCRAM, token checks, the
upstream connection, every statement's first ruling, holds, snapshots — and, once a session on
a plain (non-TLS) socket is quiet, *lends* both its sockets to the relay (SCM_RIGHTS over a
private socketpair) with the texts that session may run there: texts Python ruled allowed, pure
reads, that nothing must be recorded before, and transaction control (BEGIN, COMMIT, ROLLBACK)
while the token owes no record (`Rulings.relayable`). The relay forwards batches
made only of those and hands the session back — sockets, unconsumed client bytes, transaction
status, prepared statements — at the first thing it has not been told about; Python carries on
with the session as if it had relayed those batches itself, and lends it again when quiet.

`Relay` is one relay process for one proxy, supervised: if it dies, the sessions it held end
(their clients reconnect) and a new process starts; while none runs, sessions stay in Python
(slower, judged the same). Python keeps its own copies of the sockets (paused) while the relay
has them, so a hand-back needs no descriptor passing back; the relay shuts a session's sockets
down when it ends one.

The control protocol is described at the top of `pgrelay.c`.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import logging
import os
import select
import socket
import struct
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from airlock import native

log = logging.getLogger("airlock.pgwire.relay")

SOURCE_NAME = "pgrelay.c"
MAX_TEXT = 16 * 1024  # longer texts are not lent (one control packet each)
RESTART_SECONDS = (0.1, 0.5, 2.0, 5.0)
NO_TTL = 0xFFFFFFFF
SEND_SECONDS = 5.0


def _works(binary: Path) -> bool:
    """The relay's self-check: its statement-shape lexer gives the expected shapes."""
    if not binary.is_file():
        return False
    try:
        done = subprocess.run([str(binary), "--self-check"], capture_output=True, timeout=10,
                              check=False, env={"PATH": os.environ.get("PATH", "")})
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and done.stdout.strip() == b"pgrelay ok"


PROGRAM = native.Program(SOURCE_NAME, "airlock-pgrelay", _works)


def build() -> Path | None:
    """The built relay, or None (no compiler, or it failed its check): then Python relays."""
    return native.build(PROGRAM)


class Lender(Protocol):
    """What a session lent to the relay hears back (proxy.Connection)."""

    def relay_hits(self, hits: list[tuple[int, int]]) -> None: ...
    def relay_back(self, status: str, data: bytes, statements: dict[str, int]) -> None: ...
    def relay_closed(self, reason: str) -> None: ...


class Relay:
    """One supervised pgrelay process and its control socket, on the proxy's event loop."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.sessions: dict[int, Lender] = {}
        self._data: dict[int, bytearray] = {}
        self._next_sid = 1
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._failures = 0
        self.starts = 0

    @property
    def ready(self) -> bool:
        return self._sock is not None and not self._stopping

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            # the relay's stderr goes where airlock's does: its few lines say why it stopped
            self._proc = subprocess.Popen([str(self.binary), "--control", str(theirs.fileno())],
                                          pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                          close_fds=True)
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self._loop.add_reader(ours.fileno(), self._readable)
        self.starts += 1

    async def stop(self, grace: float = 2.0) -> None:
        """Stop after the sessions being ended have reported their last runs (or `grace`)."""
        self._stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.sessions and self._sock is not None and loop.time() < deadline:
            await asyncio.sleep(0.02)
        self._drop_process()
        # Sessions it did not report ended in time end now: their connections wait for word
        # from the relay before closing their copies of the sockets (proxy.py, `end`).
        sessions, self.sessions = self.sessions, {}
        self._data.clear()
        for lender in sessions.values():
            lender.relay_closed("airlock is stopping")

    # ---- to the relay ---------------------------------------------------------------------------

    def lend(self, lender: Lender, client: socket.socket | int, server: socket.socket | int,
             status: str, ttl_ms: int | None, texts: Iterable[tuple[int, str, bool]],
             statements: Iterable[tuple[str, int]]) -> int | None:
        """Lend a quiet session's sockets; its id, or None when the relay cannot take it."""
        if not self.ready:
            return None
        sid = self._next_sid
        self._next_sid = self._next_sid % 0xFFFFFFF0 + 1
        cfd = client if isinstance(client, int) else client.fileno()
        sfd = server if isinstance(server, int) else server.fileno()
        ttl = NO_TTL if ttl_ms is None else max(0, min(ttl_ms, NO_TTL - 1))
        head = b"A" + struct.pack("!IcI", sid, status.encode("ascii"), ttl)
        try:
            self._send(head, [cfd, sfd])
            for text_id, text, by_shape in texts:
                raw = text.encode("utf-8")
                if len(raw) <= MAX_TEXT:
                    self._send(b"T" + struct.pack("!IIB", sid, text_id, int(by_shape)) + raw)
            for name, text_id in statements:
                self._send(b"N" + struct.pack("!II", sid, text_id) + name.encode("utf-8"))
            self.sessions[sid] = lender
            self._send(b"G" + struct.pack("!I", sid))
        except OSError:
            self.sessions.pop(sid, None)
            self._lost("the relay's control socket failed")
            return None
        return sid

    def end(self, sid: int, farewell: bytes | None) -> bool:
        """End a lent session (the relay sends `farewell` to the client if it can). The session
        stays known until the relay says it ended (or handed it back first), so its last runs are
        still journaled. False when the relay does not have it: nothing will be said of it."""
        if sid not in self.sessions:
            return False
        try:
            self._send(b"K" + struct.pack("!I", sid) + (farewell or b""))
        except OSError:  # its sessions end (this one's relay_closed included)
            self._lost("the relay's control socket failed")
        return True

    def invalidate(self, sid: int = 0) -> None:
        """Forget what the relay may forward (one session, or all): configuration changed."""
        with contextlib.suppress(OSError):
            self._send(b"I" + struct.pack("!I", sid))

    def _send(self, data: bytes, fds: list[int] | None = None) -> None:
        sock = self._sock
        if sock is None:
            raise OSError("the relay is not running")
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())] \
            if fds else []
        while True:
            try:
                sock.sendmsg([data], ancillary)
                return
            except BlockingIOError:
                # a relay that stops reading for this long is a failure, not a hang
                if not select.select([], [sock], [], SEND_SECONDS)[1]:
                    raise OSError("the relay stopped reading its control socket") from None

    # ---- from the relay -----------------------------------------------------------------------

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        while True:
            try:
                data = sock.recv(128 * 1024, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._lost("the relay process ended")
                return
            try:
                self._message(data)
            except Exception:  # a message we cannot read: the relay is not to be trusted
                log.exception("unreadable message from the relay")
                self._lost("the relay sent an unreadable message")
                return

    def _message(self, data: bytes) -> None:
        kind, sid = data[:1], struct.unpack_from("!I", data, 1)[0]
        body = data[5:]
        if kind == b"D":
            self._data.setdefault(sid, bytearray()).extend(body)
            return
        lender = self.sessions.get(sid)
        if kind == b"H":
            pairs = [struct.unpack_from("!II", body, i) for i in range(0, len(body), 8)]
            if lender is not None:
                lender.relay_hits(pairs)
        elif kind == b"B":
            self.sessions.pop(sid, None)
            rest = bytes(self._data.pop(sid, b""))
            status = body[:1].decode("ascii")
            statements: dict[str, int] = {}
            at = 1
            while at < len(body):
                text_id, size = struct.unpack_from("!IH", body, at)
                at += 6
                statements[body[at:at + size].decode("utf-8")] = text_id
                at += size
            if lender is not None:
                lender.relay_back(status, rest, statements)
        elif kind == b"C":
            self.sessions.pop(sid, None)
            self._data.pop(sid, None)
            if lender is not None:
                lender.relay_closed(body.decode("utf-8", "replace"))
        else:
            raise ValueError(f"unknown relay message {kind!r}")

    # ---- supervision --------------------------------------------------------------------------

    def _lost(self, why: str) -> None:
        """The relay is gone or broken: its sessions end, a new relay starts."""
        if self._sock is None:
            return
        log.warning("%s; its sessions end%s", why, "" if self._stopping else ", restarting it")
        self._drop_process()
        sessions, self.sessions = self.sessions, {}
        self._data.clear()
        for lender in sessions.values():
            lender.relay_closed(why)
        if self._stopping or self._loop is None:
            return
        delay = RESTART_SECONDS[min(self._failures, len(RESTART_SECONDS) - 1)]
        self._failures += 1
        self._loop.call_later(delay, self._restart)

    def _restart(self) -> None:
        if self._stopping or self._sock is not None:
            return
        try:
            self.start()
            self._failures = 0
        except OSError:
            log.exception("the relay could not be restarted")
            if self._loop is not None:
                self._loop.call_later(RESTART_SECONDS[-1], self._restart)

    def _drop_process(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(sock.fileno())
            sock.close()  # the relay reads EOF and exits, closing its copies of the sockets
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
