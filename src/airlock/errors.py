"""One family of errors, each saying what went wrong and what to do next.

    AirlockError
    ├── ConfigError          the configuration file is missing, malformed or inconsistent
    ├── SecretError          a credential could not be read (variable unset, file unreadable)
    ├── StoreError           the state store failed or holds something unexpected
    ├── AuthError            a token is unknown, expired, revoked or out of scope
    ├── AuditError           the audit log could not be written or read
    ├── ApprovalError        an approval is unknown, expired, used, or not allowed for this person
    ├── InputError           an action or a command-line argument is malformed
    └── SetupError           `airlock setup` could not make (or undo) a change to this machine

Foreign exceptions (sqlite3, psycopg, OSError, pydantic) are translated into this family at the
boundary of the module that meets them, so callers handle one kind of error. Every message is a
sentence a person can act on; `hint` carries the next step when there is one.
"""

from __future__ import annotations


class AirlockError(Exception):
    """Base of every error airlock raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  → {self.hint}"
        return self.message


class ConfigError(AirlockError):
    """The configuration is invalid; nothing starts until it is fixed."""


class SecretError(ConfigError):
    """A credential named by the configuration could not be read."""


class StoreError(AirlockError):
    """The state store failed."""


class AuthError(AirlockError):
    """A principal or token may not do what it asked."""


class AuditError(AirlockError):
    """The audit log could not be written, read or verified."""


class ApprovalError(AirlockError):
    """An approval cannot be given or used."""


class InputError(AirlockError):
    """An action or argument is malformed."""


class SetupError(AirlockError):
    """A change `airlock setup` makes to the machine (users, folders, the service) failed."""
