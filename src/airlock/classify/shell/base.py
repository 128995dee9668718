"""What every part of the shell analysis shares: the shapes handlers are written against.

Handlers (wrappers, program handlers, interpreters, database and HTTP clients) never import the
analysis that calls them, nor each other's tables: they receive a `Runner` — the one analysis
in progress — and `handlers.py` assembles them into the `Handlers` table the analysis is given.
That keeps the import graph of this package a tree (see tests/classify/test_shell_imports.py):

    base ← paths, words, argv, rules                  (leaves: no handler, no analysis)
    base ← embedded ← databases, http_clients, inline
    base ← wrappers ← programs, packages;  http_clients ← remote;  base ← scripts
    files ← places                                    (reading the files a command runs)
    handlers.py  imports every handler module and builds the table
    analysis.py  imports no handler module; __init__ wires analysis + table
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from airlock.classify.shell import paths
from airlock.classify.shell.rules import Program, Registry
from airlock.classify.shell.words import Word
from airlock.model import Effect, Risk, Target, Verb

Env = Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class Stdin:
    """What a command reads on standard input: known text, or None when it cannot be seen."""

    text: str | None
    origin: str  # "a heredoc", "output of curl", "file dump.sql", ...


def unknown(reason: str, target: Target | None = None) -> Effect:
    return Effect(Verb.UNKNOWN, Risk.UNKNOWN, reason, target)


def program_name(word: Word) -> str:
    """`/usr/bin/GIT` → `git`: the basename, lowercased (case-insensitive filesystems run it)."""
    assert word.value is not None
    return word.value.rsplit("/", 1)[-1].lower()


def redirect_effects(word: Word, truncates: bool) -> list[Effect]:
    """Output redirection. `> file` replaces the file: a write (the Write tool of every agent
    does the same), destructive only where the file is a database or a backup, catastrophic
    on a block device. `> /dev/null` writes nothing."""
    if paths.is_sink(word):
        return []
    target = Target("path", word.display, contextual=True)
    if paths.is_device(word):
        return [Effect(Verb.DESTROY, Risk.CATASTROPHIC,
                       f"writes over the block device {word.display}", target, "volume")]
    if truncates and paths.is_precious(word):
        return [Effect(Verb.DELETE, Risk.DESTRUCTIVE,
                       f"replaces {word.display}, which looks like a database or a backup",
                       target, "file")]
    return [Effect(Verb.WRITE, Risk.WRITE, f"writes the file {word.display}", target, "file")]


@dataclass(frozen=True, slots=True)
class CodeFile:
    """A file a command runs, as read before it runs: its text, or why it cannot be judged."""

    shown: str  # the path as the command names it, for reasons and targets
    path: str  # where it was read (absolute), or "" when it could not be placed
    text: str | None  # None: see `problem`
    problem: str = ""  # completes "runs x, which …": "is missing", "is a binary program", …
    binary: bytes = b""  # the first bytes of a binary program (ELF, Mach-O, …)


class Runner(Protocol):
    """The analysis in progress, as handlers see it."""

    @property
    def registry(self) -> Registry: ...

    @property
    def cache(self) -> dict[object, object]:
        """Results a handler works out once per analysis (keyed by the handler)."""
        ...

    def script(self, text: str | None, depth: int, origin: str,
               stdin: Stdin | None = None) -> list[Effect]:
        """Judge `text` as shell code run `origin` (e.g. "by bash -c")."""
        ...

    def invoke(self, words: Sequence[Word], env: Env, stdin: Stdin | None,
               depth: int) -> list[Effect]:
        """Judge one simple command: its words after expansion, program first."""
        ...

    def decide_effects(self, program: Program, words: Sequence[Word],
                       env: Env) -> list[Effect]:
        """What the program's rule packs say (words include the program name)."""
        ...

    def special_variable(self, name: str, value: str | None, depth: int) -> list[Effect]:
        """Effects of assigning a variable that changes what runs (IFS, PAGER, BASH_ENV …)."""
        ...

    def arithmetic_word(self, word: Word, depth: int, origin: str) -> list[Effect]:
        """A word bash evaluates as an arithmetic expression (`let`, `[[ -v ]]`, `test -v`,
        `printf -v`): a subscript in it (`a[$(cmd)]`) runs its command substitution."""
        ...

    def read_code(self, word: Word, base: str | None = None) -> list[CodeFile]:
        """The file `word` names, read (bounded) in every directory the command may run in,
        or in `base`. Empty of text where it cannot be read; never raises."""
        ...

    def judge_file(self, code: CodeFile, language: str, depth: int,
                   same_shell: bool = False) -> list[Effect]:
        """Judge a file's text as `language` code (shell, python, js, ruby, perl, php); a file
        without text, or a language airlock does not read, is unknown. `same_shell`: a sourced
        script, whose variables and directory changes stay."""
        ...

    def elsewhere(self, where: str) -> AbstractContextManager[None]:
        """Judge what runs inside as running on another machine: no local file is read."""
        ...

    def in_directory(self, directory: str | None) -> AbstractContextManager[None]:
        """Judge what runs inside in `directory` (absolute; None: a directory that cannot be
        told), as a program that sets its own working directory does (npm, make -C)."""
        ...

    def change_directory(self, target: str | None) -> None:
        """The command being judged is `cd target` (None: a directory that cannot be told)."""
        ...

    @property
    def directories(self) -> tuple[str, ...] | None:
        """The working directories the command being judged may run in (None: unknown)."""
        ...


Handler = Callable[[Runner, Program, list[Word], Env, "Stdin | None", int], list[Effect]]
Wrapper = Callable[[Runner, list[Word], Env, "Stdin | None", int], list[Effect]]
# Judges a file's code (CodeFile.text is set) of one language.
Language = Callable[[Runner, CodeFile, int], list[Effect]]


@dataclass(frozen=True, slots=True)
class Handlers:
    """Everything with logic of its own, by name: wrappers by program name, handlers by the
    `handler` a rule pack gives a program. The analysis is given this table."""

    programs: Mapping[str, Handler]
    wrappers: Mapping[str, Wrapper]
    languages: Mapping[str, Language]
    # A program named by a path outside the system's folders (`./deploy.sh`, `bin/x`).
    local_program: Wrapper

    def missing(self, registry: Registry) -> Iterator[str]:
        """Handlers the rule packs name that the table lacks (a test keeps this empty)."""
        for program in registry.programs.values():
            if program.handler is not None and program.handler not in self.programs:
                yield f"{program.names[0]}: {program.handler}"
