"""The hook daemon: a Unix socket in the state folder, served by `airlock up`.

Starting Python with airlock's imports costs half a second, and an agent waits on its hook for
every tool call. So the command a harness runs is a tiny client (`hookclient.py`) that passes the
call to this long-running server, which keeps the classifiers loaded and the store open, and
answers with exactly what the harness should read.

Wire format (both directions are one message per connection; the client half-closes to send):

    request   b"airlock-hook 1 <harness>\\n" + the harness's JSON, as received
    response  b"airlock-hook 1 <exit code> <stdout bytes> <stderr bytes>\\n" + stdout + stderr

Who may connect: the socket is created 0600 inside the 0700 state folder, and each connection's
peer credentials must show the daemon's own user. (An agent running as that same user can reach
the socket — which only lets it ask for judgements, as its hook does anyway.)
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import socket
import socketserver
import stat
import struct
import threading
import time
from pathlib import Path

from airlock.errors import AirlockError
from airlock.fronts.hooks import HARNESSES
from airlock.fronts.hooks.base import Answer
from airlock.fronts.hooks.runner import MAX_PAYLOAD_BYTES, HookRunner
from airlock.services import Health

log = logging.getLogger("airlock.hooks.daemon")

SOCKET_NAME = "hooks.sock"
MAGIC = b"airlock-hook 1"
READ_TIMEOUT_SECONDS = 10.0  # the client sends everything at once: a slow sender is not one
MAX_HEADER_BYTES = 256
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path holds 108 bytes, NUL included


class ProtocolError(Exception):
    pass


def socket_path(state_dir: Path, configured: Path | None = None) -> Path:
    return configured if configured is not None else state_dir / SOCKET_NAME


def parse_request(data: bytes) -> tuple[str, bytes]:
    header, newline, payload = data.partition(b"\n")
    if not newline or len(header) > MAX_HEADER_BYTES:
        raise ProtocolError("the request has no header line")
    magic, _, harness = header.rpartition(b" ")
    if magic != MAGIC or not harness:
        raise ProtocolError("the request is not an airlock hook request (version 1)")
    return harness.decode("ascii", "replace"), payload


def encode_response(answer: Answer) -> bytes:
    out, err = answer.encoded()
    return b"%s %d %d %d\n%s%s" % (MAGIC, answer.exit_code, len(out), len(err), out, err)


def connectable_path(path: Path) -> tuple[str, int | None]:
    """An address for `path` that fits in sun_path. A long state folder is reached through a
    descriptor of its folder (/proc/self/fd/N/name, Linux); the caller closes the descriptor."""
    text = str(path)
    if len(os.fsencode(text)) <= _SUN_PATH_MAX:
        return text, None
    if not os.path.isdir("/proc/self/fd"):
        raise AirlockError(f"the hook socket path {text} is too long for a Unix socket",
                           hint="set state_dir in airlock.toml to a shorter folder")
    fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    return f"/proc/self/fd/{fd}/{path.name}", fd


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = False
    # Agents run tool calls in parallel, and a full backlog turns a connect into EAGAIN (the
    # client then falls back to the slow path): the default of 5 is too few.
    request_queue_size = 128
    runner: HookRunner
    group_id: int | None = None
    read_timeout: float = READ_TIMEOUT_SECONDS
    last_used: float = 0.0  # time.monotonic() of the last call (a started daemon idles out)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.last_used = time.monotonic()
        conn: socket.socket = self.request
        try:
            answer = self._answer(conn)
        except Exception as exc:  # whatever broke, the caller gets a blocking answer
            log.exception("hook request failed")
            answer = Answer(2, "", f"airlock: the hook request failed ({type(exc).__name__}); "
                                   "the call is blocked")
        with contextlib.suppress(OSError):  # the client gave up (timeout): it blocked already
            conn.settimeout(self.server.read_timeout)
            conn.sendall(encode_response(answer))

    def _answer(self, conn: socket.socket) -> Answer:
        try:
            data = _receive(conn, self.server.read_timeout)
            harness, payload = parse_request(data)
        except (ProtocolError, OSError) as exc:
            log.warning("bad hook request: %s", exc)
            return Answer(2, "", f"airlock: bad hook request ({exc}); the call is blocked")
        if not _allowed_peer(conn, self.server.group_id):
            spec = HARNESSES.get(harness)
            message = ("airlock serves hooks for its own user (and [hooks] socket_group) only; "
                       "the call is blocked")
            return spec.refuse(message) if spec else Answer(2, "", message)
        return self.server.runner.run(harness, payload)


def _receive(conn: socket.socket, seconds: float) -> bytes:
    """The whole request, within `seconds`: a caller that trickles bytes (or never half-closes)
    holds only its own connection's thread, and only until then."""
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProtocolError(f"the request was not sent whole within {seconds:g} s")
        conn.settimeout(left)
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            raise ProtocolError(f"the request was not sent whole within {seconds:g} s") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES + MAX_HEADER_BYTES:
            raise ProtocolError(f"the request is over {MAX_PAYLOAD_BYTES} bytes")
        chunks.append(chunk)


def _allowed_peer(conn: socket.socket, group_id: int | None) -> bool:
    """The caller is airlock's own user, or (with [hooks] socket_group) a member of that group.
    The socket's mode already limits who can connect; this checks again from the kernel's word."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:  # not Linux: the socket's mode is the check
        return True
    try:
        pid, uid, gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, option,
                                                            struct.calcsize("3i")))
    except OSError:
        return False
    if uid == os.getuid():
        return True
    return group_id is not None and (gid == group_id or group_id in _groups_of(pid))


def _groups_of(pid: int) -> set[int]:
    """Supplementary groups of a process, from /proc (empty when unreadable)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Groups:"):
                    return {int(g) for g in line.split()[1:]}
    except (OSError, ValueError):
        pass
    return set()


class HookDaemon:
    """The socket server; `start` binds and serves in a background thread, `close` stops and
    removes the socket. A service of `airlock up` (services.py)."""

    name = "hooks"

    def __init__(self, runner: HookRunner, path: Path, group: str | None = None, *,
                 read_timeout: float = READ_TIMEOUT_SECONDS,
                 take_over_in: Path | None = None) -> None:
        """`take_over_in` (a state folder; `airlock up` gives it): first stop a hooks daemon a
        hook started there (autostart.py), and keep hooks from starting another meanwhile."""
        self.runner = runner
        self.path = path
        self.read_timeout = read_timeout
        self.group_id = grp.getgrnam(group).gr_gid if group is not None else None
        self.take_over_in = take_over_in
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None

    def start(self, *, warm: bool = True) -> HookDaemon:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.take_over_in is not None and self._lock_fd is None:
            from airlock.fronts.hooks.autostart import take_over

            self._lock_fd = take_over(self.take_over_in)
        try:
            return self._start(warm)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def idle_seconds(self) -> float:
        """Seconds since the last call (or since the start)."""
        server = self._server
        return time.monotonic() - server.last_used if server is not None else 0.0

    def _start(self, warm: bool) -> HookDaemon:
        if self.group_id is not None:  # members of the group may enter the folder, not list it
            os.chown(self.path.parent, -1, self.group_id)
            os.chmod(self.path.parent, 0o710)  # noqa: S103  (traverse only, for one group)
        _clear_stale(self.path)
        address, fd = connectable_path(self.path)
        # The socket is born 0600: no window in which anyone else connects.
        old_umask = os.umask(0o177)
        try:
            server = _Server(address, _Handler, bind_and_activate=True)
        except OSError as exc:
            raise AirlockError(f"cannot listen for hooks on {self.path}: {exc}") from None
        finally:
            os.umask(old_umask)
            if fd is not None:
                os.close(fd)
        if self.group_id is not None:
            os.chown(self.path, -1, self.group_id)
            os.chmod(self.path, 0o660)
        else:
            os.chmod(self.path, 0o600)
        server.runner = self.runner
        server.group_id = self.group_id
        server.read_timeout = self.read_timeout
        server.last_used = time.monotonic()
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="airlock-hooks",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        if warm:
            threading.Thread(target=self._warm, name="airlock-hooks-warm", daemon=True).start()
        return self

    def _warm(self) -> None:
        try:
            self.runner.warm()
        except Exception:  # a slow first call is all this costs
            log.exception("warming the hook classifiers failed")

    def withdraw(self) -> None:
        """Remove the socket now, at the stop request, before the slower services stop: a
        supervisor that kills airlock after a short grace period must not leave a socket that
        sends every hook to the slow path. Calls in flight finish; new ones fall back."""
        if self._server is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def close(self) -> None:
        if self._server is None:
            self._release()
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._release()  # last: a hook may start its own daemon once the socket is gone

    def stop(self) -> None:
        self.close()

    def health(self) -> Health:
        if self._server is None or self._thread is None or not self._thread.is_alive():
            return Health(False, "not running")
        return Health(True, f"unix socket {self.path}")

    def __enter__(self) -> HookDaemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _clear_stale(path: Path) -> None:
    """Remove a socket left by a daemon that died; refuse to take over a live one, or to
    delete something that is not a socket."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise AirlockError(f"{path} exists and is not airlock's hook socket",
                           hint="move it away, then start airlock again")
    address, fd = connectable_path(path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(address)
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)
        return
    except OSError as exc:
        raise AirlockError(f"cannot tell whether another airlock serves hooks at {path}: {exc}") \
            from None
    finally:
        probe.close()
        if fd is not None:
            os.close(fd)
    raise AirlockError(f"another airlock is already serving hooks at {path}",
                       hint="stop it first, or give this one its own state_dir")
