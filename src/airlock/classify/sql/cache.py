"""Verdicts cached by fingerprint, where that is safe.

A fingerprint ignores literal values, and some verdicts depend on them: `DELETE FROM t WHERE
1 = 1` removes every row, `… WHERE 1 = 2` none, and both share a fingerprint. While judging, the
classifier records whether any decision read a literal (`Judgement.saw_literal`). A verdict that
did not is the verdict of every text with that fingerprint, and is cached under it; a verdict
that did is cached under the exact text only. (Every verdict is also cached under its exact
text, which spares repeated texts the scan that computes the fingerprint.)

Everything that can make a text unknown without showing in its fingerprint (NUL bytes, size,
lexical traps inside literals) is checked before the cache is consulted (`dispatch.prepare`).
A fingerprint hit may answer for a text that the server would reject because of a literal's
value (`float(0)`); the server then runs nothing, so the shared verdict cannot let harm through.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from airlock.classify.sql.dispatch import judge, prepare
from airlock.classify.sql.verdict import unknown
from airlock.model import Assessment


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple[str, str], Assessment] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Assessment | None:
        found = self.items.get(key)
        if found is not None:
            self.items.move_to_end(key)
        return found

    def put(self, key: tuple[str, str], value: Assessment) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


class SqlClassifier:
    """`classify_sql` with two bounded LRU caches: by exact text for every verdict, and by
    fingerprint for the verdicts that hold for every text of that fingerprint. Safe to share
    across threads."""

    def __init__(self, size: int = 4096) -> None:
        if size < 1:
            raise ValueError(f"cache size must be at least 1, not {size}")
        self._by_fingerprint = _Lru(size)
        self._by_text = _Lru(size)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def classify(self, text: str, dialect: str = "postgres") -> Assessment:
        try:
            return self._classify(text, dialect)
        except Exception as exc:  # total, like classify_sql
            return unknown(f"the SQL classifier failed on this input ({type(exc).__name__})")

    def _classify(self, text: str, dialect: str) -> Assessment:
        by_text = (dialect, text)
        with self._lock:
            # The exact text was checked and judged before: same text, same verdict, and no
            # need to scan it again.
            found = self._by_text.get(by_text)
            if found is not None:
                self.hits += 1
                return found
        early = prepare(text, dialect)
        if isinstance(early, Assessment):
            return early
        by_fingerprint = (dialect, early.fingerprint)
        with self._lock:
            found = self._by_fingerprint.get(by_fingerprint)
            if found is not None:
                self.hits += 1
                return found
            self.misses += 1
        verdict = judge(text, dialect, early)
        with self._lock:
            self._by_text.put(by_text, verdict.assessment)
            if not verdict.literal_dependent:
                self._by_fingerprint.put(by_fingerprint, verdict.assessment)
        return verdict.assessment

    def clear(self) -> None:
        with self._lock:
            self._by_fingerprint.items.clear()
            self._by_text.items.clear()


_shared = SqlClassifier()


def classify_sql_cached(text: str, dialect: str = "postgres") -> Assessment:
    """`classify_sql` through a process-wide `SqlClassifier`."""
    return _shared.classify(text, dialect)
