"""Configuration: found in the documented order, validated at start-up, clear when wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airlock.config import load_config
from airlock.config.resources import missing_credentials
from airlock.errors import ConfigError, SecretError
from airlock.secrets import MissingSecret

GOOD = """
[environments.production]
[environments.staging]

[resources.app-db]
kind = "postgres"
environment = "production"
url = { env = "TEST_APP_DB_URL" }

[principals.agent]
kind = "agent"
environments = ["staging"]
max_risk = "write"
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AIRLOCK_CONFIG", raising=False)
    monkeypatch.setenv("TEST_APP_DB_URL", "postgresql://app:sup3rsecret@db.prod:5432/app")
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_means_builtin_defaults(in_tmp: Path) -> None:
    config = load_config()
    assert config.path is None and config.state_dir == in_tmp / ".airlock"
    assert not (in_tmp / ".airlock").exists()  # loading never creates state


def test_discovery_order(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = write(in_tmp / "airlock.toml", GOOD)
    assert load_config().path == local
    other = write(in_tmp / "other.toml", GOOD)
    monkeypatch.setenv("AIRLOCK_CONFIG", str(other))
    assert load_config().path == other
    explicit = write(in_tmp / "explicit.toml", GOOD)
    assert load_config(explicit).path == explicit


def test_named_but_missing_file_is_an_error(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: no such configuration file"):
        load_config(in_tmp / "nope.toml")
    monkeypatch.setenv("AIRLOCK_CONFIG", str(in_tmp / "gone.toml"))
    with pytest.raises(ConfigError, match=r"gone.toml.*AIRLOCK_CONFIG"):
        load_config()


def test_good_config_is_typed_and_hides_secrets(in_tmp: Path) -> None:
    config = load_config(write(in_tmp / "airlock.toml", GOOD))
    res = config.resources["app-db"]
    assert res.selectors == ("postgres:db.prod:5432/app",)
    assert res.url is not None and res.url.reveal().startswith("postgresql://app:sup3rsecret@")
    assert "sup3rsecret" not in repr(config) and "sup3rsecret" not in str(res)
    assert config.principals["agent"].scope.environments == ("staging",)
    assert config.environment("production").production
    assert not config.environment("staging").production
    assert config.environment("(unknown)").production


@pytest.mark.parametrize(("text", "expected"), [
    ('state_dir = 5\n', r"`state_dir`: Input should be a valid string \(got 5\)"),
    ('[principals.a]\nkind = "agent"\nmax_risk = "huge"\n', r"`principals.a.max_risk`: Input should be 'read', 'write'.*got 'huge'"),
    ('[principals.a]\nkind = "robot"\n', r"`principals.a.kind`"),
    ('[environments.prod]\nproduction = "yes"\n', r"`environments.prod.production`: Input should be a valid boolean"),
    ('colour = "blue"\n', r"`colour`: unknown key"),
    ('[resources.x]\nkind = "postgres"\nenvironment = "prod"\nurl = "x"\nwhatever = 1\n',
     r"`resources.x.whatever`: unknown key"),
    ('[resources.x]\nkind = "volume"\n', r"`resources.x.environment`: required key is missing"),
    ('[[policy.rules]]\nname = "r"\nverdict = "maybe"\n', r"`policy.rules.0.verdict`"),
    ('[policy]\nbroad_write_fraction = 0\n', r"`policy.broad_write_fraction`: .*greater than 0"),
    ('[policy]\nbroad_write_fraction = 1.5\n', r"`policy.broad_write_fraction`: .*less than or"),
    ('[policy]\nbroad_write_fraction = "half"\n', r"`policy.broad_write_fraction`: .*number"),
    ('[policy]\nbroad_write_fraction = true\n', r"`policy.broad_write_fraction`: .*number"),
    ('this is not toml', r"not valid TOML"),
])
def test_invalid_values_name_file_key_and_expectation(in_tmp: Path, text: str, expected: str) -> None:
    path = write(in_tmp / "airlock.toml", text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_credential_variable(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Judging never needs a resource's credential (the agent's environment, where the hook's
    fallback runs, lacks it): the configuration loads, and only using the credential fails."""
    monkeypatch.delenv("TEST_APP_DB_URL")
    path = write(in_tmp / "airlock.toml", GOOD)
    config = load_config(path)
    url = config.resources["app-db"].url
    assert isinstance(url, MissingSecret) and not url.available
    with pytest.raises(SecretError, match=r"resources.app-db.url: .*TEST_APP_DB_URL is not set"):
        url.reveal()
    assert missing_credentials(config.resources) == [url]
    assert "<missing>" in repr(url)
    # it claims no database by address: what it would have claimed stays (unknown)
    assert not any(s.startswith("postgres:") for s in config.resources["app-db"].selectors)


def test_credential_from_file(in_tmp: Path) -> None:
    write(in_tmp / "db.url", "postgresql://app:pw@db.prod:5432/app\n")
    path = write(in_tmp / "airlock.toml", GOOD.replace('{ env = "TEST_APP_DB_URL" }', '{ file = "db.url" }'))
    assert load_config(path).resources["app-db"].url is not None
    path = write(in_tmp / "airlock.toml", GOOD.replace('{ env = "TEST_APP_DB_URL" }', '{ file = "missing.url" }'))
    url = load_config(path).resources["app-db"].url  # loads; using it says why it cannot
    assert url is not None and not url.available
    with pytest.raises(SecretError, match="cannot read credential file"):
        url.reveal()


def test_secret_source_needs_exactly_one_of_env_or_file() -> None:
    from airlock.secrets import read_secret

    with pytest.raises(SecretError, match="exactly one"):
        read_secret(env="A", file="b", where="x", base_dir=Path("/"))


def test_inline_password_is_refused(in_tmp: Path) -> None:
    path = write(in_tmp / "airlock.toml", GOOD.replace(
        '{ env = "TEST_APP_DB_URL" }', '"postgresql://app:Zq81pw@db/app"'))
    with pytest.raises(ConfigError, match="contains a password") as info:
        load_config(path)
    assert "Zq81pw" not in str(info.value)


@pytest.mark.parametrize(("extra", "expected"), [
    ('[resources.v]\nkind = "volume"\nenvironment = "mars"\n', r"environment 'mars' is not declared"),
    ('[resources.v]\nkind = "volume"\nenvironment = "staging"\nstored_on = ["ghost"]\n', r"names 'ghost'"),
    ('[resources.v]\nkind = "service"\nenvironment = "staging"\nattached_to = ["ghost"]\n',
     r"resources\.v\.attached_to`: names 'ghost', which is not a declared resource"),
    ('[resources.v]\nkind = "service"\nenvironment = "staging"\nattached_to = ["v"]\n',
     r"resources\.v\.attached_to`: names 'v' itself"),
    ('[resources.v]\nkind = "service"\nenvironment = "staging"\nattached_to = "v"\n',
     r"attached_to"),
    ('[resources.v]\nkind = "api"\nenvironment = "staging"\n', r"needs the upstream's base URL"),
    ('[resources.v]\nkind = "volume"\nenvironment = "staging"\nmatch = ["nocolon"]\n', r"must look like"),
    ('[[policy.rules]]\nname = "r"\nverdict = "allow"\napprovals = 2\n', r"only a hold takes approvals"),
    ('[[policy.rules]]\nname = "r"\nverdict = "hold"\n[[policy.rules]]\nname = "r"\nverdict = "deny"\n',
     r"used twice"),
    ('[hooks]\nsocket = "/run/airlock/hooks.sock"\nsocket_group = "no-such-group-xyz"\n',
     r"no OS group 'no-such-group-xyz'"),
    ('[hooks]\nsocket_group = "root"\n', r"also set hooks.socket"),
])
def test_inconsistent_config(in_tmp: Path, extra: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config(write(in_tmp / "airlock.toml", GOOD + extra))


def test_starter_config_loads(in_tmp: Path) -> None:
    from airlock.cli.admin_cmd import starter_config

    config = load_config(write(in_tmp / "airlock.toml", starter_config()))
    assert set(config.environments) == {"production", "staging", "development"}
    assert config.principals["alice"].kind.value == "human"
    assert config.state_dir == in_tmp / ".airlock"


def test_relative_state_dir_is_beside_the_config(in_tmp: Path) -> None:
    sub = in_tmp / "conf"
    sub.mkdir()
    config = load_config(write(sub / "airlock.toml", 'state_dir = "state"\n'))
    assert config.state_dir == sub / "state"
    os.chdir("/")
    assert load_config(sub / "airlock.toml").state_dir == sub / "state"
