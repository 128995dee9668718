"""SQL classification: what a SQL text would do, statement by statement.

    classify_sql(text, dialect)       the verdict for one text (total: never raises)
    fingerprint_sql(text, dialect)    a digest that ignores literal values
    SqlClassifier / classify_sql_cached
                                      verdicts cached by fingerprint where that is safe

PostgreSQL is parsed by libpg_query (the server's own grammar, through postgast); MySQL and
SQLite by sqlglot. Modules:

    verdict.py        the effect collector (Judgement), target naming, Lexed
    truth.py          three-valued logic for "does this WHERE reach every row?"
    coverage.py       …decided over the sets of values each part of the row can take
    functions.py      what calling a function does; pg_builtins.py (generated) the safe built-ins
    libpg.py          the only importer of postgast: typed parse/scan/split
    pg_lex.py         PostgreSQL fingerprint and lexical traps
    postgres.py       PostgreSQL: the walk over the parse tree
    pg_statements.py  PostgreSQL: rows, reads, sessions, DROP  (policy notes at the top)
    pg_ddl.py         PostgreSQL: CREATE, ALTER, GRANT, roles
    pg_where.py       PostgreSQL: WHERE reach
    lite.py           MySQL and SQLite through sqlglot
    lite_where.py     MySQL and SQLite: WHERE reach
    rows.py           the one DELETE/UPDATE of a text and its reach (for airlock.reach)
    dispatch.py       checks every input passes first, then the dialect's lexer and judge
    cache.py          the fingerprint cache
    psql.py           splitting psql scripts (meta-commands, COPY data) for corpora and fronts

Whatever cannot be read is unknown: a parse failure, an unknown statement type, an unknown
function, a NUL byte, undecodable text, input above MAX_INPUT_BYTES, an internal error.
"""

from __future__ import annotations

from airlock.classify import MAX_INPUT_BYTES
from airlock.classify.sql.cache import SqlClassifier, classify_sql_cached
from airlock.classify.sql.dispatch import DIALECTS, classify_sql, fingerprint_sql

__all__ = [
    "DIALECTS",
    "MAX_INPUT_BYTES",
    "SqlClassifier",
    "classify_sql",
    "classify_sql_cached",
    "fingerprint_sql",
]
