"""What every section of `airlock.toml` is built with: strict models, credentials, durations, and
a `BuildContext` that collects problems under the key they are about."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from airlock.errors import ConfigError
from airlock.secrets import Secret, read_secret

if TYPE_CHECKING:
    from airlock.config.environments import Environment
    from airlock.config.policy import PrincipalConfig
    from airlock.config.resources import Resource

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


class Strict(BaseModel):
    """A section's keys: unknown keys are errors, values are not coerced ("yes" is no bool)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SecretSource(Strict):
    """A credential's source: `{ env = "NAME" }` or `{ file = "path" }`."""

    env: str | None = None
    file: str | None = None


@dataclass
class BuildContext:
    """What building a section may use: where the file is (relative paths start there), what
    the sections built before it declared, and `fail`, which records a problem under its dotted
    key; every problem is reported at once. `within("fronts.pgwire")` gives a front's section
    the same context with its keys prefixed."""

    path: Path
    problems: list[str] = field(default_factory=list)
    prefix: str = ""
    environments: Mapping[str, Environment] = field(default_factory=dict)
    resources: Mapping[str, Resource] = field(default_factory=dict)
    principals: Mapping[str, PrincipalConfig] = field(default_factory=dict)

    @property
    def base(self) -> Path:
        return self.path.parent

    def key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix and key else (self.prefix or key)

    def within(self, prefix: str) -> BuildContext:
        return BuildContext(self.path, self.problems, self.key(prefix), self.environments,
                            self.resources, self.principals)

    def fail(self, key: str, message: str) -> None:
        key = self.key(key)
        # messages from helpers already start with the key they are about
        self.problems.append(f"  - {message}" if message.startswith(key)
                             else f"  - `{key}`: {message}")

    def secret(self, source: SecretSource | None, key: str) -> Secret | None:
        """The credential `source` names, or None (and a problem) when it cannot be read."""
        if source is None:
            return None
        where = self.key(key)
        try:
            return read_secret(env=source.env, file=source.file, where=where, base_dir=self.base)
        except ConfigError as exc:
            self.fail(key, exc.message)
            return None

    def duration(self, text: str, key: str, *, least: timedelta, most: timedelta,
                 default: timedelta) -> timedelta:
        return duration(text, key, self.fail, least=least, most=most, default=default)

    def local_path(self, text: str) -> Path:
        """A path from the file: `~` expanded, relative ones from the file's folder."""
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.base / path


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str, key: str, fail: Callable[[str, str], None], *,
             least: timedelta, most: timedelta, default: timedelta) -> timedelta:
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text)
    if not match:
        fail(key, f"{text!r} is not a duration; write a number and a unit, like 90s, 15m or 8h")
        return default
    value = timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])
    if not least <= value <= most:
        fail(key, f"{text} is outside the allowed range ({least} to {most})")
        return default
    return value


def as_tuple(values: Sequence[Any] | None) -> tuple[Any, ...] | None:
    return tuple(values) if values is not None else None


def secret_or_plain(value: SecretSource | str, where: str, base: Path) -> Secret:
    if isinstance(value, SecretSource):
        return read_secret(env=value.env, file=value.file, where=where, base_dir=base)
    # A plain string is accepted only when it carries no credential: config files get
    # committed, shared and pasted into chats.
    if urlsplit(value).password:
        raise ConfigError(f"{where}: the URL contains a password; move it into an environment "
                          f'variable or file: {where} = {{ env = "NAME" }}')
    return Secret(value, "config")
