"""`airlock.toml`: found, parsed, validated and turned into typed settings at start-up.

Where the file is: `--config PATH`, else `$AIRLOCK_CONFIG`, else `./airlock.toml`, else no
file at all (built-in defaults: state in `./.airlock`, the built-in policy). A file that is named
but missing, malformed, or inconsistent stops airlock with an error that names the file, the key
and what was expected. Credentials are read here, once, so a missing variable is reported before
anything starts — and they stay wrapped in `Secret`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


class ConfigFile(_Strict):
    state_dir: str = DEFAULT_STATE_DIR
    local_environment: str = LOCAL_ENVIRONMENT
    store: StoreFile = Field(default_factory=StoreFile)
    audit: AuditFile = Field(default_factory=AuditFile)
    environments: dict[str, EnvironmentFile] = Field(default_factory=dict)
    resources: dict[str, ResourceFile] = Field(default_factory=dict)
    principals: dict[str, PrincipalFile] = Field(default_factory=dict)
    policy: PolicyFile = Field(default_factory=PolicyFile)


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

    if problems:
        raise ConfigError(f"{path}: invalid configuration\n" + "\n".join(problems))

    state_dir = Path(parsed.state_dir).expanduser()
    if not state_dir.is_absolute():
        state_dir = base / state_dir
    return Config(
        path=path, state_dir=state_dir.resolve(), local_environment=parsed.local_environment,
        environments=environments, resources=resources, principals=principals,
        rules=tuple(rules), builtin_rules=parsed.policy.builtin, store_url=store_url,
        audit_key=audit_key)


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
