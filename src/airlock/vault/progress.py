"""Progress of long backups and restores, for people watching (the CLI shows Rich bars on a
terminal); the vault reports through this small interface and never prints."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, what: str, total: int | None) -> None: ...
    def advance(self, amount: int) -> None: ...
    def done(self) -> None: ...


class NoProgress:
    def start(self, what: str, total: int | None) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass

    def done(self) -> None:
        pass


def human_size(n: int | float) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"
