"""The vault's errors, in airlock's one family (so the CLI edge prints them as one message).

    AirlockError
    └── VaultError              the vault cannot do what was asked (store unreachable, bad key)
        ├── IntegrityError      an object or manifest does not match its digest, tag or MAC
        ├── SnapshotError       a snapshot could not be taken (the action must not run)
        └── RestoreError        a restore was refused or failed
"""

from __future__ import annotations

from airlock.errors import AirlockError


class VaultError(AirlockError):
    """The vault cannot do what was asked."""


class IntegrityError(VaultError):
    """Stored bytes are not what was written: a digest, an authentication tag or a MAC failed."""


class SnapshotError(VaultError):
    """A snapshot could not be taken or verified; the action it protects must not run."""


class RestoreError(VaultError):
    """A restore was refused (conflicts, corrupt snapshot) or failed while applying."""
