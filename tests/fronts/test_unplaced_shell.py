"""A shell command that names no resource: `airlock check` and the HTTP API place it the same
way, from the caller's scope (fronts/context.py), and so give the same verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from airlock.config import load_config
from airlock.fronts.api import UNPLACED_SHELL, create_app
from airlock.fronts.check import check_request
from airlock.fronts.context import shell_environment
from airlock.runtime import Runtime
from airlock.tokens import issue_token, local_caller
from tests.approvals.helpers import ServedApp

CONFIG = """
[environments.production]
production = true
[environments.staging]
[environments.development]

[principals.agent]
kind = "agent"

[principals.stager]
kind = "agent"
environments = ["staging"]

[principals.roamer]
kind = "agent"
environments = ["staging", "development"]

[vault]
enabled = false
"""


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    (tmp_path / "airlock.toml").write_text(CONFIG)
    return Runtime(load_config(tmp_path / "airlock.toml"))


def _through_api(runtime: Runtime, principal: str, envs: list[str], command: str) -> dict[str, Any]:
    token = issue_token(runtime.store, runtime.config, principal=principal,
                        environments=envs).token
    with ServedApp(create_app(runtime)) as served:
        answer = httpx.post(f"{served.base}/v1/actions",
                            json={"kind": "shell", "input": command, "cwd": "/work/app"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _through_check(runtime: Runtime, principal: str, command: str) -> dict[str, Any]:
    return check_request({"kind": "shell", "input": command, "principal": principal,
                          "cwd": "/work/app"}, runtime.judge, runtime.config)


def _environments(targets: list[dict[str, Any]]) -> set[str]:
    return {e for t in targets for e in t["environments"]}


@pytest.mark.parametrize(("principal", "envs", "command", "verdict", "where"), [
    # a scope that reaches the local environment runs its shell here
    ("agent", ["*"], "rm -rf build", "hold", {"local"}),
    ("agent", ["local", "staging"], "touch build/stamp", "allow", {"local"}),
    # a token issued for one environment runs its shell there (it was denied as "unknown")
    ("stager", ["staging"], "rm -rf build", "hold", {"staging"}),
    ("stager", ["staging"], "touch build/stamp", "allow", {"staging"}),
    # several environments and no local one: placed nowhere, outside the scope
    ("roamer", ["staging", "development"], "rm -rf build", "deny", {"(unknown)"}),
])
def test_check_predicts_what_the_api_answers(runtime: Runtime, principal: str, envs: list[str],
                                             command: str, verdict: str, where: set[str]) -> None:
    api = _through_api(runtime, principal, envs, command)
    check = _through_check(runtime, principal, command)
    assert (api["verdict"], check["verdict"]) == (verdict, verdict), (api, check)
    assert _environments(api["targets"]) == _environments(check["targets"]) == where
    if verdict == "deny":
        assert api["next_step"] == UNPLACED_SHELL and "`resource`" in UNPLACED_SHELL
    else:
        assert "next_step" not in api


def test_the_token_narrows_where_the_principal_would_run(runtime: Runtime) -> None:
    """`agent` may reach everything, its staging token only staging: the token decides."""
    api = _through_api(runtime, "agent", ["staging"], "rm -rf build")
    assert api["verdict"] == "hold" and _environments(api["targets"]) == {"staging"}


def test_the_agent_cannot_place_its_command(runtime: Runtime) -> None:
    token = issue_token(runtime.store, runtime.config, principal="roamer",
                        environments=["staging", "development"]).token
    with ServedApp(create_app(runtime)) as served:
        answer = httpx.post(f"{served.base}/v1/actions",
                            json={"kind": "shell", "input": "rm -rf build", "env": "staging"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.json()["verdict"] == "deny"  # an `env` in the body is ignored, never trusted


def test_shell_environment_from_scopes(runtime: Runtime) -> None:
    config = runtime.config
    assert shell_environment(config, local_caller(config, None)) == "local"
    assert shell_environment(config, local_caller(config, "stager")) == "staging"
    assert shell_environment(config, local_caller(config, "roamer")) is None


def test_check_with_a_declared_environment_is_not_placed_by_the_scope(runtime: Runtime) -> None:
    answer = check_request({"kind": "shell", "input": "touch x", "principal": "agent",
                            "env": "development"}, runtime.judge, runtime.config)
    assert _environments(answer["targets"]) == {"development"}
