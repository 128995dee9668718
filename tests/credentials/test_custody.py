"""Taking credentials into custody and giving them back, in this process (trial mode: one user),
with the real files, store folders and configuration edits. With separate OS users it is tested in
tests/setup/test_system.py."""

from __future__ import annotations

import hashlib
import stat
import tomllib
from pathlib import Path

import pytest

from airlock.config import load_config
from airlock.credentials.custody import guess_environment, plan_custody, rewrite_file
from airlock.credentials.importer import Custodian
from airlock.credentials.scan import scan
from airlock.errors import SetupError
from airlock.setup.system import OsUser

RAILWAY = "4f2c8a7e-1b2c-4d3e-8f9a-0b1c2d3e4f5a"
DB_URL = "postgres://app:s3cr3tPassw0rd@db.internal:5432/app"
CONFIG = """\
# my own comment, kept
state_dir = "state"

[environments.staging]
production = false
"""


@pytest.fixture
def world(tmp_path: Path) -> tuple[Custodian, Path, Path]:
    config = tmp_path / "airlock.toml"
    config.write_text(CONFIG)
    home = tmp_path / "home"
    env = home / "proj" / ".env"
    env.parent.mkdir(parents=True)
    env.write_text(f"DEBUG=1\nDATABASE_URL={DB_URL}\nSTAGING_RAILWAY_TOKEN={RAILWAY}\n")
    me = OsUser.current()
    developer = OsUser(me.name, me.uid, me.gid, home, me.groups)
    state = tmp_path / "state"
    return Custodian(config, state / "credentials", state / "recovered", me, developer, None), \
        env, home


def test_take_and_give_back(world: tuple[Custodian, Path, Path]) -> None:
    custodian, env, home = world
    original = env.read_bytes()
    plan = plan_custody(scan([home], home=home).findings, ())
    assert [(i.resource, i.custody.kind, i.environment) for i in plan.items] == [
        ("database-url", "postgres", "production"), ("staging-railway-token", "api", "staging")]
    moves = [custodian.take(item) for item in plan.items]

    assert env.read_text() == ("DEBUG=1\nDATABASE_URL=airlock:database-url\n"
                               "STAGING_RAILWAY_TOKEN=airlock:staging-railway-token\n")
    stored = Path(moves[0].stored)
    assert stored.read_text() == DB_URL and stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    recovered = Path(moves[0].recovered)
    assert recovered.read_bytes() == original and stat.S_IMODE(recovered.stat().st_mode) == 0o600
    text = custodian.config_path.read_text()
    assert text.startswith("# my own comment, kept\n")
    parsed = tomllib.loads(text)
    assert parsed["resources"]["database-url"]["url"] == {"file": str(stored)}
    assert parsed["environments"]["production"] == {"production": True}
    config = load_config(custodian.config_path)  # the edited file loads, credentials included
    assert config.resources["database-url"].url is not None
    assert config.resources["database-url"].url.reveal() == DB_URL
    assert config.resources["staging-railway-token"].base_url == \
        "https://backboard.railway.app/graphql/v2"
    assert scan([home], home=home).findings == []  # nothing left for an agent to find

    for move in reversed(moves):
        assert custodian.give_back(move)
    assert env.read_bytes() == original


def test_a_file_changed_since_it_was_read_is_not_rewritten(world: tuple[Custodian, Path, Path]) -> None:
    _, env, _ = world
    data = env.read_bytes()
    env.write_text(env.read_text() + "NEW=1\n")  # the developer edited it meanwhile
    with pytest.raises(SetupError, match="changed while setup was working"):
        rewrite_file(env, hashlib.sha256(data).hexdigest(), [], remove=False)
    assert env.read_text().endswith("NEW=1\n")


def test_give_back_leaves_a_file_edited_after_custody(world: tuple[Custodian, Path, Path]) -> None:
    custodian, env, home = world
    item = plan_custody(scan([home], home=home).findings, ()).items[0]
    move = custodian.take(item)
    env.write_text(env.read_text() + "LATER=1\n")
    assert not custodian.give_back(move)
    assert env.read_text().endswith("LATER=1\n")
    assert Path(move.recovered).exists()  # the original is still there to recover by hand


def test_whole_file_credentials_are_moved_whole_and_the_file_removed(tmp_path: Path,
                                                                     world: tuple[Custodian, Path, Path]) -> None:
    custodian, _, home = world
    kube = home / ".kube" / "config"
    kube.parent.mkdir()
    content = ("apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n"
               "    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFB\n"
               "    token: eyJhbGciOiJSUzI1NiIsImtpZCI6IiJ9abcdef\n")
    kube.write_text(content)
    items = plan_custody(scan([kube], home=home).findings, ()).items
    assert len(items) == 1 and items[0].whole_file and items[0].resource == "kubeconfig"
    move = custodian.take(items[0])
    assert not kube.exists() and Path(move.stored).read_text() == content
    assert custodian.give_back(move) and kube.read_text() == content


def test_names_never_collide_with_declared_resources(world: tuple[Custodian, Path, Path]) -> None:
    _, _, home = world
    plan = plan_custody(scan([home], home=home).findings, {"database-url"})
    assert plan.items[0].resource == "database-url-2"


@pytest.mark.parametrize(("text", "env"), [
    ("PROD_DATABASE_URL /x/.env", "production"), ("STAGING_TOKEN /x/.env", "staging"),
    ("DEV_TOKEN /x/.env.development", "development"), ("TOKEN /home/a/.env", "production"),
    ("LIVE_KEY /x/.env.test", "production"),
])
def test_environment_guess_is_production_unless_the_name_says_otherwise(text: str,
                                                                        env: str) -> None:
    assert guess_environment(text) == env


def test_the_import_command_in_trial_mode(tmp_path: Path) -> None:
    """One user, no setup: the store is the configuration's state folder, the home is $HOME."""
    from tests.cli import airlock

    config = tmp_path / "airlock.toml"
    config.write_text(CONFIG)
    home, work = tmp_path / "home", tmp_path / "work"
    (home / ".config").mkdir(parents=True)
    work.mkdir()
    (work / ".env").write_text(f"DATABASE_URL={DB_URL}\n")
    listed = airlock("--config", str(config), "credentials", "scan", "--workspace", str(work),
                     cwd=tmp_path, env={"HOME": str(home)})
    assert listed.returncode == 0 and ".env:1" in listed.stdout and DB_URL not in listed.stdout
    dry = airlock("--config", str(config), "credentials", "import", "--workspace", str(work),
                  "--dry-run", cwd=tmp_path, env={"HOME": str(home)})
    assert dry.returncode == 0 and "would ask about moving 1" in dry.stdout
    assert (work / ".env").read_text() == f"DATABASE_URL={DB_URL}\n"
    refused = airlock("--config", str(config), "credentials", "import", "--workspace", str(work),
                      cwd=tmp_path, input="n\n", env={"HOME": str(home)})
    assert refused.returncode == 0 and "left" in refused.stdout
    assert (work / ".env").read_text() == f"DATABASE_URL={DB_URL}\n"  # nothing without a yes
    done = airlock("--config", str(config), "credentials", "import", "--workspace", str(work),
                   cwd=tmp_path, input="y\n", env={"HOME": str(home)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert (work / ".env").read_text() == "DATABASE_URL=airlock:database-url\n"
    assert (tmp_path / "state" / "credentials" / "database-url").read_text() == DB_URL
    assert "[resources.database-url]" in config.read_text()
