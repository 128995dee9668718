"""Finding the credentials an agent could pick up: in a workspace, a home folder, an environment.

A file is looked at in three ways, cheapest first:
- its name and location (`classify/secrets_files.py`: `.env*`, `*.pem`, `~/.aws`, `~/.kube`, …);
- one combined regular expression of every detector's own patterns (a millisecond a file), which
  decides whether detect-secrets runs at all;
- detect-secrets itself, with its defaults' specific detectors plus airlock's plugins
  (`detectors.py`) and, in files named as credentials, its keyword detector (`PASSWORD=…`).

Each finding is a file and line, the kind of credential, the key it is assigned to when the line
says (`DATABASE_URL=…`), and the secret itself — wrapped in `Secret`, which never prints. Folders
where everything is a credential (`~/.config/gcloud`) are one finding, not one per log file.

Skipped: version-control objects, dependency and build caches (`node_modules`, virtualenvs, …),
files over 1 MiB (their first MiB is read), binary files, and anything unreadable.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock.classify.secrets_files import DETECTORS, credential_by_name
from airlock.credentials.detectors import PLUGINS, Custody, custody_of, placeholder
from airlock.secrets import Secret

MAX_FILE_BYTES = 1024 * 1024
MAX_FILES = 200_000  # a scan stops here and says so
SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".nox",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", ".cache", ".npm", ".yarn", ".pnpm-store",
    ".cargo", ".rustup", ".pyenv", ".rbenv", ".nvm", ".gradle", ".m2", ".ivy2", "site-packages",
    ".local/share/Trash", ".mozilla", ".config/google-chrome", ".config/chromium",
    ".vscode-server", ".cursor-server", ".airlock", "go/pkg", ".terraform",
})
# Files inside version-control folders that do hold credentials (remote URLs with tokens).
_KEPT_IN_SKIPPED = {".git": ("config",)}
# Names that are credentials only when something in them is (a `.env` of DEBUG=1 is not).
_CONTENT_ONLY = re.compile(r"(?i)^(\.env(\..*)?|.*\.env|credentials|.*\.tfvars|\.npmrc|\.pypirc)$")
_LOGS = re.compile(r"(\.log(\.\d+)?$|/logs?/|/cache/)")
_FOLDER_REASON = re.compile(r"everything in (~/[^ )]+) is")
_ASSIGNMENT = re.compile(r"""^\s*(?:export\s+)?["']?([A-Za-z_][\w.-]*)["']?\s*(?:=|:|:=|=>)""")

_lock = threading.Lock()  # detect-secrets' settings are process-global


@dataclass(frozen=True, slots=True)
class Finding:
    path: str  # a file, or `$NAME` for an environment variable
    line: int  # 1-based; 0 for a whole file or folder
    kind: str  # detect-secrets' secret type, or "Credential file" / "Credential folder"
    secret: Secret | None  # None when the finding is a whole file or folder
    key: str | None = None  # the name it is assigned to, when the line says
    reason: str = ""  # why a whole file or folder counts

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    @property
    def custody(self) -> Custody | None:
        return custody_of(self.kind, self.secret.reveal()) if self.secret else None

    def to_json(self, *, with_secrets: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "line": self.line, "kind": self.kind,
                                "key": self.key, "reason": self.reason,
                                "movable": self.custody is not None}
        if with_secrets and self.secret is not None:
            data["secret"] = self.secret.reveal()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        secret = data.get("secret")
        where = f"{data['path']}:{data['line']}"
        return cls(data["path"], int(data["line"]), data["kind"],
                   Secret(secret, f"file:{where}") if secret else None, data.get("key"),
                   data.get("reason", ""))


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0  # files looked at
    content_scans: int = 0  # files detect-secrets read in full
    truncated: bool = False  # stopped at MAX_FILES
    seconds: float = 0.0

    def to_json(self, *, with_secrets: bool = False) -> dict[str, Any]:
        return {"findings": [f.to_json(with_secrets=with_secrets) for f in self.findings],
                "files": self.files, "content_scans": self.content_scans,
                "truncated": self.truncated, "seconds": round(self.seconds, 3)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScanResult:
        return cls([Finding.from_json(f) for f in data["findings"]], int(data["files"]),
                   int(data["content_scans"]), bool(data["truncated"]), float(data["seconds"]))


Progress = Callable[[int, int], None]  # (files done, files in all)


def scan(roots: Iterable[Path], *, home: Path, progress: Progress | None = None) -> ScanResult:
    """Every credential under `roots` (folders or files) that this process can read."""
    start = time.monotonic()
    result = ScanResult()
    files = list(_files(roots, home))
    if len(files) > MAX_FILES:
        files, result.truncated = files[:MAX_FILES], True
    folders: dict[str, str] = {}
    with _detect_secrets():
        for index, path in enumerate(files):
            if progress is not None and index % 50 == 0:
                progress(index, len(files))
            result.files += 1
            found = _scan_file(path, home, result, folders)
            result.findings.extend(found)
    if progress is not None:
        progress(len(files), len(files))
    covered = {os.path.dirname(f.path) for f in result.findings}
    for folder, reason in sorted(folders.items()):
        if not any(c == folder or c.startswith(folder + "/") for c in covered):
            result.findings.append(Finding(folder, 0, "Credential folder", None, None, reason))
    result.findings.sort(key=lambda f: (f.path, f.line))
    result.seconds = time.monotonic() - start
    return result


def _files(roots: Iterable[Path], home: Path) -> Iterator[str]:
    seen: set[str] = set()
    for root in roots:
        top = os.path.abspath(root)
        if os.path.isfile(top):
            if top not in seen:
                seen.add(top)
                yield top
            continue
        for folder, dirs, names in os.walk(top, followlinks=False):
            kept = []
            for name in sorted(dirs):
                full = os.path.join(folder, name)
                rel = os.path.relpath(full, home) if full.startswith(str(home) + "/") else name
                if name in SKIP_DIRS or rel in SKIP_DIRS:
                    for keep in _KEPT_IN_SKIPPED.get(name, ()):
                        if os.path.isfile(os.path.join(full, keep)):
                            yield os.path.join(full, keep)
                    continue
                kept.append(name)
            dirs[:] = kept
            for name in sorted(names):
                full = os.path.join(folder, name)
                if full not in seen:
                    seen.add(full)
                    yield full


def _scan_file(path: str, home: Path, result: ScanResult,
               folders: dict[str, str]) -> list[Finding]:
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode):
            return []
        with open(path, "rb") as handle:
            head = handle.read(MAX_FILE_BYTES)
    except (OSError, ValueError):
        return []
    by_name = credential_by_name(path, str(home))
    binary = b"\0" in head[:8192]
    text = "" if binary else head.decode("utf-8", "replace")
    named = by_name is not None and not _CONTENT_ONLY.match(os.path.basename(path))
    # A file named or placed as a credential is read by detect-secrets whole (keys there need
    # not match any pattern); logs and caches inside credential folders only if the prefilter
    # flags them: the folder finding speaks for them, and there are hundreds.
    whole = by_name is not None and not _LOGS.search(path)
    found: list[Finding] = []
    if text and (whole or _prefilter().search(text)):
        result.content_scans += 1
        found = _detect(path, text, keywords=by_name is not None)
    if found or not named:
        return found
    assert by_name is not None
    folder = _FOLDER_REASON.search(by_name)
    if folder:  # one finding for the folder, unless a file in it is named below
        base = os.path.join(str(home), folder.group(1)[2:])
        folders.setdefault(base, by_name.replace("a credential file (", "a credential folder ("))
        return []
    return [Finding(path, 0, "Credential file", None, None, by_name)]


def _detect(path: str, text: str, *, keywords: bool) -> list[Finding]:
    """detect-secrets on the file (it knows the file's type, and passes its name to the plugins
    that need it); a file over the size limit is not read whole: what the prefilter saw is
    reported as a possible credential."""
    from detect_secrets.core.scan import scan_file

    lines = text.splitlines()
    if os.path.getsize(path) > MAX_FILE_BYTES:
        match = _prefilter().search(text)
        line = text.count("\n", 0, match.start()) + 1 if match else 0
        return [Finding(path, line, "Possible credential", None, None,
                        "the file is over 1 MiB: airlock read its first MiB only")]
    found: dict[tuple[int, str], Finding] = {}
    for secret in scan_file(path):
        kind = str(secret.type)
        value = secret.secret_value or ""
        if not value or (kind == "Secret Keyword" and not keywords) or _weak(kind, value):
            continue
        number = int(secret.line_number)
        text_line = lines[number - 1] if 0 < number <= len(lines) else ""
        value = whole_token(text_line, value)
        assigned = _ASSIGNMENT.match(text_line)
        finding = Finding(path, number, kind, Secret(value, f"file:{path}:{number}"),
                          assigned.group(1) if assigned else None)
        old = found.get((number, value))
        if old is None or (old.custody is None and finding.custody is not None):
            found[(number, value)] = finding
    return _most_specific(found.values())


def _weak(kind: str, value: str) -> bool:
    """A placeholder (`password`, `${X}`), or a keyword match too short to be a credential."""
    return placeholder(value) or (kind in ("Secret Keyword", "Secret assignment")
                                  and len(value) < 8)


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def whole_token(line: str, value: str) -> str:
    """The whole token `value` was found in. Some detectors capture only part of a key (a
    prefix group, or the first 24 characters of a longer Stripe key); moving part of a key into
    custody would leave the rest behind."""
    start = line.find(value)
    if start < 0:
        return value
    end = start + len(value)
    while end < len(line) and line[end] in _TOKEN_CHARS:
        end += 1
    while start > 0 and line[start - 1] in _TOKEN_CHARS and set(value) <= _TOKEN_CHARS:
        start -= 1
    return line[start:end]


def _most_specific(findings: Iterable[Finding]) -> list[Finding]:
    """On one line, a database URL and the Basic Auth password inside it are one credential:
    keep the finding airlock knows how to hold."""
    by_line: dict[int, list[Finding]] = {}
    for f in findings:
        by_line.setdefault(f.line, []).append(f)
    kept: list[Finding] = []
    for line_findings in by_line.values():
        movable = [f for f in line_findings if f.custody is not None]
        for f in line_findings:
            inside_movable = any(m is not f and f.secret and m.secret
                                 and f.secret.reveal() in m.secret.reveal() for m in movable)
            if not inside_movable:
                kept.append(f)
    return kept


def scan_environment(environ: Mapping[str, str], where: str = "") -> list[Finding]:
    """Credentials in environment variables: by what the value is (the same detectors), and by
    a name that says so with a value that is not a placeholder."""
    from detect_secrets.core.scan import scan_line

    found: list[Finding] = []
    with _detect_secrets():
        for name, value in sorted(environ.items()):
            if not value:
                continue
            source = f"${name}{where}"
            kinds = {str(s.type) for s in scan_line(f"{name}={value}") if s.secret_value}
            kinds.discard("Secret Keyword")
            if not kinds and _NAME_SAYS_SECRET.search(name) and len(value) >= 8 \
                    and not _looks_harmless(value):
                kinds = {"Secret named variable"}
            for kind in sorted(kinds, key=lambda k: (custody_of(k, value) is None, k))[:1]:
                found.append(Finding(source, 0, kind, Secret(value, f"env:{name}"), name))
    return found


_NAME_SAYS_SECRET = re.compile(r"(?i)(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|"
                               r"PRIVATE_?KEY|CREDENTIALS?|DATABASE_URL|_DSN)$")


def _looks_harmless(value: str) -> bool:
    return value.startswith(("/", "airlock:")) or value.lower() in ("true", "false", "none")


# --------------------------------------------------------------------------------------------
# detect-secrets, configured once per scan


_PREFILTER: re.Pattern[str] | None = None


def _prefilter() -> re.Pattern[str]:
    global _PREFILTER
    if _PREFILTER is None:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

        patterns: list[str] = []
        mapping: dict[str, Any] = get_mapping_from_secret_type_to_class()
        classes: list[Any] = [c for c in mapping.values() if c.__name__ in DETECTORS]
        for plugin in [*classes, *PLUGINS]:
            patterns.extend(f"(?{'i' if p.flags & re.IGNORECASE else ''}:{p.pattern})"
                            for p in getattr(plugin, "denylist", ()))
        # MULTILINE: the detectors run line by line, so ^ and $ are line ends here too.
        _PREFILTER = re.compile("|".join(patterns), re.MULTILINE)
    return _PREFILTER


class _detect_secrets:
    """detect-secrets set up with its specific detectors, airlock's plugins (registered in its
    plugin table the way its own `from_file` does) and its filters minus the UUID one (Railway
    tokens are UUIDs)."""

    def __enter__(self) -> None:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.settings import Settings, transient_settings

        _lock.acquire()
        try:
            table: dict[str, Any] = get_mapping_from_secret_type_to_class()
            for plugin in PLUGINS:
                table[str(plugin.secret_type)] = plugin
            names = [*DETECTORS, "KeywordDetector", *(p.__name__ for p in PLUGINS)]
            filters = [{"path": f} for f in sorted(Settings().filters)
                       if f not in Settings.DEFAULT_FILTERS
                       and not f.endswith("is_potential_uuid")]
            self._context = transient_settings({"plugins_used": [{"name": n} for n in names],
                                                "filters_used": filters})
            self._context.__enter__()
        except BaseException:
            _lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            self._context.__exit__(None, None, None)
        finally:
            _lock.release()

