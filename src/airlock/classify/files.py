"""Reads, writes and deletions of local files, as agent harnesses report them (Read, Edit,
Write tools; a Codex patch that deletes or moves a file away)."""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from airlock.model import Assessment, Effect, Risk, Target, Verb


def classify_file(path: str, *, write: bool) -> Assessment:
    target = Target("path", path, contextual=True)
    if write:
        effect = Effect(Verb.WRITE, Risk.WRITE, f"writes file {path}", target, "file")
    else:
        effect = Effect(Verb.READ, Risk.READ, f"reads file {path}", target, "file")
    return Assessment.of([effect], classifier="files")


def file_deletion(path: str, *, resources: Iterable[tuple[str, str]] = ()) -> list[Effect]:
    """Removing the file at `path` (absolute): a delete of that path, judged as `rm` of it would
    be by the shell classifier (a database file or a backup is destructive), and destructive
    inside a configured resource (`(name, folder or file)` pairs), whose backup then comes
    first. Credential and airlock's own files are judged by the caller (secrets_files)."""
    from airlock.classify.shell import classify_shell

    target = Target("path", path, contextual=True)
    effects = [Effect(Verb.DELETE, Risk.WRITE, f"deletes file {path}", target, "file")]
    for effect in classify_shell(f"rm -- {shlex.quote(path)}").effects:
        if effect.risk.at_least(Risk.DESTRUCTIVE):
            verb = Verb.UNKNOWN if effect.risk is Risk.UNKNOWN else Verb.DELETE
            effects.append(Effect(verb, effect.risk, f"deletes {path} ({effect.reason}, as `rm` "
                                  "of it is judged)", target, "file"))
    for name, root in resources:
        if path == root or path.startswith(root.rstrip("/") + "/"):
            effects.append(Effect(Verb.DELETE, Risk.DESTRUCTIVE, f"deletes {path}, which belongs "
                                  f"to resource {name}", target, "file"))
    return effects
