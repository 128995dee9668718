"""Is this command line a hook call? Decided before anything heavy is imported.

`python -m airlock [--config PATH] hook HARNESS [--state-dir DIR]` is the hook client's
in-process fallback (fronts/hooks/inprocess.py), which answers without the command line's
imports. Every other command line goes to the command line (`airlock.cli`). This module imports
nothing of airlock's, so that neither kind of call pays for the other's imports: before it, every
command imported the hooks package and the configuration just to find out it was not a hook
(about 0.4 s of `airlock token --help`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HookLine", "hook_line"]


@dataclass(frozen=True, slots=True)
class HookLine:
    harness: str
    config_path: str | None = None
    state_dir: Path | None = None


def hook_line(argv: Sequence[str]) -> HookLine | None:
    """The hook call `argv` makes, or None for any other command line (`--help`, an unknown
    option, a value that looks like an option: the command line explains those)."""
    config_path: str | None = None
    state_dir: Path | None = None
    harness: str | None = None
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if i + 1 >= len(args) or args[i + 1].startswith("-"):
            return None
        if arg in ("--config", "-c") and harness is None and config_path is None:
            config_path = args[i + 1]
        elif arg == "hook" and harness is None:
            harness = args[i + 1]
        elif arg == "--state-dir" and harness is not None and state_dir is None:
            state_dir = Path(args[i + 1])
        else:
            return None
        i += 2
    return HookLine(harness, config_path, state_dir) if harness is not None else None
