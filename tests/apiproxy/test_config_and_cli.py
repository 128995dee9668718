"""[fronts.apiproxy] refuses nonsense with file-and-key errors; `airlock endpoints` lists what
agents use; `airlock token create --aws` prints a key pair once; `airlock up` serves the proxy
as a service and stops it cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from airlock.config import load_config
from airlock.errors import ConfigError
from airlock.fronts.apiproxy.app import ApiProxyApp
from airlock.fronts.apiproxy.settings import SECTION
from airlock.runtime import Runtime
from tests.cli import airlock, airlock_up, free_port

BASE = """
[environments.production]
[environments.staging]
[principals.agent]
kind = "agent"
[resources.railway]
kind = "api"
environment = "production"
base_url = "https://backboard.railway.app/graphql/v2"
credential = { env = "RAILWAY_TOKEN" }
[resources.aws-prod]
kind = "api"
environment = "production"
base_url = "https://amazonaws.com"
aws = { access_key_id = { env = "AWS_REAL_ID" }, secret_access_key = { env = "AWS_REAL_SECRET" } }
[resources.db]
kind = "postgres"
environment = "production"
url = "postgresql://app@db:5432/app"
"""
ENV = {"RAILWAY_TOKEN": "railway-real-token-123", "AWS_REAL_ID": "AKIAREAL00000000",
       "AWS_REAL_SECRET": "real-secret-000000000000"}


def write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "airlock.toml"
    path.write_text(f'state_dir = "{tmp_path / "state"}"\n' + BASE + extra)
    return path


@pytest.mark.parametrize(("extra", "key"), [
    ('[fronts.apiproxy]\nlisten = "nowhere"\n', "fronts.apiproxy.listen"),
    ('[fronts.apiproxy]\nlisen = "127.0.0.1:1"\n', "lisen"),
    ("[fronts.apiproxy.resources.db]\none_environment = true\n", "fronts.apiproxy.resources.db"),
    ('[fronts.apiproxy.resources.aws-prod]\nrailway_projects = ["p"]\n',
     "fronts.apiproxy.resources.aws-prod"),
    ('[fronts.apiproxy.resources.railway]\nrailway_environments = { prod = "live" }\n',
     "railway_environments.prod"),
    ('[fronts.apiproxy]\nverdict_ttl = "forever"\n', "fronts.apiproxy.verdict_ttl"),
    ('[fronts.apiproxy]\nverdict_ttl = "2h"\n', "fronts.apiproxy.verdict_ttl"),
    ("[fronts.apiproxy]\nmax_decoded_mb = 0\n", "fronts.apiproxy.max_decoded_mb"),
    ("[fronts.apiproxy]\nmax_decode_ratio = 1\n", "fronts.apiproxy.max_decode_ratio"),
    ("[fronts.apiproxy]\nmax_upstream_connections = 0\n",
     "fronts.apiproxy.max_upstream_connections"),
])
def test_bad_settings_name_the_file_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            extra: str, key: str) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=key):
        load_config(write(tmp_path, extra))


def test_the_verdict_cache_is_on_by_default_and_verdict_ttl_0s_turns_it_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    for extra, on in [("", True), ('[fronts.apiproxy]\nverdict_ttl = "0s"\n', False)]:
        runtime = Runtime(load_config(write(tmp_path, extra)))
        try:
            app = ApiProxyApp(runtime, SECTION.of(runtime.config), console_url="http://x")
            caches = [e.gate.judge.verdicts for e in app.endpoints.values()]
            assert caches and all((c is not None) is on for c in caches)
        finally:
            runtime.close()


def test_limits_on_answers_and_upstream_connections_are_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    default = SECTION.of(load_config(write(tmp_path)))
    assert (default.max_decoded, default.max_decode_ratio, default.max_upstream_connections) \
        == (512 * 1024 * 1024, 1000, 64)
    set_ = SECTION.of(load_config(write(tmp_path, "[fronts.apiproxy]\nmax_decoded_mb = 8\n"
                                        "max_decode_ratio = 50\nmax_upstream_connections = 4\n")))
    assert (set_.max_decoded, set_.max_decode_ratio, set_.max_upstream_connections) \
        == (8 * 1024 * 1024, 50, 4)


def test_an_aws_resource_needs_its_keys_and_no_bearer_credential(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    text = BASE.replace('aws = { access_key_id = { env = "AWS_REAL_ID" }, secret_access_key = '
                        '{ env = "AWS_REAL_SECRET" } }', "")
    (tmp_path / "airlock.toml").write_text(text)
    with pytest.raises(ConfigError, match=r"resources\.aws-prod\.aws"):
        load_config(tmp_path / "airlock.toml")


def test_endpoints_lists_resource_url_upstream_and_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[fronts.apiproxy]\npublic_url = "http://airlock.internal:8378"\n')
    done = airlock("--config", str(path), "endpoints", "--json", cwd=tmp_path, env=ENV)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["endpoints"]
    assert rows == [
        {"resource": "railway", "url": "http://airlock.internal:8378/railway",
         "upstream": "https://backboard.railway.app/graphql/v2", "provider": "railway",
         "environment": "production", "environments": "per target", "auth": "bearer"},
        {"resource": "aws-prod", "url": "http://airlock.internal:8378/aws-prod",
         "upstream": "https://amazonaws.com", "provider": "aws", "environment": "production",
         "environments": "per target", "auth": "aws-sigv4"}]
    text = airlock("--config", str(path), "endpoints", cwd=tmp_path, env=ENV)
    assert "AWS_ENDPOINT_URL=http://airlock.internal:8378/aws-prod" in text.stdout
    assert ENV["RAILWAY_TOKEN"] not in text.stdout + done.stdout


def test_token_create_aws_prints_a_key_pair_once(tmp_path: Path) -> None:
    path = write(tmp_path)
    done = airlock("--config", str(path), "token", "create", "--principal", "agent", "--env",
                   "staging", "--aws", cwd=tmp_path, env=ENV)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1].startswith("alk_tok_")
    key_id = next(line.split("=", 1)[1] for line in lines if line.startswith("AWS_ACCESS_KEY_ID="))
    secret = next(line.split("=", 1)[1] for line in lines
                  if line.startswith("AWS_SECRET_ACCESS_KEY="))
    assert key_id.startswith("ALKA") and len(key_id) == 20 and len(secret) == 40
    state = (tmp_path / "state" / "state.db").read_bytes()
    assert secret.encode() not in state and key_id.encode() in state


def test_airlock_up_serves_the_proxy_and_stops_it(tmp_path: Path) -> None:
    port, proxy_port = free_port(), free_port()
    path = write(tmp_path, f'[fronts.apiproxy]\nlisten = "127.0.0.1:{proxy_port}"\n')
    with airlock_up("--config", str(path), port=port, cwd=tmp_path, env=ENV) as up:
        assert up.health["services"]["apiproxy"]["ok"]
        refused = httpx.post(f"http://127.0.0.1:{proxy_port}/railway/graphql/v2", json={})
        assert refused.status_code == 401 and "Bearer" in refused.json()["reason"]
        output = up.stop(timeout=30)
    assert up.proc.returncode == 0, output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{proxy_port}/railway", timeout=1)
