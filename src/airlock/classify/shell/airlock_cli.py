"""airlock's own commands, however an agent starts them.

`airlock`, `bin/airlock`, any path ending in `/airlock`, `python -m airlock`, inline Python that
imports it, a script inside the installed package or one of the agent's own that imports it —
after wrappers (`sudo`, `env`, `bash -c`, `xargs`, `uv run`, `subprocess.run([...])`) are peeled
by the analysis. Read-only subcommands (`check`, `policy show|explain`, `approvals`,
`snapshots`, `audit verify`, listings, `--help`) are reads; everything that decides, enrols,
issues or revokes tokens, changes configuration, installs hooks, starts the service or acts on
a resource with airlock's credentials is an effect the guard rule `builtin:airlock-commands`
denies to agents — and so is any invocation whose arguments cannot be read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airlock.classify.shell.operands import MAX_CODE_CHARS, PYTHONS, python_argv
from airlock.classify.shell.words import Word
from airlock.model import Effect, Guard, Risk, Target, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Stdin

# Subcommands an agent may run: they judge, list or verify, and change nothing.
_READ_ONLY: dict[str, frozenset[str] | None] = {
    "check": None, "snapshots": None, "approvals": None,
    "policy": frozenset({"show", "explain"}), "audit": frozenset({"verify"}),
    "config": frozenset({"check"}), "token": frozenset({"list"}),
    "approver": frozenset({"list"}), "vault": frozenset({"verify"}),
    "deferred": None, "hook": None,
}
# Options that make a read-only subcommand act: `deferred --run-due` sends the due calls,
# `hook --state-dir` answers from a state folder of the caller's choosing.
_ACTING_OPTIONS = {"deferred": ("--run-due",), "hook": ("--state-dir",)}
_GLOBAL_VALUES = ("--config", "-c")


def is_airlock(name: str) -> bool:
    return name == "airlock"


def airlock_command(name: str, words: Sequence[Word], stdin: Stdin | None) -> list[Effect] | None:
    """Effects of running airlock (None: `words` does not start airlock)."""
    if is_airlock(name):
        return _airlock_argv(list(words[1:]), f"{words[0].display}")
    if not PYTHONS.match(name):
        return None
    parsed = python_argv(words[1:])
    if parsed is None:
        return None
    mode, value, after = parsed
    if mode == "module" and value is not None and (value == "airlock" or
                                                   value.startswith("airlock.")):
        if value in ("airlock", "airlock.__main__", "airlock.cli"):
            return _airlock_argv(after, f"python -m {value}")
        if value == "airlock.hookclient":
            return [_judgement("runs airlock's hook client, which only asks for a judgement")]
        return [_denied(f"python -m {value}", "runs a module of airlock's own")]
    code = value if mode == "code" else (stdin.text if mode == "stdin" and stdin else None)
    if mode in ("code", "stdin") and code is not None and _imports_airlock(code):
        return [_denied("python -c", "runs airlock's code from inline Python")]
    if mode == "script" and value is not None:
        return _airlock_script(value, after)
    return None


def _airlock_script(path: str, after: list[Word]) -> list[Effect] | None:
    """A script inside the installed package (`…/airlock/__main__.py`), or one of the agent's
    own that imports airlock."""
    import airlock

    package = os.path.realpath(os.path.dirname(airlock.__file__))
    real = os.path.realpath(os.path.expanduser(path))
    if real == package or real.startswith(package + os.sep) or "/airlock/" in path:
        base = os.path.basename(path)
        if base == "hookclient.py":
            return [_judgement("runs airlock's hook client, which only asks for a judgement")]
        if base == "__main__.py":
            return _airlock_argv(after, "python …/airlock/__main__.py")
        return [_denied(f"python {path}", "runs a module of airlock's own")]
    try:
        with open(real, "rb") as handle:
            head = handle.read(MAX_CODE_CHARS).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None
    if _imports_airlock(head):
        return [_denied(f"python {path}", "runs a script that imports airlock")]
    return None


# `import airlock…`, `from airlock…`, or the module named as a string (importlib, runpy) —
# not a file name such as 'airlock.toml'.
_IMPORT_AIRLOCK = re.compile(r"\b(?:import|from)\s+airlock\b|['\"]airlock(?:\.(?!toml|json|ya?ml"
                             r"|txt|md|log|db|key|sock)[A-Za-z_]\w*)*['\"]")


def _imports_airlock(code: str) -> bool:
    return _IMPORT_AIRLOCK.search(code) is not None


def _airlock_argv(argv: list[Word], shown: str) -> list[Effect]:
    i = 0
    while i < len(argv):
        value = argv[i].value
        if value is None:
            return [_denied(shown, "runs airlock with arguments computed at run time")]
        if value in _GLOBAL_VALUES:
            i += 2
            continue
        if value.startswith("--config=") or (value.startswith("-c") and len(value) > 2):
            i += 1
            continue
        break
    rest = argv[i:]
    values = [w.value for w in rest]
    if any(v is None for v in values):
        return [_denied(shown, "runs airlock with arguments computed at run time")]
    texts = [v for v in values if v is not None]
    if not texts or any(v in ("--help", "-h", "--version") for v in texts):
        return [_judgement(f"{shown} --help shows airlock's usage")]
    command = texts[0]
    positionals = [v for v in texts[1:] if not v.startswith("-")]
    allowed = command in _READ_ONLY
    sub = _READ_ONLY.get(command)
    if allowed and sub is not None:
        allowed = bool(positionals) and positionals[0] in sub
    acting = [o for o in _ACTING_OPTIONS.get(command, ())
              if any(v == o or v.startswith(o + "=") for v in texts[1:])]
    what = " ".join([command, *positionals[:1]]) if sub is not None else command
    if allowed and not acting:
        return [_judgement(f"runs `airlock {what}`, which only reads or judges")]
    detail = f" with {acting[0]}" if acting else ""
    return [_denied(f"airlock {what}{detail}", "a command only a human may run")]


def _judgement(reason: str) -> Effect:
    return Effect(Verb.READ, Risk.READ, reason)


def _denied(what: str, why: str) -> Effect:
    return Effect(Verb.EXECUTE, Risk.CATASTROPHIC, f"runs `{what}`: {why}",
                  Target("airlock", what.split(" ", 1)[-1] if what.startswith("airlock ")
                         else what, contextual=True), "airlock", guard=Guard.AIRLOCK_COMMAND)
