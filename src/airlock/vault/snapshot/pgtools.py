"""PostgreSQL's own tools (pg_dump, psql), run as subprocesses with airlock's credentials.

How a tool reaches the database (`PgConn.tool_args`: the password in `PGPASSWORD`, never on a
command line where `ps` would show it) lives in `upstream/postgres.py`; this module streams the
tools' output and input. Nothing is buffered whole in memory.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO

from airlock.vault.errors import VaultError

READ_CHUNK = 1 << 20


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def dump_pattern(schema: str, name: str) -> str:
    """A pg_dump -t/-n pattern matching exactly this object (quotes make * ? . literal)."""
    return qualified(schema, name) if name else quote_ident(schema)


def _drain(stream: IO[bytes], into: list[bytes]) -> None:
    for line in iter(lambda: stream.read(65536), b""):
        if sum(len(x) for x in into) < 64 * 1024:
            into.append(line)


@contextmanager
def streamed(args: list[str], env: dict[str, str], what: str) -> Iterator[Iterator[bytes]]:
    """Run a tool and yield its stdout in chunks; raise VaultError (with its stderr) if it fails.

    Leaving the block early (an exception in the consumer) kills the tool."""
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env)
    except OSError as exc:
        raise VaultError(f"cannot run {args[0]}: {exc}") from None
    assert proc.stdout is not None and proc.stderr is not None
    errors: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(proc.stderr, errors), daemon=True)
    reader.start()
    stdout = proc.stdout

    def chunks() -> Iterator[bytes]:
        while chunk := stdout.read(READ_CHUNK):
            yield chunk

    finished = False
    try:
        yield chunks()
        finished = True
    finally:
        if not finished:
            proc.kill()
        stdout.close()
        code = proc.wait()
        reader.join(timeout=5)
        if not reader.is_alive():
            proc.stderr.close()  # else it is closed only when collected (a ResourceWarning)
    if code != 0:
        message = b"".join(errors).decode("utf-8", "replace").strip()
        raise VaultError(f"{what} failed (exit {code}): {_first_lines(message)}")


def feed(args: list[str], env: dict[str, str], chunks: Iterable[bytes], what: str,
         on_chunk: Callable[[int], None] | None = None) -> str:
    """Run a tool with `chunks` on its stdin; return its stdout (small) or raise VaultError."""
    try:
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
    except OSError as exc:
        raise VaultError(f"cannot run {args[0]}: {exc}") from None
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out: list[bytes] = []
    errors: list[bytes] = []
    threads = [threading.Thread(target=_drain, args=(proc.stdout, out), daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, errors), daemon=True)]
    for t in threads:
        t.start()
    try:
        for chunk in chunks:
            proc.stdin.write(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the tool stopped reading: its exit status and stderr say why
    except BaseException:
        proc.kill()  # a failed source (a corrupt frame) must not let a partial input commit
        proc.wait()
        raise
    code = proc.wait()
    for t in threads:
        t.join(timeout=5)
    if code != 0:
        message = b"".join(errors).decode("utf-8", "replace").strip()
        raise VaultError(f"{what} failed (exit {code}): {_first_lines(message)}")
    return b"".join(out).decode("utf-8", "replace")


def _first_lines(text: str, limit: int = 6) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    shown = "; ".join(lines[:limit])
    return shown + (" …" if len(lines) > limit else "") if shown else "(no message)"


