"""A front brings its own configuration section ([fronts.NAME]), validated exactly like airlock's
own: unknown keys, wrong types and problems its build reports all stop start-up with an error
naming the file and the dotted key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import Field

from airlock.config import BuildContext, Config, FrontSection, Strict, load_config, loading
from airlock.errors import ConfigError

BASE = """
[environments.production]

[resources.app-db]
kind = "postgres"
environment = "production"
url = "postgresql://app@db.internal:5432/app"
"""


class DemoFile(Strict):
    listen: dict[str, str] = Field(default_factory=dict)  # resource → "host:port"
    idle_timeout: int = 300


@dataclass(frozen=True)
class DemoSettings:
    listen: dict[str, str]
    idle_timeout: int


def build_demo(parsed: DemoFile, ctx: BuildContext) -> DemoSettings:
    for resource in parsed.listen:
        if resource not in ctx.resources:
            ctx.fail(f"listen.{resource}", "is not a declared resource")
    if parsed.idle_timeout <= 0:
        ctx.fail("idle_timeout", "give a number of seconds above 0")
    return DemoSettings(dict(parsed.listen), parsed.idle_timeout)


DEMO = FrontSection("demo", DemoFile, build_demo)


@pytest.fixture
def with_demo_front(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(loading, "front_sections", lambda: (DEMO,))
    loading.config_schema.cache_clear()
    yield
    loading.config_schema.cache_clear()


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "airlock.toml"
    path.write_text(BASE + text, encoding="utf-8")
    return load_config(path)


def test_a_front_reads_its_own_section(tmp_path: Path, with_demo_front: None) -> None:
    config = load(tmp_path, '[fronts.demo]\nlisten = { app-db = "127.0.0.1:6433" }\n')
    assert DEMO.of(config) == DemoSettings({"app-db": "127.0.0.1:6433"}, 300)
    # no section: the front's defaults
    assert DEMO.of(load(tmp_path, "")) == DemoSettings({}, 300)
    assert DEMO.of(Config(path=None, state_dir=tmp_path)) == DemoSettings({}, 300)


@pytest.mark.parametrize(("text", "message"), [
    ("[fronts.demo]\nlisen = {}\n", r"`fronts\.demo\.lisen`: unknown key"),
    ('[fronts.demo]\nidle_timeout = "5m"\n', r"`fronts\.demo\.idle_timeout`: Input should be a "
                                             r"valid integer \(got '5m'\)"),
    ('[fronts.demo]\nlisten = { ghost-db = "127.0.0.1:6433" }\n',
     r"`fronts\.demo\.listen\.ghost-db`: is not a declared resource"),
    ("[fronts.demo]\nidle_timeout = 0\n", r"`fronts\.demo\.idle_timeout`: give a number"),
    ("[fronts.other]\nlisten = {}\n", r"`fronts\.other`: unknown key"),
])
def test_a_fronts_section_is_as_strict_as_airlocks_own(tmp_path: Path, with_demo_front: None,
                                                       text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load(tmp_path, text)
    assert str(tmp_path / "airlock.toml") in str(info.value)


def test_a_front_problem_is_reported_with_every_other_problem(tmp_path: Path,
                                                              with_demo_front: None) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, '[hooks]\nwait_seconds = 9999\n[fronts.demo]\nidle_timeout = -1\n')
    assert "`hooks.wait_seconds`" in str(info.value)
    assert "`fronts.demo.idle_timeout`" in str(info.value)


def test_without_fronts_a_fronts_section_is_an_unknown_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"`fronts\.demo`: unknown key"):
        load(tmp_path, "[fronts.demo]\nlisten = {}\n")
