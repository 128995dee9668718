"""Taking a credential into airlock's custody, and giving it back.

For each credential a person confirms:

    1. the file it is in is read (as its owner) and kept whole, 0600, in airlock's state
       (`recovered/`): nothing is ever lost;
    2. the credential is written to airlock's store (`credentials/<resource>`, 0600, airlock's
       user only);
    3. the matching resource is declared in airlock.toml (`url` or `credential` =
       `{ file = "…" }`), and the edited configuration is loaded before it is written;
    4. in the file, the value is replaced by a pointer (`airlock:<resource>`), or — for a file
       that is the credential (a service-account key, a kube config) — the file is removed.
       The file is rewritten only if it is still exactly what was read in step 1.

`--undo` puts a file back from its recovered copy if the file is still as step 4 left it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airlock.config import NAME_PATTERN, PRODUCTION_NAMES
from airlock.credentials.detectors import Custody
from airlock.credentials.scan import Finding
from airlock.errors import SetupError
from airlock.files import replace_atomically

POINTER = "airlock:{resource}"
_AWS = {"AWS Access Key", "AWS Secret Access Key"}


@dataclass
class Item:
    """One credential to take into custody: one or more findings in one file that become one
    resource."""

    path: str
    findings: list[Finding]
    custody: Custody
    resource: str
    environment: str
    whole_file: bool = False

    @property
    def lines(self) -> list[int]:
        return sorted({f.line for f in self.findings if f.line})

    @property
    def where(self) -> str:
        return f"{self.path}:{','.join(map(str, self.lines))}" if self.lines else self.path

    @property
    def kinds(self) -> str:
        return ", ".join(sorted({f.kind for f in self.findings}))

    def stored_value(self, original: bytes) -> str:
        if self.whole_file:
            return original.decode("utf-8", "replace")
        if len(self.findings) == 1 and self.findings[0].secret is not None:
            return self.findings[0].secret.reveal()
        # several keys that only work together (an AWS key id and its secret): key = value lines
        return "\n".join(f"{(f.key or f.kind).lower()}={f.secret.reveal()}"
                         for f in self.findings if f.secret is not None)


@dataclass
class Plan:
    items: list[Item] = field(default_factory=list)
    left: list[Finding] = field(default_factory=list)  # found, but airlock cannot hold them


def plan_custody(findings: Iterable[Finding], taken: Iterable[str]) -> Plan:
    """Group findings into items with resource names not in `taken` (the configuration's)."""
    plan = Plan()
    used = set(taken)
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        by_file.setdefault(finding.path, []).append(finding)
    for path, found in by_file.items():
        movable = [f for f in found if f.custody is not None]
        whole = [f for f in movable if f.custody is not None and f.custody.whole_file]
        if whole:
            custody = whole[0].custody
            assert custody is not None
            plan.items.append(_item(path, found, custody, used, whole_file=True))
            continue
        aws = [f for f in movable if f.kind in _AWS]
        if aws:
            custody = aws[0].custody
            assert custody is not None
            plan.items.append(_item(path, aws, custody, used, name="aws"))
        for finding in movable:
            if finding.kind not in _AWS:
                assert finding.custody is not None
                plan.items.append(_item(path, [finding], finding.custody, used))
        plan.left.extend(f for f in found if f.custody is None)
    return plan


def _item(path: str, findings: list[Finding], custody: Custody, used: set[str], *,
          whole_file: bool = False, name: str = "") -> Item:
    first = findings[0]
    if not name:
        name = first.key if first.key and not whole_file else _KIND_NAMES.get(first.kind, "credential")
    resource = _unique(_slug(name), used)
    used.add(resource)
    # What the credential's name, its file's name and its folder's name say (not the whole path:
    # /home/test/… says nothing about the credential).
    said = f"{first.key or ''} {os.path.basename(path)} {os.path.basename(os.path.dirname(path))}"
    return Item(path, findings, custody, resource, guess_environment(said), whole_file=whole_file)


_KIND_NAMES = {"GCP Service Account Key": "gcp-service-account",
               "Kubernetes Credential": "kubeconfig", "Railway Token": "railway",
               "Database URL with password": "database"}


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:50] or "credential"
    return slug if slug[0].isalnum() else f"c-{slug}"


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}-{n}", n + 1
    if not re.match(NAME_PATTERN, candidate):
        raise SetupError(f"cannot make a resource name from {name!r}")
    return candidate


def guess_environment(text: str) -> str:
    """The environment a credential's name or file says, else production: a credential whose
    reach cannot be told is treated as reaching production."""
    lowered = text.lower()
    if re.search(r"stag", lowered):
        return "staging"
    if re.search(r"(?<![a-z])(dev|development|local|test)(?![a-z])", lowered) and not re.search(
            r"prod|live|prd", lowered):
        return "development"
    return "production"


# --------------------------------------------------------------------------------------------
# The developer's side: rewriting and restoring their files (run as them, see setup/helper.py)


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SetupError(f"cannot read {path}: {exc.strerror}") from None


def rewrite_file(path: Path, expect_sha256: str, edits: list[dict[str, Any]], *,
                 remove: bool = False) -> str:
    """Replace each edit's `old` by `new` on its line, or remove the file; only if the file
    still has the digest it had when it was read. Returns the new digest ("" when removed)."""
    data = read_file(path)
    if hashlib.sha256(data).hexdigest() != expect_sha256:
        raise SetupError(f"{path} changed while setup was working; it was left as it is",
                         hint="run `airlock credentials import` again")
    if remove:
        path.unlink()
        return ""
    lines = data.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    for edit in edits:
        index = int(edit["line"]) - 1
        if not 0 <= index < len(lines) or edit["old"] not in lines[index]:
            raise SetupError(f"{path}:{edit['line']} no longer holds the credential; the file "
                             "was left as it is")
        lines[index] = lines[index].replace(edit["old"], edit["new"])
    new = "".join(lines).encode("utf-8", "surrogateescape")
    _replace(path, new)
    return hashlib.sha256(new).hexdigest()


def restore_file(path: Path, content: bytes, expect_sha256: str) -> bool:
    """Put `content` back at `path` if the file is still as custody left it (or, for a removed
    file, still absent). False, and nothing touched, otherwise."""
    try:
        current: bytes | None = path.read_bytes()
    except FileNotFoundError:
        current = None
    if expect_sha256 == "":
        if current is not None:
            return False
    elif current is None or hashlib.sha256(current).hexdigest() != expect_sha256:
        return False
    _replace(path, content)
    return True


def _replace(path: Path, content: bytes) -> None:
    replace_atomically(path, content)


def edits_for(item: Item) -> list[dict[str, Any]]:
    pointer = POINTER.format(resource=item.resource)
    return [{"line": f.line, "old": f.secret.reveal(), "new": pointer}
            for f in item.findings if f.secret is not None and f.line]


def resource_table(item: Item, stored: Path, developer: str) -> dict[str, Any]:
    table: dict[str, Any] = {"kind": item.custody.kind, "environment": item.environment,
                             "description": f"{item.kinds} moved into airlock's custody from "
                                            f"{item.where} ({developer})"}
    table[item.custody.field] = {"file": str(stored)}
    if item.custody.base_url:
        table["base_url"] = item.custody.base_url
    return table


def environment_is_production(name: str) -> bool:
    return name.lower() in PRODUCTION_NAMES


def recovered_name(path: str, resource: str,
                   now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> str:
    """A name for the recovered original: when, for which resource (unique in the store), and
    from where."""
    stamp = now().strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{resource}-{re.sub(r'[^A-Za-z0-9._-]+', '_', path.strip('/'))}"[:200]
