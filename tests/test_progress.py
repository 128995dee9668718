"""Backup progress ends where the work ended: an estimate (the size on disk) is only where the
bar starts from."""

from __future__ import annotations

from airlock.cli.progress import RichProgress


def test_a_smaller_result_than_estimated_ends_the_bar_full() -> None:
    bar = RichProgress()
    bar.start("backup", 9_600_000)  # estimated 9.6 MB
    bar.advance(600_000)  # the dump was 0.6 MB
    bar.done()
    assert bar.ended_at == (600_000, 600_000)


def test_work_beyond_the_estimate_grows_the_bar() -> None:
    bar = RichProgress()
    bar.start("backup", 100)
    bar.advance(60)
    bar.advance(540)
    bar.done()
    assert bar.ended_at == (600, 600)
