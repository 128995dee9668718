"""Relative times on console pages, from an injected clock (console.js mirrors these words)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airlock.console.moments import moment, relative

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("delta", "words"), [
    (timedelta(seconds=10), "in under a minute"),
    (timedelta(seconds=-10), "just now"),
    (timedelta(minutes=12), "in 12 min"),
    (timedelta(minutes=-3, seconds=-20), "3 min ago"),
    (timedelta(hours=2, minutes=5), "in 2 h 5 min"),
    (timedelta(hours=-9, minutes=-5), "9 h ago"),
    (timedelta(days=1), "in 1 day"),
    (timedelta(days=-3, hours=-2), "3 days ago"),
])
def test_relative_words(delta: timedelta, words: str) -> None:
    assert relative(NOW + delta, NOW) == words


def test_a_moment_is_a_time_element_with_the_exact_time_in_its_title() -> None:
    m = moment((NOW + timedelta(minutes=12)).isoformat(), NOW)
    assert m is not None
    assert str(m.__html__()) == ('<time datetime="2026-11-26T12:12:00+00:00" '
                                 'title="2026-11-26 12:12:00 UTC" data-relative>in 12 min</time>')
    assert moment(None, NOW) is None
    odd = moment('"><script>', NOW)  # a damaged record still renders, escaped
    assert odd is not None and "<script>" not in odd.__html__()
