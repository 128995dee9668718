"""Where the commands of one shell text run, and the files they would run from there.

A command that runs a file (`bash deploy.sh`, `python cleanup.py`, `./x`, `source env.sh`, a
Makefile, a package.json script) is judged by that file's content, so the analysis must know
which directory a relative name is resolved in and whether the file is on this machine at all:

- the working directory starts as the action's (`ActionContext.cwd`, given by the front);
- `cd DIR` moves it. The analysis keeps every directory a command *may* run in: after
  `cd app; x` the command x runs in app, or where it was if the cd failed, so both are read.
  Only where bash guarantees it (`cd app && x`, `cd app || exit`) does the cd replace the
  directory; a subshell's cd ends with the subshell; after a function that changes directory
  is defined, the directory cannot be told any more;
- inside `ssh host …`, `docker exec …`, `kubectl exec …`, a chroot, nothing is read: those files
  are not this machine's, and what runs there from a file is unknown.

Every file read is recorded with its digest (or why it could not be read): the approval binds
to them. Reads are bounded per file (the reader's limit) and per analysis (MAX_FILES).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from contextlib import contextmanager

from airlock.classify.shell.base import CodeFile
from airlock.classify.shell.files import FileRead, ScriptReader
from airlock.classify.shell.words import Word

# Files one classification may look for (scripts, package.json, Makefiles, and the local files
# each Python import could be: most are missing, which costs one stat each).
MAX_FILES = 128


class Places:
    def __init__(self, reader: ScriptReader | None, cwd: str | None) -> None:
        self.reader = reader
        self.cwds: tuple[str, ...] | None = \
            (posixpath.normpath(cwd),) if cwd and posixpath.isabs(cwd) else None
        self.remote: str | None = None  # where commands run when not on this machine
        # Once `cd` is redefined (a function, CDPATH), no directory can be told any more.
        self.lost = False
        self.inputs: dict[str, str] = {}  # path -> fingerprint, for the approval digest
        self._cache: dict[str, FileRead] = {}

    # ----------------------------------------------------------------------------------------
    # Working directories

    def change_directory(self, target: str | None, definite: bool) -> None:
        """`cd target` (None: a directory that cannot be told). `definite`: bash runs what
        follows only in the new directory; otherwise the old ones stay possible."""
        new = None if self.lost else self.resolve_directory(target)
        if definite or new is None:
            self.cwds = new
        elif self.cwds is not None:
            self.cwds = tuple(dict.fromkeys((*self.cwds, *new)))

    def resolve_directory(self, target: str | None) -> tuple[str, ...] | None:
        if target is None or target.startswith("~") or target == "-":
            return None
        if posixpath.isabs(target):
            return (posixpath.normpath(target),)
        if self.cwds is None:
            return None
        return tuple(dict.fromkeys(posixpath.normpath(posixpath.join(c, target))
                                   for c in self.cwds))

    @staticmethod
    def union(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if a is None or b is None:
            return None
        return tuple(dict.fromkeys((*a, *b)))

    @contextmanager
    def elsewhere(self, where: str) -> Iterator[None]:
        saved = self.remote, self.cwds
        self.remote = self.remote or where
        try:
            yield
        finally:
            self.remote, self.cwds = saved

    # ----------------------------------------------------------------------------------------
    # Files

    def read(self, word: Word, base: str | None = None) -> list[CodeFile]:
        """The file `word` names, in every directory the command may run in (or in `base`)."""
        shown = word.display
        if word.value is None:
            return [CodeFile(shown, "", None, "is named by text computed at run time")]
        if self.remote is not None:
            return [CodeFile(shown, "", None, f"is on {self.remote}, whose files airlock does "
                                              "not read")]
        if self.reader is None:
            return [CodeFile(shown, "", None, "cannot be read here (airlock was given no "
                                              "files to read)")]
        value = word.value
        if not value:
            return [CodeFile(shown, "", None, "has an empty name")]
        if value.startswith("~"):
            return [CodeFile(shown, "", None, "is in a home folder airlock does not resolve")]
        if posixpath.isabs(value):
            places: tuple[str, ...] = (value,)
        else:
            dirs = (base,) if base is not None else self.cwds
            if not dirs:
                return [CodeFile(shown, "", None, "is in a working directory airlock was not "
                                                  "told")]
            places = tuple(posixpath.join(d, value) for d in dirs)
        return [self._load(shown, _tidy(p)) for p in dict.fromkeys(places)]

    def _load(self, shown: str, path: str) -> CodeFile:
        read = self._cache.get(path)
        if read is None:
            if len(self._cache) >= MAX_FILES or self.reader is None:
                return CodeFile(shown, path, None, f"is one file more than the {MAX_FILES} "
                                                   "airlock reads for one command")
            read = self.reader.read(path)
            self._cache[path] = read
            self.inputs[path] = read.fingerprint
        if read.data is None:
            return CodeFile(shown, path, None, f"is {read.problem or 'unreadable'}")
        if read.binary:
            return CodeFile(shown, path, None, "is a binary program", binary=read.data[:16])
        try:
            text = read.data.decode("utf-8")
        except UnicodeDecodeError:
            return CodeFile(shown, path, None, "is not UTF-8 text")
        return CodeFile(shown, path, text)


def _tidy(path: str) -> str:
    """`/a/./b//c` → `/a/b/c`. `..` is left alone: through a symlink it is not where the
    text says, and the kernel (which the reader asks) resolves it as the shell would."""
    parts = [p for i, p in enumerate(path.split("/")) if p not in ("", ".") or i == 0]
    tidy = "/".join(parts)
    return tidy if tidy else path
