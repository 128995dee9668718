"""MySQL and SQLite statements, read by sqlglot.

sqlglot is a lenient, multi-dialect parser, not the servers' grammar, so it is checked before it
is trusted:

- The text is cut into statements at top-level semicolons and each is parsed on its own. The
  first word of each statement must agree with what sqlglot made of it (a statement starting
  with DELETE must be a Delete); otherwise sqlglot has misread it (`SHUTDOWN` reads as a column,
  `FLUSH TABLES` as an alias) and the statement is unknown. Compound statements whose bodies
  hold semicolons (procedures, triggers) therefore come out unknown, piece by piece.
- What sqlglot keeps only as an opaque `Command` is judged from its leading words alone, from a
  short table; anything not in it is unknown.
- Lexical traps are unknown before any parse: MySQL runs the inside of `/*! … */` comments, and
  with NO_BACKSLASH_ESCAPES a backslash no longer escapes a quote, so a literal holding `\\'`
  could end somewhere else on the server than in sqlglot.

Function calls that sqlglot recognises as built-ins are reads (side-effecting built-ins such as
SLEEP or LOAD_FILE stay anonymous in sqlglot and are judged by `functions.py`); any other
function is unknown.
"""

from __future__ import annotations

import hashlib

from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.tokenizer_core import Token, TokenType

from airlock.classify.sql.lite_shapes import LITERAL_TOKENS, agrees, judge_statement
from airlock.classify.sql.verdict import Judgement, Lexed
from airlock.model import Risk, Verb

_FOLDED = frozenset({TokenType.VAR})  # unquoted names; keywords are folded too
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class LiteSyntaxError(Exception):
    """sqlglot could not tokenize the text."""


def lex(text: str, dialect: str) -> Lexed:
    if dialect == "mysql":
        lowered = text.lower()
        if "/*!" in lowered or "/*m!" in lowered:
            return Lexed("", "MySQL runs the inside of /*! … */ comments, which airlock does "
                         "not read")
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(text)
    except SqlglotError as exc:
        raise LiteSyntaxError(str(exc).splitlines()[0] if str(exc) else "tokenizer error") \
            from None
    parts: list[str] = []
    problem: str | None = None
    for token in tokens:
        kind = token.token_type
        if kind in LITERAL_TOKENS:
            parts.append("?" + kind.name)
            if dialect == "mysql" and problem is None and _escapes_quote(
                    text[token.start:token.end + 1]):
                problem = ("a string literal holds a backslash before a quote, which MySQL "
                           "reads differently under NO_BACKSLASH_ESCAPES")
            continue
        word = token.text
        if kind in _FOLDED or kind.name == word.upper():  # a name as typed, or a keyword
            word = word.translate(_ASCII_LOWER)
        parts.append(f"{kind.name}:{word}")
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]
    return Lexed(f"{dialect[:2]}:{digest}", problem, tokens)


def _escapes_quote(raw: str) -> bool:
    quote = raw[-1:] if raw[-1:] in ("'", '"') else ""
    if "\\" not in raw or not quote:
        return False
    body = raw[raw.index(quote) + 1:-1]
    i = 0
    while i < len(body):
        if body[i] == "\\":
            if i + 1 >= len(body) or body[i + 1] in "'\"":
                return True
            i += 2
        else:
            i += 1
    return False


def judge(text: str, dialect: str, lexed: Lexed, j: Judgement) -> None:
    tokens = lexed.tokens if isinstance(lexed.tokens, list) else []
    statements = [s for s in _statements(tokens) if s]
    if not statements:
        j.unknown("the text holds no SQL statement")
        return
    parser = Dialect.get_or_raise(dialect).parser()
    for chunk in statements:
        try:
            parsed = parser.parse(chunk, text)
        except (SqlglotError, RecursionError) as exc:
            j.saw_literal()  # a failure can hinge on a literal's value: never share it
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            j.unknown(f"the SQL could not be parsed ({message[:120]})")
            _lead_floor(chunk, j)
            continue
        expressions = [e for e in parsed if e is not None]
        if len(expressions) != 1:
            j.unknown("sqlglot did not read this statement as one statement")
            continue
        try:
            judge_statement(dialect, chunk, expressions[0], j)
        except RecursionError:  # sqlglot's trees are binary: a long OR chain is deep
            j.unknown("the statement is nested too deeply to read")


def parses(text: str, dialect: str, lexed: Lexed) -> bool:
    """Every statement of the text parses as exactly one statement of the kind its first word
    says (the checks `judge` makes before trusting sqlglot)."""
    tokens = lexed.tokens if isinstance(lexed.tokens, list) else []
    statements = [s for s in _statements(tokens) if s]
    if not statements:
        return False
    parser = Dialect.get_or_raise(dialect).parser()
    for chunk in statements:
        try:
            parsed = [e for e in parser.parse(chunk, text) if e is not None]
        except (SqlglotError, RecursionError):
            return False
        if len(parsed) != 1 or not agrees(chunk, parsed[0]):
            return False
    return True


def _statements(tokens: list[Token]) -> list[list[Token]]:
    chunks: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            chunks.append([])
        else:
            chunks[-1].append(token)
    return chunks


def _lead_floor(chunk: list[Token], j: Judgement) -> None:
    """A statement that starts with DROP or TRUNCATE is destructive even when it cannot be
    parsed: unknown already holds it, and this says what it most likely was."""
    lead = chunk[0].text.upper() if chunk else ""
    if lead in ("DROP", "TRUNCATE"):
        j.add(Verb.DESTROY, Risk.DESTRUCTIVE, f"the statement starts with {lead}")
