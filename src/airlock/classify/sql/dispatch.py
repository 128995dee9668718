"""From text to verdict: the checks every input passes, then the dialect's lexer and judge.

The order matters to the cache: everything that can make a text unknown *without* showing in
its fingerprint (size, NUL bytes, undecodable characters, lexical traps inside literals or
comments) is decided here, before a cached verdict could be returned for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from airlock.classify import MAX_INPUT_BYTES
from airlock.classify.sql import libpg, lite, pg_ddl, pg_statements  # noqa: F401  (handlers register)
from airlock.classify.sql.libpg import PgSyntaxError
from airlock.classify.sql.pg_lex import lex_postgres
from airlock.classify.sql.postgres import judge_postgres
from airlock.classify.sql.verdict import Judgement, Lexed, unknown
from airlock.model import Assessment

DIALECTS = ("postgres", "mysql", "sqlite")


@dataclass(frozen=True, slots=True)
class Verdict:
    assessment: Assessment
    literal_dependent: bool


def classify_sql(text: str, dialect: str = "postgres") -> Assessment:
    """What `text` would do if run on a `dialect` server. Never raises."""
    try:
        early = prepare(text, dialect)
        if isinstance(early, Assessment):
            return early
        return judge(text, dialect, early).assessment
    except Exception as exc:  # total by contract: a classifier failure holds the action
        return unknown(f"the SQL classifier failed on this input ({type(exc).__name__})")


def fingerprint_sql(text: str, dialect: str = "postgres") -> str | None:
    """A digest of the text with literal values and comments ignored; None when the text cannot
    be scanned. Statements that share it may still deserve different verdicts (`WHERE 1 = 1`
    and `WHERE 1 = 2`): cache verdicts with `SqlClassifier`, or by `Assessment.fingerprint`,
    which is only set when the verdict holds for every statement of that fingerprint."""
    try:
        early = prepare(text, dialect)
    except Exception:
        return None
    return None if isinstance(early, Assessment) else early.fingerprint


def parses_as_sql(text: str, dialect: str = "postgres") -> bool:
    """Whether `text` reads as SQL in `dialect` at all: at least one statement, parsed whole.
    For telling SQL from prose in values that are not labelled as SQL (`Update the docs` is
    not SQL; `Drop table users` is). Never raises."""
    try:
        early = prepare(text, dialect)
        if isinstance(early, Assessment):
            return False
        if dialect == "postgres":
            return bool(libpg.parse(text))
        return lite.parses(text, dialect, early)
    except Exception:
        return False


def prepare(text: str, dialect: str) -> Assessment | Lexed:
    """The checks that come before any verdict, and the text's lexing; an Assessment when the
    text is unknown already."""
    if dialect not in DIALECTS:
        return unknown(f"unknown SQL dialect {dialect!r}; airlock reads "
                       f"{', '.join(DIALECTS)}")
    if len(text) > MAX_INPUT_BYTES or _utf8_length(text) > MAX_INPUT_BYTES:
        return unknown(f"the SQL is larger than {MAX_INPUT_BYTES} bytes, which airlock does "
                       "not parse")
    if "\x00" in text:
        return unknown("the SQL contains a NUL character, which would hide what follows it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return unknown("the SQL contains characters that are not valid UTF-8")
    try:
        lexed = lex_postgres(text) if dialect == "postgres" else lite.lex(text, dialect)
    except PgSyntaxError as exc:
        return unknown(f"the SQL could not be scanned ({exc.message})")
    except lite.LiteSyntaxError as exc:
        return unknown(f"the SQL could not be scanned ({exc})")
    if lexed.problem:
        return unknown(lexed.problem)
    return lexed


def judge(text: str, dialect: str, lexed: Lexed) -> Verdict:
    j = Judgement()
    if dialect == "postgres":
        judge_postgres(text, j)
    else:
        lite.judge(text, dialect, lexed, j)
    return Verdict(j.assessment(lexed.fingerprint), j.literal_dependent)


def _utf8_length(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))
