"""Credentials airlock holds on behalf of agents.

A `Secret` never shows its value in `repr`, `str`, logs, tracebacks or JSON; code that needs the
value calls `reveal()` at the last moment. Secrets come from environment variables or files,
never from the configuration file itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from airlock.errors import SecretError


class Secret:
    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str) -> None:
        self._value = value
        self.source = source  # "env:NAME" or "file:/path": safe to show

    def reveal(self) -> str:
        return self._value

    @property
    def available(self) -> bool:
        """False for a credential that could not be read (`MissingSecret`)."""
        return True

    def __repr__(self) -> str:
        return f"Secret(<hidden>, from {self.source})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self.source)


class MissingSecret(Secret):
    """A resource's credential that could not be read when the configuration was loaded.

    Judging an action never needs a resource's credential, and neither do the approver's
    commands (`approvals`, `audit verify`, `snapshots`) or the hook's fallback: the agent's
    environment, where the hook runs, rightly lacks the variables airlock takes them from. So
    the configuration loads, and only what *uses* the credential — connecting, proxying, a
    backup, `airlock up` at start — fails, with the error reading it gave."""

    __slots__ = ("error",)

    def __init__(self, error: SecretError, source: str) -> None:
        super().__init__("", source)
        self.error = error

    def reveal(self) -> str:
        raise SecretError(self.error.message, hint=self.error.hint)

    @property
    def available(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"Secret(<missing>, from {self.source})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MissingSecret) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)


def read_resource_secret(*, env: str | None, file: str | None, where: str,
                         base_dir: Path) -> Secret:
    """`read_secret` for a resource's credential: one that cannot be read now is a
    `MissingSecret` (its use fails), not a configuration that cannot load."""
    try:
        return read_secret(env=env, file=file, where=where, base_dir=base_dir)
    except SecretError as exc:
        if (env is None) == (file is None):  # a mistake in the file, not a missing credential
            raise
        return MissingSecret(exc, f"env:{env}" if env is not None else f"file:{file}")


def read_secret(*, env: str | None, file: str | None, where: str, base_dir: Path) -> Secret:
    """Read a credential from exactly one of an environment variable or a file.

    `where` names the configuration key, so an error can say which setting needs attention.
    """
    if (env is None) == (file is None):
        raise SecretError(f"{where}: give exactly one of `env` or `file`")
    if env is not None:
        value = os.environ.get(env)
        if value is None or value == "":
            raise SecretError(
                f"{where}: environment variable {env} is not set",
                hint=f"export {env}=... before starting airlock, or point {where} at a file",
            )
        return Secret(value, f"env:{env}")
    assert file is not None
    path = (base_dir / file).expanduser() if not Path(file).is_absolute() else Path(file)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(f"{where}: cannot read credential file {path}: {exc.strerror}",
                          hint="check the path and that airlock's user may read it") from None
    if not value:
        raise SecretError(f"{where}: credential file {path} is empty")
    return Secret(value, f"file:{path}")


def redact_url(url: str) -> str:
    """The URL with any password replaced, for logs and audit records."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
