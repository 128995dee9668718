"""Reading secrets is an action too: credential files, airlock's own files, and files with keys in.

The incident that started airlock began with a read: an agent found a cloud token in a file it
had no reason to open. So a file read (Claude's Read, Cursor's beforeReadFile, Gemini's
read_file, …) is classified like any other action, and reading a credential is judged by what
the credential unlocks — everything it reaches — which is why such a read carries the risk
`catastrophic`, tagged `Guard.CREDENTIAL`: `CREDENTIAL_FILES_RULE` turns that into a deny for
agents, whatever the tool (guards.py applies the same judgement to every other front); a
person lets agents read a specific file by listing it under `[hooks] allow_credential_reads`.

A file is a credential when
- its name says so: `.env*` (templates such as `.env.example` are only content-checked),
  `*.pem`, `*.key`, `id_*` private keys, `.netrc`, `.pgpass`, kube configs, Terraform state, …;
- it lives where credentials live: `~/.aws`, `~/.ssh` (public keys and `known_hosts` aside),
  `~/.kube`, `~/.config/gcloud`, `~/.azure`, `~/.railway`, `~/.docker/config.json`, …;
- detect-secrets' detectors find a key in it (AWS, GitHub, Slack, Stripe, private keys, JWTs, …).

airlock's own files (`guards.AirlockPlaces`: state folder, keys, configuration, vault, hooks
socket, installed code, the harness settings holding its hooks) are off limits in every
direction: reading them exposes the audit key, writing them changes the agent's own policy.

The same judgement serves every front: the Read tool's path here, and — through `guards.py` —
`cat .env`, `tar c ~/.ssh`, an MCP tool's `path` argument or a `file://` URL. Effects it finds
carry a `Guard` tag; `policy.GUARD_RULES` denies them to agents.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airlock import pathnames
from airlock.classify.files import classify_file, file_deletion
from airlock.config import Config
from airlock.model import (
    Assessment,
    Effect,
    FileAccess,
    Guard,
    Risk,
    Target,
    Verb,
)
from airlock.policy import GUARD_RULES

if TYPE_CHECKING:
    from airlock.guards import AirlockPlaces

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

# Every process's environment, read as a file.
_ENVIRON_FILES = ("/proc/*/environ", "/proc/*/task/*/environ")

MAX_SCAN_BYTES = 1024 * 1024  # larger files are scanned in their first MiB only
MAX_PATH_CHARS = 4096  # longer text is not judged as a path
MAX_GLOB_MATCHES = 2000  # a read of more files than this cannot be checked: unknown
MAX_CONTENT_SCANS = 200  # content scans per action; the rest count as unknown
_GLOB_CHARS = "*?["


@dataclass(frozen=True, slots=True)
class FileRules:
    """What the configuration adds: credential files agents may read, and airlock's own files
    — `protected` ones (state, keys, configuration) may not be read or changed, `guarded` ones
    (installed code, harness settings: `guards.AirlockPlaces`) may be read but not changed, and
    `guarded_tails` are settings files that hold airlock's hooks in any project folder."""

    allowed: tuple[str, ...] = ()  # file-name globs, or absolute path globs
    protected: tuple[str, ...] = ()
    guarded: tuple[str, ...] = ()
    guarded_tails: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)  # place → what it is, for messages
    resources: tuple[tuple[str, str], ...] = ()  # (name, path) of resources that are files

    @classmethod
    def from_config(cls, config: Config) -> FileRules:
        from airlock.guards import AirlockPlaces

        return cls.of(config, AirlockPlaces.of(config))

    @classmethod
    def of(cls, config: Config, places: AirlockPlaces) -> FileRules:
        protected = tuple(p for (p, _), s in zip(places.roots, places.secret, strict=True) if s)
        guarded = tuple(p for (p, _), s in zip(places.roots, places.secret, strict=True)
                        if not s)
        resources = tuple((r.name, p) for r in config.resources.values() for p in r.paths)
        return cls(tuple(config.hooks.allow_credential_reads), protected, guarded,
                   places.tails, dict(places.roots), resources)

    def is_allowed(self, path: str) -> bool:
        name = os.path.basename(path)
        return any(fnmatch.fnmatchcase(path, p) if "/" in p else fnmatch.fnmatchcase(name, p)
                   for p in self.allowed)

    def is_protected(self, path: str) -> bool:
        return self.protection(path, changes=False) is not None

    def protection(self, path: str, *, changes: bool) -> str | None:
        """What of airlock's `path` is or lies in (None: nothing), for a read (`changes` False:
        only the protected places count) or a change (every place counts)."""
        for root in self.protected + (self.guarded if changes else ()):
            if pathnames.within(path, root):
                return self.names.get(root, "one of airlock's own files (its state, keys or "
                                            "configuration)")
        if changes:
            for tail in self.guarded_tails:
                if path.endswith("/" + tail):
                    return f"a settings file that holds airlock's hooks ({tail})"
        return None


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
        paths, complete_glob = expand(path)
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
        if access.delete:
            effect = write_effect(one, rules, target, Verb.DELETE)
        elif access.write:
            effect = write_effect(one, rules, target)
        else:
            effect = read_effect(one, rules, target, budget)
        if effect is not None:
            complete = complete and effect.risk is not Risk.UNKNOWN
            effects.append(effect)
    return Assessment.of(effects, classifier="files", complete=complete)


def absolute_path(path: str, cwd: str | None) -> str:
    return pathnames.absolute(path, cwd)


def read_effect(path: str, rules: FileRules, target: Target, budget: list[int], *,
                content: bool = True, verb: Verb = Verb.READ) -> Effect | None:
    """The guard effect of reading `path` (None: an ordinary file). A symlink counts as what it
    points to too: every name on the way must be allowed, not just the first. `content=False`
    judges the name and place only (the program may not open it as a file at all)."""
    names = _with_real_path(path)
    for name in names:
        what = rules.protection(name, changes=verb is not Verb.READ)
        if what is not None:
            via = f" (it leads to {name})" if name != path else ""
            return Effect(verb, Risk.CATASTROPHIC, f"{_verbed(verb)} {path}{via}, one of "
                          f"airlock's own files ({what})", target, "file", guard=Guard.AIRLOCK)
    for name in names:
        why = credential_why(name)
        if why is not None and not rules.is_allowed(name):
            via = f" (it leads to {name})" if name != path else ""
            return Effect(Verb.READ, Risk.CATASTROPHIC, f"reads {path}{via}, {why}", target,
                          "file", guard=Guard.CREDENTIAL)
    if not content or all(rules.is_allowed(name) for name in names):
        return None
    if budget[0] <= 0:
        return Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"{path} was not checked for credentials "
                      "(too many files in one read)", target, "file")
    budget[0] -= 1
    found = scan_for_secrets(path)
    if found:
        return Effect(Verb.READ, Risk.CATASTROPHIC, f"reads {path}, a credential file: it "
                      f"contains {found}", target, "file", guard=Guard.CREDENTIAL)
    return None


def write_effect(path: str, rules: FileRules, target: Target,
                 verb: Verb = Verb.WRITE) -> Effect | None:
    """Writing (or deleting, moving over, linking) `path`: airlock's own files are guarded;
    overwriting a credential loses it (destructive, held)."""
    names = _with_real_path(path)
    for name in names:
        what = rules.protection(name, changes=True)
        if what is not None:
            via = f" (it leads to {name})" if name != path else ""
            return Effect(verb, Risk.CATASTROPHIC, f"{_verbed(verb)} {path}{via}, one of "
                          f"airlock's own files ({what})", target, "file", guard=Guard.AIRLOCK)
    deleting = verb is Verb.DELETE
    for name in names:
        why = credential_why(name)
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


_VERBED = {Verb.READ: "reads", Verb.WRITE: "writes", Verb.DELETE: "deletes",
           Verb.DESTROY: "destroys", Verb.EXECUTE: "runs", Verb.UNKNOWN: "uses"}


def _verbed(verb: Verb) -> str:
    return _VERBED.get(verb, "uses")


def credential_why(path: str) -> str | None:
    """Why the file at absolute `path` is a credential by its name or place, or None."""
    if path.startswith("/proc/") and any(fnmatch.fnmatchcase(path, p) for p in _ENVIRON_FILES):
        return "a process's environment, with every credential in it"
    return _credential_by_name(path)


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
    if _TEMPLATE_NAME.match(name):
        return None
    if _CREDENTIAL_NAME.match(name):
        return f"a credential file (by its name, {os.path.basename(path)})"
    if name.startswith(_SSH_KEY_TYPES) and not name.endswith(".pub") and "." not in name:
        return f"a credential file (an SSH private key, {os.path.basename(path)})"
    return None


# The name globs as one pattern each: a whole tree's names are checked one by one.
_TEMPLATE_NAME = re.compile("|".join(fnmatch.translate(t) for t in _TEMPLATE_NAMES))
_CREDENTIAL_NAME = re.compile("|".join(fnmatch.translate(n) for n in _CREDENTIAL_NAMES))


def _within(inner: str, outer: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def _with_real_path(path: str) -> list[str]:
    """The path and, when a symlink leads elsewhere, where it leads: a link named notes.txt
    that points at ~/.aws/credentials is a credential."""
    return list(pathnames.names(path, None))


def expand(pattern: str, *, hidden: bool = True) -> tuple[list[str], bool]:
    """The files a glob matches, at most MAX_GLOB_MATCHES (False: there were more)."""
    matches: list[str] = []
    for match in glob.iglob(pattern, recursive=True, include_hidden=hidden):
        matches.append(os.path.normpath(match))
        if len(matches) > MAX_GLOB_MATCHES:
            return matches[:MAX_GLOB_MATCHES], False
    return matches, True


MAX_WALK_ENTRIES = 20_000  # names looked at per recursive read; more is "cannot tell"
# Folders of other people's code and of build output, not walked when a whole tree is read:
# they hold no credential of the user's (and an agent cannot put one there without reading
# it first, which is guarded), and walking them would make every search of a JS or Python
# project "too large to check".
DEPENDENCY_FOLDERS = frozenset({
    "node_modules", "bower_components", "jspm_packages", ".git", ".hg", ".svn", ".venv",
    "venv", "site-packages", "dist-packages", "__pycache__", ".tox", ".nox", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".next", ".nuxt", ".svelte-kit", ".turbo", ".parcel-cache",
    ".gradle", ".cargo", "target", "vendor", "Pods", "DerivedData", ".terraform",
})


def credential_places(home: str | None = None) -> list[str]:  # where credentials live
    """The credential folders and files of the home folder (`~/.aws`, `~/.ssh`, …)."""
    home = home or os.path.expanduser("~")
    return [os.path.join(home, folder) for folder, _ in _CREDENTIAL_DIRS] + \
        [os.path.join(home, rel) for rel in _CREDENTIAL_HOME_FILES]


def credentials_below(folder: str, rules: FileRules, budget: list[int], *, hidden: bool = True,
                      exclude: tuple[str, ...] = ()) -> tuple[str | None, bool]:
    """A credential file (by name or place) somewhere below `folder`, found by walking it with
    at most `budget[0]` names looked at; (found, complete). Hidden entries are skipped when
    `hidden` is False (rg's default), folders whose names match `exclude` always."""
    for place in credential_places():
        if os.path.lexists(place) and _within(place, folder) and place != folder and \
                (hidden or not _hidden_below(place, folder)) and not rules.is_allowed(place):
            return place, True
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except (OSError, ValueError):
            continue
        for entry in entries:
            budget[0] -= 1
            if budget[0] < 0:
                return None, False
            if not hidden and entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name not in DEPENDENCY_FOLDERS and \
                        not any(fnmatch.fnmatchcase(entry.name, x) for x in exclude):
                    stack.append(entry.path)
                continue
            path = entry.path
            if credential_why(path) is not None and not rules.is_allowed(path):
                return path, True
    return None, True


def _hidden_below(path: str, folder: str) -> bool:
    rel = os.path.relpath(path, folder)
    return any(part.startswith(".") and part not in (".", "..") for part in rel.split(os.sep))


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


def looks_like_secret(text: str) -> bool:
    """Does `text` (a variable's value) match one of detect-secrets' key formats?"""
    return _load_prefilter().search(text) is not None


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
