"""What a local path names once the system has resolved it: the one resolution airlock uses.

An agent writes `notes.txt`, `../app/.env`, `~/x` or `/tmp/link`; the system will act on the file
those names lead to from the working directory, through `..` and symlinks. Everything that
matches paths — the guards (`guards.py`), credential files (`classify/secrets_files.py`) and the
resource graph (`inventory.py`) — resolves them here, so a symlink under `/tmp` into a
production folder is that folder for all of them alike.

`names()` gives both the path as written (made absolute) and where it leads: a match on either
counts, because a link can be swapped between the check and the act, and what the agent named
is also what it meant.
"""

from __future__ import annotations

import os

GLOB_CHARS = "*?["


def absolute(path: str, cwd: str | None) -> str:
    """`path` made absolute against `cwd` (or this process's directory), `~` expanded, `..`
    folded — without touching the filesystem."""
    expanded = os.path.expanduser(path)
    if not os.path.isabs(expanded):
        expanded = os.path.join(cwd or os.getcwd(), expanded)
    normal = os.path.normpath(expanded)
    return normal[1:] if normal.startswith("//") else normal


def resolve(path: str, cwd: str | None) -> str:
    """Where `path` leads: absolute, `..` folded, every symlink on the way followed (as far as
    the path exists; the missing rest is kept as written)."""
    literal = absolute(path, cwd)
    try:
        return os.path.realpath(literal)
    except (OSError, ValueError):
        return literal


def names(path: str, cwd: str | None) -> tuple[str, ...]:
    """The path as written (absolute) and, when a symlink makes it lead elsewhere, where."""
    literal = absolute(path, cwd)
    try:
        real = os.path.realpath(literal)
    except (OSError, ValueError):
        return (literal,)
    return (literal,) if real == literal else (literal, real)


def literal_prefix(path: str) -> str:
    """The part of a glob before its first pattern character, cut back to a whole folder
    (`/srv/da*/x` → `/srv`): everything the glob can match lies under it."""
    cut = min((path.find(c) for c in GLOB_CHARS if c in path), default=-1)
    if cut < 0:
        return path
    return os.path.dirname(path[:cut] + "x")


def within(inner: str, outer: str) -> bool:
    """`inner` is `outer` or lies below it (both absolute and normalised)."""
    return inner == outer or outer == "/" or inner.startswith(outer.rstrip("/") + "/")
