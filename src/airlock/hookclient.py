"""airlock's hook client: what Claude Code, Cursor, Codex and Gemini run before each tool call.

    python3 -I -S /path/to/airlock/hookclient.py HARNESS [--socket PATH] [--timeout SECONDS]
            [--autostart] [-- FALLBACK COMMAND ...]

It reads the harness's JSON from stdin and hands it to the airlock daemon (`airlock up`) over the
Unix socket PATH (else $AIRLOCK_HOOK_SOCKET), then writes the daemon's answer — exit code,
stdout, stderr — exactly as received. When no daemon answers it runs FALLBACK (the in-process
`airlock hook HARNESS`, slow but complete) and relays its answer instead.

With `--autostart` (written by `airlock install` where the socket is the user's own, in the
state folder), a missing daemon is started first: FALLBACK is `PYTHON -m airlock ARGS`, and the
client starts `PYTHON -m airlock.fronts.hooks.autostart ARGS` detached (its own session, no
stdio), waits up to AUTOSTART_SECONDS for the socket and asks it. Whatever goes wrong there —
the daemon refuses (a system socket), does not come up in time — FALLBACK answers as before.

The harness lets a tool call through when its hook crashes or times out, so this client must
never do either: every failure here — unreadable input, a timeout, a malformed answer, a
fallback that crashed — becomes the harness's *blocking* answer with a reason. `--timeout`
(seconds) is kept below the harness's own hook timeout for that reason.

Speed is the point of this file, and it is spent on imports: `-I -S` skips site-packages, and
only modules the interpreter has already loaded at start are used (`posix` rather than `os`,
`_socket` rather than `socket`, `_signal` for the deadline, no `json`): together ~7 ms from spawn
to exit on a warm machine instead of ~35 ms. `subprocess` is imported only on the fallback path.
It runs on any Python 3.8+ and needs nothing but the standard library.
"""

from __future__ import annotations

import _signal
import _socket
import posix
import sys
import time

MAGIC = b"airlock-hook 1"
DEFAULT_TIMEOUT = 20.0
MAX_INPUT = 16 * 1024 * 1024
_SUN_PATH_MAX = 107
AUTOSTART_MODULE = "airlock.fronts.hooks.autostart"
AUTOSTART_SECONDS = 15.0  # the daemon imports airlock (~1 s here) before its socket is up


class Failure(Exception):
    """Anything that stops the client from relaying a real answer: it blocks instead."""


def main(argv: list[str]) -> int:
    harness = argv[1] if len(argv) > 1 else ""
    try:
        return relay(harness, argv[2:])
    except BaseException as exc:  # never a traceback and exit 1: that lets the call run
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        why = str(exc) if isinstance(exc, Failure) else f"{type(exc).__name__}: {exc!r}"
        return block(harness, why)


def relay(harness: str, args: list[str]) -> int:
    socket_path, timeout, fallback, autostart = parse_args(args)
    deadline = time.monotonic() + timeout
    # A hard stop for everything below, reading stdin included: past the deadline the alarm
    # raises Failure wherever the client is waiting, and the call is blocked.
    _signal.signal(_signal.SIGALRM, _out_of_time)
    _signal.setitimer(_signal.ITIMER_REAL, timeout)
    payload = read_input()
    stale = False
    try:
        conn = connect(socket_path) if socket_path else None
    except OSError as exc:
        conn = None  # no daemon: the in-process path answers instead
        # A socket nobody listens on: `airlock up` died without removing it. Said on stderr
        # (not in the verdict), so the slow path is not taken silently.
        stale = isinstance(exc, ConnectionRefusedError)
        if autostart and socket_path:
            conn = start_daemon(socket_path, fallback, deadline)
            stale = stale and conn is None
    if conn is None:
        if not fallback:
            raise Failure("airlock's daemon is not running and no fallback command is set")
        code, out, err = run_fallback(fallback, payload, deadline)
        if stale:
            err += (b"\nairlock: nothing answers on " + str(socket_path).encode("utf-8", "replace")
                    + b" (airlock up stopped without removing it); this call took the slow "
                    b"path. Start `airlock up` again.\n")
    else:
        code, out, err = ask_daemon(conn, harness, payload, deadline)
    _signal.setitimer(_signal.ITIMER_REAL, 0)
    write(1, out)
    write(2, err)
    return code


def _out_of_time(signum: int, frame: object) -> None:
    raise Failure("airlock did not answer in time")


def parse_args(args: list[str]) -> tuple[str | None, float, list[str], bool]:
    socket_path = posix.environ.get(b"AIRLOCK_HOOK_SOCKET", b"").decode() or None
    timeout = DEFAULT_TIMEOUT
    fallback: list[str] = []
    autostart = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            fallback = args[i + 1:]
            break
        if arg == "--autostart":
            autostart = True
            i += 1
            continue
        if arg in ("--socket", "--timeout") and i + 1 < len(args):
            if arg == "--socket":
                socket_path = args[i + 1]
            else:
                try:
                    timeout = float(args[i + 1])
                except ValueError:
                    raise Failure(f"--timeout {args[i + 1]!r} is not a number of seconds") from None
                if not 0 < timeout <= 3600:  # also NaN; 0 would switch the deadline off
                    raise Failure(f"--timeout {args[i + 1]!r} is not between 0 and 3600 seconds")
            i += 2
            continue
        raise Failure(f"unknown argument {arg!r}")
    return socket_path, timeout, fallback, autostart


def start_daemon(socket_path: str, fallback: list[str],
                 deadline: float) -> _socket.socket | None:
    """Start the hooks-only daemon and connect to it; None (the fallback answers) when the
    fallback is not `PYTHON -m airlock ...`, the daemon refuses, or it is not up in time."""
    if len(fallback) < 3 or fallback[1:3] != ["-m", "airlock"]:
        return None
    import subprocess

    try:
        starter = subprocess.Popen(
            [fallback[0], "-m", AUTOSTART_MODULE, *fallback[3:]], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return None
    # Leave half the time left for the fallback, should the daemon not come.
    now = time.monotonic()
    until = now + min(AUTOSTART_SECONDS, (deadline - now) / 2)
    pause = 0.005
    while time.monotonic() < until:
        try:
            return connect(socket_path)
        except OSError:
            pass
        code = starter.poll()
        if code is not None and code != 0:  # refused: no daemon will come
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    return None


def read_input() -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = posix.read(0, 1 << 16)
        except OSError as exc:
            raise Failure(f"could not read the hook input: {exc}") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_INPUT:
            raise Failure(f"the hook input is over {MAX_INPUT} bytes")
        chunks.append(chunk)


def connect(path: str) -> _socket.socket:
    """A connected socket, or OSError when nothing listens at `path`."""
    address, fd = path, -1
    if len(path.encode()) > _SUN_PATH_MAX:  # reach a long path through its folder's descriptor
        folder, _, name = path.rpartition("/")
        fd = posix.open(folder or "/", posix.O_RDONLY)
        address = f"/proc/self/fd/{fd}/{name}"
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.settimeout(2.0)
        conn.connect(address)
    except OSError:
        conn.close()
        raise
    finally:
        if fd >= 0:
            posix.close(fd)
    return conn


def ask_daemon(conn: _socket.socket, harness: str, payload: bytes,
               deadline: float) -> tuple[int, bytes, bytes]:
    try:
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        conn.sendall(MAGIC + b" " + harness.encode() + b"\n" + payload)
        conn.shutdown(_socket.SHUT_WR)
        chunks: list[bytes] = []
        while True:
            conn.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:  # includes the timeout
        raise Failure(f"airlock's daemon did not answer in time ({exc or type(exc).__name__})") \
            from None
    finally:
        conn.close()
    return parse_response(b"".join(chunks))


def parse_response(data: bytes) -> tuple[int, bytes, bytes]:
    header, newline, body = data.partition(b"\n")
    fields = header.split(b" ")
    if not newline or len(fields) != 5 or b" ".join(fields[:2]) != MAGIC:
        raise Failure("airlock's daemon sent a malformed answer")
    try:
        code, n_out, n_err = int(fields[2]), int(fields[3]), int(fields[4])
    except ValueError:
        raise Failure("airlock's daemon sent a malformed answer") from None
    if code not in (0, 2) or n_out < 0 or n_err < 0 or n_out + n_err != len(body):
        raise Failure("airlock's daemon sent a malformed answer")
    return code, body[:n_out], body[n_out:]


def run_fallback(command: list[str], payload: bytes,
                 deadline: float) -> tuple[int, bytes, bytes]:
    import subprocess

    try:
        done = subprocess.run(command, input=payload, capture_output=True,
                              timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise Failure("airlock did not answer in time") from None
    except OSError as exc:
        raise Failure(f"could not start airlock ({exc})") from None
    if done.returncode not in (0, 2):
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise Failure(f"airlock exited with status {done.returncode} {tail[0][:300]}")
    return done.returncode, done.stdout, done.stderr


def block(harness: str, why: str) -> int:
    """The harness's blocking answer. Cursor reads a JSON decision (and blocks on failure only
    when failClosed is set); the others block on exit code 2 and show stderr to the model."""
    message = (f"airlock could not judge this tool call ({why[:500]}), so it is blocked to be "
               "safe. Retry it once; if it keeps failing, ask a human to look at airlock.")
    if harness == "cursor":
        text = json_string(message)
        write(1, f'{{"permission": "deny", "user_message": {text}, "agent_message": {text}}}'
              .encode("utf-8", "backslashreplace"))
        return 0
    write(2, message.encode("utf-8", "backslashreplace"))
    return 2


def json_string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch < " " or "\ud800" <= ch <= "\udfff":  # control characters; lone surrogates
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def write(fd: int, data: bytes) -> None:
    while data:
        try:
            written = posix.write(fd, data)
        except OSError:
            return  # the harness stopped reading; the exit code still speaks
        data = data[written:]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
