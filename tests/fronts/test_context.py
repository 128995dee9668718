"""One way for every front to say where an action happens (fronts/context.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.config import Config
from airlock.errors import InputError
from airlock.fronts.check import build_action
from airlock.fronts.context import action_context, front_action
from airlock.model import ActionContext, ShellCommand
from airlock.tokens import local_caller
from tests.factories import make_config


def test_a_resource_brings_its_environment_and_a_shell_here_runs_in_the_local_one() -> None:
    config = make_config()
    assert action_context(config, resource="prod-db") == ActionContext(
        environment="production", resource="prod-db")
    assert action_context(config, cwd="/w", runs_here=True) == ActionContext(
        cwd="/w", environment="local")
    # a front that cannot know where the command runs places it nowhere (counts as production)
    assert action_context(config, cwd="/w") == ActionContext(cwd="/w")
    # a person's declared environment wins over the local default, never over nothing
    assert action_context(config, environment="staging", runs_here=True).environment == "staging"


def test_undeclared_resources_and_environments_are_refused() -> None:
    config = make_config()
    with pytest.raises(InputError, match="resource 'ghost' is not configured"):
        action_context(config, resource="ghost")
    with pytest.raises(InputError, match="environment 'mars' is not declared"):
        action_context(config, environment="mars")
    # without a configuration file any environment name may be tried (`airlock check --env`)
    defaults = Config(path=None, state_dir=Path("/state"))
    assert action_context(defaults, environment="mars").environment == "mars"


def test_check_builds_the_same_action_as_any_front_would() -> None:
    config = make_config()
    action, caller = build_action("shell", ShellCommand("rm -rf build"), config, env=None,
                                  principal=None, cwd="/w")
    expected = front_action(ShellCommand("rm -rf build"), local_caller(config, None), "check",
                            action_context(config, cwd="/w", runs_here=True))
    assert (action.payload, action.principal, action.front, action.context) == (
        expected.payload, expected.principal, expected.front, expected.context)
    assert caller.principal.name == expected.principal
