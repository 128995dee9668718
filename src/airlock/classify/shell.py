"""Shell classification (placeholder until the tree-sitter-bash classifier lands): unknown."""

from __future__ import annotations

from airlock.model import Assessment


def classify_shell(command: str) -> Assessment:
    return Assessment.unknown("shell commands are not classified yet", classifier="shell")
