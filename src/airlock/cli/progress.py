"""Rich progress bars for long vault operations, on stderr, and only when stderr is a terminal
(scripts and CI logs get nothing)."""

from __future__ import annotations

import sys

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from airlock.cli.app import err
from airlock.vault.progress import NoProgress
from airlock.vault.progress import Progress as ProgressProtocol


class RichProgress:
    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None

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

    def done(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._task = None


def progress_for_terminal() -> ProgressProtocol:
    return RichProgress() if sys.stderr.isatty() else NoProgress()
