"""What `airlock doctor` looks at: the configuration, the setup record, whose agents it guards,
and airlock's files — found without reading a single credential, so the doctor works from any
account (what it cannot see from one, it says).

Acting as someone else:
- as the agent's user: `probe.py`'s source run with their identity (stdlib only), and the
  credentials scan and the harness settings through the root-owned install (`setup/helper.py`);
- as airlock's user: the state (tokens, approvers, snapshots, drills), read by the owner of the
  state folder, never by root — root opening the SQLite database would leave files airlock's
  user cannot open.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from airlock.config import Config, find_config, load_config
from airlock.doctor import probe as probe_module
from airlock.errors import AirlockError
from airlock.model import utcnow
from airlock.setup.helper import run_helper
from airlock.setup.layout import Layout
from airlock.setup.record import SetupRecord
from airlock.setup.system import OsUser, run_as

SYSTEM_CONFIG = Path("/etc/airlock/airlock.toml")


@dataclass
class Doctor:
    config_path: Path | None
    layout: Layout
    record: SetupRecord | None
    agents: list[OsUser]
    workspaces: list[Path] = field(default_factory=list)
    now: Callable[[], datetime] = utcnow

    @classmethod
    def locate(cls, *, config: str | None, root: Path, developers: list[str],
               workspaces: list[Path]) -> Doctor:
        layout = Layout.under(root)
        path = Path(config) if config else None
        if path is None and not layout.is_default:
            path = layout.config_path
        if path is None:
            path = find_config(None) or (SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None)
        record = SetupRecord.load(path.parent / "setup.json") if path else None
        if record is not None and layout.is_default and Path(record.root) != layout.root:
            layout = Layout.under(record.root)
        names = developers or (record.developers if record else []) or _invoker()
        return cls(path, layout, record, [OsUser.named(n) for n in names], workspaces)

    # ---- the configuration, without credentials ----------------------------------------

    @cached_property
    def raw(self) -> dict[str, Any]:
        if self.config_path is None:
            return {}
        try:
            return tomllib.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    @cached_property
    def config(self) -> Config | None:
        """The loaded configuration, or None when this account cannot load it (credential
        files it may not read: the doctor says so and checks the rest)."""
        try:
            return load_config(self.config_path) if self.config_path else load_config(None)
        except AirlockError as exc:
            self.config_problem = exc.message
            return None

    config_problem: str = ""

    def base(self) -> Path:
        return self.config_path.resolve().parent if self.config_path else Path.cwd()

    def resolve(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base() / path

    @property
    def state_dir(self) -> Path:
        if self.config_path is None:
            return Path.cwd() / ".airlock"
        return self.resolve(str(self.raw.get("state_dir", ".airlock")))

    @property
    def socket_path(self) -> Path:
        hooks = self.raw.get("hooks", {})
        value = hooks.get("socket") if isinstance(hooks, dict) else None
        return self.resolve(value) if value else self.state_dir / "hooks.sock"

    @property
    def vault_path(self) -> Path | None:
        vault = self.raw.get("vault", {})
        if not isinstance(vault, dict) or vault.get("enabled") is False or vault.get("s3"):
            return None
        return self.resolve(vault["path"]) if vault.get("path") else self.state_dir / "vault"

    def secret_files(self) -> list[Path]:
        """Every `{ file = … }` credential the configuration names."""
        found: list[Path] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if set(node) == {"file"} and isinstance(node["file"], str):
                    found.append(self.resolve(node["file"]))
                    return
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(self.raw)
        return found

    # ---- acting as the agent ------------------------------------------------------------

    def probe(self, agent: OsUser, probes: list[tuple[Path, str]]) -> list[dict[str, Any]]:
        """Run the probes as `agent` (in this process when we are that user)."""
        request = [{"path": str(p), "test": t} for p, t in probes]
        if os.geteuid() == agent.uid:
            return [probe_module.probe(r["path"], r["test"]) for r in request]
        source = inspect.getsource(probe_module)
        for python in self._pythons():
            proc = run_as(agent, [str(python), "-I", "-S", "-c", source],
                          input=json.dumps(request).encode(), timeout=120)
            if proc.returncode == 0:
                result: list[dict[str, Any]] = json.loads(proc.stdout)
                return result
        raise AirlockError(f"could not run a probe as {agent.name}: no Python they may run")

    def _pythons(self) -> list[Path]:
        found = [self.layout.venv_python.resolve()] if self.layout.venv_python.exists() else []
        found += [Path(p) for p in (shutil.which("python3"), "/usr/bin/python3") if p]
        return [p for p in found if p.exists()]

    def as_agent(self, agent: OsUser, request: dict[str, Any]) -> dict[str, Any]:
        return run_helper(agent, self.installed_python, request)

    @property
    def installed_python(self) -> Path | None:
        return self.layout.venv_python if self.layout.venv_python.exists() else None

    def can_act_as(self, user: OsUser) -> bool:
        return os.geteuid() == user.uid or (os.geteuid() == 0 and self.installed_python is not None)

    # ---- airlock's user and state ------------------------------------------------------

    @property
    def state_owner(self) -> OsUser | None:
        try:
            return OsUser.with_uid(self.state_dir.stat().st_uid)
        except OSError:
            return None

    @cached_property
    def state(self) -> dict[str, Any] | None:
        """Tokens, approvers, snapshots and drills, read as the state folder's owner; None
        when this account cannot (and `state_problem` says why)."""
        owner = self.state_owner
        if owner is None:
            self.state_problem = f"there is no state folder at {self.state_dir} yet"
            return None
        try:
            if os.geteuid() == owner.uid:
                from airlock.doctor.state import read_state

                return read_state(self.config_path)
            if not self.can_act_as(owner):
                self.state_problem = (f"airlock's state belongs to {owner.name}; this account "
                                      "cannot read it (as it should be)")
                return None
            return run_helper(owner, self.installed_python, {
                "op": "doctor-state", "config": str(self.config_path)})
        except AirlockError as exc:
            self.state_problem = f"reading airlock's state failed: {exc.message}"
            return None

    state_problem: str = ""


def _invoker() -> list[str]:
    name = os.environ.get("SUDO_USER")
    if os.geteuid() == 0 and name and name != "root":
        return [name]
    return [OsUser.current().name]
