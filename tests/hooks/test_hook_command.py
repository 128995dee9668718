"""`airlock hook` (the in-process path) and the `[hooks]` configuration."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from airlock.config import config_from_mapping, load_config
from airlock.errors import ConfigError
from airlock.fronts.hooks import claude
from airlock.fronts.hooks.autostart import hook_config
from airlock.fronts.hooks.base import Answer
from airlock.fronts.hooks.inprocess import hook_answer, within
from tests.cli import airlock
from tests.hooks.conftest import fixture, raw, with_command


def test_the_hook_never_reads_the_agents_working_directory_for_configuration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "airlock.toml").write_text('[[policy.rules]]\nname = "x"\nverdict = "allow"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIRLOCK_CONFIG", raising=False)
    config = hook_config(None, tmp_path / "state")
    assert config.path is None and config.rules == ()
    assert config.state_dir == (tmp_path / "state").resolve()
    monkeypatch.setenv("AIRLOCK_CONFIG", str(tmp_path / "airlock.toml"))
    assert hook_config(None, None).path == tmp_path / "airlock.toml"  # named on purpose: used


def test_a_configuration_that_does_not_load_blocks(tmp_path: Path) -> None:
    broken = tmp_path / "airlock.toml"
    broken.write_text("[hooks]\nprincipal = 'ghost'\n")
    answer = hook_answer(str(broken), "claude", raw(fixture("claude", "pretooluse_bash")), None)
    assert answer.exit_code == 2
    assert "airlock could not start" in answer.stderr and "'ghost'" in answer.stderr
    cursor = hook_answer(str(tmp_path / "missing.toml"), "cursor",
                         raw(fixture("cursor", "before_shell_execution")), None)
    assert json.loads(cursor.stdout)["permission"] == "deny"


def test_a_judgement_that_takes_too_long_blocks() -> None:
    def slow() -> Answer:
        time.sleep(5)
        return Answer(0)

    started = time.monotonic()
    answer = within(0.2, slow, claude.HARNESS)
    assert time.monotonic() - started < 2
    assert answer.exit_code == 2 and "took longer than 0.2 s" in answer.stderr

    def crash() -> Answer:
        raise RuntimeError("x")

    assert within(5, crash, claude.HARNESS).exit_code == 2


def test_the_real_command(tmp_path: Path) -> None:
    data = with_command(fixture("claude", "pretooluse_bash"), "ls", str(tmp_path))
    done = airlock("hook", "claude", "--state-dir", str(tmp_path / "state"), cwd=tmp_path,
                   input=raw(data).decode())
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "allow"
    unknown = airlock("hook", "windsurf", cwd=tmp_path, input="{}")
    assert unknown.returncode == 2 and "unknown harness" in unknown.stderr


def _config(text: str, tmp_path: Path) -> None:
    import tomllib

    config_from_mapping(tomllib.loads(textwrap.dedent(text)), tmp_path / "airlock.toml")


@pytest.mark.parametrize(("text", "message"), [
    ("[hooks]\nprincipal = 'ghost'", "hooks.principal`: 'ghost' is not a declared principal"),
    ("[principals.alice]\nkind = 'human'\n[hooks]\nprincipal = 'alice'",
     "'alice' is a human; hooks act for the agent"),
    ("[hooks]\nwait_seconds = 601", "hooks.wait_seconds`: 601 is outside 0..600"),
    ("[hooks]\nwait_seconds = -1", "outside 0..600"),
    ("[hooks]\nallow_credential_reads = ['']", "an empty pattern allows nothing"),
    ("[hooks]\nmcp_resources = { pg = 'nowhere' }", "names 'nowhere', which is not a declared"),
    ("[hooks]\nask = true", "`hooks.ask`: unknown key"),
    ("[hooks]\nwait_seconds = '10'", "hooks.wait_seconds"),
])
def test_hooks_configuration_is_checked(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        _config(text, tmp_path)
    assert message in str(error.value)


def test_hooks_configuration_is_read(tmp_path: Path) -> None:
    (tmp_path / "airlock.toml").write_text(textwrap.dedent("""
        [principals.coding-agent]
        kind = "agent"

        [resources.db]
        kind = "postgres"
        environment = "local"
        url = "postgresql://app@localhost:5432/app"

        [hooks]
        principal = "coding-agent"
        wait_seconds = 30
        ask_passthrough = true
        allow_credential_reads = [".env.test", "fixtures/*.pem", "~/.aws/credentials"]
        mcp_resources = { postgres = "db" }
        """))
    hooks = load_config(tmp_path / "airlock.toml").hooks
    assert (hooks.principal, hooks.wait_seconds, hooks.ask_passthrough) == ("coding-agent", 30,
                                                                            True)
    assert hooks.allow_credential_reads == (".env.test", str(tmp_path / "fixtures" / "*.pem"),
                                            str(Path("~/.aws/credentials").expanduser()))
    assert hooks.mcp_resources == {"postgres": "db"}


def test_rule_pack_self_checks_are_remembered_per_content(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-shot hook process runs the packs' examples once per pack and matcher content; a
    passed check is remembered in the state folder, and anything else changed checks again."""
    from airlock.classify.shell import rules

    monkeypatch.setattr(rules, "_checks_folder", None)
    try:
        rules.remember_checks_in(tmp_path)
        rules._load_shipped.cache_clear()
        rules.registry()
        marks = list(tmp_path.glob("rulepacks-checked-*"))
        assert len(marks) == 1 and marks[0].stat().st_mode & 0o077 == 0

        def no_checks(*_args: object) -> None:
            raise AssertionError("the examples ran again")

        monkeypatch.setattr(rules, "_check_examples", no_checks)
        rules._load_shipped.cache_clear()
        rules.registry()  # remembered: not checked again
        texts = rules._shipped_texts()
        first = sorted(texts)[0]
        changed = texts | {first: texts[first] + "\n# changed\n"}
        monkeypatch.setattr(rules, "_shipped_texts", lambda: changed)
        rules._load_shipped.cache_clear()
        with pytest.raises(AssertionError, match="ran again"):  # new content: checked again
            rules.registry()
    finally:
        rules._load_shipped.cache_clear()
