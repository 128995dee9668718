"""A doctor over a test workspace in this process: the agent is this OS user with a home of its
own (so a test can plant harness folders and credentials there), the configuration and state are
real files, and the clock is fixed. Checks that need separate OS users are in
tests/setup/test_system.py."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from airlock.config import load_config
from airlock.doctor import Doctor, Finding, Report, Severity, examine
from airlock.runtime import Runtime
from airlock.setup.layout import Layout
from airlock.setup.system import OsUser

NOW = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)

BASE = """\
state_dir = "state"

[environments.production]
production = true

[environments.staging]
production = false

[principals.coding-agent]
kind = "agent"
environments = ["staging"]

[principals.alice]
kind = "human"

[principals.bob]
kind = "human"
"""


@dataclass
class World:
    root: Path
    home: Path
    workspace: Path

    @property
    def config_path(self) -> Path:
        return self.root / "airlock.toml"

    def configure(self, extra: str = "") -> None:
        self.config_path.write_text(BASE + textwrap.dedent(extra))

    def runtime(self) -> Runtime:
        return Runtime(load_config(self.config_path))

    def doctor(self) -> Doctor:
        me = OsUser.current()
        agent = replace(me, home=self.home)
        return Doctor(self.config_path, Layout.under(self.root / "sysroot"), None, [agent],
                      [self.workspace], now=lambda: NOW)

    def run(self, check: str) -> Report:
        return examine(self.doctor(), {check})

    def found(self, check: str, prefix: str) -> list[Finding]:
        return [f for f in self.run(check).findings if f.check.startswith(prefix)]


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path, tmp_path / "home", tmp_path / "work")
    w.home.mkdir()
    w.workspace.mkdir()
    w.configure()
    return w


def severities(findings: list[Finding]) -> set[Severity]:
    return {f.severity for f in findings}
