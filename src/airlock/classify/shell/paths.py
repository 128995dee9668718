"""What a path argument names, as far as it can be told without touching the filesystem.

Rules refer to these classes by name (`class:temp`, `class:root`, ...). They are judged on the
text of the word (its value, or its template for `$TMPDIR/x`), with one exception: the scratch
exemption (`class:temp`) also asks where a path on this machine really leads, because a symlink
under /tmp into a production folder is that folder (`pathnames.resolve`). Looking can only take
the exemption away, never grant it, so a command meant for another machine is judged no milder.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Callable

from airlock import pathnames
from airlock.classify.shell.words import Word

# Roots of scratch space: files there are expected to vanish (tmpfs, cleaned at boot).
# (S108: these are names matched in commands, not files this code uses.)
_TEMP_ROOTS = ("/tmp/", "/var/tmp/",  # noqa: S108
               "/private/tmp/", "/private/var/tmp/", "${TMPDIR}/", "${TMPDIR:-/tmp}/",
               "${TMPDIR:-/var/tmp}/")

# Deleting these deletes everything a user or the machine has.
_ROOTS = frozenset({"/", "~", "${HOME}", "/home", "/Users", "/root", "${HOME:-~}"})

# Block devices: writing to one destroys the filesystem on it.
_DEVICE_PATTERNS = ("/dev/sd*", "/dev/hd*", "/dev/vd*", "/dev/xvd*", "/dev/nvme*", "/dev/mmcblk*",
                    "/dev/disk*", "/dev/rdisk*", "/dev/mapper/*", "/dev/md*", "/dev/dm-*",
                    "/dev/loop*", "/dev/root", "/dev/sr*", "/dev/zd*", "/dev/rbd*")

# Writing here goes nowhere that keeps data.
_SINKS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero"})

# Files whose loss is the loss of a database or a backup, whatever command removes them.
_PRECIOUS_PATTERNS = ("*.db", "*.sqlite", "*.sqlite3", "*.db3", "*.s3db", "*.sl3", "*.mdb",
                      "*.accdb", "*-wal", "*-shm", "*-journal", "*.bak", "*.backup", "*.dump",
                      "*.pgdump", "*.sql", "*.sql.gz", "*.sql.bz2", "*.sql.xz", "*.sql.zst",
                      "*.rdb", "*.aof", "*.ibd", "*.frm", "*.myd", "*.wt", "*.tar.gz.bak",
                      "*pg_wal*", "*pgdata*", "*/postgresql/*/main*", "/var/lib/mysql/*",
                      "/var/lib/postgresql/*", "/var/lib/mongodb/*", "/var/lib/redis/*")


def _normal(word: Word) -> str | None:
    """The word as a path to judge: the value, or the template (with ${VAR}) if computed."""
    text = word.value if word.value is not None else word.template
    if text is None:
        return None
    if text.startswith("/") and "${" not in text and not any(c in text for c in "*?["):
        # Lexical normalisation: /usr/bin/../bin -> /usr/bin, //etc/ -> /etc.
        text = posixpath.normpath(text)
        if text.startswith("//"):
            text = text[1:]
    return text


def is_root(word: Word) -> bool:
    text = _normal(word)
    if text is None:
        return False
    stripped = text
    for suffix in ("/*", "/.*", "/.", "/"):
        if stripped.endswith(suffix) and len(stripped) > len(suffix):
            stripped = stripped[: -len(suffix)]
            break
    return text in _ROOTS or stripped in _ROOTS or text in ("/*", "/.*")


def is_temp(word: Word) -> bool:
    """Strictly below a scratch root, with no `..` and no pattern that could match `..`."""
    text = word.value if word.value is not None else word.template
    if text is None:
        return False
    root = next((r for r in _TEMP_ROOTS if text.startswith(r)), None)
    if root is None:
        return False
    rest = text[len(root) :]
    if "${" in rest or "$" in rest:
        return False
    parts = [p for p in rest.split("/") if p]
    if not parts:
        return False
    for part in parts:
        if part in ("..", "."):
            return False
        # `.*` and `.?` can match `..` in older shells.
        if part.startswith(".") and any(c in part for c in "*?["):
            return False
    return word.value is None or _really_temp(text)


def _really_temp(text: str) -> bool:
    """A scratch path is scratch only if it still is once its symlinks are followed (each
    existing part of it, and of a glob's literal prefix)."""
    prefix = pathnames.literal_prefix(text)
    real = pathnames.resolve(prefix, None)
    # A glob may match inside the root itself (`/tmp/*`); a plain path must lie below it.
    strictly = prefix == posixpath.normpath(text)
    return any(pathnames.within(real, root.rstrip("/")) and not (strictly and real == root.rstrip("/"))
               for root in _TEMP_ROOTS if root.startswith("/"))


def is_device(word: Word) -> bool:
    text = _normal(word)
    return text is not None and any(fnmatch.fnmatchcase(text, p) for p in _DEVICE_PATTERNS)


def is_sink(word: Word) -> bool:
    text = _normal(word)
    return text is not None and (text in _SINKS or text.startswith("/dev/fd/"))


def is_precious(word: Word) -> bool:
    text = word.value if word.value is not None else word.template
    if text is None:
        return False
    lowered = text.lower()
    return any(fnmatch.fnmatchcase(lowered, p) for p in _PRECIOUS_PATTERNS)


def is_remote(word: Word) -> bool:
    """`host:path`, `user@host:path`, `rsync://…`, `scp://…` (rsync, scp, rclone remotes)."""
    return remote_host(word) is not None


def remote_host(word: Word) -> str | None:
    text = word.value
    if text is None:
        return None
    for scheme in ("rsync://", "ssh://", "scp://", "sftp://"):
        if text.startswith(scheme):
            host = text[len(scheme) :].split("/", 1)[0].rsplit("@", 1)[-1]
            return host.split(":", 1)[0].lower() or None
    if text.startswith(("/", "./", "../", "~")):
        return None
    head, sep, _ = text.partition(":")
    if not sep or not head or "/" in head:
        return None
    return head.rsplit("@", 1)[-1].lower()


CLASSES: dict[str, Callable[[Word], bool]] = {
    "root": is_root,
    "temp": is_temp,
    "device": is_device,
    "sink": is_sink,
    "precious": is_precious,
    # `of=app.db` (dd): the file named after `of=` looks like a database or a backup.
    "output-precious": lambda w: w.value is not None and w.value.startswith("of=") and
    is_precious(Word.literal(w.value[3:])),
    "remote": is_remote,
    "glob": lambda w: w.glob,
    "dynamic": lambda w: w.value is None,
}
