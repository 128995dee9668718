"""Reading the COPY blocks of a plain-format dump as it streams past.

A plain dump carries each table's rows between `COPY schema.table (cols) FROM stdin;` and a line
`\\.`. Scanning for those boundaries chunk by chunk (with `bytes.find`, never line by line in
Python) gives, per table, the row count and the sha256 of its COPY text — what a drill compares
after restoring — and lets a data-only restore pass the rows on without the DDL around them.
A data line can never be exactly `\\.`: COPY escapes a backslash as `\\\\`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

_TERMINATOR = b"\\.\n"


@dataclass
class TableStats:
    rows: int = 0
    hash: Any = field(default_factory=hashlib.sha256)

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "sha256": self.hash.hexdigest()}


def _copy_table(line: bytes) -> str:
    # b'COPY public.users (id, name) FROM stdin;' → 'public.users'
    text = line.decode("utf-8", "replace")[5:]
    return text.split(" (", 1)[0].split(" FROM ", 1)[0].strip()


class CopyScanner:
    """Feed it a plain dump's bytes; it keeps per-table stats. With `emit`, it also passes on a
    data-only script: session settings, COPY blocks and sequence positions."""

    def __init__(self, emit: Callable[[bytes], None] | None = None) -> None:
        self.tables: dict[str, TableStats] = {}
        self._emit = emit
        self._buf = bytearray()
        self._current: TableStats | None = None

    def feed(self, chunk: bytes) -> None:
        self._buf += chunk
        self._process(final=False)

    def close(self) -> None:
        self._process(final=True)
        if self._current is not None:
            raise ValueError("the dump ends inside a COPY block (it was cut short)")

    def stats(self) -> dict[str, dict[str, Any]]:
        return {name: s.to_json() for name, s in sorted(self.tables.items())}

    def _process(self, *, final: bool) -> None:
        buf = self._buf
        pos = 0
        while True:
            if self._current is None:
                newline = buf.find(b"\n", pos)
                if newline < 0:
                    break
                line = bytes(buf[pos:newline + 1])
                pos = newline + 1
                if line.startswith(b"COPY "):
                    name = _copy_table(line)
                    self._current = self.tables.setdefault(name, TableStats())
                    self._out(line)
                elif self._emit is not None and line.startswith(
                        (b"SET ", b"SELECT pg_catalog.set_config(", b"SELECT pg_catalog.setval(")):
                    self._out(line)
            else:
                if buf.startswith(_TERMINATOR, pos):
                    end = pos
                else:
                    found = buf.find(b"\n" + _TERMINATOR, pos)
                    end = found + 1 if found >= 0 else -1
                if end < 0:
                    # keep the last bytes: the terminator may straddle the next chunk
                    keep = len(buf) - len(_TERMINATOR)
                    cut = buf.rfind(b"\n", pos, keep) + 1 if keep > pos else 0
                    if cut > pos:
                        self._data(bytes(buf[pos:cut]))
                        pos = cut
                    break
                self._data(bytes(buf[pos:end]))
                self._out(_TERMINATOR)
                pos = end + len(_TERMINATOR)
                self._current = None
        del buf[:pos]
        if final and buf and self._current is None:
            buf.clear()  # an unterminated last line outside COPY: nothing to count

    def _data(self, data: bytes) -> None:
        assert self._current is not None
        self._current.rows += data.count(b"\n")
        self._current.hash.update(data)
        self._out(data)

    def _out(self, data: bytes) -> None:
        if self._emit is not None:
            self._emit(data)


def data_only(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """A plain dump reduced to what reloads its rows into existing tables."""
    pending: list[bytes] = []
    scanner = CopyScanner(emit=pending.append)
    for chunk in chunks:
        scanner.feed(chunk)
        if pending:
            yield b"".join(pending)
            pending.clear()
    scanner.close()
    if pending:
        yield b"".join(pending)
