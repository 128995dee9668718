"""Tokens: what agents (and scripts acting for humans) present instead of real credentials.

A token looks like `alk_<id>_<secret>`. The id finds the record; the secret is 32 random bytes
whose SHA-256 is all airlock keeps, so a leaked state database yields no usable token. The
secret has full entropy, so a fast hash is enough (no password-stretching needed).

A token's scope is the narrowing it was issued with, and it is enforced *together with* its
principal's scope from the configuration: neither can widen the other.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from airlock.config import Config
from airlock.errors import AuthError, InputError
from airlock.model import Caller, Principal, PrincipalKind, Risk, Scope, new_id, sha256_hex, utcnow
from airlock.store import Store, TokenRecord

TOKEN_RE = re.compile(r"^alk_(tok_[0-9a-z]{26})_([A-Za-z0-9_-]{43})$")
_DURATION_RE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_TTL = timedelta(days=90)


def parse_ttl(text: str) -> timedelta:
    """`90s`, `15m`, `8h`, `7d`, `2w` → a duration (at most 90 days: tokens should be short-lived)."""
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise InputError(f"--ttl {text!r} is not a duration; use a number and a unit, like 8h or 7d")
    ttl = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if ttl <= timedelta(0):
        raise InputError("--ttl must be longer than zero")
    if ttl > MAX_TTL:
        raise InputError(f"--ttl {text} is longer than the maximum of 90 days; issue a new token "
                         "when this one runs out instead")
    return ttl


@dataclass(frozen=True, slots=True)
class IssuedToken:
    record: TokenRecord
    token: str  # shown once, never stored


def issue_token(store: Store, config: Config, *, principal: str, environments: list[str],
                resources: list[str] | None = None, max_risk: Risk | None = None,
                ttl: timedelta = timedelta(hours=8), note: str = "",
                now: datetime | None = None) -> IssuedToken:
    pconf = config.principals.get(principal)
    if pconf is None:
        known = ", ".join(sorted(config.principals)) or "none are declared"
        raise InputError(f"principal {principal!r} is not declared in {config.source} "
                         f"(declared: {known})",
                         hint=f"add [principals.{principal}] with kind = \"agent\" to the config")
    if not environments:
        raise InputError("a token needs at least one --env: tokens are scoped to environments")
    known_envs = set(config.environments) | {config.local_environment}
    for env in environments:
        if env != "*" and env not in known_envs:
            raise InputError(f"--env {env!r} is not a declared environment "
                             f"(declared: {', '.join(sorted(known_envs))})")
    wider = _wider_than(pconf.scope, environments, resources, max_risk)
    if wider:
        raise InputError(f"a token for {principal} cannot reach further than {principal} itself, "
                         f"and this one would: {'; '.join(wider)}",
                         hint="ask only for what the principal may reach, or widen the "
                              f"principal in {config.source} first (a wider token is useless: "
                              "every action is checked against both)")
    now = now or utcnow()
    scope = Scope(tuple(environments), tuple(resources or pconf.scope.resources),
                  max_risk or pconf.scope.max_risk, now + ttl)
    from airlock.fronts.pgwire.auth import token_verifier

    secret = secrets.token_urlsafe(32)
    token_id = new_id("tok")
    token = f"alk_{token_id}_{secret}"
    record = TokenRecord(id=token_id, principal=principal, principal_kind=pconf.kind,
                         scope=scope, secret_hash=sha256_hex(secret),
                         created_at=now.isoformat(), note=note,
                         scram=token_verifier(token))  # the wire proxy's SCRAM needs it
    store.add_token(record)
    return IssuedToken(record, token)


def _wider_than(principal: Scope, environments: list[str], resources: list[str] | None,
                max_risk: Risk | None) -> list[str]:
    """What a token asked for reaches beyond its principal's own scope (empty: nothing)."""
    wider: list[str] = []
    for env in environments:
        if not _covered(env, principal.environments):
            wider.append(f"--env {env} is outside its environments "
                         f"({', '.join(principal.environments)}); pass one of those")
    for resource in resources or ():
        if not _covered(resource, principal.resources):
            wider.append(f"--resource {resource} is outside its resources "
                         f"({', '.join(principal.resources)}); pass one of those, or leave "
                         "--resource out to get exactly its resources")
    if max_risk is not None and max_risk.rank > principal.max_risk.rank:
        wider.append(f"--max-risk {max_risk.value} is above its max_risk "
                     f"({principal.max_risk.value}); pass --max-risk {principal.max_risk.value} "
                     "or lower")
    return wider


_GLOB = re.compile(r"[*?\[]")


def _covered(wanted: str, allowed: tuple[str, ...]) -> bool:
    """Is every name the glob `wanted` matches also matched by one of `allowed`? Decided only
    where it is plain to see (a name, an equal glob, a prefix glob inside a wider one);
    anything else counts as not covered."""
    for pattern in allowed:
        if pattern == "*" or pattern == wanted:
            return True
        if not _GLOB.search(wanted) and fnmatchcase(wanted, pattern):
            return True
        if pattern.endswith("*") and not _GLOB.search(pattern[:-1]) and \
                wanted.startswith(pattern[:-1]):
            return True
    return False


class TokenLookup:
    """`store.get_token` for a front that sees the same few tokens on every call (the API
    proxy): a record read once is given again while the store's `tokens_version` is unchanged —
    any token added or revoked since, by this process or another, and the next lookup reads the
    store. Revocation therefore takes effect on the very next call, as without it; expiry and
    the principal's configuration are checked on every call (`caller_of_token`). Only found
    records are kept (an unknown id is read every time, and a flood of them costs no memory),
    at most `size` of them. Safe to share across threads."""

    def __init__(self, store: Store, size: int = 1024) -> None:
        self.store = store
        self.size = size
        self._kept: dict[str, tuple[object, TokenRecord]] = {}

    def get_token(self, token_id: str) -> TokenRecord | None:
        version = self.store.tokens_version()  # before the read: a change after it shows
        if version is None:
            return self.store.get_token(token_id)
        kept = self._kept.get(token_id)
        if kept is not None and kept[0] == version:
            return kept[1]
        record = self.store.get_token(token_id)
        if record is not None:
            if len(self._kept) >= self.size:
                self._kept.clear()
            self._kept[token_id] = (version, record)
        return record


def authenticate(store: Store | TokenLookup, config: Config, token: str, *,
                 now: datetime | None = None) -> Caller:
    """The caller a token speaks for, bound by the token's and the principal's scopes. `store`
    may be a `TokenLookup` in front of it."""
    match = TOKEN_RE.match(token.strip())
    if not match:
        raise AuthError("this is not an airlock token (they look like alk_tok_…_…)")
    record = store.get_token(match.group(1))
    if record is None or not hmac.compare_digest(record.secret_hash, sha256_hex(match.group(2))):
        raise AuthError("unknown token", hint="ask for a new one with `airlock token create`")
    return caller_of_token(record, config, now=now)


def caller_of_token(record: TokenRecord, config: Config, *,
                    now: datetime | None = None) -> Caller:
    """The caller an issued token speaks for, once its holder proved it holds it (its secret,
    a SCRAM proof in the wire proxy, or a signature with a key bound to it): refused when
    revoked, expired or orphaned."""
    if record.revoked_at is not None:
        raise AuthError(f"token {record.id} was revoked at {record.revoked_at}")
    now = now or utcnow()
    if record.scope.expires_at is not None and now >= record.scope.expires_at:
        raise AuthError(f"token {record.id} expired at {record.scope.expires_at.isoformat()}",
                        hint="ask for a new one with `airlock token create`")
    pconf = config.principals.get(record.principal)
    if pconf is None:
        raise AuthError(f"token {record.id} belongs to principal {record.principal!r}, which is no "
                        "longer declared in the configuration")
    if pconf.kind is not record.principal_kind:
        raise AuthError(f"principal {record.principal!r} changed kind since token {record.id} "
                        "was issued; issue a new token")
    principal = Principal(pconf.name, pconf.kind, pconf.scope)
    return Caller(principal, (pconf.scope, record.scope), token_id=record.id)


@dataclass(frozen=True, slots=True)
class TokenCensus:
    """Every token as a long-running front must know it between connections: the SCRAM
    verifiers of the live ones (who may connect) and the ids of the revoked ones (whose open
    sessions must stop)."""

    verifiers: tuple[tuple[str, str], ...]
    revoked: frozenset[str]


def token_census(store: Store, now: datetime | None = None) -> TokenCensus:
    now = now or utcnow()
    verifiers: list[tuple[str, str]] = []
    revoked: set[str] = set()
    for record in store.list_tokens():
        if record.revoked_at is not None:
            revoked.add(record.id)
        elif record.scram is not None and (record.scope.expires_at is None
                                           or now < record.scope.expires_at):
            verifiers.append((record.id, record.scram))
    return TokenCensus(tuple(verifiers), frozenset(revoked))


def local_caller(config: Config, name: str | None = None,
                 kind: PrincipalKind = PrincipalKind.AGENT) -> Caller:
    """The caller for fronts that run beside the agent without a token (hooks, `check`)."""
    if name is not None:
        pconf = config.principals.get(name)
        if pconf is None:
            known = ", ".join(sorted(config.principals)) or "none are declared"
            raise InputError(f"principal {name!r} is not declared in {config.source} "
                             f"(declared: {known})")
        return Caller(Principal(pconf.name, pconf.kind, pconf.scope), (pconf.scope,))
    principal = Principal("local-agent", kind, Scope())
    return Caller(principal, (principal.scope,))
