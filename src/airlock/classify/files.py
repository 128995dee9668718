"""Reads and writes of local files, as agent harnesses report them (Read, Edit, Write tools)."""

from __future__ import annotations

from airlock.model import Assessment, Effect, Risk, Target, Verb


def classify_file(path: str, *, write: bool) -> Assessment:
    target = Target("path", path, contextual=True)
    if write:
        effect = Effect(Verb.WRITE, Risk.WRITE, f"writes file {path}", target, "file")
    else:
        effect = Effect(Verb.READ, Risk.READ, f"reads file {path}", target, "file")
    return Assessment.of([effect], classifier="files")
