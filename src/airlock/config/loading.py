"""Finding `airlock.toml`, parsing it, and building `Config` section by section.

Where the file is: `--config PATH`, else `$AIRLOCK_CONFIG`, else `./airlock.toml`, else no
file at all (built-in defaults: state in `./.airlock`, the built-in policy). A file that is named
but missing, malformed, or inconsistent stops airlock with an error that names the file, the key
and what was expected. Every problem is collected first, then all are reported at once.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, create_model

from airlock.config.approvals import ApprovalsFile, build_approvals
from airlock.config.base import NAME_PATTERN, BuildContext, Strict
from airlock.config.environments import LOCAL_ENVIRONMENT, EnvironmentFile, build_environments
from airlock.config.hooks import HooksFile, build_hooks
from airlock.config.policy import PolicyFile, PrincipalFile, build_principals, build_rules
from airlock.config.resources import ResourceFile, build_resources
from airlock.config.sections import front_sections
from airlock.config.settings import Config
from airlock.config.state import AuditFile, StoreFile, build_audit_key, build_store_url
from airlock.config.vault import VaultFile, build_vault
from airlock.errors import ConfigError

CONFIG_ENV = "AIRLOCK_CONFIG"
DEFAULT_CONFIG_NAME = "airlock.toml"
DEFAULT_STATE_DIR = ".airlock"


class ConfigFile(Strict):
    """The file's top level: airlock's own sections (a front's come in `[fronts]`)."""

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


@cache
def config_schema() -> type[ConfigFile]:
    """`ConfigFile` with `[fronts]` holding each registered front's section."""
    fronts: dict[str, Any] = {section.name: (section.model, Field(default_factory=section.model))
                              for section in front_sections()}
    fronts_model: type[BaseModel] = create_model("FrontsFile", __base__=Strict, **fronts)
    return create_model("ConfigFile", __base__=ConfigFile,
                        fronts=(fronts_model, Field(default_factory=fronts_model)))


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
        parsed = config_schema().model_validate(raw)
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
    ctx = BuildContext(path)

    name_re = re.compile(NAME_PATTERN)
    for section in ("environments", "resources", "principals"):
        for name in getattr(parsed, section):
            if not name_re.match(name):
                ctx.fail(f"{section}.{name}", "names use letters, digits, '.', '_' and '-' "
                         "(at most 63 characters)")

    ctx.environments = build_environments(parsed.environments)
    known_envs = set(ctx.environments) | {parsed.local_environment}
    ctx.resources = build_resources(parsed.resources, known_envs, ctx)
    ctx.principals = build_principals(parsed.principals)
    rules = build_rules(parsed.policy.rules, ctx)
    store_url = build_store_url(parsed.store, ctx)
    audit_key = build_audit_key(parsed.audit, ctx)
    approval_settings = build_approvals(parsed.approvals, ctx)
    hook_settings = build_hooks(parsed.hooks, ctx)
    vault_settings = build_vault(parsed.vault, parsed.resources, ctx)
    fronts_file = getattr(parsed, "fronts")  # noqa: B009  (added by config_schema)
    fronts = {section.name: section.build(getattr(fronts_file, section.name),
                                          ctx.within(f"fronts.{section.name}"))
              for section in front_sections()}

    if ctx.problems:
        raise ConfigError(f"{path}: invalid configuration\n" + "\n".join(ctx.problems))

    state_dir = Path(parsed.state_dir).expanduser()
    if not state_dir.is_absolute():
        state_dir = path.parent / state_dir
    return Config(
        path=path, state_dir=state_dir.resolve(), local_environment=parsed.local_environment,
        environments=ctx.environments, resources=ctx.resources, principals=ctx.principals,
        rules=rules, builtin_rules=parsed.policy.builtin,
        broad_write_fraction=parsed.policy.broad_write_fraction, store_url=store_url,
        audit_key=audit_key, approvals=approval_settings, hooks=hook_settings,
        vault=vault_settings, fronts=fronts)
