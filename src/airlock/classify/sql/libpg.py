"""The one door to libpg_query, through the postgast binding.

postgast ships a type stub (`pg_query_pb2.pyi`) that mypy cannot read, so nothing else imports
postgast: this module loads it by name and hands out plain, typed values.

The parse tree comes as libpg_query's JSON (dicts and lists) rather than postgast's protobuf
messages: it costs the same to produce, is about twice as fast to walk in Python, and has no
nesting limit short of Python's own, where the protobuf decoder rejects expressions nested about
fifty deep. libpg_query's JSON entry point is reached through `postgast.native`; if a postgast
release moves it, importing this module fails and the SQL classifier answers unknown for
everything (the test suite fails loudly first).
"""

from __future__ import annotations

import importlib
import json
from typing import Any

_postgast: Any = importlib.import_module("postgast")
_lib: Any = importlib.import_module("postgast.native").lib
_pb: Any = importlib.import_module("postgast.pg_query_pb2")

# A parse-tree node as libpg_query writes it in JSON: {"NodeType": {field: value, ...}}. Fields
# whose declared type is one node type (a RangeVar in DeleteStmt.relation) come unwrapped.
JsonNode = dict[str, Any]


class PgSyntaxError(Exception):
    """libpg_query rejected the text, or the text cannot be handed to libpg_query at all."""

    def __init__(self, message: str, position: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.position = position  # 1-based byte offset, 0 when unknown


def check_text(text: str) -> None:
    """Raise unless libpg_query would read exactly `text`.

    libpg_query takes a C string: a NUL would end the text early, so the parser would judge only
    the part before it while the server received all of it. Lone surrogates (undecodable bytes
    smuggled through a str) have no UTF-8 form at all.
    """
    if "\x00" in text:
        raise PgSyntaxError("the text contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PgSyntaxError("the text is not valid UTF-8") from exc


def parse(text: str) -> list[JsonNode]:
    """The raw statements of `text`: dicts with `stmt` and byte offsets `stmt_location`,
    `stmt_len` (either missing when zero, as protobuf JSON omits defaults)."""
    check_text(text)
    result = _lib.pg_query_parse(text.encode("utf-8"))
    try:
        if result.error:
            err = result.error.contents
            message = err.message.decode("utf-8", "replace") if err.message else "syntax error"
            raise PgSyntaxError(message, int(err.cursorpos))
        tree = json.loads(result.parse_tree)
    except RecursionError as exc:
        raise PgSyntaxError("the statement is nested too deeply to read") from exc
    finally:
        _lib.pg_query_free_parse_result(result)
    stmts = tree.get("stmts", []) if isinstance(tree, dict) else []
    return stmts if isinstance(stmts, list) else []


# One lexical token: (kind, is_keyword, start, end). kind is libpg_query's token name (SELECT,
# IDENT, SCONST, ASCII_59 for ";"); start and end are UTF-8 byte offsets, end exclusive. A plain
# tuple, because a scan makes one per token and the fingerprint of every statement needs one.
Token = tuple[str, bool, int, int]

_TOKEN_NAMES: dict[int, str] = {v.number: v.name for v in _pb.Token.DESCRIPTOR.values}
_NO_KEYWORD: int = _pb.KeywordKind.Value("NO_KEYWORD")

# Every statement node type of the grammar (SelectStmt, DropStmt, ...).
STATEMENT_KINDS: frozenset[str] = frozenset(
    f.message_type.name for f in _pb.Node.DESCRIPTOR.fields
    if f.message_type is not None and f.message_type.name.endswith("Stmt"))


def scan(text: str) -> list[Token]:
    """The lexical tokens of `text`, comments included, as the server's own scanner sees them."""
    check_text(text)
    try:
        result = _postgast.scan(text)
    except _postgast.PgQueryError as exc:
        raise PgSyntaxError(str(exc.message), int(exc.cursorpos)) from None
    names, plain = _TOKEN_NAMES, _NO_KEYWORD
    return [(names.get(t.token, "?"), t.keyword_kind != plain, t.start, t.end)
            for t in result.tokens]


def bare_parse(text: str) -> None:
    """postgast's own parse to protobuf and nothing else: the baseline benchmarks compare with."""
    _postgast.parse(text)


def split(text: str) -> list[str]:
    """The statements of `text`, cut at the semicolons the server's scanner sees, even when some
    of them would not parse. (postgast's scanner split drops a last statement that has no
    semicolon when an earlier one is valid, so the cut is made here.)"""
    data = text.encode("utf-8")
    pieces, start = [], 0
    for kind, _, begin, end in scan(text):
        if kind == "ASCII_59":
            pieces.append(data[start:begin].decode("utf-8"))
            start = end
    pieces.append(data[start:].decode("utf-8"))
    return [piece for piece in pieces if piece.strip()]
