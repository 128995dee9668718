"""`airlock.toml`: found, parsed, validated and turned into typed settings at start-up.

Where the file is: `--config PATH`, else `$AIRLOCK_CONFIG`, else `./airlock.toml`, else no
file at all (built-in defaults: state in `./.airlock`, the built-in policy). A file that is named
but missing, malformed, or inconsistent stops airlock with an error that names the file, the key
and what was expected. Credentials are read here, once, so a missing variable is reported before
anything starts — and they stay wrapped in `Secret`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from airlock.errors import ConfigError
from airlock.model import ActionKind, PrincipalKind, Risk, Scope, Verdict
from airlock.secrets import Secret, read_secret

CONFIG_ENV = "AIRLOCK_CONFIG"
DEFAULT_CONFIG_NAME = "airlock.toml"
DEFAULT_STATE_DIR = ".airlock"
LOCAL_ENVIRONMENT = "local"

# Environment names that count as production unless the configuration says otherwise.
PRODUCTION_NAMES = frozenset({"production", "prod", "prd", "live"})

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"

# --------------------------------------------------------------------------------------------
# The file's schema (pydantic models, strict about unknown keys)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SecretSource(_Strict):
    """A credential's source: `{ env = "NAME" }` or `{ file = "path" }`."""

    env: str | None = None
    file: str | None = None


class EnvironmentFile(_Strict):
    production: bool | None = None
    description: str = ""


ResourceKind = Literal[
    "postgres", "mysql", "sqlite", "redis", "mongodb", "api", "path", "volume", "bucket",
    "namespace", "project", "service", "other",
]


class ResourceFile(_Strict):
    kind: ResourceKind
    environment: str
    description: str = ""
    url: SecretSource | str | None = None  # databases: connection URL (with credentials)
    credential: SecretSource | None = None  # upstream APIs: the real token
    base_url: str | None = None  # upstream APIs
    path: str | None = None  # sqlite files and folders
    match: list[str] = Field(default_factory=list)  # extra selectors, "kind:glob"
    stored_on: list[str] = Field(default_factory=list)  # resources whose loss destroys this one
    backs_up: list[str] = Field(default_factory=list)  # resources this one holds backups of
    # the vault (vault/): quarantine instead of DROP TABLE, its grace period, scheduled backups
    soft_drop: bool = False
    grace: str | None = None
    backup_schedule: str | None = None


# Enum fields accept their string values; strict mode still refuses `"yes"` for a bool elsewhere.
LaxRisk = Annotated[Risk, Field(strict=False)]
LaxPrincipalKind = Annotated[PrincipalKind, Field(strict=False)]
LaxActionKind = Annotated[ActionKind, Field(strict=False)]
LaxVerdict = Annotated[Verdict, Field(strict=False)]


class PrincipalFile(_Strict):
    kind: LaxPrincipalKind
    environments: list[str] = Field(default_factory=lambda: ["*"])
    resources: list[str] = Field(default_factory=lambda: ["*"])
    max_risk: LaxRisk = Risk.CATASTROPHIC


class RuleFile(_Strict):
    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    # when (every field given must match; lists match any element; globs allowed in names)
    principal: list[str] | None = None
    principal_kind: LaxPrincipalKind | None = None
    environment: list[str] | None = None
    production: bool | None = None
    resource: list[str] | None = None
    risk: list[LaxRisk] | None = None
    front: list[str] | None = None
    action: list[LaxActionKind] | None = None
    # then
    verdict: LaxVerdict
    approvals: int | None = None
    snapshot: bool = False
    reason: str = ""


class PolicyFile(_Strict):
    builtin: bool = True  # append the built-in rules after the configured ones
    rules: list[RuleFile] = Field(default_factory=list)


class StoreFile(_Strict):
    url: SecretSource | str | None = None  # sqlite path or postgresql:// URL


class AuditFile(_Strict):
    key: SecretSource | None = None  # HMAC key; default: a key file in the state folder


class ConsoleFile(_Strict):
    public_url: str | None = None  # where people open the console (links in notifications)
    session_idle: str = "30m"  # a console session ends after this long unused…
    session_max: str = "8h"  # …and after this long in any case


class WebhookFile(_Strict):
    url: SecretSource | str  # Slack webhook URLs are secrets: prefer { env = "NAME" }
    format: Literal["slack", "json"] = "json"


class ApprovalsFile(_Strict):
    ttl: str = "15m"  # how long a held action waits for its approvals
    use_window: str = "15m"  # how long an approved action may then be retried (once)
    key: SecretSource | None = None  # encrypts TOTP seeds, signs console sessions
    console: ConsoleFile = Field(default_factory=ConsoleFile)
    webhooks: list[WebhookFile] = Field(default_factory=list)


class HooksFile(_Strict):
    """`[hooks]`: how the agent hooks (Claude Code, Cursor, Codex, Gemini) act."""

    principal: str | None = None  # a declared agent principal; default: the built-in local agent
    wait_seconds: int = 0  # 0: answer a hold at once; N: wait up to N seconds for the approval
    ask_passthrough: bool = False  # Claude Code / Cursor show their own "ask" for holds (weaker)
    allow_credential_reads: list[str] = Field(default_factory=list)  # file names or path globs
    mcp_resources: dict[str, str] = Field(default_factory=dict)  # MCP server → resource
    # When airlock runs as its own OS user, the agent's user cannot enter the state folder:
    # serve the hooks socket elsewhere, to one group.
    socket: str | None = None  # default: <state_dir>/hooks.sock
    socket_group: str | None = None  # an OS group whose members may call the hooks


class VaultS3File(_Strict):
    bucket: str
    prefix: str = "airlock"
    region: str | None = None
    endpoint_url: str | None = None  # for S3-compatible services (MinIO, R2, …)
    access_key_id: SecretSource | None = None  # default: boto3's usual credential chain
    secret_access_key: SecretSource | None = None


class VaultFile(_Strict):
    enabled: bool = True
    path: str | None = None  # a local folder on another disk (default: <state_dir>/vault)
    s3: VaultS3File | None = None  # or an S3 bucket with Object Lock
    key: SecretSource | None = None  # 32 bytes, hex or base64 (default: <state_dir>/vault.key)
    retention: str = "30d"  # how long snapshots are kept (Object Lock retain-until on S3)
    grace: str = "48h"  # deferred deletes and soft-dropped tables wait this long
    pg_bin: str | None = None  # folder with pg_dump and psql (default: PATH, then Debian's)


class ConfigFile(_Strict):
    state_dir: str = DEFAULT_STATE_DIR
    local_environment: str = LOCAL_ENVIRONMENT
    store: StoreFile = Field(default_factory=StoreFile)
    audit: AuditFile = Field(default_factory=AuditFile)
    approvals: ApprovalsFile = Field(default_factory=ApprovalsFile)
    hooks: HooksFile = Field(default_factory=HooksFile)
    environments: dict[str, EnvironmentFile] = Field(default_factory=dict)
    resources: dict[str, ResourceFile] = Field(default_factory=dict)
    principals: dict[str, PrincipalFile] = Field(default_factory=dict)
    policy: PolicyFile = Field(default_factory=PolicyFile)
    vault: VaultFile = Field(default_factory=VaultFile)


# --------------------------------------------------------------------------------------------
# The typed settings the rest of airlock uses


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    production: bool
    description: str = ""


@dataclass(frozen=True, slots=True)
class Resource:
    name: str
    kind: str
    environment: str
    selectors: tuple[str, ...]  # "kind:glob" strings matched against Target.key
    paths: tuple[str, ...] = ()  # absolute folders or files this resource owns
    stored_on: tuple[str, ...] = ()
    backs_up: tuple[str, ...] = ()
    url: Secret | None = None
    credential: Secret | None = None
    base_url: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class ResourceVault:
    """Per-resource vault settings (`soft_drop`, `grace`, `backup_schedule`)."""

    soft_drop: bool = False
    grace: timedelta | None = None  # None: the vault's grace
    backup_schedule: timedelta | None = None  # None: no scheduled backups


@dataclass(frozen=True, slots=True)
class VaultSettings:
    """`[vault]`: where snapshots go and how long they and deferred deletes wait."""

    enabled: bool = True
    path: Path | None = None  # None and no s3: <state_dir>/vault
    s3_bucket: str | None = None
    s3_prefix: str = "airlock"
    s3_region: str | None = None
    s3_endpoint_url: str | None = None
    s3_access_key_id: Secret | None = None
    s3_secret_access_key: Secret | None = None
    key: Secret | None = None  # None: <state_dir>/vault.key, created on first use
    retention: timedelta = timedelta(days=30)
    grace: timedelta = timedelta(hours=48)
    pg_bin: Path | None = None
    resources: Mapping[str, ResourceVault] = field(default_factory=dict)

    def for_resource(self, name: str) -> ResourceVault:
        return self.resources.get(name, ResourceVault())


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    verdict: Verdict
    approvals: int = 0
    snapshot: bool = False
    reason: str = ""
    principal: tuple[str, ...] | None = None
    principal_kind: PrincipalKind | None = None
    environment: tuple[str, ...] | None = None
    production: bool | None = None
    resource: tuple[str, ...] | None = None
    risk: tuple[Risk, ...] | None = None
    front: tuple[str, ...] | None = None
    action: tuple[ActionKind, ...] | None = None


@dataclass(frozen=True, slots=True)
class PrincipalConfig:
    name: str
    kind: PrincipalKind
    scope: Scope


@dataclass(frozen=True, slots=True)
class Webhook:
    url: Secret
    format: str  # "slack" | "json"


@dataclass(frozen=True, slots=True)
class ApprovalSettings:
    """`[approvals]`: how long holds wait, the approvals key, the console, the webhooks."""

    ttl: timedelta = timedelta(minutes=15)
    use_window: timedelta = timedelta(minutes=15)
    key: Secret | None = None  # default: a key file in the state folder
    public_url: str | None = None  # default: the address `airlock up` listens on
    session_idle: timedelta = timedelta(minutes=30)
    session_max: timedelta = timedelta(hours=8)
    webhooks: tuple[Webhook, ...] = ()


MAX_HOOK_WAIT_SECONDS = 600  # harnesses kill hooks after minutes; a wait must end before that


@dataclass(frozen=True, slots=True)
class HookSettings:
    """`[hooks]`: who the hooks act as, whether a hold waits, and which credential files agents
    may read. `allow_credential_reads` holds file names (`.env.test`) and absolute path globs
    (relative ones in the file are resolved against the configuration's folder)."""

    principal: str | None = None
    wait_seconds: int = 0
    ask_passthrough: bool = False
    allow_credential_reads: tuple[str, ...] = ()
    mcp_resources: Mapping[str, str] = field(default_factory=dict)
    socket: Path | None = None  # None: <state_dir>/hooks.sock
    socket_group: str | None = None


@dataclass(frozen=True)
class Config:
    """Validated settings. `path` is None when airlock runs on built-in defaults."""

    path: Path | None
    state_dir: Path
    local_environment: str = LOCAL_ENVIRONMENT
    environments: Mapping[str, Environment] = field(default_factory=dict)
    resources: Mapping[str, Resource] = field(default_factory=dict)
    principals: Mapping[str, PrincipalConfig] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    builtin_rules: bool = True
    store_url: Secret | None = None
    audit_key: Secret | None = None
    approvals: ApprovalSettings = field(default_factory=ApprovalSettings)
    hooks: HookSettings = field(default_factory=HookSettings)
    vault: VaultSettings = field(default_factory=VaultSettings)

    def environment(self, name: str) -> Environment:
        """The named environment; undeclared names count as production unless they are the
        local machine or have a non-production name, and `(unknown)` always does."""
        env = self.environments.get(name)
        if env is not None:
            return env
        if name == self.local_environment:
            return Environment(name, production=False, description="the machine airlock runs on")
        return Environment(name, production=name.lower() in PRODUCTION_NAMES or name.startswith("("))

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "built-in defaults (no airlock.toml)"


# --------------------------------------------------------------------------------------------
# Finding and loading


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The configuration file to use, or None for built-in defaults."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: no such configuration file (given with --config)",
                              hint="run `airlock init` to write a starter configuration")
        return path
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        path = Path(from_env)
        if not path.is_file():
            raise ConfigError(f"{path}: no such configuration file (named by ${CONFIG_ENV})",
                              hint=f"fix ${CONFIG_ENV} or unset it")
        return path
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.is_file() else None


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    path = find_config(explicit)
    if path is None:
        return Config(path=None, state_dir=(Path.cwd() / DEFAULT_STATE_DIR).resolve())
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc}") from None
    return config_from_mapping(raw, path)


def config_from_mapping(raw: Mapping[str, Any], path: Path) -> Config:
    """Validate a parsed TOML document; `path` is used to name errors and resolve relative paths."""
    try:
        parsed = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc, path)) from None
    return _build(parsed, path.resolve())


def _describe_validation_error(exc: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid configuration"]
    for err in exc.errors()[:10]:
        loc = ".".join(str(part) for part in err["loc"] if not _is_union_tag(part))
        if err["type"] == "extra_forbidden":
            lines.append(f"  - `{loc}`: unknown key (check its spelling; `airlock init` "
                         "writes a starter file listing every key)")
        elif err["type"] == "missing":
            lines.append(f"  - `{loc}`: required key is missing")
        else:
            got = err.get("input")
            shown = repr(got) if not isinstance(got, dict | list) else type(got).__name__
            lines.append(f"  - `{loc}`: {err['msg']} (got {shown})")
    if len(exc.errors()) > 10:
        lines.append(f"  … and {len(exc.errors()) - 10} more")
    return "\n".join(lines)


def _is_union_tag(part: object) -> bool:
    # pydantic puts the name of the union member it tried into the location; users never wrote it
    return isinstance(part, str) and (part in ("str", "SecretSource") or part.startswith(
        ("function-", "list[", "dict[", "literal[")))


def _build(parsed: ConfigFile, path: Path) -> Config:
    base = path.parent
    problems: list[str] = []

    def fail(key: str, message: str) -> None:
        # messages from helpers already start with the key they are about
        problems.append(f"  - {message}" if message.startswith(key) else f"  - `{key}`: {message}")

    import re

    name_re = re.compile(NAME_PATTERN)
    for section in ("environments", "resources", "principals"):
        for name in getattr(parsed, section):
            if not name_re.match(name):
                fail(f"{section}.{name}", "names use letters, digits, '.', '_' and '-' "
                     "(at most 63 characters)")

    environments = {
        name: Environment(name, env.production if env.production is not None
                          else name.lower() in PRODUCTION_NAMES, env.description)
        for name, env in parsed.environments.items()
    }
    known_envs = set(environments) | {parsed.local_environment}

    resources: dict[str, Resource] = {}
    for name, res in parsed.resources.items():
        key = f"resources.{name}"
        if res.environment not in known_envs:
            fail(f"{key}.environment", f"environment {res.environment!r} is not declared under "
                 f"[environments] (declared: {', '.join(sorted(environments)) or 'none'})")
        for edge in ("stored_on", "backs_up"):
            for other in getattr(res, edge):
                if other not in parsed.resources:
                    fail(f"{key}.{edge}", f"names {other!r}, which is not a declared resource")
        try:
            resources[name] = _build_resource(name, res, base)
        except ConfigError as exc:
            fail(key, exc.message)

    principals: dict[str, PrincipalConfig] = {}
    for name, pr in parsed.principals.items():
        principals[name] = PrincipalConfig(
            name, pr.kind, Scope(tuple(pr.environments), tuple(pr.resources), pr.max_risk))

    rules: list[Rule] = []
    seen_rules: set[str] = set()
    for index, rf in enumerate(parsed.policy.rules):
        key = f"policy.rules[{index}] ({rf.name})"
        if rf.name in seen_rules:
            fail(key, f"rule name {rf.name!r} is used twice; names identify rules in decisions")
        seen_rules.add(rf.name)
        approvals = rf.approvals
        if rf.verdict is Verdict.HOLD:
            approvals = 1 if approvals is None else approvals
            if approvals < 1:
                fail(f"{key}.approvals", "a hold needs at least 1 approval")
        elif approvals not in (None, 0):
            fail(f"{key}.approvals", f"only a hold takes approvals (verdict is {rf.verdict.value})")
        rules.append(Rule(
            name=rf.name, verdict=rf.verdict, approvals=approvals or 0, snapshot=rf.snapshot,
            reason=rf.reason, principal=_tuple(rf.principal), principal_kind=rf.principal_kind,
            environment=_tuple(rf.environment), production=rf.production,
            resource=_tuple(rf.resource), risk=_tuple(rf.risk), front=_tuple(rf.front),
            action=_tuple(rf.action)))

    store_url = None
    if parsed.store.url is not None:
        try:
            store_url = _secret_or_plain(parsed.store.url, "store.url", base)
        except ConfigError as exc:
            fail("store.url", exc.message)
    audit_key = None
    if parsed.audit.key is not None:
        try:
            audit_key = read_secret(env=parsed.audit.key.env, file=parsed.audit.key.file,
                                    where="audit.key", base_dir=base)
        except ConfigError as exc:
            fail("audit.key", exc.message)

    approval_settings = _build_approvals(parsed.approvals, base, fail)
    hook_settings = _build_hooks(parsed.hooks, principals, resources, base, fail)
    vault_settings = _build_vault(parsed, base, fail)

    if problems:
        raise ConfigError(f"{path}: invalid configuration\n" + "\n".join(problems))

    state_dir = Path(parsed.state_dir).expanduser()
    if not state_dir.is_absolute():
        state_dir = base / state_dir
    return Config(
        path=path, state_dir=state_dir.resolve(), local_environment=parsed.local_environment,
        environments=environments, resources=resources, principals=principals,
        rules=tuple(rules), builtin_rules=parsed.policy.builtin, store_url=store_url,
        audit_key=audit_key, approvals=approval_settings, hooks=hook_settings,
        vault=vault_settings)


def _build_vault(parsed: ConfigFile, base: Path, fail: Callable[[str, str], None]) -> VaultSettings:
    v = parsed.vault
    defaults = VaultSettings()
    retention = _duration(v.retention, "vault.retention", fail, least=timedelta(days=1),
                          most=timedelta(days=3650), default=defaults.retention)
    grace = _duration(v.grace, "vault.grace", fail, least=timedelta(minutes=1),
                      most=timedelta(days=90), default=defaults.grace)

    def secret(source: SecretSource | None, where: str) -> Secret | None:
        if source is None:
            return None
        try:
            return read_secret(env=source.env, file=source.file, where=where, base_dir=base)
        except ConfigError as exc:
            fail(where, exc.message)
            return None

    if v.path is not None and v.s3 is not None:
        fail("vault", "give either `path` (a local folder) or `s3` (a bucket), not both")
    path = None
    if v.path is not None:
        path = Path(v.path).expanduser()
        path = path if path.is_absolute() else base / path
    s3 = v.s3
    if s3 is not None and s3.endpoint_url is not None \
            and urlsplit(s3.endpoint_url).scheme not in ("http", "https"):
        fail("vault.s3.endpoint_url", f"{s3.endpoint_url!r} is not an http(s) URL")
    if s3 is not None and (s3.access_key_id is None) != (s3.secret_access_key is None):
        fail("vault.s3", "give both access_key_id and secret_access_key, or neither (boto3's "
             "usual credential chain)")
    per_resource: dict[str, ResourceVault] = {}
    for name, res in parsed.resources.items():
        where = f"resources.{name}"
        if res.soft_drop and res.kind != "postgres":
            fail(f"{where}.soft_drop", "soft drop is for postgres resources")
        res_grace = None if res.grace is None else _duration(
            res.grace, f"{where}.grace", fail, least=timedelta(minutes=1),
            most=timedelta(days=90), default=grace)
        schedule = None if res.backup_schedule is None else _duration(
            res.backup_schedule, f"{where}.backup_schedule", fail, least=timedelta(minutes=5),
            most=timedelta(days=90), default=timedelta(days=1))
        if res.soft_drop or res_grace is not None or schedule is not None:
            per_resource[name] = ResourceVault(res.soft_drop, res_grace, schedule)
    return VaultSettings(
        enabled=v.enabled, path=path, s3_bucket=s3.bucket if s3 else None,
        s3_prefix=s3.prefix if s3 else "airlock", s3_region=s3.region if s3 else None,
        s3_endpoint_url=s3.endpoint_url if s3 else None,
        s3_access_key_id=secret(s3.access_key_id, "vault.s3.access_key_id") if s3 else None,
        s3_secret_access_key=secret(s3.secret_access_key, "vault.s3.secret_access_key")
        if s3 else None,
        key=secret(v.key, "vault.key"), retention=retention, grace=grace,
        pg_bin=Path(v.pg_bin) if v.pg_bin else None, resources=per_resource)


def _build_hooks(parsed: HooksFile, principals: Mapping[str, PrincipalConfig],
                 resources: Mapping[str, Resource], base: Path,
                 fail: Callable[[str, str], None]) -> HookSettings:
    if parsed.principal is not None:
        principal = principals.get(parsed.principal)
        if principal is None:
            fail("hooks.principal", f"{parsed.principal!r} is not a declared principal (declared: "
                 f"{', '.join(sorted(principals)) or 'none'})")
        elif principal.kind is not PrincipalKind.AGENT:
            fail("hooks.principal", f"{parsed.principal!r} is a {principal.kind.value}; hooks act "
                 "for the agent, so name an agent principal")
    if not 0 <= parsed.wait_seconds <= MAX_HOOK_WAIT_SECONDS:
        fail("hooks.wait_seconds", f"{parsed.wait_seconds} is outside 0..{MAX_HOOK_WAIT_SECONDS} "
             "(agent harnesses give up on a hook after minutes)")
    allowed: list[str] = []
    for index, pattern in enumerate(parsed.allow_credential_reads):
        if not pattern.strip():
            fail(f"hooks.allow_credential_reads[{index}]", "an empty pattern allows nothing")
            continue
        if "/" not in pattern:
            allowed.append(pattern)  # a file name (glob), matched against the base name
            continue
        full = Path(pattern).expanduser()
        allowed.append(os.path.normpath(full if full.is_absolute() else base / full))
    for server, resource in parsed.mcp_resources.items():
        if resource not in resources:
            fail(f"hooks.mcp_resources.{server}", f"names {resource!r}, which is not a declared "
                 "resource")
    socket = None
    if parsed.socket is not None:
        socket = Path(parsed.socket).expanduser()
        socket = Path(os.path.normpath(socket if socket.is_absolute() else base / socket))
    if parsed.socket_group is not None:
        import grp

        try:
            grp.getgrnam(parsed.socket_group)
        except KeyError:
            fail("hooks.socket_group", f"there is no OS group {parsed.socket_group!r} on this machine")
        if parsed.socket is None:
            fail("hooks.socket_group", "also set hooks.socket: the agent's user cannot reach a "
                 "socket inside airlock's private state folder")
    return HookSettings(principal=parsed.principal, wait_seconds=parsed.wait_seconds,
                        ask_passthrough=parsed.ask_passthrough,
                        allow_credential_reads=tuple(allowed),
                        mcp_resources=dict(parsed.mcp_resources), socket=socket,
                        socket_group=parsed.socket_group)


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str, key: str, fail: Callable[[str, str], None], *,
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


def _build_approvals(parsed: ApprovalsFile, base: Path,
                     fail: Callable[[str, str], None]) -> ApprovalSettings:
    defaults = ApprovalSettings()
    # Bounds: a hold that waits days invites approving stale intent; seconds are unusable.
    ttl = _duration(parsed.ttl, "approvals.ttl", fail, least=timedelta(minutes=1),
                    most=timedelta(days=1), default=defaults.ttl)
    use_window = _duration(parsed.use_window, "approvals.use_window", fail,
                           least=timedelta(minutes=1), most=timedelta(days=1),
                           default=defaults.use_window)
    idle = _duration(parsed.console.session_idle, "approvals.console.session_idle", fail,
                     least=timedelta(minutes=1), most=timedelta(hours=24),
                     default=defaults.session_idle)
    most = _duration(parsed.console.session_max, "approvals.console.session_max", fail,
                     least=timedelta(minutes=1), most=timedelta(days=7),
                     default=defaults.session_max)
    key = None
    if parsed.key is not None:
        try:
            key = read_secret(env=parsed.key.env, file=parsed.key.file, where="approvals.key",
                              base_dir=base)
        except ConfigError as exc:
            fail("approvals.key", exc.message)
    public_url = parsed.console.public_url
    if public_url is not None:
        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            fail("approvals.console.public_url", f"{public_url!r} is not an http(s) URL")
        public_url = public_url.rstrip("/")
    webhooks: list[Webhook] = []
    for index, hook in enumerate(parsed.webhooks):
        where = f"approvals.webhooks[{index}].url"
        try:
            url = _secret_or_plain(hook.url, where, base)
        except ConfigError as exc:
            fail(where, exc.message)
            continue
        if urlsplit(url.reveal()).scheme not in ("http", "https"):
            fail(where, "a webhook URL must start with https:// (or http://)")
            continue
        webhooks.append(Webhook(url, hook.format))
    return ApprovalSettings(ttl=ttl, use_window=use_window, key=key, public_url=public_url,
                            session_idle=idle, session_max=most, webhooks=tuple(webhooks))


def _tuple(values: Sequence[Any] | None) -> tuple[Any, ...] | None:
    return tuple(values) if values is not None else None


def _secret_or_plain(value: SecretSource | str, where: str, base: Path) -> Secret:
    if isinstance(value, SecretSource):
        return read_secret(env=value.env, file=value.file, where=where, base_dir=base)
    # A plain string is accepted only when it carries no credential: config files get
    # committed, shared and pasted into chats.
    if urlsplit(value).password:
        raise ConfigError(f"{where}: the URL contains a password; move it into an environment "
                          f'variable or file: {where} = {{ env = "NAME" }}')
    return Secret(value, "config")


def _build_resource(name: str, res: ResourceFile, base: Path) -> Resource:
    where = f"resources.{name}"
    url = _secret_or_plain(res.url, f"{where}.url", base) if res.url is not None else None
    credential = None
    if res.credential is not None:
        credential = read_secret(env=res.credential.env, file=res.credential.file,
                                 where=f"{where}.credential", base_dir=base)
    selectors: list[str] = []
    paths: list[str] = []
    for selector in res.match:
        if ":" not in selector:
            raise ConfigError(f"{where}.match: selector {selector!r} must look like 'kind:value' "
                              "(for example 'railway:volume:4f2c…' or 'postgres:db.internal:5432/app')")
        selectors.append(selector)
    if res.kind in ("postgres", "mysql", "redis", "mongodb"):
        if url is None:
            raise ConfigError(f"{where}.url: a {res.kind} resource needs its connection URL "
                              f'(url = {{ env = "NAME" }})')
        selectors.append(database_selector(res.kind, url.reveal(), where))
    if res.kind in ("sqlite", "path"):
        if res.path is None:
            raise ConfigError(f"{where}.path: a {res.kind} resource needs `path`")
        resolved = Path(res.path).expanduser()
        if not resolved.is_absolute():
            resolved = base / resolved
        paths.append(os.path.normpath(resolved))
    if res.kind == "api":
        if res.base_url is None:
            raise ConfigError(f"{where}.base_url: an api resource needs the upstream's base URL")
        parts = urlsplit(res.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}.base_url: {res.base_url!r} is not an http(s) URL")
        selectors.append(f"url:{res.base_url.rstrip('/')}*")
        selectors.append(f"host:{parts.hostname.lower()}")
    return Resource(name=name, kind=res.kind, environment=res.environment,
                    selectors=tuple(selectors), paths=tuple(paths), stored_on=tuple(res.stored_on),
                    backs_up=tuple(res.backs_up), url=url, credential=credential,
                    base_url=res.base_url, description=res.description)


DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "redis": 6379, "mongodb": 27017}


def database_selector(kind: str, url: str, where: str = "url") -> str:
    """`kind:host:port/db` for a database URL, the form classifiers give database targets."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS[kind]
    except (ValueError, KeyError):
        raise ConfigError(f"{where}: cannot parse the {kind} connection URL") from None
    host = (parts.hostname or "localhost").lower()
    db = parts.path.lstrip("/") or "?"
    return f"{kind}:{host}:{port}/{db}"
