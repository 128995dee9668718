"""Reading secrets is an action too: credential files, airlock's own files, and files with keys in.

The incident that started airlock began with a read: an agent found a cloud token in a file it
had no reason to open. So a file read (Claude's Read, Cursor's beforeReadFile, Gemini's
read_file, …) is classified like any other action, and reading a credential is judged by what
the credential unlocks — everything it reaches — which is why such a read carries the risk
`catastrophic`. `CREDENTIAL_FILES_RULE` turns that into a deny for file actions; a person lets
agents read a specific file by listing it under `[hooks] allow_credential_reads`.

A file is a credential when
- its name says so: `.env*` (templates such as `.env.example` are only content-checked),
  `*.pem`, `*.key`, `id_*` private keys, `.netrc`, `.pgpass`, kube configs, Terraform state, …;
- it lives where credentials live: `~/.aws`, `~/.ssh` (public keys and `known_hosts` aside),
  `~/.kube`, `~/.config/gcloud`, `~/.azure`, `~/.railway`, `~/.docker/config.json`, …;
- detect-secrets' detectors find a key in it (AWS, GitHub, Slack, Stripe, private keys, JWTs, …).

airlock's own state folder and configuration file are off limits in both directions: reading
them exposes the audit key, writing them changes the agent's own policy.

Cost: detect-secrets takes ~0.1–0.3 s to import and tens of milliseconds to scan a source file,
which an agent would feel on every read. So its detectors' own patterns are compiled once into a
single prefilter (about a millisecond over a typical file) and the full detect-secrets scan runs
only on a file the prefilter flags. Nothing here is imported until a file action is classified;
`warm()` lets a long-running process pay the import up front.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from airlock.classify.files import classify_file, file_deletion
from airlock.config import Config
from airlock.model import (
    Assessment,
    Effect,
    FileAccess,
    Risk,
    Target,
    Verb,
)
from airlock.policy import GUARD_RULES

# The deny itself is a policy rule that comes before any configured rule.
CREDENTIAL_FILES_RULE = GUARD_RULES[0]

# File names (matched case-insensitively against the base name).
_CREDENTIAL_NAMES = (
    ".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore",
    "*.ppk", "*.kdbx", ".netrc", "_netrc", ".pgpass", ".git-credentials", ".npmrc", ".pypirc",
    ".dockercfg", ".vault-token", ".htpasswd", "htpasswd", "credentials", "credentials.json",
    "application_default_credentials.json", "service-account*.json", "*.tfstate",
    "*.tfstate.backup", "*.tfvars", "kubeconfig", "kubeconfig.*", "*.kubeconfig",
)
# Names that look like credentials but are templates by convention: only their contents count.
_TEMPLATE_NAMES = (".env.example", ".env.sample", ".env.template", ".env.dist", ".env.defaults",
                   "*.tfvars.example")
_SSH_KEY_TYPES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk")
# Folders under the home directory where everything is a credential, with the exceptions.
_CREDENTIAL_DIRS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (".aws", ("config",)),
    (".ssh", ("*.pub", "known_hosts", "known_hosts.*", "config", "authorized_keys")),
    (".kube", ()),
    (".config/gcloud", ()),
    (".azure", ()),
    (".railway", ()),
    (".config/railway", ()),
    (".gnupg", ("*.conf",)),
    (".password-store", ()),
    (".terraform.d", ("plugin-cache",)),
    (".config/gh", ("config.yml",)),
    (".fly", ()),
    (".config/doctl", ()),
)
_CREDENTIAL_HOME_FILES = (".docker/config.json",)

MAX_SCAN_BYTES = 1024 * 1024  # larger files are scanned in their first MiB only
MAX_GLOB_MATCHES = 2000  # a read of more files than this cannot be checked: unknown
MAX_CONTENT_SCANS = 200  # content scans per action; the rest count as unknown
_GLOB_CHARS = "*?["


@dataclass(frozen=True, slots=True)
class FileRules:
    """What the configuration adds: credential files agents may read, and airlock's own files."""

    allowed: tuple[str, ...] = ()  # file-name globs, or absolute path globs
    protected: tuple[str, ...] = ()  # absolute paths of airlock's state folder and config file
    resources: tuple[tuple[str, str], ...] = ()  # (name, path) of resources that are files

    @classmethod
    def from_config(cls, config: Config) -> FileRules:
        protected = [str(config.state_dir)]
        if config.path is not None:
            protected.append(str(config.path.resolve()))
        resources = tuple((r.name, p) for r in config.resources.values() for p in r.paths)
        return cls(tuple(config.hooks.allow_credential_reads), tuple(protected), resources)

    def is_allowed(self, path: str) -> bool:
        name = os.path.basename(path)
        return any(fnmatch.fnmatchcase(path, p) if "/" in p else fnmatch.fnmatchcase(name, p)
                   for p in self.allowed)

    def is_protected(self, path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.protected)


def classify_file_access(access: FileAccess, *, cwd: str | None,
                         rules: FileRules | None = None) -> Assessment:
    """A read, write or deletion of `access.path` (relative to `cwd`), with credential effects
    added."""
    rules = rules or FileRules()
    path = absolute_path(access.path, cwd)
    if access.delete:
        effects = file_deletion(path, resources=rules.resources)
    else:
        effects = list(classify_file(path, write=access.write).effects)
    complete = not any(e.risk is Risk.UNKNOWN for e in effects)
    if any(c in path for c in _GLOB_CHARS):
        paths, complete_glob = _expand(path)
        complete = complete and complete_glob
        if not complete_glob:
            effects.append(Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"{path} matches more than "
                                  f"{MAX_GLOB_MATCHES} files; airlock cannot check them all",
                                  Target("path", path, contextual=True), "files"))
    else:
        paths = [path]
    budget = [MAX_CONTENT_SCANS]
    for one in paths:
        target = Target("path", one, contextual=True)
        if access.write or access.delete:
            effect = _write_effect(one, rules, target, deleting=access.delete)
        else:
            effect = _read_effect(one, rules, target, budget)
        if effect is not None:
            complete = complete and effect.risk is not Risk.UNKNOWN
            effects.append(effect)
    return Assessment.of(effects, classifier="files", complete=complete)


def absolute_path(path: str, cwd: str | None) -> str:
    expanded = os.path.expanduser(path)
    if not os.path.isabs(expanded):
        expanded = os.path.join(cwd or os.getcwd(), expanded)
    return os.path.normpath(expanded)


def _read_effect(path: str, rules: FileRules, target: Target, budget: list[int]) -> Effect | None:
    """The credential effect of reading `path` (None: an ordinary file). A symlink counts as
    what it points to too: every name on the way must be allowed, not just the first."""
    names = _with_real_path(path)
    if any(rules.is_protected(name) for name in names):
        return Effect(Verb.READ, Risk.CATASTROPHIC, f"reads {path}, one of airlock's own files "
                      "(its state, keys or configuration)", target, "file")
    for name in names:
        why = _credential_by_name(name)
        if why is not None and not rules.is_allowed(name):
            via = f" (it leads to {name})" if name != path else ""
            return Effect(Verb.READ, Risk.CATASTROPHIC, f"reads {path}{via}, {why}", target,
                          "file")
    if all(rules.is_allowed(name) for name in names):
        return None
    if budget[0] <= 0:
        return Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"{path} was not checked for credentials "
                      "(too many files in one read)", target, "file")
    budget[0] -= 1
    found = scan_for_secrets(path)
    if found:
        return Effect(Verb.READ, Risk.CATASTROPHIC, f"reads {path}, a credential file: it "
                      f"contains {found}", target, "file")
    return None


def _write_effect(path: str, rules: FileRules, target: Target, *,
                  deleting: bool = False) -> Effect | None:
    names = _with_real_path(path)
    does = "deletes" if deleting else "writes"
    if any(rules.is_protected(name) for name in names):
        return Effect(Verb.DELETE if deleting else Verb.WRITE, Risk.CATASTROPHIC,
                      f"{does} {path}, one of airlock's own files (its state or configuration)",
                      target, "file")
    for name in names:
        why = _credential_by_name(name)
        if why is not None:
            return Effect(Verb.DESTROY, Risk.DESTRUCTIVE, f"{'deletes' if deleting else 'overwrites'}"
                          f" {path}, {why}; the {'' if deleting else 'old '}credential is lost",
                          target, "file")
    return None


def credential_by_name(path: str, home: str | None = None) -> str | None:
    """Why `path` is a credential file by its name or location, or None. `home` is the home
    folder the locations are under (default: this process's); a scan of another user's files
    passes theirs."""
    return _credential_by_name(path, home)


def _credential_by_name(path: str, home: str | None = None) -> str | None:
    name = os.path.basename(path).lower()
    home = home or os.path.expanduser("~")
    rel = os.path.relpath(path, home) if _within(path, home) else None
    if rel is not None:
        for folder, exceptions in _CREDENTIAL_DIRS:
            if _within(rel, folder) and not any(fnmatch.fnmatchcase(name, e) for e in exceptions):
                return f"a credential file (everything in ~/{folder} is)"
        if rel in _CREDENTIAL_HOME_FILES:
            return f"a credential file (~/{rel})"
    if any(fnmatch.fnmatchcase(name, t) for t in _TEMPLATE_NAMES):
        return None
    if any(fnmatch.fnmatchcase(name, n) for n in _CREDENTIAL_NAMES):
        return f"a credential file (by its name, {os.path.basename(path)})"
    if name.startswith(_SSH_KEY_TYPES) and not name.endswith(".pub") and "." not in name:
        return f"a credential file (an SSH private key, {os.path.basename(path)})"
    return None


def _within(inner: str, outer: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def _with_real_path(path: str) -> list[str]:
    """The path and, when a symlink leads elsewhere, where it leads: a link named notes.txt
    that points at ~/.aws/credentials is a credential."""
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return [path]
    return [path] if real == path else [path, real]


def _expand(pattern: str) -> tuple[list[str], bool]:
    matches: list[str] = []
    for match in glob.iglob(pattern, recursive=True, include_hidden=True):
        matches.append(os.path.normpath(match))
        if len(matches) > MAX_GLOB_MATCHES:
            return matches[:MAX_GLOB_MATCHES], False
    return matches, True


# --------------------------------------------------------------------------------------------
# Content: detect-secrets' detectors


# The detectors worth their cost on every read: specific key formats. Left out: the entropy
# and keyword detectors (they flag test fixtures and hashes everywhere) and a few vendor
# detectors whose patterns cost milliseconds per file for keys almost nobody holds.
DETECTORS = (
    "AWSKeyDetector", "AzureStorageKeyDetector", "BasicAuthDetector", "DiscordBotTokenDetector",
    "GitHubTokenDetector", "GitLabTokenDetector", "JwtTokenDetector", "MailchimpDetector",
    "NpmDetector", "OpenAIDetector", "PrivateKeyDetector", "PypiTokenDetector",
    "SendGridDetector", "SlackDetector", "SquareOAuthDetector", "StripeDetector",
    "TelegramBotTokenDetector", "TwilioKeyDetector",
)

_lock = threading.Lock()
_prefilter: re.Pattern[str] | None = None


def warm() -> None:
    """Import detect-secrets and compile the prefilter now rather than on the first read."""
    _load_prefilter()


def _load_prefilter() -> re.Pattern[str]:
    global _prefilter
    with _lock:
        if _prefilter is None:
            from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

            patterns: list[str] = []
            plugins: list[Any] = list(get_mapping_from_secret_type_to_class().values())
            for plugin in plugins:
                if plugin.__name__ in DETECTORS:
                    patterns.extend(p.pattern for p in getattr(plugin, "denylist", ()))
            # MULTILINE: the detectors run line by line, so ^ and $ mean line ends here too.
            # Across lines the combined search can only match more, never less.
            _prefilter = re.compile("|".join(f"(?:{p})" for p in patterns), re.MULTILINE)
        return _prefilter


def scan_for_secrets(path: str) -> str | None:
    """What kind of secret detect-secrets finds in the file at `path`, or None. Files that are
    missing, unreadable, not regular or binary hold nothing to find (the read will fail or
    show no key); a file too large to scan whole is judged by its first MiB."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            return None
        with open(path, "rb") as handle:
            head = handle.read(MAX_SCAN_BYTES)
    except (OSError, ValueError):
        return None
    if b"\0" in head[:8192]:
        return None
    text = head.decode("utf-8", "replace")
    if _load_prefilter().search(text) is None:
        return None
    if info.st_size > MAX_SCAN_BYTES:
        return "what looks like a key (in its first MiB; too large to confirm)"
    return _confirm(path) or None


def _confirm(path: str) -> str:
    """Run detect-secrets itself (with its false-positive filters) on a file the prefilter
    flagged. Its settings are process-global, hence the lock."""
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import transient_settings

    with _lock, transient_settings({"plugins_used": [{"name": n} for n in DETECTORS]}):
        found = _types(scan_file(path))
    return ", ".join(sorted(found))


def _types(secrets: Iterable[object]) -> set[str]:
    return {str(getattr(s, "type", "a secret")) for s in secrets}
