"""The fingerprint cache never answers for a statement whose verdict hinges on a literal it
ignored."""

from __future__ import annotations

import pytest

from airlock.classify.sql import (
    SqlClassifier,
    classify_sql,
    classify_sql_cached,
    fingerprint_sql,
    lite,
)
from airlock.classify.sql.pg_lex import lex_postgres
from airlock.model import Risk

# Pairs that share a fingerprint (they differ only in literal values) yet deserve different
# verdicts. Each is asked in both orders of a fresh cache, so that neither can be answered
# from the other's entry.
SIBLINGS = [
    ("postgres", "DELETE FROM t WHERE 1 = 1", "DELETE FROM t WHERE 1 = 2"),
    ("postgres", "UPDATE t SET a = 1 WHERE 2 > 1", "UPDATE t SET a = 1 WHERE 1 > 2"),
    ("postgres", "DELETE FROM t WHERE 1 = 1 OR id = 5", "DELETE FROM t WHERE 1 = 2 OR id = 5"),
    ("postgres", "DELETE FROM t WHERE name LIKE '%'", "DELETE FROM t WHERE name LIKE 'a%'"),
    ("postgres", "EXPLAIN (ANALYZE 1) DELETE FROM t", "EXPLAIN (ANALYZE 0) DELETE FROM t"),
    ("postgres", "SELECT set_config('standard_conforming_strings', 'off', false)",
     "SELECT set_config('search_path', 'app', false)"),
    ("postgres", "SELECT set_config('search_path', 'evil, pg_catalog', false)",
     "SELECT set_config('search_path', 'pg_catalog, evil', false)"),
    ("postgres", "CREATE FUNCTION f() RETURNS int LANGUAGE 'c' AS 'x', 'f'",
     "CREATE FUNCTION f() RETURNS int LANGUAGE 'sql' AS 'x', 'f'"),
    ("mysql", "DELETE FROM t WHERE 1", "DELETE FROM t WHERE 0"),
    # a range or a set of values covers every value, or not, by its literals
    ("postgres", "DELETE FROM t WHERE id > -3000000000", "DELETE FROM t WHERE id > -2000000000.5"),
    ("postgres", "DELETE FROM t WHERE x = 1 OR x <> 1", "DELETE FROM t WHERE x = 1 OR x <> 2"),
    ("postgres", "DELETE FROM t WHERE x IN (1, 2) OR x NOT IN (1, 2)",
     "DELETE FROM t WHERE x IN (1, 2) OR x NOT IN (1, 3)"),
    ("postgres", "DELETE FROM t WHERE x < 'm' OR x >= 'm'", "DELETE FROM t WHERE x < 'm' OR x >= 'n'"),
    ("postgres", "UPDATE t SET a = 1 WHERE id IN (SELECT id FROM t WHERE 1 = 1)",
     "UPDATE t SET a = 1 WHERE id IN (SELECT id FROM t WHERE 1 = 2)"),
    ("mysql", "DELETE FROM t WHERE id BETWEEN -3000000000 AND 3000000000",
     "DELETE FROM t WHERE id BETWEEN -3 AND 3"),
    ("sqlite", "DELETE FROM t WHERE x = 'a' OR x <> 'a'", "DELETE FROM t WHERE x = 'a' OR x <> 'b'"),
    # all numbers but one cover every int4 unless that one is an int4 integer
    ("postgres", "DELETE FROM t WHERE NOT (x = 2147483647.0)", "DELETE FROM t WHERE NOT (x = 1.5)"),
    ("mysql", "DELETE FROM t WHERE x <> 5", "DELETE FROM t WHERE x <> 1.5"),
    ("sqlite", "DELETE FROM t WHERE x NOT IN (5)", "DELETE FROM t WHERE x NOT IN (1.5)"),
    ("sqlite", "DELETE FROM t WHERE 1 = 1", "DELETE FROM t WHERE 1 = 2"),
]


@pytest.mark.parametrize(("dialect", "first", "second"), SIBLINGS)
def test_siblings_share_a_fingerprint_but_not_a_verdict(dialect: str, first: str,
                                                        second: str) -> None:
    assert fingerprint_sql(first, dialect) == fingerprint_sql(second, dialect)
    expected = {text: classify_sql(text, dialect) for text in (first, second)}
    assert expected[first].risk is not expected[second].risk, "not a telling pair"
    for order in ((first, second), (second, first)):
        cache = SqlClassifier()
        for _ in range(2):  # second round: both are cached now
            for text in order:
                got = cache.classify(text, dialect)
                assert got.risk is expected[text].risk, text
                assert got.reasons == expected[text].reasons


# A literal whose end depends on a server setting: the trap and its harmless sibling share the
# lexical fingerprint, so the trap is caught before the cache is asked.
TRAPS = [
    ("postgres", "SELECT 'a\\'; SELECT '; DROP TABLE t; --'", "SELECT 'a'; SELECT '; x; --'",
     Risk.READ),
    # sqlglot reads one string; under NO_BACKSLASH_ESCAPES MySQL runs a DROP.
    ("mysql", "SELECT 'a\\'; DROP TABLE t; -- '", "SELECT 'harmless'", Risk.READ),
]


@pytest.mark.parametrize(("dialect", "trap", "sibling", "sibling_risk"), TRAPS)
def test_lexical_traps_are_never_answered_from_the_cache(dialect: str, trap: str, sibling: str,
                                                         sibling_risk: Risk) -> None:
    lexed = [lex_postgres(t) if dialect == "postgres" else lite.lex(t, dialect)
             for t in (trap, sibling)]
    assert lexed[0].fingerprint == lexed[1].fingerprint
    assert lexed[0].problem and not lexed[1].problem
    cache = SqlClassifier()
    assert cache.classify(sibling, dialect).risk is sibling_risk
    assert cache.classify(trap, dialect).risk is Risk.UNKNOWN
    assert fingerprint_sql(trap, dialect) is None


def test_literal_independent_verdicts_are_shared_by_fingerprint() -> None:
    cache = SqlClassifier()
    first = cache.classify("DELETE FROM t WHERE id = 1")
    again = cache.classify("delete from t where id = 99 /* other */")
    assert again is first  # the same Assessment object: served from the cache
    assert cache.hits == 1 and cache.misses == 1
    assert first.fingerprint is not None


def test_literal_dependent_verdicts_are_cached_by_exact_text_only() -> None:
    cache = SqlClassifier()
    first = cache.classify("DELETE FROM t WHERE 1 = 1")
    assert first.fingerprint is None  # nobody may reuse it by fingerprint either
    assert cache.classify("DELETE FROM t WHERE 1 = 1") is first
    assert cache.classify("DELETE FROM t WHERE 1 = 2").risk is Risk.WRITE
    assert cache.hits == 1 and cache.misses == 2


def test_traps_outside_the_fingerprint_are_checked_before_the_cache() -> None:
    cache = SqlClassifier()
    assert cache.classify("SELECT 1 /* x */", "mysql").risk is Risk.READ
    # Same fingerprint (comments are ignored), but MySQL runs this comment.
    assert cache.classify("SELECT 1 /*! DROP TABLE t */", "mysql").risk is Risk.UNKNOWN
    assert cache.classify("SELECT 1").risk is Risk.READ
    assert cache.classify("SELECT 1\x00; DROP TABLE t").risk is Risk.UNKNOWN


def test_dialects_do_not_share_entries() -> None:
    cache = SqlClassifier()
    text = "SELECT 'a\\'; DROP TABLE t; --'"
    assert cache.classify(text, "postgres").risk is Risk.UNKNOWN  # a trap in PostgreSQL
    assert cache.classify(text, "sqlite").risk is Risk.DESTRUCTIVE  # plainly a DROP in SQLite


def test_the_cache_is_bounded() -> None:
    cache = SqlClassifier(size=8)
    for i in range(50):
        cache.classify(f"SELECT c{i} FROM t")
        cache.classify(f"DELETE FROM t WHERE {i} = {i}")
    assert len(cache._by_fingerprint.items) <= 8
    assert len(cache._by_text.items) <= 8
    assert cache.classify("DELETE FROM t WHERE 49 = 49").risk is Risk.DESTRUCTIVE
    with pytest.raises(ValueError, match="at least 1"):
        SqlClassifier(size=0)


def test_the_shared_cache_is_total() -> None:
    assert classify_sql_cached("DROP TABLE t").risk is Risk.DESTRUCTIVE
    assert classify_sql_cached("DROP TABLE t").risk is Risk.DESTRUCTIVE
    assert classify_sql_cached("\udcff", "mysql").risk is Risk.UNKNOWN
    assert classify_sql_cached("SELECT 1", "nonsense").risk is Risk.UNKNOWN
