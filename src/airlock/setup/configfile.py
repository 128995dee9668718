"""Editing `airlock.toml` without clobbering it: tomlkit keeps every comment, blank line and key
order a person wrote, and a change touches only the keys it names. Every edited text is loaded
with airlock's own validation before it is written, so setup never leaves a configuration that
stops airlock from starting."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Table

from airlock.config import Config, config_from_mapping
from airlock.errors import ConfigError, SetupError


class ConfigFile:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.original = text
        try:
            self.doc = tomlkit.parse(text)
        except Exception as exc:  # tomlkit raises its own family; any of them means "not TOML"
            raise SetupError(f"{path} is not valid TOML ({exc}); setup does not rewrite it",
                             hint="fix the file by hand, then run setup again") from None

    @classmethod
    def read(cls, path: Path) -> ConfigFile:
        try:
            return cls(path, path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SetupError(f"cannot read {path}: {exc.strerror}") from None

    @property
    def text(self) -> str:
        return tomlkit.dumps(self.doc)

    @property
    def changed(self) -> bool:
        return self.text != self.original

    def get(self, *keys: str) -> Any:
        node: Any = self.doc
        for key in keys:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return node.unwrap() if hasattr(node, "unwrap") else node

    def set(self, *keys: str, value: Any) -> bool:
        """Set one key (creating its tables); False when it already had that value."""
        if self.get(*keys) == value:
            return False
        node: Any = self.doc
        for key in keys[:-1]:
            if key not in node:
                node[key] = tomlkit.table()
            node = node[key]
        node[keys[-1]] = value
        return True

    def tables(self, section: str) -> dict[str, Any]:
        found = self.get(section)
        return dict(found) if isinstance(found, Mapping) else {}

    def add_table(self, section: str, name: str, values: Mapping[str, Any],
                  comment: str = "") -> None:
        """Add `[section.name]` (refusing to replace one that exists)."""
        if name in self.tables(section):
            raise SetupError(f"{self.path} already declares [{section}.{name}]")
        parent = self.doc.get(section)
        if parent is None:
            parent = tomlkit.table(is_super_table=True)
            self.doc[section] = parent
        table: Table = tomlkit.table()
        if comment:
            table.comment(comment)
        for key, value in values.items():
            table[key] = _inline(value)
        parent[name] = table

    def validated(self) -> Config:
        """The edited text as airlock would load it (credential files are read too)."""
        try:
            return config_from_mapping(tomllib.loads(self.text), self.path)
        except ConfigError as exc:
            raise SetupError(f"the edited configuration would not load: {exc.message}",
                             hint=f"{self.path} was left as it was") from None


def _inline(value: Any) -> Any:
    if isinstance(value, Mapping):
        table = tomlkit.inline_table()
        table.update(value)
        return table
    return value
