"""What `airlock setup` did to this machine, kept beside the configuration (`setup.json`, root's,
0644). `--undo` reverses exactly what is recorded here — a user or group that existed before
setup is left alone — and `airlock doctor` reads it to know which user is airlock's and whose
agents it guards. It is rewritten after every step, so an interrupted setup can still be undone.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from airlock.errors import SetupError
from airlock.setup.system import Want, write_file

VERSION = 1


@dataclass
class HookInstall:
    developer: str
    harness: str
    path: str


@dataclass
class CredentialMove:
    """One credential taken into custody: where it was, where it went, and how to put it back."""

    developer: str
    path: str  # the file it was found in
    resource: str  # the resource declared for it
    stored: str  # the credential file in airlock's store
    recovered: str  # the original file, kept 0600 in airlock's state
    how: str  # "pointer" (the value replaced in place) or "removed" (the whole file)
    written_sha256: str  # the file as setup left it ("" when removed): undo restores only this


@dataclass
class SetupRecord:
    user: str
    group: str
    developers: list[str]
    root: str = "/"
    host: str = "127.0.0.1"
    port: int = 8377
    systemd: bool = False
    created_group: bool = False
    created_user: bool = False
    created_user_group: bool = False  # useradd made a primary group of the user's own name
    added_airlock_to_group: bool = False
    added_developers: list[str] = field(default_factory=list)
    created_config: bool = False
    hooks: list[HookInstall] = field(default_factory=list)
    credentials: list[CredentialMove] = field(default_factory=list)
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SetupRecord:
        data = dict(data)
        if data.get("version") != VERSION:
            raise SetupError(f"setup.json is version {data.get('version')!r}; this airlock reads "
                             f"version {VERSION}", hint="use the airlock that wrote it")
        data["hooks"] = [HookInstall(**h) for h in data.get("hooks", [])]
        data["credentials"] = [CredentialMove(**c) for c in data.get("credentials", [])]
        return cls(**data)

    @classmethod
    def load(cls, path: Path) -> SetupRecord | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SetupError(f"cannot read {path}: {exc.strerror}") from None
        try:
            return cls.from_json(json.loads(text))
        except (ValueError, TypeError, KeyError) as exc:
            raise SetupError(f"{path} is not a setup record airlock can read ({exc})",
                             hint="move it away and run `airlock setup` again") from None

    def save(self, path: Path) -> None:
        text = json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"
        write_file(path, text.encode(), Want(0, 0, 0o644))

    def remember_hook(self, developer: str, harness: str, path: Path) -> None:
        entry = HookInstall(developer, harness, str(path))
        if entry not in self.hooks:
            self.hooks.append(entry)
