"""Guards: what an action reaches, judged whatever the front or tool — after classification.

Two things are never an agent's, whatever the configured rules say:

- **credentials**: files (`.env`, `~/.aws/credentials`, SSH keys, files with keys in them —
  `classify/secrets_files.py`), the variables that hold them (`$AWS_SECRET_ACCESS_KEY`,
  `printenv RAILWAY_TOKEN`, the variables `airlock.toml` takes credentials from) and the whole
  environment (`env`, `export -p`, `/proc/*/environ`, `os.environ`) — reading them is denied;
- **what airlock depends on** (`AirlockPlaces`): its configuration, state folder and keys,
  vault, hooks socket, installed package and the virtualenv it runs from, and the harness
  settings files that hold its hooks — reading, writing, moving, deleting or replacing them
  (symlink, rename over) is denied.

Classifiers say what an action does; they also name what it touches (`Assessment.touches`:
every file operand of every command, `< file`, `$VAR`, `env`) and what it changes (effects on
`path:` targets). `Guards.effects` turns whatever of that is a credential or airlock's into
effects tagged with a `Guard`, for every kind of action: the Read tool (judged in
`classify_file_access` with the same rules), a shell command at any depth (`bash -c`, `sudo`,
`xargs`, `ssh`), an MCP tool's arguments (paths, and the shell command it carries), an HTTP
request for a `file://` URL. `policy.GUARD_RULES` deny those effects to agents before scope and
before any configured rule.

Paths are resolved first (`pathnames`: working directory, `~`, `..`, symlinks), globs are
expanded, and a folder read or changed as a whole contains what lies below it (`grep -r x .`
reaches `./.env` and `./.airlock`; `rm -rf .` reaches `./.airlock`). A path only partly known
(`cat ~/.ssh/$KEY`) cannot be checked, so near a protected place it is unknown (held) rather
than allowed. What the guards cannot see: paths computed entirely at run time (`xargs cat` of
another program's output), files a program opens by itself (`npm run dev` reading `.env`), and
anything done by code airlock never sees. Those are what running airlock as its own OS user is
for (docs/architecture.md, "What an agent on the same machine can and cannot forge").
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from airlock import pathnames
from airlock.classify import secrets_files
from airlock.classify.secrets_files import FileRules
from airlock.config import Config
from airlock.model import (
    Action,
    Assessment,
    Effect,
    FileAccess,
    Guard,
    HttpRequest,
    McpCall,
    Risk,
    Target,
    Touch,
    Verb,
)
from airlock.secrets import Secret

# Effects on a folder as a whole (`rm -r`, `chmod -R`): what lies below is reached too.
RECURSIVE_SCOPES = frozenset({"directory", "filesystem", "volume", "worktree", "tree"})
MAX_CWDS = 8  # folders a command may cd into that relative paths are judged against
MAX_MCP_STRINGS = 256  # string arguments of one MCP call judged as paths; more is unknown
MAX_MCP_DEPTH = 8

# Settings files of a project (any folder) that hold a harness's hooks, or turn them off
# (Claude Code's `disableAllHooks`, Codex's `[features] codex_hooks`, Gemini's
# `tools.enableHooks`). The user-level ones are under the home folder, from install.py.
PROJECT_SETTINGS = (".claude/settings.json", ".claude/settings.local.json", ".cursor/hooks.json",
                    ".codex/hooks.json", ".codex/config.toml", ".gemini/settings.json")
USER_SETTINGS_EXTRA = (".codex/config.toml",)
MANAGED_SETTINGS = ("/etc/claude-code/managed-settings.json",
                    "/Library/Application Support/ClaudeCode/managed-settings.json")


# --------------------------------------------------------------------------------------------
# What airlock depends on


@dataclass(frozen=True, slots=True)
class AirlockPlaces:
    """Absolute paths of what airlock depends on, each with what it is (for messages), and the
    settings files that hold its hooks in any project folder.

    `secret` places (configuration, state, keys, vault, credential files) may not even be
    read; the others (installed code, virtualenv, hooks socket, harness settings) may be read —
    reading code or settings changes nothing and reveals nothing — but never changed."""

    roots: tuple[tuple[str, str], ...]
    secret: tuple[bool, ...] = ()
    tails: tuple[str, ...] = PROJECT_SETTINGS

    @classmethod
    def of(cls, config: Config, *, home: str | None = None) -> AirlockPlaces:
        home = home or os.path.expanduser("~")
        roots: list[tuple[str, str]] = []
        secret: list[bool] = []

        def add(path: str | Path | None, what: str, hidden: bool) -> None:
            if path is None:
                return
            for name in pathnames.names(str(path), None):
                if (name, what) not in roots:
                    roots.append((name, what))
                    secret.append(hidden)

        if config.path is not None:
            # It holds no credential (they are `{ env }` / `{ file }` references and a URL with
            # a password is refused) — unless a secret such as a webhook URL is written in it.
            # So a search of the project may read it; nothing may change it.
            add(config.path, "airlock's configuration file",
                any(secret.source == "config" and _written_secret(secret)
                    for secret, _ in _secrets_of(config)))
        add(config.state_dir, "airlock's state folder (its store, keys and hooks socket)", True)
        for path, what in _secret_files(config):
            add(path, what, True)
        for file, what, hidden in _front_files(config):
            add(file, what, hidden)
        add(config.vault.path or config.state_dir / "vault", "airlock's vault of backups", True)
        if config.hooks.socket is not None:
            add(config.hooks.socket, "airlock's hooks socket", False)
        add(_package_folder(), "airlock's installed code", False)
        if sys.prefix != sys.base_prefix:
            add(sys.prefix, "the virtualenv airlock runs from", False)
        for harness, (user_file, _) in _settings_files().items():
            add(os.path.join(home, user_file), f"{harness}'s settings, which hold airlock's hooks",
                False)
        for extra in USER_SETTINGS_EXTRA:
            add(os.path.join(home, extra), "Codex's settings, which switch its hooks on", False)
        for managed in MANAGED_SETTINGS:
            add(managed, "Claude Code's managed settings, which can turn hooks off", False)
        return cls(tuple(roots), tuple(secret))

    def places(self, *, changes: bool) -> Iterator[tuple[str, str]]:
        """The places that count for a read (`changes` False: the secret ones) or a change."""
        for (root, what), secret in zip(self.roots, self.secret, strict=True):
            if changes or secret:
                yield root, what

    def below(self, folder: str, *, changes: bool, hidden: bool = True,
              exclude: tuple[str, ...] = ()) -> tuple[str, str] | None:
        """Something of airlock's that exists strictly below `folder`: (path, what)."""
        for root, what in self.places(changes=changes):
            if root != folder and pathnames.within(root, folder) and os.path.lexists(root) \
                    and _reachable(root, folder, hidden, exclude):
                return root, what
        if not changes:
            return None
        for tail in self.tails:
            head, _, rest = tail.partition("/")
            for candidate in (os.path.join(folder, tail),
                              os.path.join(folder, rest) if os.path.basename(folder) == head
                              else None):
                if candidate and os.path.lexists(candidate) and \
                        _reachable(candidate, folder, hidden, exclude):
                    return candidate, f"a settings file that holds airlock's hooks ({tail})"
        return None


def _reachable(path: str, folder: str, hidden: bool, exclude: tuple[str, ...]) -> bool:
    import fnmatch

    parts = os.path.relpath(path, folder).split(os.sep)
    if not hidden and any(p.startswith(".") and p not in (".", "..") for p in parts):
        return False
    folders = parts if os.path.isdir(path) else parts[:-1]  # exclusions name folders
    return not any(fnmatch.fnmatchcase(p, x) for p in folders for x in exclude)


def _package_folder() -> str:
    import airlock

    return str(Path(airlock.__file__).resolve().parent)


def _settings_files() -> dict[str, tuple[str, str]]:
    from airlock.fronts.hooks.install import SETTINGS_FILES

    return dict(SETTINGS_FILES)


def _secrets_of(config: Config) -> Iterator[tuple[Secret, str]]:
    """Every credential the configuration holds, wherever it sits — resources, keys, webhooks,
    the vault, and any front's own section — with the setting it came from (`resources.db.url`)."""
    yield from _walk_secrets(config, "", 0)


def _walk_secrets(value: Any, where: str, depth: int) -> Iterator[tuple[Secret, str]]:
    if depth > 8 or value is None or isinstance(value, str | bytes | int | float | Path):
        return
    if isinstance(value, Secret):
        yield value, where
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            yield from _walk_secrets(getattr(value, item.name), _join(where, item.name),
                                     depth + 1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk_secrets(item, _join(where, str(key)), depth + 1)
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            yield from _walk_secrets(item, f"{where}[{index}]", depth + 1)


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _front_files(config: Config) -> Iterator[tuple[Path, str, bool]]:
    """Files a front's settings name (a TLS key, its certificate): a front's settings say which
    with `files()` — (path, what it is, whether its content is a secret) — so a front added
    later is covered by saying so in one place."""
    for name, settings in config.fronts.items():
        files = getattr(settings, "files", None)
        if callable(files):
            for path, what, hidden in files():
                yield path, f"[fronts.{name}] {what}", hidden


def _written_secret(secret: Secret) -> bool:
    """A value written in the file itself that is a secret: a webhook URL is one; a database
    URL without a password (the only kind accepted there) is not."""
    value = secret.reveal()
    return not value.startswith(("postgres://", "postgresql://", "sqlite:", "mysql://",
                                 "redis://", "mongodb://", "mongodb+srv://"))


def _secret_files(config: Config) -> Iterator[tuple[str, str]]:
    for secret, what in _secrets_of(config):
        source = getattr(secret, "source", "")
        if isinstance(source, str) and source.startswith("file:"):
            yield source[5:], f"a credential airlock.toml takes from this file ({what})"
    url = config.store_url.reveal() if config.store_url is not None else None
    if url and url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:").removeprefix("//")
        if path:
            yield path, "airlock's store (store.url)"


def secret_variables(config: Config) -> dict[str, str]:
    """Environment variables the configuration takes credentials from, with what they are."""
    found: dict[str, str] = {}
    for secret, what in _secrets_of(config):
        source = getattr(secret, "source", "")
        if isinstance(source, str) and source.startswith("env:"):
            found.setdefault(source[4:], what)
    return found


# --------------------------------------------------------------------------------------------
# Credential variables

# The agent's own airlock token is meant for it; so are variables that only name places.
_NOT_CREDENTIALS = frozenset({
    "AIRLOCK_TOKEN", "AIRLOCK_CONFIG", "PWD", "OLDPWD", "SSH_AUTH_SOCK", "GPG_AGENT_INFO",
    "KEYTIMEOUT", "HISTFILE", "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE",
    "LC_ALL", "TERM", "TMPDIR", "EDITOR", "VISUAL", "PAGER", "PYTHONPATH", "VIRTUAL_ENV",
    "NODE_ENV", "CI", "HOSTNAME", "DISPLAY", "XDG_RUNTIME_DIR", "MANPATH", "LS_COLORS"})
_SECRET_WORDS = frozenset({"TOKEN", "TOKENS", "SECRET", "SECRETS", "PASSWORD", "PASSWORDS",
                           "PASSWD", "PASS", "PASSPHRASE", "PWD", "CREDENTIAL", "CREDENTIALS",
                           "CREDS", "APIKEY", "AUTH", "COOKIE", "COOKIES", "DSN", "WEBHOOK",
                           "BEARER", "JWT", "OAUTH", "OTP", "TOTP", "MNEMONIC"})
# `KEY` (and a personal access token's `PAT`) alone name sort keys, loop variables and
# patterns; with one of these beside them they name a credential.
_KEY_WORDS = frozenset({"KEY", "KEYS", "PAT"})
_KEY_COMPANIONS = frozenset({
    "API", "SECRET", "PRIVATE", "ACCESS", "SIGNING", "ENCRYPTION", "MASTER", "CLIENT",
    "SERVICE", "APP", "DEPLOY", "SSH", "GPG", "PGP", "LICENSE", "ADMIN", "ROOT", "WRITE",
    "STRIPE", "OPENAI", "ANTHROPIC", "AWS", "GITHUB", "GH", "GITLAB", "SLACK", "TWILIO",
    "SENDGRID", "MAILGUN", "DATADOG", "DD", "SENTRY", "HEROKU", "RAILWAY", "VERCEL", "NETLIFY",
    "CLOUDFLARE", "CF", "GOOGLE", "GCP", "AZURE", "FIREBASE", "SUPABASE", "ALGOLIA", "PUSHER",
    "MAPBOX", "NPM", "PYPI", "DOCKER", "HF", "HUGGINGFACE", "COHERE", "MISTRAL", "GROQ",
    "REPLICATE", "PINECONE", "LINEAR", "NOTION", "SHOPIFY", "GEMINI", "FLY", "RENDER", "DO",
    "DIGITALOCEAN", "POSTMARK", "RESEND", "PLAID", "PAYPAL", "BRAINTREE", "SQUARE", "OKTA",
    "AUTH0", "CLERK", "SEGMENT", "MIXPANEL", "AMPLITUDE", "BUGSNAG", "ROLLBAR", "HONEYCOMB",
    "NEWRELIC", "GRAFANA", "ELASTIC", "MONGO", "REDIS", "TERRAFORM", "TF", "VAULT", "AIRTABLE"})
_PLACE_SUFFIXES = ("_SOCK", "_PATH", "_DIR", "_HOME", "_FILE_PATH")
_SECRET_VALUE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@")


def credential_variable(name: str, configured: dict[str, str]) -> str | None:
    """Why the variable `name` holds a credential, or None."""
    if name in configured:
        return f"the variable airlock.toml takes a credential from ({configured[name]})"
    upper = name.upper()
    if upper in _NOT_CREDENTIALS or upper.endswith(_PLACE_SUFFIXES):
        return None
    words = set(re.split(r"[^A-Z0-9]+", upper)) - {""}
    if words & _SECRET_WORDS or (words & _KEY_WORDS and words & _KEY_COMPANIONS):
        return "a variable whose name says it holds a credential"
    # A connection URL is a credential when it carries a password — which only its value can
    # tell (DATABASE_URL=postgres://localhost/dev has none).
    value = os.environ.get(name)
    if value and _SECRET_VALUE.match(value):
        return "a connection URL with its password in it"
    if value and _looks_like_key(value):
        return "a variable whose value is a credential"
    return None


def _looks_like_key(value: str) -> bool:
    if len(value) < 16 or len(value) > 4096:
        return False
    try:
        return secrets_files.looks_like_secret(value)
    except Exception:  # detect-secrets missing or broken: judge by name only
        return False


# --------------------------------------------------------------------------------------------
# The judgement


@dataclass
class Guards:
    """Built once from the configuration; `effects` is called for every action."""

    files: FileRules
    places: AirlockPlaces
    variables: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> Guards:
        places = AirlockPlaces.of(config)
        return cls(FileRules.of(config, places), places, secret_variables(config))

    def effects(self, action: Action, assessment: Assessment) -> list[Effect]:
        """The guarded effects of `action` beyond what its classifier said (may be empty)."""
        payload = action.payload
        run = _Run(self, action.context.cwd)
        if isinstance(payload, FileAccess):
            # classify_file_access judged the path itself with these same rules; a folder
            # (Claude's Grep, Gemini's search) is read with everything in it — hidden files
            # left out, as ripgrep does by default.
            path = run._absolute(payload.path)
            if not payload.write and os.path.isdir(path):
                run.touch(Touch("path", path, Verb.READ, "searches it", recursive=True,
                                content=False, hidden=False))
            return run.found
        run.assessment(assessment)
        if isinstance(payload, McpCall):
            run.mcp(payload)
        elif isinstance(payload, HttpRequest):
            run.http(payload)
        return run.found


class _Run:
    """One action's judgement: the effects found, each place judged once, shared budgets."""

    def __init__(self, guards: Guards, cwd: str | None) -> None:
        self.guards = guards
        self.cwd = cwd
        # Folders the command may `cd` into: a relative path is judged against each of them.
        self.cwds: list[str | None] = [cwd]
        self.found: list[Effect] = []
        self.seen: set[tuple[str, str, str]] = set()
        self.scans = [secrets_files.MAX_CONTENT_SCANS]
        self.walk = [secrets_files.MAX_WALK_ENTRIES]

    def add(self, effect: Effect | None) -> None:
        if effect is None:
            return
        key = (effect.guard.value if effect.guard else effect.risk.value,
               effect.target.key if effect.target else "", effect.verb.value)
        if key not in self.seen:
            self.seen.add(key)
            self.found.append(effect)

    # ---- sources of touches ----------------------------------------------------------------

    def assessment(self, assessment: Assessment) -> None:
        for touch in assessment.touches:
            if touch.kind == "cwd" and len(self.cwds) < MAX_CWDS:
                self.cwds += [pathnames.absolute(touch.value, base) for base in self.cwds
                              if not touch.value.startswith(("/", "~"))] or \
                    [pathnames.absolute(touch.value, None)]
        for effect in assessment.effects:
            target = effect.target
            if target is not None and target.kind == "path" and effect.guard is None:
                recursive = effect.scope in RECURSIVE_SCOPES
                verb = effect.verb if effect.verb is not Verb.EXECUTE else Verb.READ
                self.touch(Touch("path", target.value, verb, effect.reason, recursive,
                                 content=False))
        for touch in assessment.touches:
            self.touch(touch)

    def mcp(self, call: McpCall) -> None:
        """Every string argument that could name a path is judged as one (the tool may read
        or write it); a shell command argument is judged like any command."""
        from airlock.classify.mcp import SHELL_ARGUMENTS
        from airlock.classify.shell import classify_shell

        try:
            arguments = json.loads(call.arguments_json)
        except (ValueError, RecursionError):
            return  # classify_mcp made it unknown
        strings = list(_strings(arguments, MAX_MCP_DEPTH))
        if len(strings) > MAX_MCP_STRINGS:
            self.add(Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"{call.server}.{call.tool} has too "
                            "many arguments to check for credentials and airlock's files"))
            strings = strings[:MAX_MCP_STRINGS]
        for key, value in strings:
            if key.lower() in SHELL_ARGUMENTS:
                inner = classify_shell(value)
                for effect in inner.effects:
                    if effect.guard is not None:
                        self.add(effect)
                self.assessment(inner)
                continue
            if "\n" in value or len(value) > secrets_files.MAX_PATH_CHARS:
                continue
            self.touch(Touch("path", value, Verb.UNKNOWN, f"{call.server}.{call.tool} is given "
                             "it", content=os.path.isfile(self._absolute(value))))

    def http(self, request: HttpRequest) -> None:
        parts = urlsplit(request.url)
        if parts.scheme.lower() == "file":
            verb = Verb.READ if request.method.upper() in ("GET", "HEAD") else Verb.UNKNOWN
            self.touch(Touch("path", unquote(parts.path), verb, "a file:// URL"))

    # ---- judging one touch -----------------------------------------------------------------

    def touch(self, touch: Touch) -> None:
        if touch.kind == "variable":
            why = credential_variable(touch.value, self.guards.variables)
            if why is not None:
                self.add(Effect(Verb.READ, Risk.CATASTROPHIC, f"reads ${touch.value}, {why}",
                                Target("variable", touch.value, contextual=True), "variable",
                                guard=Guard.CREDENTIAL))
            return
        if touch.kind == "environment":
            self.add(Effect(Verb.READ, Risk.CATASTROPHIC, f"{touch.reason}, credentials "
                            "included", Target("variable", "*", contextual=True), "environment",
                            guard=Guard.CREDENTIAL))
            return
        if touch.kind != "path" or (not touch.value and not touch.computed):
            return
        if touch.computed:
            self.computed(touch)
            return
        for path in self._absolutes(touch.value):
            if any(c in touch.value for c in pathnames.GLOB_CHARS):
                self.glob(touch, path)
            else:
                self.one(touch, path)

    def one(self, touch: Touch, path: str) -> None:
        files = self.guards.files
        target = Target("path", path, contextual=True)
        reads = touch.verb in (Verb.READ, Verb.UNKNOWN)
        if reads:
            self.add(secrets_files.read_effect(path, files, target, self.scans,
                                               content=touch.content and os.path.isfile(path),
                                               verb=touch.verb))
        if touch.verb is not Verb.READ:
            effect = secrets_files.write_effect(path, files, target, touch.verb)
            if effect is not None and (effect.guard is not None or touch.verb is not Verb.UNKNOWN):
                self.add(effect)
        if touch.recursive:
            self.below(touch, path, reads)

    def below(self, touch: Touch, path: str, reads: bool) -> None:
        """A folder reached as a whole reaches what lies inside it."""
        changes = touch.verb is not Verb.READ
        for name in pathnames.names(path, None):
            hit = self.guards.places.below(name, changes=changes, hidden=touch.hidden,
                                           exclude=touch.exclude)
            if hit is not None:
                inner, what = hit
                hint = f" (leave {os.path.basename(inner)} out: name narrower folders, `grep " \
                       f"--exclude-dir`, or `rg`, which skips hidden folders)" \
                    if touch.verb is Verb.READ else ""
                self._airlock(touch, inner, f"{_verbed(touch.verb)} {touch.value} and "
                              f"everything in it, which includes {inner}, one of airlock's own "
                              f"files ({what}){hint}")
                return
        if not reads or not os.path.isdir(path):
            return
        found, complete = secrets_files.credentials_below(path, self.guards.files, self.walk,
                                                          hidden=touch.hidden,
                                                          exclude=touch.exclude)
        if found is not None:
            self.add(Effect(Verb.READ, Risk.CATASTROPHIC, f"reads {touch.value} and everything "
                            f"in it, which includes {found}, "
                            f"{secrets_files.credential_why(found) or 'a credential'}",
                            Target("path", found, contextual=True), "directory",
                            guard=Guard.CREDENTIAL))
        elif not complete:
            self.add(Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"reads {touch.value} and everything in "
                            f"it: more than {secrets_files.MAX_WALK_ENTRIES} files, too many to "
                            "check for credentials (name a narrower folder)",
                            Target("path", path, contextual=True), "directory"))

    def _airlock(self, touch: Touch, path: str, reason: str) -> None:
        target = Target("path", path, contextual=True)
        if touch.certain:
            self.add(Effect(touch.verb if touch.verb is not Verb.UNKNOWN else Verb.WRITE,
                            Risk.CATASTROPHIC, reason, target, "directory", guard=Guard.AIRLOCK))
        else:
            self.add(Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"may {reason.replace('writes', 'write')}"
                            " (what it writes there is not known before it runs)", target,
                            "directory"))

    def glob(self, touch: Touch, path: str) -> None:
        """A pattern reaches what it matches: below one of airlock's places (`.airlock/*`), or
        matching one or a folder above it (`rm -rf .air*`, `rm -rf /tmp/*`), or — by name —
        a credential among the files it matches now."""
        prefix = pathnames.literal_prefix(path)
        for root, what in self.guards.places.places(changes=touch.verb is not Verb.READ):
            if pathnames.within(prefix, root) or (
                    os.path.lexists(root) and _could_match(path, root, touch.recursive)):
                self._airlock(touch, root, f"{_verbed(touch.verb)} {touch.value}, which reaches "
                              f"{root}, one of airlock's own files ({what})")
                return
        matches, complete = secrets_files.expand(path, hidden=False)
        if not complete:
            self.add(Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"{touch.value} matches more than "
                            f"{secrets_files.MAX_GLOB_MATCHES} files; airlock cannot check them "
                            "all", Target("path", prefix, contextual=True), "files"))
        for match in matches:
            self.one(touch, match)

    def computed(self, touch: Touch) -> None:
        """A path known only up to its literal prefix: near something protected (the unknown
        part could name it), it is unknown; elsewhere the guards cannot say more."""
        prefix = touch.value
        if not prefix.strip():
            return
        base = self._absolute(prefix)
        folder = base if prefix.endswith("/") else os.path.dirname(base)
        stem = "" if prefix.endswith("/") else os.path.basename(base)
        near = self._near(folder, stem, touch.verb is not Verb.READ)
        if near is not None:
            self.add(Effect(Verb.UNKNOWN, Risk.UNKNOWN, f"a path computed at run time "
                            f"({touch.value}…) could name {near}; airlock cannot check it "
                            "before it runs", Target("path", base, contextual=True), "file"))

    def _near(self, folder: str, stem: str, changes: bool) -> str | None:
        for root, what in self.guards.places.places(changes=changes):
            if pathnames.within(folder, root):
                return f"{root}, {what}"
            if os.path.dirname(root) == folder and os.path.basename(root).startswith(stem):
                return f"{root}, {what}"
        for place in secrets_files.credential_places():
            if pathnames.within(folder, place) or (
                    os.path.dirname(place) == folder and os.path.basename(place).startswith(stem)
                    and os.path.lexists(place)):
                return f"{place}, where credentials live"
        try:
            with os.scandir(folder) as entries:
                for count, entry in enumerate(entries):
                    if count > 512:
                        break
                    if entry.name.startswith(stem) and \
                            secrets_files.credential_why(entry.path) is not None:
                        return f"{entry.path}, a credential file"
        except (OSError, ValueError):
            pass
        return None

    def _absolute(self, path: str) -> str:
        return pathnames.absolute(path, self.cwd)

    def _absolutes(self, path: str) -> list[str]:
        """`path` against the working directory and every folder the command may `cd` into."""
        if path.startswith(("/", "~")):
            return [pathnames.absolute(path, None)]
        return list(dict.fromkeys(pathnames.absolute(path, base) for base in self.cwds))


def _verbed(verb: Verb) -> str:
    return {Verb.READ: "reads", Verb.WRITE: "writes", Verb.DELETE: "deletes",
            Verb.DESTROY: "destroys"}.get(verb, "reaches")


def _could_match(pattern: str, root: str, recursive: bool) -> bool:
    """Could the shell glob `pattern` (absolute) match `root` or, for a recursive touch, a
    folder above it? `*` stays within one name and skips names starting with a dot."""
    import fnmatch

    parts = pattern.strip("/").split("/")
    target = root.strip("/").split("/")
    candidates = [target[:n] for n in range(1, len(target) + 1)] if recursive else [target]
    for names in candidates:
        if len(names) != len(parts):
            continue
        if all(fnmatch.fnmatchcase(name, part) and not (name.startswith(".") and
                                                         not part.startswith("."))
               for name, part in zip(names, parts, strict=True)):
            return True
    return False


def _strings(value: Any, depth: int, key: str = "") -> Iterator[tuple[str, str]]:
    if depth < 0:
        return
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, depth - 1, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, depth - 1, key)

