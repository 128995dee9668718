"""`[store]` and `[audit]`: where airlock keeps its state, and the audit log's key."""

from __future__ import annotations

from airlock.config.base import BuildContext, SecretSource, Strict, secret_or_plain
from airlock.errors import ConfigError
from airlock.secrets import Secret


class StoreFile(Strict):
    url: SecretSource | str | None = None  # sqlite path or postgresql:// URL


class AuditFile(Strict):
    key: SecretSource | None = None  # HMAC key; default: a key file in the state folder


def build_store_url(parsed: StoreFile, ctx: BuildContext) -> Secret | None:
    if parsed.url is None:
        return None
    try:
        return secret_or_plain(parsed.url, "store.url", ctx.base)
    except ConfigError as exc:
        ctx.fail("store.url", exc.message)
        return None


def build_audit_key(parsed: AuditFile, ctx: BuildContext) -> Secret | None:
    return ctx.secret(parsed.key, "audit.key")
