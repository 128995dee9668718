"""`airlock credentials import` and the credentials step of `airlock setup`: scan as the
developer, take confirmed credentials into custody as root (or, in trial mode, as the one user
there is), and give them back on `setup --undo`."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from airlock.config import PRODUCTION_NAMES
from airlock.credentials.custody import (
    Item,
    edits_for,
    recovered_name,
    resource_table,
)
from airlock.credentials.scan import ScanResult
from airlock.errors import SetupError
from airlock.setup.configfile import ConfigFile
from airlock.setup.helper import run_helper
from airlock.setup.record import CredentialMove
from airlock.setup.system import OsUser, Want, ensure_dir, write_file


@dataclass
class Custodian:
    """Who holds what: airlock's user (`owner`) keeps the store; `developer` owns the files."""

    config_path: Path
    credentials_dir: Path
    recovered_dir: Path
    owner: OsUser
    developer: OsUser
    python: Path | None  # the root-owned install's interpreter, to act as the developer

    def scan(self, roots: list[Path]) -> ScanResult:
        answer = run_helper(self.developer, self.python, {
            "op": "scan", "roots": [str(r) for r in roots], "home": str(self.developer.home)})
        return ScanResult.from_json(answer)

    def take(self, item: Item) -> CredentialMove:
        """Move one confirmed credential into custody (see custody.py for the steps)."""
        original = run_helper(self.developer, self.python, {"op": "read", "path": item.path})
        content = base64.b64decode(original["content"])
        private = Want(self.owner.uid, self.owner.gid, 0o600)
        folder = Want(self.owner.uid, self.owner.gid, 0o700)
        ensure_dir(self.recovered_dir, folder)
        ensure_dir(self.credentials_dir, folder)
        recovered = self.recovered_dir / recovered_name(item.path, item.resource)
        write_file(recovered, content, private)
        stored = self.credentials_dir / item.resource
        if stored.exists():
            raise SetupError(f"{stored} already exists; airlock does not overwrite a credential "
                             "it holds", hint="remove the stale file or its resource first")
        write_file(stored, item.stored_value(content).encode(), private)
        try:
            self._declare(item, stored)
        except BaseException:
            stored.unlink(missing_ok=True)
            raise
        written = run_helper(self.developer, self.python, {
            "op": "rewrite", "path": item.path, "sha256": original["sha256"],
            "edits": edits_for(item), "remove": item.whole_file})
        return CredentialMove(self.developer.name, item.path, item.resource, str(stored),
                              str(recovered), "removed" if item.whole_file else "pointer",
                              written["sha256"])

    def _declare(self, item: Item, stored: Path) -> None:
        config = ConfigFile.read(self.config_path)
        envs = config.tables("environments")
        if item.environment not in envs and item.environment != config.get("local_environment"):
            config.add_table("environments", item.environment,
                             {"production": item.environment in PRODUCTION_NAMES})
        config.add_table("resources", item.resource,
                         resource_table(item, stored, self.developer.name))
        config.validated()
        info = self.config_path.stat()
        write_file(self.config_path, config.text.encode(),
                   Want(info.st_uid, info.st_gid, info.st_mode & 0o7777))

    def give_back(self, move: CredentialMove) -> bool:
        """Put the original file back where custody left it untouched; False otherwise (the
        recovered copy stays where it is, and the caller says where)."""
        try:
            content = Path(move.recovered).read_bytes()
        except OSError:
            return False
        answer = run_helper(self.developer, self.python, {
            "op": "restore", "path": move.path,
            "content": base64.b64encode(content).decode(), "expect_sha256": move.written_sha256})
        return bool(answer["restored"])


def taken_names(config_path: Path) -> set[str]:
    if not config_path.exists():
        return set()
    return set(ConfigFile.read(config_path).tables("resources"))


def default_roots(developer: OsUser, workspaces: list[Path]) -> list[Path]:
    roots = [w.resolve() for w in workspaces]
    if developer.home.is_dir() and not any(_inside(developer.home, r) for r in roots):
        roots.append(developer.home)
    return roots


def _inside(path: Path, root: Path) -> bool:
    return path == root or str(path).startswith(str(root).rstrip(os.sep) + os.sep)
