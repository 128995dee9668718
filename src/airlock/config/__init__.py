"""`airlock.toml`: found, parsed, validated and turned into typed settings at start-up.

One module per section, each with its strict file model, its typed settings and how one
becomes the other:

    base.py          Strict models, SecretSource, BuildContext (problems under dotted keys)
    environments.py  [environments]          resources.py  [resources.NAME]
    policy.py        [principals], [policy]  state.py      [store], [audit]
    approvals.py     [approvals]             hooks.py      [hooks]
    vault.py         [vault] (+ the vault keys of a resource)
    sections.py      [fronts.NAME]: the section each front brings (FrontSection, front_sections)
    settings.py      Config, what the rest of airlock reads
    loading.py       finding and parsing the file; building every section in order

Where the file is: `--config PATH`, else `$AIRLOCK_CONFIG`, else `./airlock.toml`, else no
file at all (built-in defaults: state in `./.airlock`, the built-in policy). A file that is named
but missing, malformed, or inconsistent stops airlock with an error that names the file, the key
and what was expected. Credentials are read here, once, so a missing variable is reported before
anything starts — and they stay wrapped in `Secret`.
"""

from __future__ import annotations

from airlock.config.approvals import ApprovalSettings, Webhook
from airlock.config.base import NAME_PATTERN, BuildContext, SecretSource, Strict
from airlock.config.environments import LOCAL_ENVIRONMENT, PRODUCTION_NAMES, Environment
from airlock.config.hooks import MAX_HOOK_WAIT_SECONDS, HookSettings
from airlock.config.loading import (
    CONFIG_ENV,
    DEFAULT_CONFIG_NAME,
    DEFAULT_STATE_DIR,
    ConfigFile,
    config_from_mapping,
    find_config,
    load_config,
)
from airlock.config.policy import PrincipalConfig, Rule
from airlock.config.resources import Resource, database_selector
from airlock.config.sections import FrontSection, front_sections
from airlock.config.settings import Config
from airlock.config.vault import ResourceVault, VaultSettings

__all__ = [
    "CONFIG_ENV", "DEFAULT_CONFIG_NAME", "DEFAULT_STATE_DIR", "LOCAL_ENVIRONMENT",
    "MAX_HOOK_WAIT_SECONDS", "NAME_PATTERN", "PRODUCTION_NAMES", "ApprovalSettings",
    "BuildContext", "Config", "ConfigFile", "Environment", "FrontSection", "HookSettings",
    "PrincipalConfig", "Resource", "ResourceVault", "Rule", "SecretSource", "Strict",
    "VaultSettings", "Webhook", "config_from_mapping", "database_selector", "find_config",
    "front_sections", "load_config",
]
