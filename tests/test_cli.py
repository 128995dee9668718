"""The command line as users and scripts meet it: real processes, real files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from airlock.tokens import TOKEN_RE
from tests.cli import airlock

CONFIG = """
[environments.production]
[environments.staging]

[resources.prod-db]
kind = "postgres"
environment = "production"
url = "postgresql://app@db.prod.internal:5432/app"

[principals.agent]
kind = "agent"
environments = ["staging", "production"]
max_risk = "destructive"

[principals.alice]
kind = "human"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "airlock.toml").write_text(CONFIG)
    return tmp_path


def test_check_drop_table_is_never_allowed(tmp_path: Path) -> None:
    result = airlock("check", "--kind", "sql", "DROP TABLE x", cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout.startswith("HOLD")
    assert "risk " in result.stdout and "reason:" in result.stdout
    assert not (tmp_path / ".airlock").exists()  # check needs no state


def test_check_json(tmp_path: Path) -> None:
    result = airlock("check", "--kind", "sql", "--json", "DROP TABLE x", cwd=tmp_path)
    view = json.loads(result.stdout)
    assert view["verdict"] == "hold" and view["risk"] in ("destructive", "unknown", "catastrophic")


def test_check_jsonl_contract_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"kind": "sql", "input": "DROP TABLE users"}),
        "this is not json",
        json.dumps({"kind": "teleport", "input": "x"}),
        json.dumps({"kind": "http", "input": {"method": "DELETE", "url": "https://api.example.com/v1/things/1"}}),
        json.dumps(["not", "an", "object"]),
        "",
        json.dumps({"kind": "shell", "input": "rm -rf /", "env": "staging", "extra": 1}),
        json.dumps({"kind": "shell", "input": 42}),
        json.dumps({"kind": "sql", "input": "SELECT 1", "dialect": "oracle"}),
    ]
    result = airlock("check", "--jsonl", cwd=tmp_path, input="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == 8  # one per non-empty line, in order
    for answer in answers:
        assert answer["verdict"] in ("allow", "hold", "deny")
        assert answer["risk"] in ("read", "write", "destructive", "catastrophic", "unknown")
        assert isinstance(answer["reasons"], list) and answer["reasons"]
        assert isinstance(answer["targets"], list)
    assert answers[0]["verdict"] == "hold" and "error" not in answers[0]
    assert answers[2]["verdict"] == "hold"
    errors = [a for a in answers if "error" in a]
    assert [a["line"] for a in errors] == [2, 3, 5, 7, 8, 9]
    assert all(a["verdict"] == "hold" and a["risk"] == "unknown" for a in errors)
    assert "not valid JSON" in errors[0]["error"] and "kind must be one of" in errors[1]["error"]
    assert "unknown keys" in errors[3]["error"] and "dialect must be one of" in errors[5]["error"]


def test_token_lifecycle(project: Path) -> None:
    result = airlock("token", "create", "--principal", "agent", "--env", "staging",
                     "--resource", "prod-*", "--max-risk", "write", "--ttl", "30m", cwd=project)
    assert result.returncode == 0, result.stderr
    token = result.stdout.rstrip("\n").splitlines()[-1]
    assert TOKEN_RE.match(token), token
    secret = token[-43:]  # the whole secret (it may itself contain "_")
    db = (project / ".airlock" / "state.db").read_bytes()
    assert secret.encode() not in db  # only the hash is kept
    token_id = TOKEN_RE.match(token).group(1)  # type: ignore[union-attr]

    listed = airlock("token", "list", "--json", cwd=project)
    rows = json.loads(listed.stdout)
    assert rows[0]["id"] == token_id and rows[0]["status"] == "active"
    assert rows[0]["environments"] == ["staging"] and rows[0]["max_risk"] == "write"
    assert secret not in listed.stdout

    assert airlock("token", "revoke", token_id, cwd=project).returncode == 0
    rows = json.loads(airlock("token", "list", "--json", cwd=project).stdout)
    assert rows[0]["status"] == "revoked"
    kinds = [r[0] for r in sqlite3.connect(project / ".airlock" / "state.db").execute(
        "SELECT kind FROM audit ORDER BY seq")]
    assert kinds == ["token_created", "token_revoked"]


@pytest.mark.parametrize(("args", "message"), [
    (["--principal", "ghost", "--env", "staging"], "principal 'ghost' is not declared"),
    (["--principal", "agent", "--env", "mars"], "--env 'mars' is not a declared environment"),
    (["--principal", "agent", "--env", "staging", "--ttl", "forever"], "is not a duration"),
    (["--principal", "agent", "--env", "staging", "--ttl", "365d"], "longer than the maximum"),
    (["--principal", "agent", "--env", "staging", "--max-risk", "huge"], "unknown risk"),
])
def test_token_create_bad_input(project: Path, args: list[str], message: str) -> None:
    result = airlock("token", "create", *args, cwd=project)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("text", "message"), [
    ("state_dir = 5\n", "`state_dir`: Input should be a valid string"),
    ("surprise = 1\n", "`surprise`: unknown key"),
    ('[resources.db]\nkind = "postgres"\nenvironment = "x"\nurl = { env = "AIRLOCK_TEST_UNSET_VAR" }\n',
     "environment 'x' is not declared"),
])
def test_broken_config_stops_every_command(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "airlock.toml").write_text(text)
    for args in (["check", "ls"], ["config", "check"], ["token", "list"], ["audit", "verify"]):
        result = airlock(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stdout)
        assert message in result.stderr and "airlock.toml" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / ".airlock").exists()  # nothing started


def test_config_flag_and_environment_variable(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.toml").write_text(CONFIG)
    result = airlock("--config", "elsewhere.toml", "config", "check", cwd=tmp_path)
    assert result.returncode == 0 and "elsewhere.toml" in result.stdout
    result = airlock("config", "check", cwd=tmp_path,
                     env={"AIRLOCK_CONFIG": str(tmp_path / "elsewhere.toml")})
    assert result.returncode == 0 and "elsewhere.toml" in result.stdout
    result = airlock("--config", "missing.toml", "config", "check", cwd=tmp_path)
    assert result.returncode == 2 and "no such configuration file" in result.stderr


def test_init_writes_a_working_config_and_never_overwrites(tmp_path: Path) -> None:
    assert airlock("init", cwd=tmp_path).returncode == 0
    assert airlock("config", "check", cwd=tmp_path).returncode == 0
    (tmp_path / "airlock.toml").write_text("# mine\n" + (tmp_path / "airlock.toml").read_text())
    result = airlock("init", cwd=tmp_path)
    assert result.returncode == 2 and "already exists" in result.stderr
    assert (tmp_path / "airlock.toml").read_text().startswith("# mine")


def test_policy_explain_and_show(project: Path) -> None:
    result = airlock("policy", "explain", "--kind", "sql", "--resource", "prod-db",
                     "DROP TABLE users", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "how the verdict was reached" in result.stdout
    assert "rule builtin:read: no" in result.stdout
    shown = airlock("policy", "show", cwd=project)
    assert "builtin:catastrophic-production" in shown.stdout and "no rule matches → hold" in shown.stdout


def test_check_as_principal_outside_scope_is_denied(tmp_path: Path) -> None:
    (tmp_path / "airlock.toml").write_text(CONFIG.replace('["staging", "production"]', '["staging"]'))
    result = airlock("check", "--kind", "sql", "--resource", "prod-db", "--principal", "agent",
                     "SELECT 1", cwd=tmp_path)
    assert result.returncode == 4 and result.stdout.startswith("DENY"), result.stdout


@pytest.mark.parametrize(("args", "wider"), [
    (["--env", "staging", "--max-risk", "catastrophic"],
     "--max-risk catastrophic is above its max_risk (destructive); pass --max-risk destructive"),
    (["--env", "*"], "--env * is outside its environments (staging, production)"),
    (["--env", "staging", "--resource", "prod-db"],
     "--resource prod-db is outside its resources (staging-*)"),
    (["--env", "staging", "--resource", "*"], "--resource * is outside its resources"),
])
def test_a_token_wider_than_its_principal_is_refused(tmp_path: Path, args: list[str],
                                                     wider: str) -> None:
    (tmp_path / "airlock.toml").write_text(CONFIG.replace(
        'max_risk = "destructive"', 'max_risk = "destructive"\nresources = ["staging-*"]'))
    result = airlock("token", "create", "--principal", "agent", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert "cannot reach further than agent itself" in result.stderr and wider in result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    fits = airlock("token", "create", "--principal", "agent", "--env", "staging", "--resource",
                   "staging-api", cwd=tmp_path)
    assert fits.returncode == 0, fits.stderr
    default = airlock("token", "create", "--principal", "agent", "--env", "staging",
                      cwd=tmp_path)
    assert default.returncode == 0 and "resources:    staging-*" in default.stdout


def test_airlock_sql_needs_a_token(project: Path) -> None:
    """`airlock sql` acts with airlock's own credential: naming a principal proves nothing."""
    bare = airlock("sql", "prod-db", "SELECT 1", cwd=project)
    assert bare.returncode == 2 and "needs the token of whoever acts" in bare.stderr
    assert "--token" in bare.stderr and "AIRLOCK_TOKEN" in bare.stderr
    named = airlock("sql", "prod-db", "SELECT 1", "--principal", "agent", cwd=project)
    assert named.returncode == 2 and "does not take --principal" in named.stderr
    assert "`airlock check` and `airlock policy explain`" in named.stderr
    forged = airlock("sql", "prod-db", "SELECT 1", "--token", "alk_tok_x_y", cwd=project)
    assert forged.returncode == 2 and "not an airlock token" in forged.stderr


def test_a_missing_resource_credential_stops_only_what_uses_it(tmp_path: Path) -> None:
    """The agent's environment lacks the resources' variables: the hook's fallback still judges,
    the approver's commands still work, and only `airlock up` (which serves them) refuses."""
    (tmp_path / "airlock.toml").write_text(
        '[environments.production]\n[resources.db]\nkind = "postgres"\n'
        'environment = "production"\nurl = { env = "AIRLOCK_TEST_UNSET_VAR" }\n')
    hook = json.dumps({"session_id": "s", "transcript_path": "/t", "cwd": str(tmp_path),
                       "permission_mode": "default", "hook_event_name": "PreToolUse",
                       "tool_name": "Bash", "tool_input": {"command": "ls"},
                       "tool_use_id": "t"})
    done = airlock("--config", "airlock.toml", "hook", "claude", cwd=tmp_path, input=hook)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "allow"
    dropped = hook.replace('"ls"', '"psql postgres://db:5432/app -c \\"drop table users\\""')
    held = airlock("--config", "airlock.toml", "hook", "claude", cwd=tmp_path, input=dropped)
    assert held.returncode == 2 and "held" in held.stderr  # unclaimed: (unknown), production
    for args in (["approvals"], ["audit", "verify"], ["snapshots"], ["check", "ls"]):
        result = airlock("--config", "airlock.toml", *args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
    for args in (["up", "--port", "1"], ["config", "check"]):
        refused = airlock("--config", "airlock.toml", *args, cwd=tmp_path)
        assert refused.returncode == 2 and "AIRLOCK_TEST_UNSET_VAR is not set" in refused.stderr
