"""PostgreSQL text as the server's scanner reads it: fingerprint and lexical traps.

The fingerprint is a digest of the token stream with every literal (string, number, bit string)
replaced by its token type, and comments left out. Two texts with the same fingerprint therefore
differ only in literal values; keywords and unquoted names are compared in ASCII lower case, as
the server folds them. Keeping the literal's token type (an integer is not a float) means that
the grammar, which only sees token types, reads both texts the same way.

The trap: with `standard_conforming_strings` off, a backslash escapes a quote inside an ordinary
'…' literal, so `'a\\'; DROP TABLE t; --'` is one harmless string to the server but a DROP to a
parser with the default setting — and the other way round. A plain literal whose end depends on
that setting makes the text unknown.
"""

from __future__ import annotations

import hashlib

from airlock.classify.sql import libpg
from airlock.classify.sql.verdict import Lexed

_LITERALS = frozenset({"SCONST", "USCONST", "BCONST", "XCONST", "ICONST", "FCONST"})
_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})
_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")

AMBIGUOUS_STRING = ("a string literal holds a backslash before a quote, which the server reads "
                    "differently when standard_conforming_strings is off")


def lex_postgres(text: str) -> Lexed:
    """Raises libpg.PgSyntaxError when the text cannot even be scanned."""
    tokens = libpg.scan(text)
    data = text.encode("utf-8")
    parts: list[bytes] = []
    problem: str | None = None
    for kind, keyword, start, end in tokens:
        if kind in _COMMENTS:
            continue
        if kind in _LITERALS:
            parts.append(b"?" + kind.encode())
            if kind == "SCONST" and problem is None and _escapes_quote(data[start:end]):
                problem = AMBIGUOUS_STRING
            continue
        raw = data[start:end]
        if keyword or (kind == "IDENT" and raw[:1] != b'"'):
            raw = raw.translate(_ASCII_LOWER)
        parts.append(raw)
    digest = hashlib.sha256(b"\x00".join(parts)).hexdigest()[:32]
    return Lexed(fingerprint="pg:" + digest, problem=problem)


def _escapes_quote(literal: bytes) -> bool:
    """Whether a backslash in an ordinary '…' literal would escape a quote (or the closing
    quote) if backslashes were escapes."""
    if b"\\" not in literal or (literal[:1] != b"'" and literal[:2].upper() != b"N'"):
        return False  # E'…' always reads escapes; $$…$$, U&'…' never depend on the setting
    body = literal[literal.index(b"'") + 1:-1]
    i = 0
    while i < len(body):
        if body[i:i + 1] == b"\\":
            if i + 1 >= len(body) or body[i + 1:i + 2] == b"'":
                return True
            i += 2
        else:
            i += 1
    return False
