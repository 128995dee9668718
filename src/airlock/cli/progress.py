"""Rich progress bars for long vault operations, on stderr, and only when stderr is a terminal
(scripts and CI logs get nothing)."""

from __future__ import annotations

import sys

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from airlock.cli.app import err
from airlock.vault.progress import NoProgress
from airlock.vault.progress import Progress as ProgressProtocol


class RichProgress:
    """The total given at start is an estimate (a database's size on disk, say, while its dump
    is far smaller): the bar grows when the work outruns it and, at the end, the total becomes
    what was done, so the bar ends full, at the real size, never at 6 % of a guess."""

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self.ended_at: tuple[float, float | None] | None = None  # (done, total) at the end

    def start(self, what: str, total: int | None) -> None:
        self.done()
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                             TransferSpeedColumn(), TimeElapsedColumn(), console=err,
                             transient=True)
        self._bar.start()
        self._task = self._bar.add_task(what, total=total)

    def advance(self, amount: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, amount)
            task = self._current()
            if task.total is not None and task.completed > task.total:
                self._bar.update(self._task, total=task.completed)

    def _current(self) -> Task:
        assert self._bar is not None
        return next(t for t in self._bar.tasks if t.id == self._task)

    def done(self) -> None:
        if self._bar is not None:
            if self._task is not None:
                task = self._current()
                self._bar.update(self._task, total=task.completed)
                self._bar.refresh()
                self.ended_at = (task.completed, task.total)
            self._bar.stop()
            self._bar = None
            self._task = None


def progress_for_terminal() -> ProgressProtocol:
    return RichProgress() if sys.stderr.isatty() else NoProgress()
