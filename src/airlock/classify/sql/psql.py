"""Splitting a psql script into what psql would do with it: SQL statements, meta-commands and
COPY data, each with the line it starts on.

psql scripts (`psql -f`, PostgreSQL's own regression tests) are not plain SQL: a backslash
outside a literal starts a meta-command that runs to the end of its line (`\\set`, `\\d`,
`\\gset`), and `COPY … FROM STDIN` (or `\\copy … from stdin`) is followed by data lines ending
at a line `\\.`. Meta-commands are psql's own business, not SQL sent to the server, so they are
reported as such and never classified as SQL; COPY data is data.

The server's scanner (through libpg_query) finds statement ends, so semicolons inside literals,
comments and dollar quotes are handled as the server would. Simplifications, documented rather
than hidden: every meta-command ends the statement before it (psql only does so for \\g and its
kin); `\\;` (several statements sent as one query) ends a statement like `;`; psql variables
(`:name`) are left in place, so statements that use them do not parse and are unknown; `\\if`
branches are all kept; a COPY whose data never ends takes the rest of the script. Whether psql
reads COPY data depends on whether the server accepted the COPY; a COPY followed by lines that
open like statements is taken to have failed (see `has_copy_data`).
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
from dataclasses import dataclass
from typing import Literal

from airlock.classify.sql import libpg
from airlock.classify.sql.libpg import PgSyntaxError, Token
from airlock.classify.sql.verdict import words

PartKind = Literal["sql", "meta", "copy_data"]


@dataclass(frozen=True, slots=True)
class Part:
    kind: PartKind
    text: str
    line: int  # 1-based line of the part's first character


_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})
_OPENERS = words("""
    ABORT ALTER ANALYZE BEGIN CALL CHECKPOINT CLOSE CLUSTER COMMENT COMMIT COPY CREATE DEALLOCATE
    DECLARE DELETE DISCARD DO DROP END EXECUTE EXPLAIN FETCH GRANT IMPORT INSERT LISTEN LOAD LOCK
    MERGE MOVE NOTIFY PREPARE REASSIGN REFRESH REINDEX RELEASE RESET REVOKE ROLLBACK SAVEPOINT
    SECURITY SELECT SET SHOW START TABLE TRUNCATE UNLISTEN UPDATE VACUUM VALUES WITH
""")


def split_psql(script: str) -> list[Part]:
    return _Splitter(script).run()


class _Splitter:
    def __init__(self, script: str) -> None:
        self.script = script
        # The scanner needs valid UTF-8 without NULs; a stand-in of the same length keeps every
        # offset, and the parts keep the original characters (which make them unknown).
        self.clean = "".join("?" if "\ud800" <= c <= "\udfff" or c == "\x00" else c
                             for c in script) if not script.isascii() or "\x00" in script \
            else script
        self.newlines = [i for i, c in enumerate(script) if c == "\n"]
        self.parts: list[Part] = []
        self.start: int | None = None  # first code token of the pending statement
        self.kinds: list[str] = []  # token kinds of the pending statement

    def run(self) -> list[Part]:
        pos = 0
        while pos < len(self.script):
            pos = self.chunk(pos)
        self.flush(len(self.script))
        return self.parts

    # -- one scan from `pos`; returns where the next scan starts

    def chunk(self, pos: int) -> int:
        text = self.clean[pos:]
        try:
            tokens = libpg.scan(text)
        except PgSyntaxError as exc:
            return self.bad(pos, text, exc)
        return self.consume(pos, text, tokens, len(self.script))

    def consume(self, pos: int, text: str, tokens: list[Token], limit: int) -> int:
        to_char = _CharOffsets(text)
        resume = pos
        for i, (kind, _, token_start, token_end) in enumerate(tokens):
            start, end = pos + to_char(token_start), pos + to_char(token_end)
            if start < resume:
                if end > resume:
                    return resume  # a token ran over a meta-command's line end: scan again
                continue
            if start >= limit:
                return limit
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            if kind == "ASCII_92" and after and after[0] == "ASCII_59" and after[2] == token_end:
                # `\;` sends several statements as one query; each is judged on its own.
                self.flush(start)
                self.kinds = []
                resume = pos + to_char(after[3])
            elif kind == "ASCII_92":  # a backslash outside any literal: a meta-command
                resume = self.meta(start)
                if resume < 0:
                    return -resume
            elif kind == "ASCII_59":
                self.kinds.append(kind)
                self.flush(end)
                copying, self.kinds = self.copying_stdin, []
                if copying and self.has_copy_data(self.line_end(end) + 1):
                    return self.copy_data(self.line_end(end) + 1)
            elif kind not in _COMMENTS:
                if self.start is None:
                    self.start = start
                self.kinds.append(kind)
        return max(limit, resume)

    # -- the parts

    def flush(self, end: int) -> None:
        if self.start is not None:
            text = self.script[self.start:end].rstrip()
            self.parts.append(Part("sql", text, self.line_of(self.start)))
        self.start = None

    @property
    def copying_stdin(self) -> bool:
        kinds = self.kinds
        return bool(kinds) and kinds[0] == "COPY" and any(
            a == "FROM" and b == "STDIN" for a, b in itertools.pairwise(kinds))

    def meta(self, start: int) -> int:
        """Record a meta-command; returns where tokens may resume, negated when the scan must
        restart there (after COPY data)."""
        self.flush(start)
        self.kinds = []
        end = self.line_end(start)
        text = self.script[start:end]
        self.parts.append(Part("meta", text, self.line_of(start)))
        words = text.lower().split()
        if words and words[0] == "\\copy" and "from" in words and \
                any(w in ("stdin", "pstdin") for w in words):
            return -self.copy_data(end + 1)
        return end + 1

    def has_copy_data(self, start: int) -> bool:
        """Whether psql reads data after this COPY: only if the server accepted it, which a
        script cannot show. A COPY that fails is followed by SQL rather than data, so the lines
        up to `\\.` count as data only when none of them opens like a statement or a comment."""
        pos = start
        while pos < len(self.script):
            end = self.line_end(pos)
            line = self.script[pos:end].strip()
            if line == "\\.":
                return True
            words = line.split(None, 1)
            if line.startswith("--") or (words and words[0].upper().rstrip(";") in _OPENERS):
                return False
            pos = end + 1
        return True

    def copy_data(self, start: int) -> int:
        """Data lines up to a line `\\.`; returns the position after it."""
        pos = start
        while pos < len(self.script):
            end = self.line_end(pos)
            if self.script[pos:end].rstrip("\r ") == "\\.":
                if pos > start:
                    self.parts.append(Part("copy_data", self.script[start:pos],
                                           self.line_of(start)))
                return end + 1
            pos = end + 1
        if start < len(self.script):
            self.parts.append(Part("copy_data", self.script[start:], self.line_of(start)))
        return len(self.script)

    def bad(self, pos: int, text: str, exc: PgSyntaxError) -> int:
        """The scanner stopped at a lexical error: keep what comes before the error's line,
        make the statement around it one part (it will not parse), go on after that line."""
        error = pos + _CharOffsets(text)(max(exc.position - 1, 0))
        line_start = self.script.rfind("\n", 0, error) + 1
        if line_start > pos:
            head = self.clean[pos:line_start]
            with contextlib.suppress(PgSyntaxError):  # then the whole line range is one part
                self.consume(pos, head, libpg.scan(head), line_start)
        end = self.line_end(error)
        if self.start is None and self.script[line_start:end].lstrip().startswith("\\"):
            # A meta-command's arguments are not SQL: `\\echo it's` is fine in psql.
            indent = len(self.script[line_start:end]) - len(self.script[line_start:end].lstrip())
            return abs(self.meta(line_start + indent))
        if self.start is None:
            self.start = line_start
        self.flush(end)
        self.kinds = []
        return end + 1

    def line_end(self, pos: int) -> int:
        end = self.script.find("\n", pos)
        return len(self.script) if end < 0 else end

    def line_of(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1


class _CharOffsets:
    """Maps libpg_query's UTF-8 byte offsets in `text` to character offsets."""

    def __init__(self, text: str) -> None:
        self.starts: list[int] | None = None
        if not text.isascii():
            starts, total = [], 0
            for c in text:
                starts.append(total)
                total += len(c.encode("utf-8"))
            starts.append(total)
            self.starts = starts

    def __call__(self, byte: int) -> int:
        if self.starts is None:
            return byte
        return bisect.bisect_left(self.starts, byte)
